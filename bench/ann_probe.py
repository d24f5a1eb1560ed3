"""ANN probe: would an HNSW index (usearch) beat the SQLite store's exact numpy vector search at
issue 21's sizes (100k, 1M vectors in a scope) without losing recall?

Exact, as the server does it: ``matrix @ query`` over one contiguous normalised float32 (n, 384)
matrix, ``np.argpartition`` top-k, the k sorted. HNSW: usearch ``Index(metric="cos")`` per
(dtype, connectivity, expansion_add), built with 2 threads and time-boxed by ``--build-budget``
(an unfinished build reports its CPU rate and the projected cost; its queries run against exact
over the part built), searched with 1 thread at each ``expansion_search``. For k = 10 and 200
(hybrid search asks the vector half for ``retrieval.VECTOR_CANDIDATES`` = 100): p50/p99 of
``--queries`` searches, wall clock and process CPU time (the machine may be shared: CPU time
is what an idle machine would show), median of ``--repeats`` runs; HNSW recall@k against exact;
build time and index memory; the 1-minute load average.

Data: random unit vectors (as ``bench/search_scale.py`` stores; random queries are the hardest
case for a graph index), and the real all-MiniLM-L6-v2 vectors of the LoCoMo dev split (loaded and
embedded by ``bench/locomo_offline.py``, cached): HNSW neighbour recall over all its turns, and the
LoCoMo evidence recall@10/@50 of vector-only and hybrid search per conversation, exact vs HNSW.
Also: whether the installed sqlite-vec has an ANN index.

    python bench/ann_probe.py [--sizes 100000,1000000] [--queries 200] [--repeats 3]
        [--build-budget 900] [--no-locomo] [--json bench/results/ann_probe.json]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits
from usearch.index import Index

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import locomo_offline as lo
from memhead import retrieval as R

DIM = 384
KS = (10, 200)
# (dtype, connectivity, expansion_add): usearch's default, a cheaper and a denser graph, and
# the default graph over quantised vectors (i8 is 4x smaller than f32, f16 2x).
CONFIGS = {
    "full": [("f32", 16, 128), ("f32", 8, 64), ("f32", 32, 256), ("f16", 16, 128), ("i8", 16, 128)],
    "large": [("f32", 16, 128), ("i8", 16, 128)],
}
"""From ``LARGE`` vectors on, only the ``large`` configurations (a build costs ~1.3 ms of CPU per
vector at the default settings here: 1M is over 20 CPU-minutes)."""
EXPANSIONS = (64, 256)
LARGE = 50_000


def load1() -> float:
    return os.getloadavg()[0]


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, DIM), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def exact_top(matrix: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """What the server does: scores of every row, top k by argpartition, then sorted."""
    scores = matrix @ query
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top])]


def truth(matrix: np.ndarray, queries: np.ndarray, k: int) -> list[set[int]]:
    """Exact top-k row sets of every query (batched matmul, same ranking as ``exact_top``)."""
    out: list[set[int]] = []
    for start in range(0, len(queries), 25):
        scores = queries[start : start + 25] @ matrix.T
        kk = min(k, matrix.shape[0])
        out.extend(set(row.tolist()) for row in np.argpartition(-scores, kk - 1, axis=1)[:, :kk])
    return out


def timed(
    run: Callable[[np.ndarray], Any], queries: np.ndarray, repeats: int
) -> tuple[dict[str, Any], list[Any]]:
    """p50/p99 ms over the queries, each the median over ``repeats`` runs, wall clock and CPU
    time of the process (all its threads: on a shared machine CPU time is what an idle one would
    show as wall time for one thread), with the load; and the results of the first run."""
    stats: dict[str, list[float]] = {"p50_ms": [], "p99_ms": [], "cpu_p50_ms": [], "cpu_p99_ms": []}
    results: list[Any] = []
    for repeat in range(repeats):
        wall, cpu = [], []
        for q in queries:
            started, cpu_started = time.perf_counter(), time.process_time()
            result = run(q)
            wall.append(1000 * (time.perf_counter() - started))
            cpu.append(1000 * (time.process_time() - cpu_started))
            if not repeat:
                results.append(result)
        for name, values in (("", wall), ("cpu_", cpu)):
            stats[f"{name}p50_ms"].append(float(np.percentile(values, 50)))
            stats[f"{name}p99_ms"].append(float(np.percentile(values, 99)))
    out: dict[str, Any] = {name: statistics.median(v) for name, v in stats.items()}
    return out | {"p99_runs_ms": stats["p99_ms"], "load_1m": load1()}, results


def recall(found: Sequence[Sequence[int]], wanted: Sequence[set[int]]) -> float:
    return 100 * statistics.fmean(
        len(w.intersection(f)) / len(w) for f, w in zip(found, wanted, strict=True)
    )


def build(matrix: np.ndarray, config: tuple[str, int, int], budget: float) -> dict[str, Any]:
    """An HNSW index of the matrix rows (keys = row numbers), added in chunks with 2 threads
    until done or ``budget`` seconds have passed."""
    dtype, connectivity, expansion_add = config
    index = Index(
        ndim=DIM, metric="cos", dtype=dtype, connectivity=connectivity, expansion_add=expansion_add
    )
    started, cpu_started, built, chunk = time.perf_counter(), time.process_time(), 0, 10_000
    while built < len(matrix) and time.perf_counter() - started < budget:
        end = min(built + chunk, len(matrix))
        index.add(np.arange(built, end, dtype=np.uint64), matrix[built:end], threads=2)
        built = end
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "index": index,
        "dtype": dtype,
        "connectivity": connectivity,
        "expansion_add": expansion_add,
        "built": built,
        "finished": built == len(matrix),
        "build_s": seconds,
        "build_cpu_s": cpu,
        "adds_per_s": built / seconds,
        "adds_per_cpu_s": built / cpu,
        "projected_build_s": len(matrix) * seconds / built,
        "projected_build_cpu_s": len(matrix) * cpu / built,
        "memory_mb": index.memory_usage / 1e6,
        "load_1m": load1(),
    }


def probe_hnsw(
    built: dict[str, Any], queries: np.ndarray, wanted: dict[int, list[set[int]]], repeats: int
) -> list[dict[str, Any]]:
    """Latency and recall of the index at each ``expansion_search``, for each k."""
    index: Index = built.pop("index")
    rows = []
    for expansion in EXPANSIONS:
        index.expansion_search = expansion
        row: dict[str, Any] = {"expansion_search": expansion}
        for k in KS:
            row[f"k{k}"], found = timed(
                lambda q, k=k: index.search(q, k, threads=1).keys.tolist(), queries, repeats
            )
            row[f"k{k}"]["recall"] = recall(found, wanted[k])
        rows.append(row)
    return rows


def synthetic(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Exact and HNSW search over ``n`` random unit vectors."""
    rng = np.random.default_rng(args.seed)
    matrix, queries = unit(rng, n), unit(rng, args.queries)
    log(f"n={n}: exact")
    out: dict[str, Any] = {"n": n, "matrix_mb": matrix.nbytes / 1e6, "exact": {}, "hnsw": []}
    for k in KS:
        run = lambda q, k=k: exact_top(matrix, q, k)  # noqa: E731
        if not args.exact_only:  # --exact-only: only the 1-thread scan
            out["exact"][f"k{k}"] = timed(run, queries, args.repeats)[0]
        with threadpool_limits(1):  # the scan is memory-bound: does a 2nd BLAS thread help?
            out.setdefault("exact_1thread", {})[f"k{k}"] = timed(run, queries, args.repeats)[0]
    if args.exact_only:
        return out
    for config in CONFIGS["large" if n >= LARGE else "full"]:
        log(f"n={n}: build {config}")
        built = build(matrix, config, args.build_budget)
        part = matrix[: built["built"]]
        wanted = {k: truth(part, queries, k) for k in KS}
        built["searches"] = probe_hnsw(built, queries, wanted, args.repeats)
        out["hnsw"].append(built)
        log(f"  {json.dumps(built)[:300]}")
    return out


# ---------------------------------------------------------------- LoCoMo


class HnswRetriever(lo.Retriever):
    """``locomo_offline.Retriever`` whose vector half is an HNSW index of the conversation."""

    def __init__(self, conversation: lo.Conversation, cache: lo.EmbeddingCache, dtype: str):
        super().__init__(conversation, cache)
        matrix = cache.get(lo.embedding_texts(conversation, False))
        self.index = Index(ndim=DIM, metric="cos", dtype=dtype)
        self.index.add(np.arange(len(matrix), dtype=np.uint64), matrix, threads=2)

    def vector(self, j: int, with_context: bool) -> list[tuple[R.Position, float]]:
        key = ("hnsw", j)
        if key not in self.memo:
            matches = self.index.search(self.queries[j], R.VECTOR_CANDIDATES, threads=1)
            sid = self.conversation.sample_id
            self.memo[key] = [
                ((sid, int(i)), 1.0 - float(d))
                for i, d in zip(matches.keys, matches.distances, strict=True)
            ]
        return self.memo[key]


def evidence_recall(retrievers: Sequence[lo.Retriever]) -> dict[str, float]:
    """LoCoMo recall@10/@50 (all categories) of vector-only and of hybrid (FINAL) search."""
    vector_only = replace(lo.FINAL, keyword=False, decay=0, boost=1)
    out = {}
    for name, config in (("vector", vector_only), ("hybrid", lo.FINAL)):
        table = lo.evaluate(retrievers, config)
        out.update({f"{name}@{k}": table[f"@{k}"]["all"] for k in (10, 50)})
    return out


def locomo(args: argparse.Namespace) -> dict[str, Any]:
    """Evidence recall exact vs HNSW per conversation, and HNSW neighbour recall over all turns."""
    loaded = lo.load(args.data)
    cache = lo.EmbeddingCache(args.cache, None)
    out: dict[str, Any] = {
        "turns": sum(len(c.turns) for c in loaded.conversations),
        "questions": sum(len(c.questions) for c in loaded.conversations),
        "evidence_recall": {},
    }
    exact = [lo.Retriever(c, cache) for c in loaded.conversations]
    out["evidence_recall"]["exact"] = evidence_recall(exact)
    for dtype in ("f32", "i8"):
        retrievers = [HnswRetriever(c, cache, dtype) for c in loaded.conversations]
        out["evidence_recall"][f"hnsw {dtype}"] = evidence_recall(retrievers)
    turns = cache.get([t for c in loaded.conversations for t in lo.embedding_texts(c, False)])
    questions = [q.text for c in loaded.conversations for q in c.questions]
    queries = cache.get(questions[:: max(1, len(questions) // args.queries)][: args.queries])
    out["pooled"] = {"n": len(turns), "queries": len(queries), "exact": {}, "hnsw": []}
    for k in KS:
        run = lambda q, k=k: exact_top(turns, q, k)  # noqa: E731
        out["pooled"]["exact"][f"k{k}"] = timed(run, queries, args.repeats)[0]
    wanted = {k: truth(turns, queries, k) for k in KS}
    for config in CONFIGS["full"]:
        built = build(turns, config, args.build_budget)
        built["searches"] = probe_hnsw(built, queries, wanted, args.repeats)
        out["pooled"]["hnsw"].append(built)
    return out


# ---------------------------------------------------------------- sqlite-vec, report


def sqlite_vec() -> dict[str, Any]:
    """The installed sqlite-vec (optional here): version, whether this Python can load it, and
    whether its vec0 table has an ANN index."""
    try:
        out: dict[str, Any] = {"version": importlib.metadata.version("sqlite-vec")}
    except importlib.metadata.PackageNotFoundError:
        return {"version": None}
    db = sqlite3.connect(":memory:")
    if not hasattr(db, "enable_load_extension"):
        out["loadable"] = "no: this Python's sqlite3 is built without extension loading"
    else:
        import sqlite_vec as sv

        db.enable_load_extension(True)
        sv.load(db)
        out["loadable"] = db.execute("SELECT vec_version()").fetchone()[0]
    # The release notes: vec0 KNN in the 0.1.x releases is a full scan over chunks (float, int8
    # or bit vectors); the first ANN indexes (rescore, IVF, DiskANN) are in 0.1.10-alpha.1.
    release = tuple(int(part) for part in re.findall(r"\d+", out["version"])[:3])
    brute = release < (0, 1, 10)
    out["ann_index"] = "none: vec0 KNN is brute force" if brute else "maybe (0.1.10-alpha+)"
    return out


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {load1():.1f}] {text}", file=sys.stderr, flush=True)


def cells(row: dict[str, Any], recall: bool) -> str:
    parts = []
    for k in KS:
        m = row[f"k{k}"]
        parts.append(
            f"{m['p50_ms']:6.1f} {m['p99_ms']:6.1f} ({m['cpu_p50_ms']:5.1f} {m['cpu_p99_ms']:5.1f})"
        )
        parts.append(f"{m['recall']:6.1f}" if recall else f"{'100.0':>6}")
    return "  ".join(parts)


def table(name: str, block: dict[str, Any]) -> None:
    print(f"\n{name}: n={block['n']}   per k in {KS}: p50 p99 ms wall (CPU), recall@k %")
    if block["exact"]:
        print(f"  {'exact numpy':44}{cells(block['exact'], False)}")
    if "exact_1thread" in block:
        print(f"  {'exact numpy, 1 BLAS thread':44}{cells(block['exact_1thread'], False)}")
    for h in block["hnsw"]:
        label = f"hnsw {h['dtype']} M={h['connectivity']} efC={h['expansion_add']}"
        built = "" if h["finished"] else f" (built {h['built']}/{block['n']})"
        print(
            f"  {label}: build {h['build_s']:.1f} s, CPU {h['build_cpu_s']:.1f} s{built} (all:"
            f" {h['projected_build_cpu_s']:.0f} CPU s), {h['memory_mb']:.0f} MB,"
            f" load {h['load_1m']:.1f}"
        )
        for row in h["searches"]:
            print(f"    {'ef=' + str(row['expansion_search']):42}{cells(row, True)}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--build-budget", type=float, default=900, help="seconds per build")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-locomo", action="store_true")
    parser.add_argument("--exact-only", action="store_true", help="the 1-BLAS-thread scan only")
    parser.add_argument("--data", type=Path, default=lo.DEFAULT_DATA)
    parser.add_argument("--cache", type=Path, default=lo.DEFAULT_CACHE)
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    report: dict[str, Any] = {
        "config": {k: str(v) for k, v in vars(args).items()}
        | {"usearch": importlib.metadata.version("usearch"), "numpy": np.__version__},
        "cpus": os.cpu_count(),
        "load_1m_start": load1(),
        "sqlite_vec": sqlite_vec(),
        "random": [],
    }
    print(f"sqlite-vec: {json.dumps(report['sqlite_vec'])}")
    if not args.no_locomo:
        log("LoCoMo")
        report["locomo"] = locomo(args)
        table("LoCoMo dev turns pooled, real MiniLM vectors", report["locomo"]["pooled"])
        for name, values in report["locomo"]["evidence_recall"].items():
            print(f"  LoCoMo evidence recall, {name:9}" + json.dumps(values))
    for n in (int(s) for s in args.sizes.split(",") if s):
        report["random"].append(synthetic(n, args))
        table("random unit vectors", report["random"][-1])
        if args.json:  # written after each size: a long run keeps what it measured
            args.json.write_text(json.dumps(report, indent=2) + "\n")
    report["load_1m_end"] = load1()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
