"""memhead under the Motörhead workload, against the floor of its own HTTP stack, in one run.

Starts ``memhead serve`` on the given backend (a fresh SQLite file, or a fresh redis-server
from the test wheels without persistence) and the floor: a bare Starlette app on the same
uvicorn stack answering the same routes with a fixed body (``bench/stack_apps.py``). Each
server process is pinned to its own core (``taskset``); with one process, wrk and Redis take
the other core. wrk drives three workloads with ``bench/load.lua``:

- mixed: 1,000 sessions, each alternating a POST of a Human/AI pair and a GET of its memory;
- post: POSTs only; get: GETs only (of sessions the mixed run wrote).

Each workload runs ``--runs`` times per server, floor and memhead interleaved; the table
shows medians: req/s, p50/p99/p99.9 latency, the server's CPU (cores busy, and µs of CPU
per request), redis-server's CPU (store), the server's RSS, and memhead / floor. Every
memhead answer is checked: each GET of the mixed workload must return the message of that
session's last acknowledged POST, each GET of the get workload must be
that session's, and an error or a wrong answer fails the run (exit 1). Compaction is off (no
LLM) unless ``--summaries SECONDS`` adds a third side, measured after the other two: memhead
summarizing all the while against a fake OpenAI-compatible provider that takes that long per
call (W=12, so sessions overflow constantly), and its POST p99 against memhead's without.
JSON goes to stdout (or ``--json FILE``), the table to stderr.

    python bench/load.py --backend sqlite [--processes 1] [--runs 3] [--duration 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.fake_openai import FakeOpenAI  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402
from tests.servers import NO_PROVIDERS, MemheadProcess, free_port  # noqa: E402

WORKLOADS = ("mixed", "post", "get")
SUMMARIZING = "memhead+llm"
TARGETS = {"sqlite": 0.50, "redis": 0.35}
P99_TARGET_MS = 25.0
CONNECTIONS = 64
SESSIONS = 1000
EMPTY_SHARE = 0.01
"""GETs of the get workload may find a session the mixed run never reached only in runs too
short to reach them all (each session gets ~25 POSTs in a 10 s run); beyond 1%, it fails."""


def pinned(core: int | None) -> tuple[str, ...]:
    return () if core is None else ("taskset", "-c", str(core))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass(frozen=True)
class Servers:
    """The processes of one side of the comparison: their PIDs and ports."""

    pids: list[int]
    ports: list[int]
    store_pid: int | None = None  # redis-server, whose CPU is reported apart


@contextmanager
def floor_servers(cores: list[int | None], tmp: Path) -> Iterator[Servers]:
    """The floor: ``stack_apps:floor_app`` under uvicorn, one process per core."""
    procs: list[subprocess.Popen[bytes]] = []
    ports: list[int] = []
    try:
        for core in cores:
            ports.append(free_port())
            command = [*pinned(core), sys.executable, "-m", "uvicorn", "stack_apps:floor_app"]
            command += ["--port", str(ports[-1]), "--log-level", "warning", "--no-access-log"]
            env = {**os.environ, "PYTHONPATH": str(HERE)}
            procs.append(subprocess.Popen(command, env=env, cwd=tmp))
            wait_answering(f"http://127.0.0.1:{ports[-1]}/sessions/warm/memory", procs[-1])
        yield Servers([p.pid for p in procs], ports)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()


def wait_answering(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


@contextmanager
def memhead_servers(
    backend: str,
    cores: list[int | None],
    redis_core: int | None,
    tmp: Path,
    llm: dict[str, str] | None = None,
) -> Iterator[Servers]:
    """memhead on a fresh store; with ``llm`` (provider settings), summaries run too."""
    with ExitStack() as stack:
        store_pid = None
        if backend == "sqlite":
            url = f"sqlite:///{tmp / ('load-llm.db' if llm else 'load.db')}"
        else:
            redis = stack.enter_context(RedisServer())
            assert redis.process is not None
            if redis_core is not None:
                subprocess.run(
                    ["taskset", "-a", "-p", "-c", str(redis_core), str(redis.process.pid)],
                    check=True,
                    capture_output=True,
                )
            url, store_pid = redis.url, redis.process.pid
        env = {**NO_PROVIDERS, "MEMHEAD_STORE_URL": url, **(llm or {})}
        procs = [
            stack.enter_context(MemheadProcess(env, cwd=tmp, launcher=pinned(core)))
            for core in cores
        ]
        for proc in procs:
            proc.wait_ready()
        yield Servers([p.proc.pid for p in procs], [p.port for p in procs], store_pid)


def start_wrk(
    ports: list[int], mode: str, prefix: str, check: bool, args: argparse.Namespace, seconds: int
) -> subprocess.Popen[str]:
    """wrk running ``bench/load.lua`` in the background; ``wrk_result`` waits for its answer
    (``args``: ``sessions``, ``threads``, ``connections``, ``wrk_core``)."""
    env = {
        **os.environ,
        "BENCH_MODE": mode,
        "BENCH_SESSIONS": str(args.sessions),
        "BENCH_PREFIX": prefix,
        "BENCH_PORTS": ",".join(map(str, ports)),
        "BENCH_THREADS": str(args.threads),
        "BENCH_CHECK": "1" if check else "0",
    }
    command = [*pinned(args.wrk_core), "wrk", f"-t{args.threads}", f"-c{args.connections}"]
    command += [f"-d{seconds}s", "--timeout", "10s", "-s", str(HERE / "load.lua")]
    command += [f"http://127.0.0.1:{ports[0]}/"]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wrk_result(proc: subprocess.Popen[str], stop: bool = False) -> dict[str, Any]:
    """What wrk measured, once it ends; ``stop`` ends it now (SIGINT: wrk then reports the
    requests made so far, over the time it ran)."""
    if stop:
        proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate()
    lines = [line for line in stdout.splitlines() if line.startswith("BENCH ")]
    if proc.returncode != 0 or not lines:
        sys.exit(f"wrk failed: {stderr or stdout}")
    result: dict[str, Any] = json.loads(lines[0].removeprefix("BENCH "))
    result["req_per_s"] = result["requests"] / result["duration_s"]
    return result


def wrk(
    ports: list[int], mode: str, prefix: str, check: bool, args: argparse.Namespace, seconds: int
) -> dict[str, Any]:
    return wrk_result(start_wrk(ports, mode, prefix, check, args, seconds))


def measure(
    servers: Servers, mode: str, prefix: str, check: bool, args: argparse.Namespace
) -> dict[str, Any]:
    store = [] if servers.store_pid is None else [servers.store_pid]
    cpu0 = sum(cpu_seconds(pid) for pid in servers.pids)
    store0 = sum(cpu_seconds(pid) for pid in store)
    start = time.monotonic()
    result = wrk(servers.ports, mode, prefix, check, args, args.duration)
    elapsed = time.monotonic() - start
    result["cpu_cores"] = (sum(cpu_seconds(pid) for pid in servers.pids) - cpu0) / elapsed
    result["store_cores"] = (sum(cpu_seconds(pid) for pid in store) - store0) / elapsed
    result["cpu_us_per_req"] = result["cpu_cores"] * elapsed * 1e6 / max(result["requests"], 1)
    result["rss_mb"] = sum(rss_mb(pid) for pid in servers.pids)
    result["mode"] = mode
    return result


def failures(result: dict[str, Any], check: bool) -> list[str]:
    problems = [f"{kind} errors: {n}" for kind, n in result["errors"].items() if n]
    if check:
        if result["mismatches"]:
            problems.append(f"{result['mismatches']} GETs did not return the last POST")
        if result["empty"] > EMPTY_SHARE * max(result["checked"], 1):
            problems.append(f"{result['empty']} GETs found their session empty")
        if result["unanswered"]:
            problems.append(f"{result['unanswered']} answers without x-request-id")
        if result["mode"] in ("mixed", "get") and result["checked"] == 0:
            problems.append("no GET was checked")
    return problems


SUMMARY_KEYS = (
    *("req_per_s", "p50_ms", "p99_ms", "p999_ms", "cpu_cores", "rss_mb"),
    *("store_cores", "cpu_us_per_req"),
)


def medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in SUMMARY_KEYS}


def table(summary: dict[str, Any]) -> str:
    head = f"{'server':<10} {'workload':<8} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
    head += f"{'p99.9 ms':>8} {'cores':>5} {'µs/req':>6} {'store':>5} {'RSS MB':>7}"
    rows = [head + f" {'x floor':>7}"]
    for target in summary["targets"]:
        for mode in WORKLOADS:
            m = summary[target][mode]
            ratio = m["req_per_s"] / summary["floor"][mode]["req_per_s"]
            rows.append(
                f"{target:<10} {mode:<8} {m['req_per_s']:>8.0f} {m['p50_ms']:>7.2f} "
                f"{m['p99_ms']:>7.2f} {m['p999_ms']:>8.2f} {m['cpu_cores']:>5.2f} "
                f"{m['cpu_us_per_req']:>6.0f} {m['store_cores']:>5.2f} "
                f"{m['rss_mb']:>7.1f} {ratio:>7.2f}"
            )
    return "\n".join(rows)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--processes", type=int, choices=(1, 2), default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of mixed load first")
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    parser.add_argument(
        "--summaries",
        type=float,
        metavar="SECONDS",
        help="also run memhead summarizing against a fake provider taking SECONDS per call",
    )
    parser.add_argument("--json", type=Path, help="write the JSON here instead of stdout")
    args = parser.parse_args()
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        sys.exit("bench/load.py needs wrk and taskset: apt-get install wrk util-linux")
    if args.sessions < args.connections:
        sys.exit("--sessions must be at least --connections (a session has one request in flight)")
    two_cores = (os.cpu_count() or 1) >= 2
    if args.processes == 1:  # the server on core 0; wrk (and Redis) on core 1
        args.cores = [0] if two_cores else [None]
        args.wrk_core = 1 if two_cores else None
        args.threads = 1
    else:  # a server on each core; wrk and Redis float
        args.cores, args.wrk_core, args.threads = [0, 1], None, 2
    return args


Runs = dict[str, dict[str, list[dict[str, Any]]]]


def run_all(args: argparse.Namespace) -> tuple[Runs, list[str], dict[str, float] | None]:
    """Floor and memhead side by side: a warm-up, then ``--runs`` rounds of each workload.
    The summarizing side comes after, alone: its worker keeps summarizing between its own
    runs and would take the core from the others."""
    runs: Runs = {}
    problems: list[str] = []
    jobs = None
    with tempfile.TemporaryDirectory(prefix="memhead-load-") as name, ExitStack() as stack:
        tmp = Path(name)
        with ExitStack() as phase:
            servers = {
                "floor": phase.enter_context(floor_servers(args.cores, tmp)),
                "memhead": phase.enter_context(
                    memhead_servers(args.backend, args.cores, args.wrk_core, tmp)
                ),
            }
            problems += run_sides(servers, runs, args)
        if args.summaries is not None:
            fake = stack.enter_context(FakeOpenAI())
            fake.delay_s = args.summaries
            llm = {"MEMHEAD_LLM_BASE_URL": fake.base_url, "MEMHEAD_WORKER_CONCURRENCY": "16"}
            side = stack.enter_context(
                memhead_servers(args.backend, args.cores, args.wrk_core, tmp, llm)
            )
            problems += run_sides({SUMMARIZING: side}, runs, args)
            jobs = compactions(side.ports)
    return runs, problems, jobs


def run_sides(servers: dict[str, Servers], runs: Runs, args: argparse.Namespace) -> list[str]:
    problems: list[str] = []
    for target, side in servers.items():
        runs[target] = {m: [] for m in WORKLOADS}
        wrk(side.ports, "mixed", "warm-", target != "floor", args, args.warmup)
    for r in range(args.runs):
        for target, side in servers.items():
            check = target != "floor"
            for mode in WORKLOADS:
                prefix = f"r{r}{'p' if mode == 'post' else 'm'}-"
                result = measure(side, mode, prefix, check, args)
                runs[target][mode].append(result)
                problems += [f"{target} {mode} run {r + 1}: {p}" for p in failures(result, check)]
                print(
                    f"run {r + 1} {target:<9} {mode:<5} {result['req_per_s']:>8.0f} req/s "
                    f"p99 {result['p99_ms']:.2f} ms",
                    file=sys.stderr,
                )
    return problems


def compactions(ports: list[int]) -> dict[str, float]:
    """Compaction jobs by result, from the servers' /metrics: proof the summaries ran."""
    found: dict[str, float] = {}
    for port in ports:
        for line in httpx.get(f"http://127.0.0.1:{port}/metrics").text.splitlines():
            if line.startswith('memhead_jobs_total{kind="compaction"'):
                result = line.split('result="', 1)[1].split('"', 1)[0]
                found[result] = found.get(result, 0) + float(line.rsplit(" ", 1)[1])
    return found


def summarize(
    runs: Runs, backend: str, compactions: dict[str, float] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    summary: dict[str, Any] = {t: {m: medians(runs[t][m]) for m in WORKLOADS} for t in runs}
    summary["targets"] = list(runs)
    summary["ratio"] = {
        m: summary["memhead"][m]["req_per_s"] / summary["floor"][m]["req_per_s"] for m in WORKLOADS
    }
    mixed = summary["memhead"]["mixed"]
    verdict = {
        "mixed_ratio_target": TARGETS[backend],
        "mixed_ratio_met": summary["ratio"]["mixed"] >= TARGETS[backend],
        "p99_target_ms": P99_TARGET_MS,
        "p99_met": mixed["p99_ms"] <= P99_TARGET_MS,
    }
    if SUMMARIZING in summary:
        ratio = summary[SUMMARIZING]["post"]["p99_ms"] / summary["memhead"]["post"]["p99_ms"]
        verdict |= {"post_p99_summaries_on_off": ratio, "post_p99_within_10pct": ratio <= 1.10}
        verdict["compaction_jobs"] = compactions
    return summary, verdict


def main() -> None:
    args = parse_args()
    runs, problems, jobs = run_all(args)
    summary, verdict = summarize(runs, args.backend, jobs)
    config = {k: getattr(args, k) for k in ("backend", "processes", "runs", "duration")}
    config |= {"connections": args.connections, "sessions": args.sessions, "cpus": os.cpu_count()}
    config |= {"server_cores": args.cores, "wrk_core": args.wrk_core, "wrk_threads": args.threads}
    print(table(summary), file=sys.stderr)
    print(
        f"mixed: memhead/floor {summary['ratio']['mixed']:.2f} (target "
        f"{verdict['mixed_ratio_target']:.2f}: {'met' if verdict['mixed_ratio_met'] else 'MISSED'})"
        f", p99 {summary['memhead']['mixed']['p99_ms']:.1f} ms (target {P99_TARGET_MS:.0f}: "
        f"{'met' if verdict['p99_met'] else 'MISSED'})",
        file=sys.stderr,
    )
    if "post_p99_summaries_on_off" in verdict:
        print(
            f"POST p99 with summaries / without: {verdict['post_p99_summaries_on_off']:.2f} "
            f"(target 1.10: {'met' if verdict['post_p99_within_10pct'] else 'MISSED'}); "
            f"compaction jobs {verdict['compaction_jobs']}",
            file=sys.stderr,
        )
    out = {"config": config, "summary": summary, "verdict": verdict, "runs": runs}
    text = json.dumps(out, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    else:
        print(text)
    if problems:
        print("FAILED: wrong answers or errors:", *problems, sep="\n  ", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
