"""Search latency at scale: p50/p99 of keyword, vector and hybrid search with 10k, 100k and
1M stored messages, per backend (SQLite, Redis), in a user's scope and in one session, plus the
memory the server uses.

Data (synthetic, reproducible from ``--seed``): chat messages ``"<Speaker>: <words>"`` drawn
from a vocabulary (the words of all-MiniLM-L6-v2's WordPiece list, English function words
first) with Zipf-distributed frequencies (s = 1), lengths log-normal (median ~12 words), two
speakers per session, ``--session-messages`` per session, sessions one day apart. Sessions
belong to users of at most ``--user-messages`` messages each (default 100k: at 1M there are
ten users, and a user-scope query picks one of them at random). Each size extends the store of
the size before. Vectors are random unit 384-dim float32 vectors stored under the model name of
the packaged all-MiniLM-L6-v2 (latency does not depend on what vectors mean; embedding 1M texts
with the model would take hours on 2 cores); queries are embedded by the real model in the
server. Stores are filled in-process through the ``Store`` protocol (``append`` in batches,
then ``embedding_backlog`` + ``store_vectors``), time-boxed by ``--fill-budget`` per backend:
a size that would not fill in time is reported as not measured, with the fill rate observed.

Measured per size: the same queries (words from the same distribution, stopwords and a speaker
name around them) through ``POST /api/v1/search`` of a ``memhead serve`` process started on the
filled store (``MEMHEAD_EMBED_MODEL=local``), sequentially (latency, not throughput), after a
warm-up; the first request of each scope and mode is reported apart (cold caches). The same
search in-process (``SearchService`` over the store, query vectors precomputed) gives the
store's part; query embedding alone is timed once. Memory: the server's RSS (now and peak);
for Redis also ``INFO memory`` and the redis-server RSS; for SQLite the database size.

    python bench/search_scale.py [--sizes 10000,100000,1000000] [--backends sqlite,redis]
        [--queries 200] [--fill-budget 600] [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import numpy as np
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from memhead import retrieval
from memhead.models import DEFAULT_TENANT, NewMessage, SearchScope, SessionKey, SessionPatch
from memhead.providers.base import Embedder
from memhead.providers.local import DEFAULT_MODEL_NAME, LocalEmbedder, packaged_model_path
from memhead.search import Mode, SearchService
from memhead.stores import Store, open_store
from tests.redis_server import RedisServer
from tests.servers import NO_PROVIDERS, MemheadProcess

DIM = 384
MODES: tuple[Mode, ...] = ("keyword", "vector", "hybrid")
SCOPES = ("user", "session")
NAMES = (
    "Alice Bruno Carmen Dmitri Elena Farid Grace Hiro Ines Jamal Kira Liam Maya Noah Olga Pablo "
    "Quinn Rosa Sami Tara Umar Vera Wen Ximena Yusuf Zoe"
).split()
DAY_MS = 86_400_000
START_MS = 1_672_531_200_000  # 2023-01-01


# -- synthetic data ---------------------------------------------------------------------------


def vocabulary() -> list[str]:
    """Function words first (the most frequent ranks), then the model's whole words, shuffled."""
    words = (packaged_model_path() / "vocab.txt").read_text().split()
    content = sorted(
        {w for w in words if w.isalpha() and w.isascii() and len(w) > 2} - retrieval.STOPWORDS
    )
    np.random.default_rng(0).shuffle(content)
    stop = sorted(w for w in retrieval.STOPWORDS if len(w) > 1)
    return stop + content


class Corpus:
    """Reproducible chat messages and queries over a Zipf-distributed vocabulary."""

    def __init__(self, seed: int, session_messages: int, user_messages: int) -> None:
        self.seed = seed
        self.words = np.array(vocabulary(), dtype=object)
        weights = 1.0 / np.arange(1, len(self.words) + 1)
        self.cdf = np.cumsum(weights) / weights.sum()
        self.first_content = len([w for w in self.words if w in retrieval.STOPWORDS])
        self.session_messages = session_messages
        self.sessions_per_user = max(1, user_messages // session_messages)

    def _draw(self, rng: np.random.Generator, n: int, low: int = 0) -> Any:
        lo = self.cdf[low - 1] if low else 0.0
        return self.words[np.searchsorted(self.cdf, lo + (1 - lo) * rng.random(n))]

    def session_id(self, index: int) -> str:
        return f"user-{self.user_of(index)}/session-{index}"

    def user_of(self, session_index: int) -> str:
        return f"user-{session_index // self.sessions_per_user}"

    def session(self, index: int) -> list[NewMessage]:
        rng = np.random.default_rng((self.seed, 0, index))
        speakers = rng.choice(len(NAMES), size=2, replace=False)
        n = self.session_messages
        lengths = np.clip(rng.lognormal(2.5, 0.6, n).astype(int), 3, 80)
        words = self._draw(rng, int(lengths.sum()))
        ends = np.cumsum(lengths)
        start = START_MS + index * DAY_MS
        return [
            NewMessage(
                role="user" if i % 2 == 0 else "assistant",
                content=f"{NAMES[speakers[i % 2]]}: " + " ".join(words[end - length : end]),
                created_at=start + 60_000 * i,
            )
            for i, (end, length) in enumerate(zip(ends, lengths, strict=True))
        ]

    def queries(self, n: int) -> list[str]:
        """Questions: 2-4 content words (same Zipf tail) among function words and a name."""
        rng = np.random.default_rng((self.seed, 1))
        templates = (
            "what did {name} say about the {w}",
            "when did {name} mention {w}",
            "{w}",
            "do you remember my {w}",
            "why was {name} talking about {w} again",
        )
        out = []
        for i in range(n):
            content = " ".join(self._draw(rng, int(rng.integers(2, 5)), self.first_content))
            name = NAMES[int(rng.integers(len(NAMES)))]
            out.append(templates[i % len(templates)].format(name=name, w=content))
        return out


# -- filling ----------------------------------------------------------------------------------


@dataclass
class Fill:
    sessions: int = 0
    messages: int = 0
    seconds: float = 0.0
    vector_seconds: float = 0.0
    stopped: str | None = None
    stages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


async def store_vectors(store: Store, rng: np.random.Generator, batch: int) -> int:
    """Give every message without a vector a random unit vector; returns how many."""
    done = 0
    while pending := await store.embedding_backlog(limit=batch):
        vectors = rng.standard_normal((len(pending), DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        items = cast(Any, list(zip(pending, vectors, strict=True)))
        await store.store_vectors(items, model=DEFAULT_MODEL_NAME)
        done += len(pending)
    return done


async def add_session(store: Store, corpus: Corpus, index: int, batch: int) -> int:
    key = SessionKey(DEFAULT_TENANT, corpus.session_id(index))
    messages = corpus.session(index)
    await store.put_session(key, SessionPatch(user_id=corpus.user_of(index)), now=START_MS)
    for start in range(0, len(messages), batch):
        chunk = messages[start : start + batch]
        await store.append(key, chunk, now=chunk[-1].created_at or START_MS, window=10**9)
    return len(messages)


async def fill_to(
    store: Store, corpus: Corpus, fill: Fill, size: int, args: argparse.Namespace
) -> bool:
    """Extend the store to ``size`` messages; False when the fill budget would run out."""
    rng = np.random.default_rng((corpus.seed, 2, fill.sessions))
    target = -(-size // corpus.session_messages)
    stage_start, stage_messages, unvectored = time.monotonic(), 0, 0
    while fill.sessions < target:
        began = time.monotonic()
        added = await add_session(store, corpus, fill.sessions, args.append_batch)
        unvectored += added
        if unvectored >= args.vector_batch or fill.sessions + 1 == target:
            vectors_began = time.monotonic()
            await store_vectors(store, rng, args.vector_batch)
            fill.vector_seconds += time.monotonic() - vectors_began
            unvectored = 0
        fill.sessions += 1
        fill.messages += added
        fill.seconds += time.monotonic() - began
        stage_messages += added
        left = (target - fill.sessions) * corpus.session_messages
        if stage_messages >= 10_000 and fill.seconds + left / fill.rate > args.fill_budget:
            fill.stopped = (
                f"not measured: {fill.messages} messages stored in {fill.seconds:.0f} s "
                f"({fill.rate:.0f} msg/s); {size} would need ~{size / fill.rate:.0f} s "
                f"> fill budget {args.fill_budget:.0f} s"
            )
            return False
    elapsed = time.monotonic() - stage_start
    fill.stages.append({"size": size, "seconds": elapsed, "msg_per_s": stage_messages / elapsed})
    return True


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


async def in_process(
    store: Store, plan: Plan, vectors: dict[str, list[float]], warmup: int
) -> dict[str, Any]:
    """Per scope and mode: ``SearchService`` over the store, no HTTP, no query embedding."""
    service = SearchService(store, cast(Embedder, Precomputed(vectors)))
    out: dict[str, Any] = {}
    for scope in SCOPES:
        for mode in MODES:

            async def run(i: int, scope: str = scope, mode: Mode = mode) -> None:
                await service.search(plan.scope(scope, i), plan.queries[i], mode=mode)

            out[f"{scope}/{mode}"] = await timed(run, len(plan.queries), warmup)
    return out


async def over_http(url: str, plan: Plan, warmup: int) -> dict[str, Any]:
    """Per scope and mode: ``POST /api/v1/search`` latency seen by a client, sequentially."""
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        for scope in SCOPES:
            for mode in MODES:
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
    url: str, corpus: Corpus, fill: Fill, size: int, args: argparse.Namespace, probe: Probe
) -> dict[str, Any] | None:
    """Fill up to ``size`` and time the search in-process; None when the fill ran out of time."""
    store = open_store(url)
    await store.setup()
    try:
        if not await fill_to(store, corpus, fill, size, args):
            return None
        plan = Plan.of(corpus, fill.sessions, probe.queries)
        return {"plan": plan, "store": await in_process(store, plan, probe.vectors, args.warmup)}
    finally:
        await store.close()


def serve_and_measure(url: str, plan: Plan, args: argparse.Namespace, workdir: Path) -> Any:
    env = {**NO_PROVIDERS, "MEMHEAD_STORE_URL": url, "MEMHEAD_EMBED_MODEL": "local"}
    env |= dict(pair.split("=", 1) for pair in args.server_env)
    with MemheadProcess(env, cwd=workdir) as server:
        server.wait_ready(timeout=300)
        started = process_memory(server.proc.pid)
        load_before = os.getloadavg()[0]
        http = asyncio.run(over_http(server.url, plan, args.warmup))
        http["load_average_1m"] = [load_before, os.getloadavg()[0]]
        memory = process_memory(server.proc.pid)
    memory["rss_after_start_mib"] = started["rss_mib"]
    return http, memory


def run_backend(
    backend: str, corpus: Corpus, probe: Probe, args: argparse.Namespace
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    fill = Fill()
    with tempfile.TemporaryDirectory(prefix="memhead-scale-", dir=args.dir) as name:
        workdir = Path(name)
        with backend_url(backend, workdir) as (url, redis_pid):
            for size in args.sizes:
                if fill.stopped is not None:
                    results[str(size)] = {"not_measured": fill.stopped, "fill_msg_per_s": fill.rate}
                    continue
                log(f"{backend}: filling to {size} messages")
                prepared = asyncio.run(prepare(url, corpus, fill, size, args, probe))
                if prepared is None:
                    log(f"{backend}: {fill.stopped}")
                    results[str(size)] = {"not_measured": fill.stopped, "fill_msg_per_s": fill.rate}
                    continue
                log(f"{backend}: {fill.messages} messages, fill {fill.rate:.0f} msg/s; searching")
                http, memory = serve_and_measure(url, prepared["plan"], args, workdir)
                memory |= backend_memory(url, redis_pid, workdir)
                results[str(size)] = {
                    "messages": fill.messages,
                    "sessions": fill.sessions,
                    "users": -(-fill.sessions // corpus.sessions_per_user),
                    "http": http,
                    "store": prepared["store"],
                    "memory": memory,
                }
    fill_report = {
        "stages": fill.stages,
        "msg_per_s": fill.rate,
        "seconds": fill.seconds,
        "vector_seconds": fill.vector_seconds,
    }
    return {"fill": fill_report, "sizes": results}


# -- report -----------------------------------------------------------------------------------


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def table(report: dict[str, Any]) -> str:
    e = report["query_embedding"]
    embedding = "; ".join(
        f"{k.replace('_', ' ')}: p50 {v['p50_ms']:.1f} ms, p99 {v['p99_ms']:.1f} ms"
        for k, v in e.items()
        if k != "model"
    )
    lines = [
        f"query embedding alone ({e['model']}, in-process): {embedding}",
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
        stages = ", ".join(f"{s['size']}: {s['msg_per_s']:.0f}" for s in result["fill"]["stages"])
        f = result["fill"]
        lines.append(
            f"{backend:<7} fill rate (msg/s, per stage): {stages}; {f['seconds']:.0f} s in all, "
            f"of which storing vectors {f['vector_seconds']:.0f} s"
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="messages, ascending")
    parser.add_argument("--backends", default="sqlite,redis")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per cell")
    parser.add_argument("--warmup", type=int, default=20, help="queries before timing")
    parser.add_argument("--session-messages", type=int, default=250)
    parser.add_argument("--user-messages", type=int, default=100_000, help="messages per user")
    parser.add_argument("--append-batch", type=int, default=500, help="messages per append")
    parser.add_argument("--vector-batch", type=int, default=2000, help="vectors per call")
    parser.add_argument("--fill-budget", type=float, default=600, help="fill seconds/backend")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", default=None, help="where the stores live (default: tmp)")
    parser.add_argument(
        "--server-env", action="append", default=[], help="KEY=VALUE for memhead serve"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    args.sizes = sorted(int(s) for s in args.sizes.split(","))
    args.backends = [b.strip() for b in args.backends.split(",")]
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
    for backend in args.backends:
        report["results"][backend] = run_backend(backend, corpus, probe, args)
    print(table(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
