"""The data of ``bench/search_scale.py``: synthetic chat messages and queries, and the bulk fill
of a store with them (messages, then random vectors), timed per stage and logged as it goes.

Messages are ``"<Speaker>: <words>"`` drawn from a vocabulary (the words of all-MiniLM-L6-v2's
WordPiece list, English function words first) with Zipf-distributed frequencies (s = 1),
lengths log-normal (median ~12 words), two speakers per session, sessions one day apart,
grouped into users of at most ``--user-messages`` messages. Vectors are random unit 384-dim
float32 vectors stored under the packaged model's name: latency does not depend on what they
mean, and embedding a million texts with the model would take hours on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import numpy as np

from memhead import retrieval
from memhead.models import DEFAULT_TENANT, NewMessage, SessionKey, SessionPatch
from memhead.providers.local import DEFAULT_MODEL_NAME, packaged_model_path
from memhead.stores import Store, open_store
from memhead.stores.redis import RedisStore

DIM = 384
NAMES = (
    "Alice Bruno Carmen Dmitri Elena Farid Grace Hiro Ines Jamal Kira Liam Maya Noah Olga Pablo "
    "Quinn Rosa Sami Tara Umar Vera Wen Ximena Yusuf Zoe"
).split()
DAY_MS = 86_400_000
START_MS = 1_672_531_200_000  # 2023-01-01
CALL_S = 2.0
"""Seconds of work per ``store_vectors`` call at most (as the rate so far predicts): the
calls of one batch wait in Redis's queue together, and the last must be answered within the
client's socket timeout (``FILL_TIMEOUT_S``)."""
FILL_TIMEOUT_S = 60.0
"""The fill's Redis socket timeout: a bulk load, not a request (memhead serve keeps 5 s)."""
PROGRESS_S = 15.0
"""Seconds between two progress lines of a fill (rates, what is left), so a run can be watched."""


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


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
class Stage:
    """One size's part of a fill: its messages, then their vectors, each timed apart."""

    size: int
    messages: int = 0
    messages_seconds: float = 0.0
    vectors: int = 0
    vectors_seconds: float = 0.0

    @property
    def msg_per_s(self) -> float:
        return self.messages / self.messages_seconds if self.messages_seconds else 0.0

    @property
    def vec_per_s(self) -> float:
        return self.vectors / self.vectors_seconds if self.vectors_seconds else 0.0

    def report(self) -> dict[str, Any]:
        seconds = self.messages_seconds + self.vectors_seconds
        rates = {"msg_per_s": self.msg_per_s, "vec_per_s": self.vec_per_s}
        return {**asdict(self), **rates, "seconds": seconds}


@dataclass
class Fill:
    """A backend's fill so far; ``stopped`` says why the sizes after it are not measured."""

    sessions: int = 0
    messages: int = 0
    vectors: int = 0
    stopped: str | None = None
    stages: list[Stage] = field(default_factory=list)

    @property
    def messages_seconds(self) -> float:
        return sum(s.messages_seconds for s in self.stages)

    @property
    def vectors_seconds(self) -> float:
        return sum(s.vectors_seconds for s in self.stages)

    @property
    def seconds(self) -> float:
        return self.messages_seconds + self.vectors_seconds

    def rates(self) -> tuple[float, float]:
        """Messages and vectors per second so far (0: none measured yet)."""
        m, v = self.messages_seconds, self.vectors_seconds
        return (self.messages / m if m else 0.0, self.vectors / v if v else 0.0)

    def report(self) -> dict[str, Any]:
        msg_rate, vec_rate = self.rates()
        return {
            "stages": [s.report() for s in self.stages],
            "messages": self.messages,
            "vectors": self.vectors,
            "seconds": self.seconds,
            "messages_seconds": self.messages_seconds,
            "vector_seconds": self.vectors_seconds,
            "msg_per_s": msg_rate,
            "vec_per_s": vec_rate,
        }


class Budget:
    """Projects the fill's end from the rates so far: past ``--fill-budget``, it stops."""

    def __init__(self, fill: Fill, size: int, budget: float, label: str) -> None:
        self.fill, self.size, self.budget, self.label = fill, size, budget, label
        self.last_log = time.monotonic()

    def exceeded(self) -> bool:
        """True (and ``fill.stopped`` set) when filling up to ``size`` would not fit: the time
        spent, plus what is left at the rates so far (from 10,000 messages and vectors on)."""
        fill = self.fill
        msg_rate, vec_rate = fill.rates()
        if min(fill.messages, fill.vectors) < 10_000 or not msg_rate or not vec_rate:
            return False  # too early to tell (the first stage's vectors give the first rate)
        left = max(self.size - fill.messages, 0) / msg_rate
        left += max(self.size - fill.vectors, 0) / vec_rate
        if fill.seconds + left <= self.budget:
            return False
        fill.stopped = (
            f"not measured: {fill.messages} messages ({msg_rate:.0f}/s) and {fill.vectors} "
            f"vectors ({vec_rate:.0f}/s) stored in {fill.seconds:.0f} s; {self.size} would "
            f"need ~{fill.seconds + left:.0f} s > fill budget {self.budget:.0f} s"
        )
        return True

    def progress(self, what: str, done: int, total: int, rate: float) -> None:
        if time.monotonic() - self.last_log < PROGRESS_S:
            return
        self.last_log = time.monotonic()
        eta = (total - done) / rate if rate else float("nan")
        log(f"{self.label}: {what} {done}/{total}, {rate:.0f}/s this stage, ~{eta:.0f} s left")


def open_fill_store(url: str, vector_cache_mb: int = 512) -> Store:
    """The store to fill: as ``open_store`` makes it, Redis with a bulk load's timeout."""
    if url.startswith("redis"):
        return RedisStore.from_url(url, timeout_s=FILL_TIMEOUT_S)
    return open_store(url, vector_cache_mb=vector_cache_mb)


async def add_session(store: Store, corpus: Corpus, index: int, batch: int) -> int:
    key = SessionKey(DEFAULT_TENANT, corpus.session_id(index))
    messages = corpus.session(index)
    await store.put_session(key, SessionPatch(user_id=corpus.user_of(index)), now=START_MS)
    for start in range(0, len(messages), batch):
        chunk = messages[start : start + batch]
        await store.append(key, chunk, now=chunk[-1].created_at or START_MS, window=10**9)
    return len(messages)


async def add_messages(
    store: Store, corpus: Corpus, fill: Fill, stage: Stage, budget: Budget, args: argparse.Namespace
) -> bool:
    """Sessions up to ``stage.size`` messages, ``--fill-concurrency`` at a time."""
    target = -(-stage.size // corpus.session_messages)
    began = time.monotonic()
    while fill.sessions < target:
        indexes = range(fill.sessions, min(target, fill.sessions + args.fill_concurrency))
        added = await asyncio.gather(
            *(add_session(store, corpus, i, args.append_batch) for i in indexes)
        )
        fill.sessions += len(added)
        fill.messages += sum(added)
        stage.messages += sum(added)
        stage.messages_seconds = time.monotonic() - began
        budget.progress("messages", fill.messages, stage.size, stage.msg_per_s)
        if budget.exceeded():
            return False
    return True


async def add_vectors(
    store: Store, seed: int, fill: Fill, stage: Stage, budget: Budget, batch: int
) -> bool:
    """A random unit vector for every message without one: ``store_vectors`` calls of up to
    ``batch``, each sized to take about ``CALL_S`` at the rate of the call before."""
    rng = np.random.default_rng((seed, 2, fill.sessions))
    began, size = time.monotonic(), min(batch, 1000)
    while pending := await store.embedding_backlog(limit=size):
        vectors = rng.standard_normal((len(pending), DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        items = cast(Any, list(zip(pending, vectors, strict=True)))
        call = time.monotonic()
        await store.store_vectors(items, model=DEFAULT_MODEL_NAME)
        rate = len(pending) / max(time.monotonic() - call, 1e-3)
        size = int(min(batch, max(100, rate * CALL_S)))
        fill.vectors += len(pending)
        stage.vectors += len(pending)
        stage.vectors_seconds = time.monotonic() - began
        budget.progress("vectors", fill.vectors, fill.messages, stage.vec_per_s)
        if budget.exceeded():
            return False
    return True


async def fill_to(
    store: Store,
    corpus: Corpus,
    fill: Fill,
    size: int,
    args: argparse.Namespace,
    label: str,
    *,
    vectors: bool = True,
) -> bool:
    """Extend the store to ``size`` messages, then (unless told not to) their vectors; False
    when the budget runs out."""
    stage = Stage(size)
    fill.stages.append(stage)
    budget = Budget(fill, size, args.fill_budget, label)
    if not await add_messages(store, corpus, fill, stage, budget, args):
        return False
    log(
        f"{label}: {stage.messages} messages in {stage.messages_seconds:.0f} s "
        f"({stage.msg_per_s:.0f}/s)" + ("; storing their vectors" if vectors else "")
    )
    if not vectors:
        return True
    if not await add_vectors(store, corpus.seed, fill, stage, budget, args.vector_batch):
        return False
    log(
        f"{label}: {stage.vectors} vectors in {stage.vectors_seconds:.0f} s "
        f"({stage.vec_per_s:.0f}/s)"
    )
    return True
