"""Contention on one session: Motörhead POSTs from ``--connections`` connections all to one
session ("hot") against the same load spread over many sessions ("spread").

Starts ``memhead serve`` (``--store sqlite`` on a fresh file, or ``--store redis://...``), then
the two cases interleaved for ``--rounds`` rounds, in one of two modes:
- ``wrk`` (default): a steady load from wrk (a C client, so the client is not what is
  measured) over keep-alive connections; per case requests/s, p50/p99 latency and the
  server's CPU time per request (from /proc).
- ``burst``: ``--connections`` POSTs at once, each on a new connection (how the hostile
  probe measured it); per case the wall time until all are answered.
Prints one JSON object per case, medians over the rounds.

    python bench/hot_session.py [--store sqlite|redis://127.0.0.1:6379/0] [--mode burst]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servers import NO_PROVIDERS, MemheadProcess

BODY = '{"messages":[{"role":"Human","content":"hello there, a message of moderate length"}]}'
SCRIPT = """wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '%s'
local n, tid = 0, 0
setup = function(thread) tid = tid + 1; thread:set("tid", tid) end
request = function()
  n = n + 1
  return wrk.format(nil, %s)
end
"""
PATHS = {
    "hot": '"/sessions/hot/memory"',
    "spread": '"/sessions/s" .. tid .. "-" .. (n % 300) .. "/memory"',
}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, script: Path, connections: int, seconds: int) -> dict[str, float]:
    done = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    )
    out = done.stdout + done.stderr
    if "error" in done.stderr or "Non-2xx" in out:  # a script that did not load, refusals
        raise RuntimeError(f"wrk run invalid:\n{out}")
    found: dict[str, float] = {}
    for line in out.splitlines():
        parts = line.split()
        if line.strip().startswith("Requests/sec"):
            found["rps"] = float(parts[1])
        elif "requests in" in line:
            found["requests"] = float(parts[0])
        elif parts[:1] in (["50%"], ["99%"]):
            found["p" + parts[0][:2]] = _ms(parts[1])
    return found


def _ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


async def _post(host: str, port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    head = f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
    head += f"content-length: {len(BODY)}\r\nconnection: close\r\n\r\n"
    writer.write(head.encode() + BODY.encode())
    answer = await reader.read()
    writer.close()
    return answer[9:12]


def burst(url: str, case: str, n: int, round_: int) -> dict[str, float]:
    parts = urlsplit(url)
    paths = [
        f"/sessions/hot{round_}/memory" if case == "hot" else f"/sessions/s{round_}-{i}/memory"
        for i in range(n)
    ]

    async def run() -> list[bytes]:
        return await asyncio.gather(
            *(_post(parts.hostname or "", parts.port or 80, p) for p in paths)
        )

    start = time.perf_counter()
    codes = asyncio.run(run())
    wall = time.perf_counter() - start
    if set(codes) != {b"200"}:
        raise RuntimeError(f"burst answered {set(codes)}")
    return {"wall_s": wall, "requests": n}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", default="sqlite")
    parser.add_argument("--connections", type=int, default=600)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mode", choices=["wrk", "burst"], default="wrk")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        store = f"sqlite:///{work / 'hot.db'}" if args.store == "sqlite" else args.store
        scripts = {}
        for case, path in PATHS.items():
            scripts[case] = work / f"{case}.lua"
            scripts[case].write_text(SCRIPT % (BODY, path))
        env = {**NO_PROVIDERS, "MEMHEAD_STORE_URL": store}
        with MemheadProcess(env, cwd=work) as proc:
            proc.wait_ready(timeout=90)
            runs: dict[str, list[dict[str, float]]] = {case: [] for case in PATHS}
            for round_ in range(args.rounds):
                for case in PATHS if round_ % 2 == 0 else reversed(PATHS):
                    before = cpu_seconds(proc.proc.pid)
                    if args.mode == "burst":
                        result = burst(proc.url, case, args.connections, round_)
                    else:
                        result = wrk(proc.url, scripts[case], args.connections, args.seconds)
                    used = cpu_seconds(proc.proc.pid) - before
                    result["server_cpu_ms_per_request"] = used * 1000 / result["requests"]
                    runs[case].append(result)
        for case, results in runs.items():
            medians = {k: statistics.median(r[k] for r in results) for k in results[0]}
            store_kind = args.store.split(":")[0]
            print(json.dumps({"case": case, "store": store_kind, "mode": args.mode, **medians}))


if __name__ == "__main__":
    main()
