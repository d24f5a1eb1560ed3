"""POST latency with compaction running against a slow provider vs. with compaction off.

Starts ``memhead serve`` twice on a fresh SQLite file each time: once with no LLM, once with
a fake OpenAI-compatible provider that takes ``--provider-delay`` seconds per call. Drives
the same Motörhead workload against both (LangChain-style Human/AI pairs over many sessions,
so compaction triggers all the time) and prints p50/p99 POST latency and their ratio: medians
of ``--runs`` runs of each case, interleaved. The server is pinned to core 0; this process
(the client and the fake provider) to core 1.

    python bench/post_latency.py [--sessions 200] [--turns 30] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_openai import FakeOpenAI
from tests.servers import MemheadProcess

SERVER_CORE: tuple[str, ...] = ("taskset", "-c", "0") if (os.cpu_count() or 1) >= 2 else ()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(url: str, sessions: int, turns: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    for turn in range(turns):
        for s in range(sessions):
            queue.put_nowait((s, turn))

    async def client_loop(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            s, turn = queue.get_nowait()
            body = {
                "messages": [
                    {"role": "Human", "content": f"turn {turn} of session {s}: tell me more"},
                    {"role": "AI", "content": f"here is answer {turn}, with some detail"},
                ]
            }
            start = time.perf_counter()
            r = await client.post(f"/sessions/bench-{s}/memory", json=body)
            latencies.append(time.perf_counter() - start)
            r.raise_for_status()

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(concurrency)))
    return latencies


def run_case(env: dict[str, str], args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {"MEMHEAD_STORE_URL": f"sqlite:///{tmp}/bench.db", **env}
        with MemheadProcess(env, cwd=Path(tmp), launcher=SERVER_CORE) as server:
            server.wait_ready()
            lat = asyncio.run(drive(server.url, args.sessions, args.turns, args.concurrency))
            summary = httpx.get(f"{server.url}/api/v1/sessions/bench-0/summary").json()
    return {
        "requests": len(lat),
        "p50_ms": percentile(lat, 0.50) * 1000,
        "p99_ms": percentile(lat, 0.99) * 1000,
        "mean_ms": statistics.fmean(lat) * 1000,
        "session0_upto_seq": summary["upto_seq"],
    }


def median_case(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--provider-delay", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3, help="runs of each case, interleaved")
    args = parser.parse_args()
    if SERVER_CORE:  # the client and the fake provider on the other core
        os.sched_setaffinity(0, {1})
    offs, ons = [], []
    with FakeOpenAI() as fake:
        fake.delay_s = args.provider_delay
        for _ in range(args.runs):
            offs.append(run_case({}, args))
            on_env = {
                "MEMHEAD_LLM_BASE_URL": fake.base_url,
                "MEMHEAD_WORKER_POLL": "0.05",
                "MEMHEAD_WORKER_CONCURRENCY": "16",
            }
            ons.append(run_case(on_env, args))
        calls = len(fake.calls)
    off, on = median_case(offs), median_case(ons)
    result = {
        "compaction_off": off,
        "compaction_on": on,
        "provider_calls": calls,
        "p99_ratio_on_off": on["p99_ms"] / off["p99_ms"],
        "p50_ratio_on_off": on["p50_ms"] / off["p50_ms"],
        "runs": {"off": offs, "on": ons},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
