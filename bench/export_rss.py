"""Peak RSS of ``memhead export`` over a large SQLite store (target: under 100 MB for
100,000 messages), against the same command over an empty store (the baseline: Python, the
imports and the store's setup), measured in the same run.

Fills a fresh SQLite file with ``--sessions`` sessions of ``--messages`` messages (about 300
characters each) through the store directly, then runs ``python -m memhead export`` on it
twice as a child process, writing to a file, and reads the child's peak RSS (``VmHWM`` of
``/proc/<pid>/status``, sampled until it exits, and ``ru_maxrss``). Checks the export holds
every message. A table on stderr, JSON on stdout.

    python bench/export_rss.py [--sessions 1000] [--messages 100] [--target-mb 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from memhead.models import NewMessage, SessionKey
from memhead.stores.sqlite import SqliteStore

TEXT = "The kettle shipped on Tuesday; the customer asked twice about the blue lid. " * 4


async def fill(path: Path, sessions: int, messages: int) -> None:
    store = SqliteStore(str(path))
    await store.setup()
    for s in range(sessions):
        batch = [NewMessage("user", f"{s}/{m} {TEXT}") for m in range(messages)]
        await store.append(SessionKey("default", f"session-{s}"), batch, now=1_000 + s, window=12)
    await store.close()


def peak_of(pid: int) -> int:
    """VmHWM (peak resident set) in bytes, or 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def export(db: Path, out: Path) -> tuple[int, float]:
    """Peak RSS in bytes of one ``memhead export`` of ``db``, and its seconds."""
    env = {**os.environ, "MEMHEAD_STORE_URL": f"sqlite:///{db}"}
    started = time.monotonic()
    with out.open("wb") as file:
        child = subprocess.Popen([sys.executable, "-m", "memhead", "export"], env=env, stdout=file)
        peak = 0
        while child.poll() is None:
            peak = max(peak, peak_of(child.pid))
            time.sleep(0.02)
    if child.returncode != 0:
        raise SystemExit(f"memhead export failed with status {child.returncode}")
    return peak, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--target-mb", type=float, default=100.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="memhead-export-rss-") as tmp:
        big, empty = Path(tmp) / "big.db", Path(tmp) / "empty.db"
        asyncio.run(fill(big, args.sessions, args.messages))
        asyncio.run(fill(empty, 0, 0))
        base_peak, _ = export(empty, Path(tmp) / "empty.jsonl")
        peak, seconds = export(big, Path(tmp) / "big.jsonl")
        children_max = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        with (Path(tmp) / "big.jsonl").open("rb") as file:
            lines = sum(1 for _ in file)
        size = (Path(tmp) / "big.jsonl").stat().st_size
        db_size = big.stat().st_size
    total = args.sessions * args.messages
    assert lines == args.sessions + total, f"export has {lines} lines"
    result = {
        "messages": total,
        "sessions": args.sessions,
        "db_bytes": db_size,
        "export_bytes": size,
        "export_seconds": round(seconds, 2),
        "peak_rss_mb": round(peak / 1e6, 1),
        "peak_rss_mb_ru_maxrss": round(children_max / 1e6, 1),
        "baseline_peak_rss_mb": round(base_peak / 1e6, 1),
        "target_mb": args.target_mb,
        "verdict": "PASS" if max(peak, children_max) < args.target_mb * 1e6 else "MISS",
    }
    for name, value in result.items():
        print(f"{name:>24}  {value}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
