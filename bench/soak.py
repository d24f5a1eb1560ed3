"""Soak: minutes of mixed Motörhead load with compaction, embedding and random deletes.

Starts a fake OpenAI-compatible provider (chat and embeddings, ``--provider-delay`` seconds
per call) and ``memhead serve`` on a fresh store (a new SQLite file, or with ``--backend redis``
a new redis-server from the test wheels), with a small window (W=12, so compaction runs all the
time), long-term memory on and embeddings served by the fake. ``--concurrency`` async clients
then drive it for ``--duration`` seconds over ``--sessions`` session ids: LangChain-style POSTs
of a Human/AI pair, GETs of the memory, retrievals now and then and a few DELETEs of whole
sessions (whose ids are reused by later POSTs). Any non-2xx answer or transport error is an
error, printed as it happens.

It measures: requests and latency by route, errors, the server's RSS (VmRSS from
``/proc/<pid>/status``) sampled every few seconds, the RSS after warm-up (the first 20% of the
run) against the final RSS, and the server's own warnings. After the load it gives the worker
``--drain`` seconds to catch up, stops the server and runs ``memhead check`` on the store. Exit
status 1 if any request failed or the check found a problem. A table on stderr, JSON on stdout.
Not run in CI.

    python bench/soak.py [--duration 600] [--concurrency 16] [--sessions 300] [--backend sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_openai import FakeOpenAI
from tests.redis_server import RedisServer
from tests.servers import NO_PROVIDERS, MemheadProcess

W = 12
WARMUP_SHARE = 0.2
MIB = 1024 * 1024
SHOWN_ERRORS = 20
WORDS = (
    "sister brother garden recipe rice beans tomato train ticket Paris Lisbon Monday weekend "
    "budget invoice meeting dentist birthday present guitar lesson marathon running shoes "
    "weather forecast umbrella coffee tea library novel chapter author painting museum ticket "
    "holiday flight hotel passport visa doctor appointment medicine allergy peanuts dog cat "
    "vet walk park bicycle repair office laptop password backup photo album wedding dress "
    "cousin Inès Marco Priya Tomasz Amara promotion salary interview resume course exam "
    "physics chemistry history Spanish French piano concert tickets lake mountain hiking tent"
).split()
ROUTES = ("post", "get", "retrieval", "delete")


def text(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(low, high)))


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a live process, in bytes (``{}`` once it is gone)."""
    found: dict[str, int] = {}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) * 1024
    return found


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Sample:
    t: float
    rss: int
    hwm: int
    redis_rss: int | None


@dataclass
class Load:
    """What the clients did: requests and latencies by route, errors by kind."""

    counts: Counter[str] = field(default_factory=Counter)
    ok: Counter[str] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {r: [] for r in ROUTES})
    errors: Counter[str] = field(default_factory=Counter)
    turns: Counter[int] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return sum(self.counts.values())

    def error(self, route: str, what: str, elapsed: float) -> None:
        key = f"{route}: {what}"
        if key not in self.errors and len(self.errors) < SHOWN_ERRORS:
            print(f"  error at {elapsed:6.1f}s: {key}", file=sys.stderr)
        self.errors[key] += 1


class Driver:
    def __init__(self, client: httpx.AsyncClient, args: argparse.Namespace, load: Load) -> None:
        self.client = client
        self.args = args
        self.load = load
        self.start = time.monotonic()
        shares = [args.get_share, args.retrieval_share, args.delete_share]
        self.weights = [1.0 - sum(shares), *shares]

    def request(self, rng: random.Random) -> tuple[str, str, str, Any]:
        route = rng.choices(ROUTES, weights=self.weights)[0]
        s = rng.randrange(self.args.sessions)
        path = f"/sessions/soak-{s}/memory"
        if route == "post":
            self.load.turns[s] += 1
            turn = self.load.turns[s]
            body = {
                "messages": [
                    {"role": "Human", "content": f"turn {turn}: {text(rng, 6, 30)}?"},
                    {"role": "AI", "content": text(rng, 10, 80)},
                ]
            }
            return route, "POST", path, body
        if route == "retrieval":
            return route, "POST", f"/sessions/soak-{s}/retrieval", {"text": text(rng, 2, 8)}
        return route, "GET" if route == "get" else "DELETE", path, None

    async def client_loop(self, seed: int, deadline: float) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            route, method, path, body = self.request(rng)
            started = time.monotonic()
            try:
                r = await self.client.request(method, path, json=body)
            except httpx.HTTPError as exc:
                self.load.counts[route] += 1
                self.load.error(route, f"{type(exc).__name__}: {exc}", started - self.start)
                continue
            self.load.counts[route] += 1
            self.load.latencies[route].append(time.monotonic() - started)
            if r.is_success:
                self.load.ok[route] += 1
            else:
                what = f"HTTP {r.status_code} {r.text[:200]}"
                self.load.error(route, what, started - self.start)

    async def sampler(self, pids: tuple[int, int | None], deadline: float) -> Sampled:
        """RSS every ``--sample-every`` s; every ``--report-every`` s a row with the worker's
        progress from ``/metrics`` as well, printed at once."""
        server, redis = pids
        sampled = Sampled()
        next_row = 0.0
        while True:
            now = time.monotonic()
            status = proc_status(server)
            sample = Sample(
                t=now - self.start,
                rss=status.get("VmRSS", 0),
                hwm=status.get("VmHWM", 0),
                redis_rss=proc_status(redis).get("VmRSS") if redis else None,
            )
            sampled.samples.append(sample)
            if sample.t >= next_row or now >= deadline:
                sampled.rows.append(await self.row(sample, sampled.rows))
                print(format_row(sampled.rows[-1]), file=sys.stderr)
                next_row += self.args.report_every
            if now >= deadline:
                return sampled
            await asyncio.sleep(min(self.args.sample_every, max(0.0, deadline - now)))

    async def row(self, sample: Sample, rows: list[dict[str, Any]]) -> dict[str, Any]:
        done = jobs((await self.client.get("/metrics")).text)
        requests = self.load.requests
        rate = 0.0
        if rows:
            rate = (requests - rows[-1]["requests"]) / max(1e-9, sample.t - rows[-1]["t_s"])
        return {
            "t_s": round(sample.t, 1),
            "requests": requests,
            "req_per_s": round(rate, 1),
            "errors": sum(self.load.errors.values()),
            "rss_mib": round(sample.rss / MIB, 1),
            "hwm_mib": round(sample.hwm / MIB, 1),
            "redis_rss_mib": None if sample.redis_rss is None else round(sample.redis_rss / MIB, 1),
            "messages_written": 2 * self.load.ok["post"],
            "messages_embedded": int(done.get("embedding/done", 0)),
            "compactions": int(done.get("compaction/done", 0)),
        }


@dataclass
class Sampled:
    samples: list[Sample] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


ROW_COLUMNS = (  # (title, key, width, format)
    ("t s", "t_s", 6, ".0f"),
    ("requests", "requests", 9, "d"),
    ("req/s", "req_per_s", 6, ".0f"),
    ("errors", "errors", 6, "d"),
    ("RSS MiB", "rss_mib", 8, ".1f"),
    ("HWM MiB", "hwm_mib", 8, ".1f"),
    ("written", "messages_written", 8, "d"),
    ("embedded", "messages_embedded", 8, "d"),
    ("compactions", "compactions", 11, "d"),
)


def header(redis: bool) -> str:
    titles = " ".join(f"{title:>{width}}" for title, _, width, _ in ROW_COLUMNS)
    return titles + (f" {'redis MiB':>9}" if redis else "")


def format_row(row: dict[str, Any]) -> str:
    cells = " ".join(f"{row[key]:>{width}{fmt}}" for _, key, width, fmt in ROW_COLUMNS)
    redis = row["redis_rss_mib"]
    return cells + ("" if redis is None else f" {redis:>9.1f}")


async def drive(
    url: str, pids: tuple[int, int | None], args: argparse.Namespace
) -> tuple[Load, Sampled, float]:
    load = Load()
    limits = httpx.Limits(max_connections=args.concurrency + 1)  # + the sampler's /metrics
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        driver = Driver(client, args, load)
        deadline = driver.start + args.duration
        print(header(pids[1] is not None), file=sys.stderr)
        sampling = asyncio.create_task(driver.sampler(pids, deadline))
        loops = [
            driver.client_loop(args.seed * 1000 + i, deadline) for i in range(args.concurrency)
        ]
        await asyncio.gather(*loops)
        sampled = await sampling
        elapsed = time.monotonic() - driver.start
    return load, sampled, elapsed


def rss_report(samples: list[Sample], duration: float) -> dict[str, Any]:
    """Warm-up RSS (the last sample in the first 20% of the run) against the final one."""
    warm = [s for s in samples if s.t <= WARMUP_SHARE * duration] or samples[:1]
    after = [s for s in samples if s.t >= warm[-1].t]
    warmup, final = warm[-1], samples[-1]
    slope = 0.0
    if len(after) >= 3:
        mean_t = sum(s.t for s in after) / len(after)
        mean_r = sum(s.rss for s in after) / len(after)
        cov = sum((s.t - mean_t) * (s.rss - mean_r) for s in after)
        var = sum((s.t - mean_t) ** 2 for s in after)
        slope = cov / var * 60 / MIB if var else 0.0
    report: dict[str, Any] = {
        "warmup_t_s": round(warmup.t, 1),
        "warmup_rss_mib": round(warmup.rss / MIB, 1),
        "final_rss_mib": round(final.rss / MIB, 1),
        "max_rss_after_warmup_mib": round(max(s.rss for s in after) / MIB, 1),
        "peak_hwm_mib": round(final.hwm / MIB, 1),
        "growth_after_warmup_mib": round((final.rss - warmup.rss) / MIB, 1),
        "growth_after_warmup_pct": round(100 * (final.rss - warmup.rss) / warmup.rss, 1),
        "slope_after_warmup_mib_per_min": round(slope, 2),
    }
    if final.redis_rss is not None and warmup.redis_rss is not None:
        report["redis_warmup_rss_mib"] = round(warmup.redis_rss / MIB, 1)
        report["redis_final_rss_mib"] = round(final.redis_rss / MIB, 1)
    return report


def drain(url: str, timeout: float) -> dict[str, Any]:
    """Wait until nothing is left to embed and no compaction is due (at most ``timeout``)."""
    started = time.monotonic()
    backlog, due = -1, -1.0
    while time.monotonic() - started < timeout:
        ready = httpx.get(f"{url}/readyz", timeout=10).json()
        backlog = int(ready.get("embedding_backlog", 0))
        due = metric(
            httpx.get(f"{url}/metrics", timeout=10).text, 'memhead_jobs_pending{kind="compaction"}'
        )
        if backlog == 0 and due == 0:
            break
        time.sleep(0.5)
    waited = time.monotonic() - started
    return {"waited_s": round(waited, 1), "embedding_backlog": backlog, "compactions_due": due}


def metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def jobs(metrics: str) -> dict[str, float]:
    """The server's background job counters (from ``/metrics``): ``kind/result`` -> count."""
    found: dict[str, float] = {}
    pattern = re.compile(r'^memhead_jobs_total\{kind="([^"]*)",result="([^"]*)"\} (\S+)$')
    for line in metrics.splitlines():
        match = pattern.match(line)
        if match:
            found[f"{match[1]}/{match[2]}"] = float(match[3])
    return found


async def session_states(url: str, sessions: int) -> dict[str, int]:
    """Over the soak's sessions: how many exist, are over the window, carry a compaction error."""
    states: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=8)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        semaphore = asyncio.Semaphore(8)

        async def one(s: int) -> None:
            async with semaphore:
                r = await client.get(f"/api/v1/sessions/soak-{s}/summary")
            if r.status_code == 404:
                states["absent"] += 1
                return
            r.raise_for_status()
            body = r.json()
            states["present"] += 1
            states["over_window"] += body["unsummarized"] > W
            states["with_error"] += body["last_error"] is not None

        await asyncio.gather(*(one(s) for s in range(sessions)))
    return {k: states[k] for k in ("present", "absent", "over_window", "with_error")}


def log_lines(log: str) -> dict[str, Any]:
    """The server's warnings, errors and tracebacks, counted, with a few distinct examples."""
    levels: Counter[str] = Counter()
    examples: dict[str, None] = {}
    for line in log.splitlines():
        for level in ("WARNING", "ERROR", "CRITICAL", "Traceback"):
            if f" {level} " in f" {line} ":
                levels[level] += 1
                if len(examples) < 10:
                    examples.setdefault(re.sub(r"\d+", "N", line.split(": ", 1)[-1])[:200])
    return {"counts": dict(levels), "examples": list(examples)}


def check(url: str, cwd: Path) -> dict[str, Any]:
    env = {**os.environ, "MEMHEAD_STORE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "memhead", "check"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return {"exit_code": done.returncode, "output": (done.stdout + done.stderr).strip()}


@contextmanager
def store(backend: str, tmp: Path) -> Iterator[tuple[str, int | None]]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'soak.db'}", None
        return
    with RedisServer() as server:
        assert server.process is not None
        yield server.url, server.process.pid


def server_env(url: str, fake: FakeOpenAI, args: argparse.Namespace) -> dict[str, str]:
    return {
        **NO_PROVIDERS,
        "MEMHEAD_STORE_URL": url,
        "MEMHEAD_LLM_BASE_URL": fake.base_url,
        "MEMHEAD_EMBED_MODEL": "fake-embedding",
        "MOTORHEAD_LONG_TERM_MEMORY": "true",
        "MOTORHEAD_MAX_WINDOW_SIZE": str(W),
        "MEMHEAD_WORKER_CONCURRENCY": str(args.worker_concurrency),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="memhead-soak-")))
        url, redis_pid = stack.enter_context(store(args.backend, tmp))
        fake = stack.enter_context(FakeOpenAI())
        fake.delay_s = args.provider_delay
        server = MemheadProcess(server_env(url, fake, args), cwd=tmp)
        try:
            server.wait_ready()
            pids = (server.proc.pid, redis_pid)
            load, sampled, elapsed = asyncio.run(drive(server.url, pids, args))
            drained = drain(server.url, args.drain)
            states = asyncio.run(session_states(server.url, args.sessions))
            job_counts = jobs(httpx.get(f"{server.url}/metrics", timeout=10).text)
        finally:
            exit_code = server.stop()
        calls = Counter(call["path"].rsplit("/", 1)[-1] for call in fake.calls)
        checked = check(url, tmp)
        log = log_lines(server.output())
    routes = {
        route: {
            "requests": load.counts[route],
            "p50_ms": round(percentile(load.latencies[route], 0.50) * 1000, 2),
            "p99_ms": round(percentile(load.latencies[route], 0.99) * 1000, 2),
        }
        for route in ROUTES
    }
    return {
        "requests": load.requests,
        "req_per_s": round(load.requests / elapsed, 1),
        "errors": sum(load.errors.values()),
        "error_kinds": dict(load.errors.most_common()),
        "routes": routes,
        "rss": rss_report(sampled.samples, args.duration),
        "rows": sampled.rows,
        "rss_samples": [[round(s.t, 1), round(s.rss / MIB, 1)] for s in sampled.samples],
        "provider_calls": {"chat": calls["completions"], "embeddings": calls["embeddings"]},
        "jobs": job_counts,
        "drain": drained,
        "sessions_after_drain": states,
        "server_exit_code": exit_code,
        "server_log": log,
        "check": checked,
    }


def summary(result: dict[str, Any]) -> str:
    rss = result["rss"]
    lines = ["", f"{'route':<10} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8}"]
    for route, r in result["routes"].items():
        lines.append(f"{route:<10} {r['requests']:>9} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}")
    lines += [
        f"requests {result['requests']} ({result['req_per_s']:.0f}/s), errors {result['errors']}",
        f"RSS warm-up ({rss['warmup_t_s']:.0f} s) {rss['warmup_rss_mib']} MiB, final "
        f"{rss['final_rss_mib']} MiB, growth after warm-up {rss['growth_after_warmup_mib']:+} MiB "
        f"({rss['growth_after_warmup_pct']:+}%), slope {rss['slope_after_warmup_mib_per_min']:+} "
        f"MiB/min, peak {rss['peak_hwm_mib']} MiB",
        f"provider calls {result['provider_calls']}, jobs {result['jobs']}",
        f"drain {result['drain']}, sessions {result['sessions_after_drain']}",
        f"server exit {result['server_exit_code']}, log {result['server_log']['counts']}",
        *(f"  log: {line}" for line in result["server_log"]["examples"]),
        f"memhead check: exit {result['check']['exit_code']}: {result['check']['output']}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds of load")
    parser.add_argument("--backend", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients")
    parser.add_argument("--sessions", type=int, default=300, help="session ids drawn from")
    parser.add_argument("--get-share", type=float, default=0.30)
    parser.add_argument("--retrieval-share", type=float, default=0.07)
    parser.add_argument("--delete-share", type=float, default=0.03)
    parser.add_argument("--provider-delay", type=float, default=0.05, help="s per fake call")
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--sample-every", type=float, default=2.0, help="s between RSS samples")
    parser.add_argument("--report-every", type=float, default=30.0, help="s between rows")
    parser.add_argument("--drain", type=float, default=30.0, help="s the worker may catch up")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = run(args)
    config = dict(vars(args)) | {"window": W, "cpus": os.cpu_count()}
    print(summary(result), file=sys.stderr)
    print(json.dumps({"config": config, "result": result}, indent=2))
    failed = result["errors"] > 0 or result["check"]["exit_code"] != 0
    print("SOAK " + ("FAILED" if failed else "PASSED"), file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
