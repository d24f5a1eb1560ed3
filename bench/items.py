"""Memory items (issue 17): put, get and search throughput and latency on SQLite and Redis,
against the message API as the baseline, and search latency at 100,000 items.

Throughput: a fresh store per backend is filled in-process through the ``ItemStore`` and
``Store`` protocols (``--items`` items in ``--namespaces`` namespaces ``("bench", "u<j>")``,
each ``{"text": <12 words>, "topic": "t<i % 20>", "group": "g<i % 100>", "n": i}``
indexed by its text; the same number of messages in as many sessions), then
``memhead serve`` (no embedder: keyword search) is driven by wrk with ``bench/items.lua``,
server pinned to core 0, wrk (and redis-server) to core 1:

- put: ``PUT /store/items`` replacing a filled item with new text (the keyword entry too);
- get: ``GET /store/items?namespace=bench.u<j>&key=k<i>``;
- query: ``POST /store/items/search`` with two words of the vocabulary over every namespace;
- filter: ``POST /store/items/search`` in one namespace with ``{"topic": "t<k>"}``, no query;

and their baselines on the same server in the same run: ``msg_post`` (one message appended to
``POST /api/v1/sessions/{id}/messages``), ``msg_get`` (``GET .../memory``), ``msg_search``
(``POST /api/v1/search``, keyword, the whole tenant). Each row shows req/s, p50/p99 and the
server's CPU per request; ``x base`` is item req/s over its baseline's (put/msg_post,
get/msg_get, query and filter/msg_search).

Scale: ``--scale`` items (default 100,000) in 100 namespaces under one prefix ``("scale",)``
filled the same way, each with a random unit 384-dim vector stored under the packaged
all-MiniLM-L6-v2's name (as ``bench/search_scale.py`` does: latency does not depend on what
vectors mean). Sequential
``POST /store/items/search`` over the whole prefix, after a warm-up: keyword (a server
without embedder), hybrid (``MEMHEAD_EMBED_MODEL=local``: the server embeds each query with
the real model), each also with a 1% filter (``+f1``, ``{"group": ...}``), and listings
without a query: no filter (``list``), a 5% filter (``filter``, ``{"topic": ...}``), a 1%
one (``filter1``); p50/p99 against the issue's target (p99 <= 50 ms for keyword and hybrid).

    python bench/items.py [--backends sqlite,redis] [--duration 10] [--scale 100000]
        [--json bench/results/items.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from search_scale import DIM, backend_url, log, summary, vocabulary  # noqa: E402

from memhead import retrieval  # noqa: E402
from memhead.models import DEFAULT_TENANT, ItemKey, NewItem, NewMessage, SessionKey  # noqa: E402
from memhead.providers.local import DEFAULT_MODEL_NAME  # noqa: E402
from memhead.stores import Store, open_store  # noqa: E402
from tests.servers import NO_PROVIDERS, MemheadProcess  # noqa: E402

WORKLOADS = ("put", "get", "query", "filter", "msg_post", "msg_get", "msg_search")
BASELINE = {"put": "msg_post", "get": "msg_get", "query": "msg_search", "filter": "msg_search"}
TARGET_P99_MS = 50.0
START_MS = 1_767_225_600_000  # 2026-01-01
TOPICS = 20
GROUPS = 100
"""``group`` takes this many values: a filter on it selects 1% of the items."""
SERVER_CORE, CLIENT_CORE = "0", "1"


class Words:
    """Item texts and queries: words of the model's vocabulary, Zipf-distributed (s = 1)."""

    def __init__(self, seed: int, size: int = 2000) -> None:
        self.words = np.array(vocabulary()[:size], dtype=object)
        weights = 1.0 / np.arange(1, len(self.words) + 1)
        self.cdf = np.cumsum(weights) / weights.sum()
        self.rng = np.random.default_rng(seed)
        self.content = [w for w in self.words if w not in retrieval.STOPWORDS]

    def draw(self, n: int) -> str:
        return " ".join(self.words[np.searchsorted(self.cdf, self.rng.random(n))])

    def queries(self, n: int) -> list[str]:
        """Two or three words each, none a stopword (which search leaves out)."""
        return [
            " ".join(self.rng.choice(self.content, size=int(self.rng.integers(2, 4))))
            for _ in range(n)
        ]


# -- filling ----------------------------------------------------------------------------------


async def put_items(
    store: Store, words: Words, prefix: str, count: int, namespaces: int, batch: int = 256
) -> float:
    """``count`` items in ``namespaces`` namespaces under ``prefix``; returns items/s."""
    start = time.monotonic()
    per = -(-count // namespaces)
    for first in range(0, count, batch):
        puts = []
        for i in range(first, min(first + batch, count)):
            text = words.draw(12)
            key = ItemKey(DEFAULT_TENANT, (prefix, f"u{i // per}"), f"k{i % per}")
            value = {"text": text, "topic": f"t{i % TOPICS}", "group": f"g{i % GROUPS}", "n": i}
            puts.append(store.put_item(key, NewItem(value, text=text), now=START_MS + i))
        await asyncio.gather(*puts)
    return count / (time.monotonic() - start)


async def put_vectors(store: Store, rng: np.random.Generator, batch: int = 50) -> int:
    """A random unit vector for every item without one; returns how many."""
    done = 0
    while pending := await store.item_embedding_backlog(limit=batch):
        vectors = rng.standard_normal((len(pending), DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        pairs = cast(Any, list(zip(pending, vectors, strict=True)))
        await store.store_item_vectors(pairs, model=DEFAULT_MODEL_NAME)
        done += len(pending)
    return done


async def append_messages(store: Store, words: Words, count: int, sessions: int) -> None:
    per = -(-count // sessions)
    for s in range(sessions):
        key = SessionKey(DEFAULT_TENANT, f"s{s}")
        messages = [NewMessage("user", words.draw(12)) for _ in range(per)]
        await store.append(key, messages, now=START_MS + s, window=10**9)


def filling_store(url: str) -> Store:
    """The store to fill in-process: Redis with a long timeout, since a busy machine can take
    seconds over a pipeline of vector inserts."""
    if url.startswith("redis"):
        from memhead.stores.redis import RedisStore

        return RedisStore.from_url(url, timeout_s=120)
    return open_store(url)


async def fill_throughput(url: str, words: Words, args: argparse.Namespace) -> dict[str, float]:
    store = filling_store(url)
    await store.setup()
    try:
        rate = await put_items(store, words, "bench", args.items, args.namespaces)
        await append_messages(store, words, args.items, args.namespaces)
    finally:
        await store.close()
    return {"items_per_s": rate}


async def fill_scale(url: str, words: Words, args: argparse.Namespace) -> dict[str, float]:
    store = filling_store(url)
    await store.setup()
    try:
        rate = await put_items(store, words, "scale", args.scale, 100)
        began = time.monotonic()
        vectors = await put_vectors(store, np.random.default_rng(args.seed))
        vector_rate = vectors / (time.monotonic() - began)
    finally:
        await store.close()
    return {"items_per_s": rate, "vectors": vectors, "vectors_per_s": vector_rate}


# -- throughput -------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(port: int, mode: str, seconds: int, words: Words, args: argparse.Namespace) -> Any:
    env = {
        **os.environ,
        "BENCH_MODE": mode,
        "BENCH_NAMESPACES": str(args.namespaces),
        "BENCH_PER": str(-(-args.items // args.namespaces)),
        "BENCH_TOPICS": str(TOPICS),
        "BENCH_WORDS": ",".join(words.content),
    }
    command = ["taskset", "-c", CLIENT_CORE, "wrk", "-t1", f"-c{args.connections}"]
    command += [f"-d{seconds}s", "--timeout", "10s", "-s", str(HERE / "items.lua")]
    done = subprocess.run(
        [*command, f"http://127.0.0.1:{port}/"], env=env, capture_output=True, text=True
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH ")]
    if done.returncode != 0 or not lines:
        sys.exit(f"wrk failed: {done.stderr or done.stdout}")
    result: dict[str, Any] = json.loads(lines[0].removeprefix("BENCH "))
    errors = {kind: n for kind, n in result["errors"].items() if n}
    if errors:
        sys.exit(f"{mode}: wrk saw errors {errors}")
    result["req_per_s"] = result["requests"] / result["duration_s"]
    return result


def throughput(url: str, workdir: Path, words: Words, args: argparse.Namespace) -> Any:
    env = {**NO_PROVIDERS, "MEMHEAD_STORE_URL": url}
    launcher = ("taskset", "-c", SERVER_CORE)
    out: dict[str, Any] = {}
    with MemheadProcess(env, cwd=workdir, launcher=launcher) as server:
        server.wait_ready()
        for mode in WORKLOADS:  # a short warm-up of each route
            wrk(server.port, mode, 1, words, args)
        for mode in WORKLOADS:
            cpu = cpu_seconds(server.proc.pid)
            result = wrk(server.port, mode, args.duration, words, args)
            used = cpu_seconds(server.proc.pid) - cpu
            result["cpu_us_per_req"] = used * 1e6 / max(result["requests"], 1)
            out[mode] = result
            log(f"  {mode}: {result['req_per_s']:.0f} req/s, p99 {result['p99_ms']:.1f} ms")
    for mode, base in BASELINE.items():
        out[mode]["x_base"] = out[mode]["req_per_s"] / out[base]["req_per_s"]
    return out


# -- latency at scale -------------------------------------------------------------------------


def sequential(
    url: str,
    bodies: list[dict[str, Any]],
    warmup: int,
    check: Callable[[Any], None] | None,
    checks: list[Callable[[Any], None]] | None = None,
) -> Any:
    """``POST /store/items/search`` of each body in turn, after ``warmup`` of them untimed;
    each answer passes ``check`` and its body's entry of ``checks``."""
    times = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for i in range(warmup + len(bodies)):
            body = bodies[i % len(bodies)]
            start = time.perf_counter()
            answer = client.post("/store/items/search", json=body)
            elapsed = time.perf_counter() - start
            answer.raise_for_status()
            for each in (check, None if checks is None else checks[i % len(bodies)]):
                if each is not None:
                    each(answer.json())
            if i >= warmup:
                times.append(elapsed)
    return {**summary(times), "n": len(times)}


def store_operations(url: str) -> dict[str, tuple[float, float]]:
    """Per item operation of the store: (count, seconds) so far, from ``/metrics``."""
    out: dict[str, list[float]] = {}
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith("memhead_store_operation_duration_seconds_") and "item" in line:
            name, value = line.rsplit(" ", 1)
            operation = name.split('operation="', 1)[1].split('"', 1)[0]
            if name.startswith("memhead_store_operation_duration_seconds_count"):
                out.setdefault(operation, [0.0, 0.0])[0] = float(value)
            elif name.startswith("memhead_store_operation_duration_seconds_sum"):
                out.setdefault(operation, [0.0, 0.0])[1] = float(value)
    return {k: (v[0], v[1]) for k, v in out.items()}


def store_share(before: dict[str, tuple[float, float]], url: str) -> dict[str, Any]:
    """The store's part of a cell: calls and mean ms per item operation since ``before``."""
    share = {}
    for operation, (count, seconds) in store_operations(url).items():
        n0, s0 = before.get(operation, (0.0, 0.0))
        if count > n0:
            share[operation] = {
                "calls": count - n0,
                "mean_ms": 1000 * (seconds - s0) / (count - n0),
            }
    return share


def has_hits(body: Any) -> None:
    if not body["items"]:
        sys.exit(f"a search at scale found nothing: {body}")


def passes_filter(filter: dict[str, Any]) -> Callable[[Any], None]:
    """A check that every item found passes ``filter`` (equality on top-level fields)."""

    def check(body: Any) -> None:
        for item in body["items"]:
            if any(item["value"].get(f) != v for f, v in filter.items()):
                sys.exit(f"a filtered search returned {item['value']} for {filter}")

    return check


def scale_cells(words: Words, args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """The request bodies of each cell: keyword or hybrid (``query``), each also with a 1%
    filter (``+f1``); listings without a query: none, a 5% filter (``topic``), a 1% one."""
    queries = words.queries(args.queries)
    base = {"namespace_prefix": ["scale"], "limit": 10}
    group = [{"group": f"g{(7 * i) % GROUPS}"} for i in range(args.queries)]
    return {
        "query": [{**base, "query": q} for q in queries],
        "query+f1": [
            {**base, "query": q, "filter": f} for q, f in zip(queries, group, strict=True)
        ],
        "list": [base] * args.queries,
        "filter": [{**base, "filter": {"topic": f"t{i % TOPICS}"}} for i in range(args.queries)],
        "filter1": [{**base, "filter": f} for f in group],
    }


def scale_latency(url: str, workdir: Path, words: Words, args: argparse.Namespace) -> Any:
    bodies = scale_cells(words, args)
    out: dict[str, Any] = {}
    for embedder in ("", "local"):
        env = {**NO_PROVIDERS, "MEMHEAD_STORE_URL": url, "MEMHEAD_EMBED_MODEL": embedder}
        env |= dict(pair.split("=", 1) for pair in args.server_env)
        with MemheadProcess(env, cwd=workdir) as server:
            server.wait_ready(timeout=300)
            load = os.getloadavg()[0]
            mode = "hybrid" if embedder else "keyword"
            cells = {mode: bodies["query"], f"{mode}+f1": bodies["query+f1"]}
            if not embedder:
                cells |= {k: bodies[k] for k in ("list", "filter", "filter1")}
            for cell, cell_bodies in cells.items():
                filter = cell_bodies[0].get("filter")
                checks = [passes_filter(b["filter"]) for b in cell_bodies] if filter else None
                check = has_hits if "query" not in cell_bodies[0] or not filter else None
                before = store_operations(server.url)
                out[cell] = sequential(server.url, cell_bodies, args.warmup, check, checks)
                out[cell]["store"] = store_share(before, server.url)
            log(f"  {mode}: load {load:.1f}")
    for mode in ("keyword", "hybrid"):
        out[mode]["target_met"] = out[mode]["p99_ms"] <= TARGET_P99_MS
    return out


# -- driver -----------------------------------------------------------------------------------


@contextmanager
def fresh_store(backend: str, args: argparse.Namespace) -> Iterator[tuple[str, Path]]:
    """A new store (a temporary SQLite file, or a new redis-server) and a working directory."""
    with tempfile.TemporaryDirectory(prefix="memhead-items-", dir=args.dir) as name:
        workdir = Path(name)
        with backend_url(backend, workdir) as (url, redis_pid):
            if redis_pid is not None:
                subprocess.run(
                    ["taskset", "-a", "-p", "-c", CLIENT_CORE, str(redis_pid)],
                    check=True,
                    capture_output=True,
                )
            yield url, workdir


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if args.duration > 0:
        with fresh_store(backend, args) as (url, workdir):
            log(f"{backend}: filling {args.items} items and as many messages")
            fill = asyncio.run(fill_throughput(url, words := Words(args.seed), args))
            log(f"{backend}: throughput, {args.duration} s per workload")
            result["throughput"] = {"fill": fill, **throughput(url, workdir, words, args)}
    if args.scale > 0:
        with fresh_store(backend, args) as (url, workdir):
            log(f"{backend}: filling {args.scale} items with vectors")
            fill = asyncio.run(fill_scale(url, words := Words(args.seed), args))
            log(f"{backend}: {fill['items_per_s']:.0f} items/s; searching")
            result["scale"] = {"fill": fill, **scale_latency(url, workdir, words, args)}
    return result


def table(report: dict[str, Any]) -> str:
    lines = [
        f"{'backend':<7} {'workload':<11}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'CPU/req':>9}{'x base':>8}"
    ]
    for backend, result in report["results"].items():
        for mode, r in result.get("throughput", {}).items():
            if mode == "fill":
                continue
            base = f"{r['x_base']:>8.2f}" if "x_base" in r else f"{'(base)':>8}"
            lines.append(
                f"{backend:<7} {mode:<11}{r['req_per_s']:>8.0f}{r['p50_ms']:>8.1f}"
                f"{r['p99_ms']:>8.1f}{r['cpu_us_per_req']:>7.0f}µs{base}"
            )
    lines.append(f"search at {report['config']['scale']} items (sequential, over HTTP):")
    for backend, result in report["results"].items():
        for mode, r in result.get("scale", {}).items():
            if mode == "fill":
                lines.append(
                    f"{backend:<7} fill: {r['items_per_s']:.0f} items/s, "
                    f"{r['vectors_per_s']:.0f} vectors/s"
                )
                continue
            verdict = ""
            if "target_met" in r:
                met = "met" if r["target_met"] else "MISSED"
                verdict = f"  p99/target {r['p99_ms'] / TARGET_P99_MS:.2f} ({met})"
            store = ", ".join(
                f"{op} {s['mean_ms']:.1f} ms x{s['calls']:.0f}" for op, s in r["store"].items()
            )
            lines.append(
                f"{backend:<7} {mode:<8} p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms"
                f"  max {r['max_ms']:6.1f} ms{verdict}  (store, mean: {store})"
            )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,redis")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk workload")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--items", type=int, default=10_000, help="items for throughput")
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--scale", type=int, default=100_000, help="items for latency")
    parser.add_argument("--queries", type=int, default=200, help="timed searches per cell")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", default=None, help="where the stores live (default: tmp)")
    parser.add_argument(
        "--server-env", action="append", default=[], help="KEY=VALUE for the scale servers"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    args.backends = [b.strip() for b in args.backends.split(",")]
    return args


def main() -> None:
    args = parse_args()
    report: dict[str, Any] = {
        "config": {**{k: v for k, v in vars(args).items() if k != "json"}, "cpus": os.cpu_count()},
        "results": {},
    }
    for backend in args.backends:
        report["results"][backend] = run_backend(backend, args)
    print(table(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
