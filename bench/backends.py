"""The same Motörhead load against memhead on SQLite, on Redis with one server process and on
Redis with two: requests per second and p50/p99 latency, SQLite as the baseline of the run.

The load is `wrk` (``apt-get install wrk``) with a Lua script: each request alternates a POST
of a LangChain-style Human/AI pair and a GET of that session's memory, sessions drawn at
random from ``--sessions``. With two servers, wrk's threads are split between them (the
``thread.addr`` of wrk's setup phase), so one wrk run measures both together. Compaction is
off (no LLM): this measures the store path. Each backend gets a fresh store (a new SQLite
file; a new redis-server from the test wheels, no persistence), a warm-up, then a run
bounded by ``--duration``. JSON on stdout, a table on stderr.

    python bench/backends.py [--duration 10] [--connections 64] [--threads 2] [--sessions 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.redis_server import RedisServer
from tests.servers import MemheadProcess

BACKENDS = [("sqlite", 1), ("redis", 1), ("redis", 2)]
REQUESTS_METRIC = "memhead_http_requests_total{"
NO_PROVIDERS = {  # the bench measures storage, never a model, whatever the shell has set
    name: ""
    for name in (
        "OPENAI_API_KEY",
        "MEMHEAD_LLM_API_KEY",
        "MEMHEAD_LLM_BASE_URL",
        "OPENAI_API_BASE",
        "OPENAI_BASE_URL",
        "AZURE_API_KEY",
        "MEMHEAD_EMBED_MODEL",
    )
}

LOAD = r"""
local sessions = tonumber(os.getenv("BENCH_SESSIONS"))
local ports = {}
for port in string.gmatch(os.getenv("BENCH_PORTS"), "%d+") do ports[#ports + 1] = port end
local threads = 0

function setup(thread)
  thread.addr = wrk.lookup("127.0.0.1", ports[threads % #ports + 1])[1]
  thread:set("id", threads)
  threads = threads + 1
end

local n, session = 0, 1
local headers = {["Content-Type"] = "application/json"}
local pair = '{"messages":[{"role":"Human","content":"question %d: tell me more"},'
  .. '{"role":"AI","content":"answer %d, with some detail"}]}'

function init(args)
  math.randomseed(7919 * (id + 1))
end

function request()
  n = n + 1
  if n % 2 == 1 then
    session = math.random(sessions)
    local path = "/sessions/bench-" .. session .. "/memory"
    return wrk.format("POST", path, headers, string.format(pair, n, n))
  end
  return wrk.format("GET", "/sessions/bench-" .. session .. "/memory")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_s": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, '
    .. '"max_ms": %.3f, "mean_ms": %.3f, "errors": {"connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3, latency.mean / 1e3,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@contextmanager
def store_url(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    with RedisServer() as server:
        yield server.url


def wrk(script: Path, ports: list[int], args: argparse.Namespace, duration: int) -> Any:
    env = {
        **os.environ,
        "BENCH_SESSIONS": str(args.sessions),
        "BENCH_PORTS": ",".join(map(str, ports)),
    }
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}s"]
    command += ["--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{ports[0]}/"]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"wrk failed: {done.stderr or done.stdout}")
    out = done.stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH "))
    result = json.loads(line.removeprefix("BENCH "))
    result["req_per_s"] = result["requests"] / result["duration_s"]
    return result


def run_backend(backend: str, servers: int, script: Path, args: argparse.Namespace) -> Any:
    with tempfile.TemporaryDirectory(prefix="memhead-bench-") as name, ExitStack() as stack:
        tmp = Path(name)
        url = stack.enter_context(store_url(backend, tmp))
        env = {**NO_PROVIDERS, "MEMHEAD_STORE_URL": url, "MOTORHEAD_MAX_WINDOW_SIZE": "12"}
        procs = [stack.enter_context(MemheadProcess(env, cwd=tmp)) for _ in range(servers)]
        for proc in procs:
            proc.wait_ready()
        ports = [proc.port for proc in procs]
        wrk(script, ports, args, args.warmup)
        result = wrk(script, ports, args, args.duration)
        result["answered_per_server"] = [answered(proc.url) for proc in procs]
        return result


def answered(url: str) -> int:
    """Requests a server counted (warm-up included): shows the load reached every server."""
    lines = httpx.get(f"{url}/metrics").text.splitlines()
    counts = [line.rsplit(" ", 1)[1] for line in lines if line.startswith(REQUESTS_METRIC)]
    return int(sum(float(count) for count in counts))


def table(results: dict[str, Any]) -> str:
    rows = [f"{'backend':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"]
    for name, r in results.items():
        errors = sum(r["errors"].values())
        rows.append(
            f"{name:<10} {r['req_per_s']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {errors:>7}"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per backend")
    parser.add_argument("--warmup", type=int, default=2, help="seconds before each run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (even: 2 servers)")
    parser.add_argument("--sessions", type=int, default=1000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench/backends.py needs wrk: apt-get install wrk")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as name:
        script = Path(name) / "load.lua"
        script.write_text(LOAD)
        for backend, servers in BACKENDS:
            label = backend if backend == "sqlite" else f"{backend}-{servers}"
            results[label] = {"servers": servers, **run_backend(backend, servers, script, args)}
    base = results["sqlite"]["req_per_s"]
    for r in results.values():
        r["req_per_s_vs_sqlite"] = r["req_per_s"] / base
    config = {k: getattr(args, k) for k in ("duration", "warmup", "connections", "threads")}
    config |= {"sessions": args.sessions, "cpus": os.cpu_count(), "load": "POST pair / GET"}
    print(table(results), file=sys.stderr)
    print(json.dumps({"config": config, "results": results}, indent=2))


if __name__ == "__main__":
    main()
