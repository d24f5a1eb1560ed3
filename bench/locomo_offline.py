"""Offline retrieval experiments on LoCoMo: memhead's ranking, step by step, without a server.

Each conversation becomes what a memhead session would store: one message per dialog turn,
``"<speaker>: <text>"`` (image turns append `` [shares a photo: <blip caption>]``), written on
the session's date, in order. Keyword retrieval is a real in-memory SQLite FTS5 table, vector
retrieval exact cosine over all-MiniLM-L6-v2 vectors (``memhead.providers.local``), and the
ranking is ``memhead.retrieval``, the code the stores use.

    python bench/locomo_offline.py [--data FILE] [--json] [--loco] [--model DIR]

Embeddings are cached under ``--cache`` (default /tmp/memhead-locomo-embeddings.npz), keyed by
the text, so a second run takes seconds. Metric: the paper's recall@k (``recall_at_k``), per
numeric category and overall with and without category 5 (adversarial).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import re
import sqlite3
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from memhead import retrieval as R

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "locomo" / "locomo-dev.json"
DEFAULT_CACHE = Path("/tmp/memhead-locomo-embeddings.npz")
KS = (5, 10, 25, 50)
CATEGORIES = (1, 2, 3, 4, 5)
DEPTH = max(KS)
EVIDENCE_ID = re.compile(r"D:?(\d+):(\d+)")


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class Turn:
    dia_id: str
    content: str
    created_at: datetime


@dataclass(frozen=True)
class Question:
    text: str
    category: int
    evidence: tuple[str, ...]


@dataclass
class Conversation:
    sample_id: str
    turns: list[Turn]
    questions: list[Question]


@dataclass
class Loaded:
    conversations: list[Conversation]
    skipped_evidence: list[str] = field(default_factory=list)
    normalised_evidence: int = 0


def message_content(turn: dict[str, object]) -> str:
    """The stored message of a LoCoMo turn: speaker, text, and the photo caption if any."""
    text = f"{turn['speaker']}: {turn['text']}"
    caption = turn.get("blip_caption")
    return f"{text} [shares a photo: {caption}]" if caption else text


def parse_date(value: str) -> datetime:
    """LoCoMo's ``1:56 pm on 8 May, 2023``."""
    return datetime.strptime(value.replace(" on ", " ").replace(",", ""), "%I:%M %p %d %B %Y")


def load_turns(conversation: dict[str, object]) -> list[Turn]:
    """All turns of a conversation, sessions in numeric order."""
    numbers = sorted(int(k.split("_")[1]) for k in conversation if re.fullmatch(r"session_\d+", k))
    turns = []
    for n in numbers:
        created_at = parse_date(str(conversation[f"session_{n}_date_time"]))
        for turn in conversation[f"session_{n}"]:  # type: ignore[attr-defined]
            turns.append(Turn(turn["dia_id"], message_content(turn), created_at))
    return turns


def normalise_evidence(raw: str, known: set[str], loaded: Loaded) -> list[str]:
    """Valid dia ids in ``raw`` (``D8:6; D9:17`` -> two, ``D:11:26`` -> ``D11:26``,
    ``D30:05`` -> ``D30:5``); anything else, or an id not in the conversation, is skipped."""
    ids = []
    for part in re.split(r"[;,\s]+", raw.strip()):
        match = EVIDENCE_ID.fullmatch(part)
        fixed = f"D{int(match[1])}:{int(match[2])}" if match else None
        if fixed is None or fixed not in known:
            loaded.skipped_evidence.append(part)
            continue
        loaded.normalised_evidence += fixed != part
        ids.append(fixed)
    return ids


def load(path: Path) -> Loaded:
    """The conversations and questions of a LoCoMo file, evidence ids normalised."""
    loaded = Loaded([])
    for sample in json.loads(path.read_text()):
        turns = load_turns(sample["conversation"])
        known = {t.dia_id for t in turns}
        questions = []
        for qa in sample["qa"]:
            evidence = [
                e for raw in qa.get("evidence", []) for e in normalise_evidence(raw, known, loaded)
            ]
            questions.append(
                Question(qa["question"], int(qa["category"]), tuple(dict.fromkeys(evidence)))
            )
        loaded.conversations.append(Conversation(sample["sample_id"], turns, questions))
    return loaded


# ---------------------------------------------------------------- indexes


class EmbeddingCache:
    """Vectors by text hash, in one .npz file; missing texts are embedded in batches."""

    def __init__(self, path: Path, model_dir: str | None) -> None:
        self.path = path
        self.model_dir = model_dir
        self.vectors: dict[str, np.ndarray] = dict(np.load(path)) if path.exists() else {}
        self.embedder: object | None = None
        self.embed_seconds = 0.0
        self.embedded = 0

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode()).hexdigest()

    def get(self, texts: Sequence[str]) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        missing = list(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in self.vectors}.items()
        )
        if missing:
            self._embed(missing)
        return np.stack([self.vectors[k] for k in keys]).astype(np.float32)

    def _embed(self, missing: list[tuple[str, str]]) -> None:
        from memhead.providers.local import LocalEmbedder

        if self.embedder is None:
            self.embedder = LocalEmbedder(self.model_dir)
        started = time.perf_counter()
        vectors = asyncio.run(self.embedder.embed([t for _, t in missing]))  # type: ignore[attr-defined]
        self.embed_seconds += time.perf_counter() - started
        self.embedded += len(missing)
        for (k, _), v in zip(missing, vectors, strict=True):
            self.vectors[k] = np.asarray(v, dtype=np.float32)
        np.savez(self.path, **self.vectors)


def fts_table(conversation: Conversation) -> sqlite3.Connection:
    """An in-memory FTS5 table of the conversation's messages, as the SQLite store keeps it."""
    db = sqlite3.connect(":memory:")
    columns = ", ".join(R.FTS_COLUMNS)
    db.execute(f"CREATE VIRTUAL TABLE m USING fts5({columns}, tokenize='{R.FTS_TOKENIZER}')")
    previous: str | None = None
    rows = []
    for seq, turn in enumerate(conversation.turns):
        rows.append((seq, *R.keyword_fields(turn.content, previous, turn.created_at)))
        previous = turn.content
    db.executemany("INSERT INTO m(rowid, content, context, day) VALUES (?, ?, ?, ?)", rows)
    return db


def keyword_search(
    db: sqlite3.Connection, sample_id: str, query: str, weights: tuple[float, float, float]
) -> list[tuple[R.Position, float]]:
    """FTS5 MATCH over the columns whose weight is not 0, ranked by bm25 with ``weights``."""
    match = R.fts_query(query)
    if match is None:
        return []
    used = [c for c, w in zip(R.FTS_COLUMNS, weights, strict=True) if w]
    expression = "{" + " ".join(used) + "} : (" + match + ")"
    bm25 = "bm25(m, " + ", ".join(str(w) for w in weights) + ")"
    sql = f"SELECT rowid, {bm25} FROM m WHERE m MATCH ? ORDER BY 2 LIMIT ?"
    rows = db.execute(sql, (expression, R.KEYWORD_CANDIDATES)).fetchall()
    return [((sample_id, rowid), -score) for rowid, score in rows]


def vector_search(
    matrix: np.ndarray, query: np.ndarray, sample_id: str
) -> list[tuple[R.Position, float]]:
    """Exact cosine (vectors are normalised) over all messages, best ``VECTOR_CANDIDATES``."""
    scores = matrix @ query
    n = min(R.VECTOR_CANDIDATES, len(scores))
    top = np.argpartition(-scores, n - 1)[:n]
    top = top[np.argsort(-scores[top])]
    return [((sample_id, int(i)), float(scores[i])) for i in top]


def embedding_texts(conversation: Conversation, with_context: bool) -> list[str]:
    """The text embedded per message: ``embedding_text`` (the production choice) or, to show
    what it does, ``[day] previous message\nmessage`` (tried; no gain in the full pipeline)."""
    if not with_context:
        return [R.embedding_text(t.content) for t in conversation.turns]
    texts, previous = [], ""
    for turn in conversation.turns:
        texts.append(f"[{R.day_text(turn.created_at)}] {previous}{turn.content}")
        previous = turn.content + "\n"
    return texts


# ---------------------------------------------------------------- pipelines


@dataclass(frozen=True)
class Config:
    """One retrieval pipeline: which indexes and which ranking steps."""

    keyword: bool = True
    vector: bool = True
    rrf_k: float = R.RRF_K
    context_column: bool = True
    day_column: bool = True
    embed_context: bool = False
    decay: float = R.NEIGHBOUR_DECAY
    reach: int = R.NEIGHBOUR_REACH
    boost: float = R.SPEAKER_BOOST

    @property
    def weights(self) -> tuple[float, float, float]:
        content, context, day = R.BM25_WEIGHTS
        return (content, context if self.context_column else 0.0, day if self.day_column else 0.0)


FINAL = Config()
NAIVE = Config(
    rrf_k=60, context_column=False, day_column=False, embed_context=False, decay=0, boost=1
)
STEPS: list[tuple[str, Config]] = [
    ("keyword: FTS5 bm25, message only", replace(NAIVE, vector=False)),
    ("vector: MiniLM, message only", replace(NAIVE, keyword=False)),
    ("naive RRF k=60", NAIVE),
    ("+ RRF k=5", replace(NAIVE, rrf_k=R.RRF_K)),
    ("+ FTS context column (previous msg)", replace(NAIVE, rrf_k=R.RRF_K, context_column=True)),
    ("+ FTS day column", replace(FINAL, decay=0, boost=1)),
    ("+ neighbour spread (seq+-2)", replace(FINAL, boost=1)),
    ("+ speaker boost = FINAL", FINAL),
]
ABLATIONS: list[tuple[str, Config]] = [
    ("keyword only, final FTS", replace(FINAL, vector=False, decay=0, boost=1)),
    ("vector only, final embedding", replace(FINAL, keyword=False, decay=0, boost=1)),
    ("FINAL without small k (k=60)", replace(FINAL, rrf_k=60)),
    ("FINAL without FTS context column", replace(FINAL, context_column=False)),
    ("FINAL without FTS day column", replace(FINAL, day_column=False)),
    ("FINAL with embedding [day] previous+msg", replace(FINAL, embed_context=True)),
    ("FINAL without neighbour spread", replace(FINAL, decay=0)),
    ("FINAL without speaker boost", replace(FINAL, boost=1)),
]


class Retriever:
    """The indexes of one conversation and the candidate lists of each question, memoised."""

    def __init__(self, conversation: Conversation, cache: EmbeddingCache) -> None:
        self.conversation = conversation
        self.db = fts_table(conversation)
        self.cache = cache
        self.queries = cache.get([q.text for q in conversation.questions])
        self.matrices: dict[bool, np.ndarray] = {}
        self.memo: dict[tuple[object, ...], list[tuple[R.Position, float]]] = {}

    def keyword(
        self, j: int, weights: tuple[float, float, float]
    ) -> list[tuple[R.Position, float]]:
        key = ("kw", j, weights)
        if key not in self.memo:
            sid, text = self.conversation.sample_id, self.conversation.questions[j].text
            self.memo[key] = keyword_search(self.db, sid, text, weights)
        return self.memo[key]

    def vector(self, j: int, with_context: bool) -> list[tuple[R.Position, float]]:
        key = ("vec", j, with_context)
        if key not in self.memo:
            if with_context not in self.matrices:
                texts = embedding_texts(self.conversation, with_context)
                self.matrices[with_context] = self.cache.get(texts)
            matrix = self.matrices[with_context]
            self.memo[key] = vector_search(matrix, self.queries[j], self.conversation.sample_id)
        return self.memo[key]

    def speakers(self, candidates: R.Scored) -> dict[R.Position, str | None]:
        turns = self.conversation.turns
        return {p: R.speaker_of(turns[p[1]].content) for p, _ in candidates if p[1] < len(turns)}

    def rank(self, j: int, config: Config) -> list[str]:
        """The dia ids the pipeline ``config`` returns for question ``j``, best first."""
        keyword = self.keyword(j, config.weights) if config.keyword else []
        vector = self.vector(j, config.embed_context) if config.vector else []
        if not (config.keyword and config.vector):  # one retriever: its own order
            return self.dia_ids(keyword or vector)
        candidates = R.hybrid_candidates(
            keyword, vector, k=config.rrf_k, decay=config.decay, reach=config.reach
        )
        existing = [(p, s) for p, s in candidates if p[1] < len(self.conversation.turns)]
        ranked = R.rerank(
            existing, self.conversation.questions[j].text, self.speakers(existing), config.boost
        )
        return self.dia_ids(ranked)

    def dia_ids(self, ranked: R.Scored) -> list[str]:
        return [self.conversation.turns[p[1]].dia_id for p, _ in ranked[:DEPTH]]


# ---------------------------------------------------------------- evaluation


Table = dict[str, dict[str, float]]
"""``table[f"@{k}"][column]`` with columns ``1``..``5``, ``all``, ``no5``, in percent."""


def recall_table(rows: Sequence[tuple[int, Sequence[str], Sequence[str]]]) -> Table:
    """Mean recall@k per category and overall from ``(category, evidence, ranked ids)`` rows."""
    table: Table = {}
    for k in KS:
        per: dict[int, list[float]] = {}
        for category, evidence, ranked in rows:
            per.setdefault(category, []).append(R.recall_at_k(evidence, ranked, k))
        everything = [r for values in per.values() for r in values]
        without5 = [r for c, values in per.items() if c != 5 for r in values]
        column = {str(c): 100 * statistics.fmean(v) for c, v in sorted(per.items())}
        column["all"] = 100 * statistics.fmean(everything) if everything else 0.0
        column["no5"] = 100 * statistics.fmean(without5) if without5 else 0.0
        table[f"@{k}"] = column
    return table


def evaluate(retrievers: Sequence[Retriever], config: Config) -> Table:
    """The recall table of ``config`` over the questions of ``retrievers``."""
    rows = []
    for r in retrievers:
        for j, q in enumerate(r.conversation.questions):
            rows.append((q.category, q.evidence, r.rank(j, config)))
    return recall_table(rows)


def print_table(name: str, table: Table) -> None:
    columns = [c for c in (*map(str, CATEGORIES), "all", "no5") if c in table["@10"]]
    print(f"\n{name}")
    print("        " + "".join(f"{c:>8}" for c in columns))
    for k, row in table.items():
        print(f"  {k:<6}" + "".join(f"{row[c]:8.1f}" for c in columns))


def print_summary(results: dict[str, Table]) -> None:
    print(
        f"\n{'pipeline':44}" + "".join(f"{k:>7}" for k in ("@5", "@10", "@25", "@50")) + "  @10 no5"
    )
    for name, table in results.items():
        cells = "".join(f"{table[f'@{k}']['all']:7.1f}" for k in KS)
        print(f"{name:44}{cells}  {table['@10']['no5']:7.1f}")


# ---------------------------------------------------------------- robustness


GRID = {
    "rrf_k": (2.0, 5.0, 10.0, 20.0),
    "decay": (0.3, 0.5, 0.7),
    "boost": (1.0, 1.25, 1.5),
}


def leave_one_out(retrievers: Sequence[Retriever]) -> dict[str, object]:
    """Per held-out conversation: the grid point best on the others, and its held-out recall@10."""
    configs = [
        replace(FINAL, rrf_k=k, decay=d, boost=b) for k, d, b in itertools.product(*GRID.values())
    ]
    scores = {c: [evaluate([r], c)["@10"]["all"] for r in retrievers] for c in configs}
    sizes = [len(r.conversation.questions) for r in retrievers]
    folds = []
    for i, r in enumerate(retrievers):

        def train(c: Config, i: int = i) -> float:
            return sum(
                s * n for j, (s, n) in enumerate(zip(scores[c], sizes, strict=True)) if j != i
            )

        chosen = max(configs, key=train)
        folds.append(
            {
                "held_out": r.conversation.sample_id,
                "chosen": {"rrf_k": chosen.rrf_k, "decay": chosen.decay, "boost": chosen.boost},
                "held_out_recall@10": scores[chosen][i],
                "final_recall@10": scores[FINAL][i],
            }
        )

    def weighted(key: str) -> float:
        total = sum(float(f[key]) * n for f, n in zip(folds, sizes, strict=True))  # type: ignore[arg-type]
        return total / sum(sizes)

    return {
        "folds": folds,
        "loco_recall@10": weighted("held_out_recall@10"),
        "final_recall@10": weighted("final_recall@10"),
    }


def print_loco(result: dict[str, object]) -> None:
    print("\nleave-one-conversation-out (grid: " + json.dumps(GRID) + ")")
    for fold in result["folds"]:  # type: ignore[attr-defined]
        print(
            f"  held out {fold['held_out']}: chosen {fold['chosen']} -> @10 "
            f"{fold['held_out_recall@10']:.1f} (fixed defaults {fold['final_recall@10']:.1f})"
        )
    print(
        f"  overall @10: tuned-on-others {result['loco_recall@10']:.1f}, "
        f"fixed defaults {result['final_recall@10']:.1f}"
    )


def latency(retrievers: Sequence[Retriever]) -> dict[str, float]:
    """Milliseconds per query of the FTS query and of the pure-Python fusion + rerank (p50, p99)."""
    fts, fusion = [], []
    for r in retrievers:
        for j, q in enumerate(r.conversation.questions):
            started = time.perf_counter()
            keyword_search(r.db, r.conversation.sample_id, q.text, FINAL.weights)
            fts.append(time.perf_counter() - started)
            keyword, vector = r.keyword(j, FINAL.weights), r.vector(j, FINAL.embed_context)
            started = time.perf_counter()
            candidates = R.hybrid_candidates(keyword, vector)
            R.rerank(candidates, q.text, r.speakers(candidates))
            fusion.append(time.perf_counter() - started)

    def pct(values: list[float], p: float) -> float:
        return 1000 * float(np.percentile(values, p))

    return {
        "fts_p50_ms": pct(fts, 50),
        "fts_p99_ms": pct(fts, 99),
        "fusion_p50_ms": pct(fusion, 50),
        "fusion_p99_ms": pct(fusion, 99),
    }


# ---------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="LoCoMo-format JSON file")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="embedding cache (.npz)")
    parser.add_argument("--model", default=None, help="model directory (default: packaged MiniLM)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")
    parser.add_argument("--loco", action="store_true", help="also leave-one-conversation-out")
    return parser.parse_args(argv)


def report_data(loaded: Loaded) -> dict[str, object]:
    questions = [q for c in loaded.conversations for q in c.questions]
    return {
        "conversations": len(loaded.conversations),
        "messages": sum(len(c.turns) for c in loaded.conversations),
        "questions": len(questions),
        "per_category": {c: sum(q.category == c for q in questions) for c in CATEGORIES},
        "without_evidence": sum(not q.evidence for q in questions),
        "evidence_ids_normalised": loaded.normalised_evidence,
        "evidence_ids_skipped": loaded.skipped_evidence,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    loaded = load(args.data)
    cache = EmbeddingCache(args.cache, args.model)
    retrievers = [Retriever(c, cache) for c in loaded.conversations]
    results = {name: evaluate(retrievers, config) for name, config in (*STEPS, *ABLATIONS)}
    out: dict[str, object] = {"data": report_data(loaded), "results": results}
    out["latency"] = latency(retrievers)
    out["embedding"] = {"embedded_now": cache.embedded, "seconds": cache.embed_seconds}
    if args.loco:
        out["leave_one_out"] = leave_one_out(retrievers)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    data = out["data"]
    print(f"data: {json.dumps(data)}")
    print(f"skipped {len(loaded.skipped_evidence)} malformed or unknown evidence ids")
    for name, table in results.items():
        print_table(name, table)
    print_summary(results)
    print(f"\nlatency (this split): {json.dumps(out['latency'])}")
    if args.loco:
        print_loco(out["leave_one_out"])  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
