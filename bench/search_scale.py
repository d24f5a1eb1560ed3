"""Search latency at scale: p50/p99 of keyword, vector and hybrid search with 100k and 1M
stored messages (10k and others by ``--sizes``), per backend (SQLite, Redis), in a user's scope
and in one session, quiet and under the mixed write load of ``bench/load.py``, against the
targets of issue 21; plus the memory the server uses and how long each fill took.

Data (``bench/scale_data.py``, reproducible from ``--seed``): synthetic chat messages, 250 per
session, sessions grouped into users of at most ``--user-messages`` messages (default 100k: at
1M there are ten users, and a user-scope query picks one of them at random, so "one user" is
100k messages among 1M); random unit vectors stored under the packaged all-MiniLM-L6-v2's
name. Each size extends the store of the size before, in bulk through the ``Store`` protocol:
``--fill-concurrency`` sessions appended at a time, then ``embedding_backlog`` +
``store_vectors`` ``--vector-batch`` at a time; messages and vectors are timed apart, per stage,
with the rates logged as the fill runs. ``--fill-budget`` bounds a backend's fill: a size the
rates so far say would not fill in time is reported as not measured.

Measured per size, on one ``memhead serve`` process started on the filled store
(``MEMHEAD_EMBED_MODEL=local``: queries are embedded by the real model in the server): the same
queries through ``POST /api/v1/search``, sequentially (latency, not throughput), after a
warm-up; the first request of each scope and mode is reported apart (cold caches). At the
``--load-sizes``, the same server then takes the mixed workload of ``bench/load.py`` (wrk and
``bench/load.lua``: 64 connections over 1,000 sessions, each alternating a POST of a message
pair and a checked GET of its memory; the server embeds the new messages meanwhile) while the
user-scope searches run again; wrk's requests are reported as the write throughput achieved,
and its sessions are deleted afterwards so the next size measures the same data. The same
search in-process (``SearchService`` over the store, query vectors precomputed) gives the
store's part; query embedding alone is timed once. Memory: the server's RSS (now and peak);
for Redis also ``INFO memory`` and the redis-server RSS; for SQLite the database size.

    python bench/search_scale.py [--sizes 100000,1000000] [--backends sqlite,redis]
        [--load-sizes 100000] [--queries 200] [--fill-budget 7200] [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import numpy as np
import redis

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import load as write_load  # noqa: E402  (bench/load.py)
from scale_data import DIM, Corpus, Fill, fill_to, log, open_fill_store  # noqa: E402

from memhead import retrieval  # noqa: E402
from memhead.models import DEFAULT_TENANT, SearchScope  # noqa: E402
from memhead.providers.base import Embedder  # noqa: E402
from memhead.providers.local import DEFAULT_MODEL_NAME, LocalEmbedder  # noqa: E402
from memhead.search import Mode, SearchService  # noqa: E402
from memhead.stores import Store  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402
from tests.servers import NO_PROVIDERS, MemheadProcess  # noqa: E402

MODES: tuple[Mode, ...] = ("keyword", "vector", "hybrid")
SCOPES = ("user", "session")
TARGETS_MS: dict[tuple[str, int], dict[str, float] | None] = {
    ("sqlite", 100_000): {"keyword": 25, "vector": 40, "hybrid": 50},
    ("redis", 100_000): {"keyword": 25, "vector": 40, "hybrid": 50},
    ("redis", 1_000_000): {"keyword": 50, "vector": 60, "hybrid": 100},
    ("sqlite", 1_000_000): None,  # report only
}
"""Issue 21: p99 of 200 sequential searches in one user's scope, one server process."""


# -- measuring --------------------------------------------------------------------------------


def summary(times: Sequence[float]) -> dict[str, float]:
    ordered = sorted(times)

    def at(q: float) -> float:
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": 1000 * ordered[-1]}


@dataclass(frozen=True)
class Plan:
    """Which scope each query searches: a random user and a random session, both filled."""

    queries: list[str]
    users: list[str]
    sessions: list[str]

    @classmethod
    def of(cls, corpus: Corpus, sessions: int, queries: list[str]) -> Plan:
        rng = np.random.default_rng((corpus.seed, 3, sessions))
        picks = rng.integers(sessions, size=len(queries))
        users = sorted({corpus.user_of(i) for i in range(sessions)})
        return cls(
            queries,
            [users[int(rng.integers(len(users)))] for _ in queries],
            [corpus.session_id(int(i)) for i in picks],
        )

    def body(self, scope: str, i: int) -> dict[str, str]:
        return {"user_id": self.users[i]} if scope == "user" else {"session_id": self.sessions[i]}

    def scope(self, scope: str, i: int) -> SearchScope:
        if scope == "user":
            return SearchScope(DEFAULT_TENANT, user_id=self.users[i])
        return SearchScope(DEFAULT_TENANT, session_id=self.sessions[i])


@dataclass(frozen=True)
class Probe:
    queries: list[str]
    vectors: dict[str, list[float]]


class Precomputed:
    """An embedder answering with vectors computed beforehand (the store's part alone)."""

    model = DEFAULT_MODEL_NAME

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.vectors[t] for t in texts]


async def timed(run: Callable[[int], Awaitable[None]], n: int, warmup: int) -> dict[str, Any]:
    """The first call alone (cold caches), ``warmup`` more, then ``n`` timed calls."""
    start = time.perf_counter()
    await run(0)
    first = time.perf_counter() - start
    for i in range(1, warmup + 1):
        await run(i % n)
    times = []
    for i in range(n):
        start = time.perf_counter()
        await run(i)
        times.append(time.perf_counter() - start)
    return {**summary(times), "first_ms": 1000 * first, "n": n}


def log_cell(what: str, cell: dict[str, Any]) -> None:
    log(f"  {what}: p50 {cell['p50_ms']:.1f} ms, p99 {cell['p99_ms']:.1f} ms")


async def in_process(
    store: Store,
    plan: Plan,
    vectors: dict[str, list[float]],
    warmup: int,
    modes: Sequence[Mode] = MODES,
) -> dict[str, Any]:
    """Per scope and mode: ``SearchService`` over the store, no HTTP, no query embedding."""
    service = SearchService(store, cast(Embedder, Precomputed(vectors)))
    out: dict[str, Any] = {}
    for scope in SCOPES:
        for mode in modes:

            async def run(i: int, scope: str = scope, mode: Mode = mode) -> None:
                await service.search(plan.scope(scope, i), plan.queries[i], mode=mode)

            out[f"{scope}/{mode}"] = cell = await timed(run, len(plan.queries), warmup)
            log_cell(f"in-process {scope}/{mode}", cell)
    return out


async def over_http(
    url: str,
    plan: Plan,
    warmup: int,
    scopes: Sequence[str] = SCOPES,
    modes: Sequence[Mode] = MODES,
) -> dict[str, Any]:
    """Per scope and mode: ``POST /api/v1/search`` latency seen by a client, sequentially."""
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        for scope in scopes:
            for mode in modes:
                hits: list[int] = []

                async def run(
                    i: int, scope: str = scope, mode: Mode = mode, hits: list[int] = hits
                ) -> None:
                    body = {"query": plan.queries[i], "mode": mode, **plan.body(scope, i)}
                    r = await client.post("/api/v1/search", json=body)
                    r.raise_for_status()
                    if r.json()["mode"] != mode:
                        sys.exit(f"the server answered {mode} in {r.json()['mode']} mode")
                    hits.append(len(r.json()["hits"]))

                result = await timed(run, len(plan.queries), warmup)
                out[f"{scope}/{mode}"] = {**result, "mean_hits": float(np.mean(hits))}
                log_cell(f"http {scope}/{mode}", result)
    return out


def embedding_latency(queries: Sequence[str]) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Query embedding alone (one query per call, as the server does) and the vectors: with
    torch's default threads, then with one (torch's threads stall when a core is busy)."""
    import torch

    embedder = LocalEmbedder()
    embedder.embed_sync(["warm up"])
    vectors: dict[str, list[float]] = {}
    report: dict[str, Any] = {"model": embedder.model}
    default_threads = torch.get_num_threads()
    for threads in (default_threads, 1):
        torch.set_num_threads(threads)
        times = []
        for q in queries:
            text = retrieval.query_text(q)
            start = time.perf_counter()
            vectors[text] = embedder.embed_sync([text])[0]
            times.append(time.perf_counter() - start)
        report[f"torch_threads_{threads}"] = {**summary(times), "n": len(times)}
    torch.set_num_threads(default_threads)
    return report, vectors


# -- memory -----------------------------------------------------------------------------------
# -- memory -----------------------------------------------------------------------------------


def process_memory(pid: int) -> dict[str, float]:
    """Resident set now and at its peak (``/proc/<pid>/status``), in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return {"rss_mib": fields["VmRSS"], "peak_rss_mib": fields["VmHWM"]}


def backend_memory(url: str, redis_pid: int | None, workdir: Path) -> dict[str, float]:
    if redis_pid is None:
        files = [p for p in workdir.iterdir() if p.name.startswith("scale.db")]
        return {"sqlite_files_mib": sum(p.stat().st_size for p in files) / 2**20}
    with redis.Redis.from_url(url) as client:
        info = cast(dict[str, Any], client.info("memory"))
    return {
        "redis_used_memory_mib": info["used_memory"] / 2**20,
        "redis_used_memory_peak_mib": info["used_memory_peak"] / 2**20,
        **{f"redis_server_{k}": v for k, v in process_memory(redis_pid).items()},
    }


# -- one backend ------------------------------------------------------------------------------
# -- under the write load ---------------------------------------------------------------------


def under_load(server: MemheadProcess, plan: Plan, size: int, args: argparse.Namespace) -> Any:
    """User-scope searches again while wrk drives ``bench/load.py``'s mixed workload at the
    same server; then the load's sessions are deleted (the next size measures the same data)."""
    wrk_args = argparse.Namespace(
        sessions=write_load.SESSIONS,
        connections=write_load.CONNECTIONS,
        threads=1,
        wrk_core=1 if (os.cpu_count() or 1) >= 2 else None,  # as bench/load.py's one process
    )
    prefix = f"scale-load-{size}-"
    wrk = write_load.start_wrk([server.port], "mixed", prefix, True, wrk_args, 24 * 3600)
    try:
        time.sleep(args.load_warmup)
        http = asyncio.run(over_http(server.url, plan, args.warmup, scopes=("user",)))
    finally:
        writes = write_load.wrk_result(wrk, stop=True)
    writes["mode"] = "mixed"
    writes["messages_written"] = writes["requests"]  # half are POSTs of a message pair
    writes["problems"] = write_load.failures(writes, True)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for s in range(1, write_load.SESSIONS + 1):
            client.delete(f"/sessions/{prefix}{s}/memory").raise_for_status()
    return {"http": http, "writes": writes}


# -- one backend ------------------------------------------------------------------------------


@contextmanager
def backend_url(backend: str, workdir: Path) -> Iterator[tuple[str, int | None]]:
    """The store URL, and the redis-server PID (Redis: a fresh server, no persistence)."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'scale.db'}", None
        return
    with RedisServer() as server:
        assert server.process is not None
        yield server.url, server.process.pid


async def prepare(
    url: str,
    corpus: Corpus,
    fill: Fill,
    size: int,
    args: argparse.Namespace,
    probe: Probe,
    label: str,
) -> dict[str, Any] | None:
    """Fill up to ``size`` and time the search in-process; None when the fill ran out of time."""
    store = open_fill_store(url, args.vector_cache_mb)
    await store.setup()
    try:
        modes = modes_at(args, label)
        if not await fill_to(store, corpus, fill, size, args, label, vectors=modes == MODES):
            return None
        plan = Plan.of(corpus, fill.sessions, probe.queries)
        log(f"{label}: searching in-process")
        searched = await in_process(store, plan, probe.vectors, args.warmup, modes)
        return {"plan": plan, "store": searched}
    finally:
        await store.close()


def modes_at(args: argparse.Namespace, label: str) -> tuple[Mode, ...]:
    """The modes measured at ``label`` ("<backend> <size>"): keyword alone where
    ``--keyword-only`` names it (its messages get no vectors)."""
    backend, size = label.split()
    return ("keyword",) if f"{backend}:{size}" in args.keyword_only else MODES


def serve_and_measure(
    url: str, plan: Plan, label: str, args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    """One ``memhead serve`` process: quiet searches, then (at a load size) loaded ones."""
    size, modes = int(label.split()[1]), modes_at(args, label)
    env = {**NO_PROVIDERS, "MEMHEAD_STORE_URL": url, "MEMHEAD_EMBED_MODEL": "local"}
    env["MEMHEAD_VECTOR_CACHE_MB"] = str(args.vector_cache_mb)
    if modes != MODES:  # messages without vectors: no background embedding of them meanwhile
        env["MEMHEAD_WORKER"] = "0"
    env |= dict(pair.split("=", 1) for pair in args.server_env)
    out: dict[str, Any] = {}
    with MemheadProcess(env, cwd=workdir) as server:
        server.wait_ready(timeout=300)
        started = process_memory(server.proc.pid)
        load_before = os.getloadavg()[0]
        out["http"] = asyncio.run(over_http(server.url, plan, args.warmup, modes=modes))
        out["http"]["load_average_1m"] = [load_before, os.getloadavg()[0]]
        out["memory"] = process_memory(server.proc.pid)
        if size in args.load_sizes:
            log(f"searching under the mixed write load of bench/load.py ({size})")
            out["under_load"] = under_load(server, plan, size, args)
    out["memory"]["rss_after_start_mib"] = started["rss_mib"]
    return out


def measure_size(
    backend: str, url: str, redis_pid: int | None, workdir: Path, size: int, run: Run
) -> dict[str, Any]:
    label = f"{backend} {size}"
    log(f"{label}: filling")
    prepared = asyncio.run(prepare(url, run.corpus, run.fill, size, run.args, run.probe, label))
    if prepared is None:
        log(f"{label}: {run.fill.stopped}")
        return {"not_measured": run.fill.stopped, "fill": run.fill.report()}
    log(f"{label}: {run.fill.messages} messages; searching through memhead serve")
    measured = serve_and_measure(url, prepared["plan"], label, run.args, workdir)
    measured["memory"] |= backend_memory(url, redis_pid, workdir)
    return {
        "messages": run.fill.messages,
        "sessions": run.fill.sessions,
        "users": -(-run.fill.sessions // run.corpus.sessions_per_user),
        "store": prepared["store"],
        **measured,
    }


@dataclass(frozen=True)
class Run:
    """What every backend's run shares, and the fill of the backend at hand."""

    corpus: Corpus
    probe: Probe
    args: argparse.Namespace
    fill: Fill


def run_backend(
    backend: str, corpus: Corpus, probe: Probe, args: argparse.Namespace
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    run = Run(corpus, probe, args, Fill())
    with tempfile.TemporaryDirectory(prefix="memhead-scale-", dir=args.dir) as name:
        workdir = Path(name)
        with backend_url(backend, workdir) as (url, redis_pid):
            for size in args.sizes:
                if run.fill.stopped is not None:
                    results[str(size)] = {"not_measured": run.fill.stopped}
                    continue
                results[str(size)] = measure_size(backend, url, redis_pid, workdir, size, run)
    return {"fill": run.fill.report(), "sizes": results}


# -- report -----------------------------------------------------------------------------------


def verdicts(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each issue-21 target cell: the p99 measured (user scope, over HTTP), met or not."""
    out = []
    for (backend, size), targets in TARGETS_MS.items():
        r = report["results"].get(backend, {}).get("sizes", {}).get(str(size))
        for mode in MODES:
            cell: dict[str, Any] = {"backend": backend, "size": size, "mode": mode}
            cell["target_ms"] = None if targets is None else targets[mode]
            if r is None or "not_measured" in r:
                cell["p99_ms"] = None
                cell["status"] = "not run" if r is None else "not measured (fill budget)"
            elif f"user/{mode}" not in r["http"]:
                cell["p99_ms"] = None
                cell["status"] = "not measured (--keyword-only: no vectors filled)"
            else:
                cell["p99_ms"] = r["http"][f"user/{mode}"]["p99_ms"]
                cell["p50_ms"] = r["http"][f"user/{mode}"]["p50_ms"]
            if cell["p99_ms"] is not None and cell["target_ms"] is not None:
                cell["ratio"] = cell["p99_ms"] / cell["target_ms"]
                cell["met"] = cell["ratio"] <= 1.0
            out.append(cell)
    return out


def verdict_text(cell: dict[str, Any]) -> str:
    if cell["p99_ms"] is None:
        return str(cell["status"])
    measured = f"{cell['p50_ms']:.1f} / {cell['p99_ms']:.1f}"
    if cell["target_ms"] is None:
        return f"{measured} (report)"
    met = "met" if cell["met"] else "MISSED"
    return f"{measured} (<= {cell['target_ms']:.0f}: {met}, {cell['ratio']:.2f}x)"


def targets_table(report: dict[str, Any]) -> list[str]:
    lines = [
        "issue 21 targets: one user's scope, p50 / p99 ms of sequential POST /api/v1/search "
        "(query embedding included), one server process; ratio = p99 / target",
        (f"{'backend':<7} {'size':>8}  " + "".join(f"{m:<36}" for m in MODES)).rstrip(),
    ]
    cells = report["targets"]
    for i in range(0, len(cells), len(MODES)):
        row = cells[i : i + len(MODES)]
        texts = "".join(f"{verdict_text(c):<36}" for c in row)
        lines.append(f"{row[0]['backend']:<7} {row[0]['size']:>8}  {texts}".rstrip())
    return lines


def load_table(report: dict[str, Any]) -> list[str]:
    lines = [
        "user scope under the mixed write load of bench/load.py (wrk, "
        f"{write_load.CONNECTIONS} connections, {write_load.SESSIONS} sessions), same server:",
        f"{'backend':<7} {'size':>8} {'mode':<8}{'quiet p50':>10}{'p99':>8}{'loaded p50':>11}"
        f"{'p99':>8}{'x quiet':>8}",
    ]
    for backend, result in report["results"].items():
        for size, r in result["sizes"].items():
            if "under_load" not in r:
                continue
            loaded = r["under_load"]
            for mode in MODES:
                q, u = r["http"][f"user/{mode}"], loaded["http"][f"user/{mode}"]
                lines.append(
                    f"{backend:<7} {size:>8} {mode:<8}{q['p50_ms']:>10.1f}{q['p99_ms']:>8.1f}"
                    f"{u['p50_ms']:>11.1f}{u['p99_ms']:>8.1f}{u['p99_ms'] / q['p99_ms']:>8.2f}"
                )
            w = loaded["writes"]
            problems = "; ".join(w["problems"]) or "every answer checked, none wrong"
            lines.append(
                f"{backend:<7} {size:>8} writes meanwhile: {w['req_per_s']:.0f} req/s (half "
                f"POSTs of 2 messages: ~{w['messages_written']} messages written, deleted "
                f"after), p50 {w['p50_ms']:.1f} ms, p99 {w['p99_ms']:.1f} ms over "
                f"{w['duration_s']:.0f} s; {problems}"
            )
    return lines


def fill_lines(backend: str, fill: dict[str, Any]) -> list[str]:
    lines = []
    for s in fill["stages"]:
        lines.append(
            f"{backend:<7} {s['size']:>8} fill: {s['messages']} messages in "
            f"{s['messages_seconds']:.0f} s ({s['msg_per_s']:.0f}/s), {s['vectors']} vectors in "
            f"{s['vectors_seconds']:.0f} s ({s['vec_per_s']:.0f}/s)"
        )
    lines.append(
        f"{backend:<7} fill in all: {fill['seconds']:.0f} s (messages "
        f"{fill['messages_seconds']:.0f} s, vectors {fill['vector_seconds']:.0f} s)"
    )
    return lines


def cells_table(report: dict[str, Any]) -> list[str]:
    lines = [
        "http = POST /api/v1/search through memhead serve (embedding included); store = "
        "SearchService in-process, query vector precomputed; first = first request (cold)",
        f"{'backend':<7} {'size':>8} {'scope':<8}{'mode':<8}{'http p50':>9}{'p99':>8}"
        f"{'first':>8}{'store p50':>10}{'p99':>8}{'first':>8}{'hits':>6}",
    ]
    for backend, result in report["results"].items():
        for size, r in result["sizes"].items():
            if "not_measured" in r:
                lines.append(f"{backend:<7} {size:>8} {r['not_measured']}")
                continue
            for cell, s in r["store"].items():
                h = r["http"][cell]
                scope, mode = cell.split("/")
                lines.append(
                    f"{backend:<7} {size:>8} {scope:<8}{mode:<8}{h['p50_ms']:>9.1f}"
                    f"{h['p99_ms']:>8.1f}{h['first_ms']:>8.0f}{s['p50_ms']:>10.1f}"
                    f"{s['p99_ms']:>8.1f}{s['first_ms']:>8.0f}{h['mean_hits']:>6.1f}"
                )
            memory = ", ".join(f"{k} {v:.0f}" for k, v in r["memory"].items())
            lines.append(f"{backend:<7} {size:>8} memory (MiB): {memory}")
            low, high = r["http"]["load_average_1m"]
            lines.append(f"{backend:<7} {size:>8} load average (1 min) {low:.1f} -> {high:.1f}")
        lines += fill_lines(backend, result["fill"])
    return lines


def table(report: dict[str, Any]) -> str:
    e = report["query_embedding"]
    embedding = "; ".join(
        f"{k.replace('_', ' ')}: p50 {v['p50_ms']:.1f} ms, p99 {v['p99_ms']:.1f} ms"
        for k, v in e.items()
        if k != "model"
    )
    lines = [f"query embedding alone ({e['model']}, in-process): {embedding}", ""]
    lines += cells_table(report) + [""] + load_table(report) + [""] + targets_table(report)
    return "\n".join(lines)


def sizes(text: str) -> list[int]:
    return sorted(int(s) for s in text.split(",") if s.strip())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=sizes, default="100000,1000000", help="messages")
    parser.add_argument("--backends", default="sqlite,redis")
    parser.add_argument(
        "--load-sizes",
        type=sizes,
        default="100000",
        help="sizes also measured under the write load of bench/load.py ('' for none)",
    )
    parser.add_argument("--load-warmup", type=float, default=3, help="seconds of load first")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per cell")
    parser.add_argument("--warmup", type=int, default=20, help="queries before timing")
    parser.add_argument("--session-messages", type=int, default=250)
    parser.add_argument("--user-messages", type=int, default=100_000, help="messages per user")
    parser.add_argument("--append-batch", type=int, default=500, help="messages per append")
    parser.add_argument("--fill-concurrency", type=int, default=8, help="sessions at a time")
    parser.add_argument("--vector-batch", type=int, default=2000, help="vectors per call")
    parser.add_argument("--fill-budget", type=float, default=7200, help="fill seconds/backend")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", default=None, help="where the stores live (default: tmp)")
    parser.add_argument(
        "--server-env", action="append", default=[], help="KEY=VALUE for memhead serve"
    )
    parser.add_argument(
        "--vector-cache-mb",
        type=int,
        default=2048,
        help="SQLite: MEMHEAD_VECTOR_CACHE_MB of the server and the in-process store (ten "
        "users' matrices of 100k vectors take 1.5 GiB; with less, random users reload theirs)",
    )
    parser.add_argument(
        "--keyword-only",
        action="append",
        default=[],
        metavar="BACKEND:SIZE",
        help="fill no vectors for that stage and measure keyword search only (repeatable)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    args.backends = [b.strip() for b in args.backends.split(",")]
    if args.load_sizes and shutil.which("wrk") is None:
        sys.exit("--load-sizes needs wrk (apt-get install wrk), or --load-sizes ''")
    return args


def main() -> None:
    args = parse_args()
    corpus = Corpus(args.seed, args.session_messages, args.user_messages)
    queries = corpus.queries(args.queries)
    log("timing query embedding")
    embedding, vectors = embedding_latency(queries)
    probe = Probe(queries, vectors)
    report: dict[str, Any] = {
        "config": {
            **{k: v for k, v in vars(args).items() if k != "json"},
            "cpus": os.cpu_count(),
            "vectors": f"random unit {DIM}-dim float32, stored as {DEFAULT_MODEL_NAME}; "
            "queries embedded by the model",
            "example_queries": queries[:5],
        },
        "query_embedding": embedding,
        "results": {},
    }
    started = time.monotonic()
    for backend in args.backends:
        report["results"][backend] = run_backend(backend, corpus, probe, args)
    report["targets"] = verdicts(report)
    report["config"]["run_seconds"] = time.monotonic() - started
    if args.json is not None:  # first: a long run's results outlive a failing table
        args.json.write_text(json.dumps(report, indent=2, default=str))
    print(table(report))


if __name__ == "__main__":
    main()
