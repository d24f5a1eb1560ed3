"""Ranking for long-term memory: pure functions shared by the stores and the benchmark.

The pipeline, measured on the LoCoMo development split with all-MiniLM-L6-v2
(``bench/locomo_offline.py``; recall@10 over all categories, each step added to the one before:
keyword 65.7, vector 45.0, naive RRF 59.1, RRF k=5 68.6, + context column 72.7, + day column
73.9, + neighbour spread 78.5, + speaker boost 79.3; recall@50 90.7):

1. What is stored per message (at write time, from the message and the one before it):
   - a keyword row with three columns: the message itself, the previous message of the session
     (``context``), and the day it was written as words (``day``), see ``keyword_fields``;
   - one vector of ``embedding_text``: the message alone.
2. At query time: one FTS5 query (``fts_query``, ranked by ``bm25_call``), one exact cosine scan,
   each cut to ``KEYWORD_CANDIDATES`` / ``VECTOR_CANDIDATES``.
3. ``hybrid_candidates``: reciprocal-rank fusion with a small ``RRF_K``, then each score spreads
   to the neighbouring messages of the same session (``spread``); the best ``CANDIDATES`` are kept.
4. ``rerank``: messages by the one speaker the query names weigh ``SPEAKER_BOOST`` more.

Positions are ``(session id, seq)``: neighbours are ``seq ± 1, 2`` in the same session, which a
store fetches cheaply. A store runs steps 2-3, fetches the ``CANDIDATES`` messages (it needs their
content anyway), then step 4.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

Position = tuple[str, int]
"""A message by where it sits: ``(session id, seq)``."""
Scored = Sequence[tuple[Position, float]]
"""A candidate list, best first: positions with a score (higher is better)."""
P = TypeVar("P", bound=tuple[Any, ...])
"""What fusion ranks: a message's ``Position``, or a memory item's ``(namespace, key)``."""

FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
"""Porter stemming (``joined`` matches ``join``), case and accent folding."""
FTS_COLUMNS = ("content", "context", "day")
"""The keyword row of a message: see ``keyword_fields``."""
BM25_WEIGHTS = (1.0, 0.35, 0.5)
"""bm25() weight of each of ``FTS_COLUMNS``. The previous message as a low-weight column: fused
recall@10 68.6 -> 72.7 (answers rarely repeat the question's words; the turn that asked them
does); the final pipeline without it 77.7. Weights 0.2-0.5 measured alike (within 0.3). The day
column lets "in May 2023" match: 72.7 -> 73.9; the final pipeline without it 77.8."""

KEYWORD_CANDIDATES = 100
VECTOR_CANDIDATES = 100
"""Candidate list sizes. Measured flat: 50, 100, 200, 400 give @10 78.9-79.3, @50 90.4-90.8."""
RRF_K = 5.0
"""Reciprocal-rank fusion constant. Both lists put the evidence near their top, so a small k
(steeper) wins: k=60 71.4, 20 77.8, 10 78.7, 5 79.3, 2 78.5 (full pipeline, recall@10)."""
NEIGHBOUR_DECAY = 0.5
NEIGHBOUR_REACH = 2
"""A message at distance d (1..reach) in the same session receives ``decay**d`` of a candidate's
fused score: evidence often sits just before or after the matched turn (the question turn and its
answer). Recall@10 without: 73.6; decay 0.3/0.4/0.5/0.6/0.7: 78.4/78.7/79.3/79.2/78.8; reach
1/2/3: 78.0/79.3/79.0."""
CANDIDATES = 100
"""Kept after spreading, for the store to fetch and ``rerank``: 50 loses @50 (89.9); 100-1000
measure the same (90.7)."""
SPEAKER_BOOST = 1.25
"""Score factor of messages by the single speaker the query names ("When did Caroline ...").
Recall@10 (@5): 1.0 78.5 (70.1), 1.1 79.3 (70.6), 1.25 79.3 (70.8), 1.5 79.1 (68.9), 2.0 76.4
(64.3): strong boosts hurt the adversarial category, whose questions name the wrong speaker."""

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can cannot could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in into is
    it its itself just let me more most my myself no nor not of off on once only or other ought
    our ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    also s t d ll m re ve don didn doesn isn wasn aren weren won couldn shouldn wouldn hasn haven
    hadn""".split()
)
"""English function words, dropped from keyword queries: with OR semantics they only add noise."""

_WORD = re.compile(r"[^\W_]+")
_SPEAKER = re.compile(r"([^:\n]{1,60}): ")


def query_terms(text: str) -> list[str]:
    """Distinct lower-case words of ``text`` that are not stopwords, in order of appearance.

    Words are runs of Unicode letters and digits (NFKC-normalised, casefolded), as the unicode61
    tokenizer splits them, so punctuation and FTS5 syntax (quotes, ``-``, ``:``, ``*``,
    parentheses) never reach the query.
    """
    seen: dict[str, None] = {}
    for word in _WORD.findall(unicodedata.normalize("NFKC", text).casefold()):
        if word not in STOPWORDS:
            seen.setdefault(word, None)
    return list(seen)


def fts_query(text: str) -> str | None:
    """An FTS5 MATCH expression for free text: every term quoted, OR-ed; None when nothing is left.

    Quoting makes each term a plain string (``NEAR``, ``AND``, ``-x``, ``col:`` lose any meaning);
    OR lets bm25 rank partial matches instead of requiring every word.
    """
    return match_expression(query_terms(text))


def match_expression(terms: Sequence[str]) -> str | None:
    """``fts_query`` for terms already split by ``query_terms`` (what a store receives)."""
    if not terms:
        return None
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def query_text(query: str) -> str:
    """What is embedded for a query: the query itself, trimmed (no instruction prefix: MiniLM
    is symmetric)."""
    return query.strip()


def candidate_depth(limit: int) -> int:
    """How many candidates to ask each retriever for, for a search returning ``limit``."""
    return max(KEYWORD_CANDIDATES, VECTOR_CANDIDATES, limit)


def bm25_call(table: str) -> str:
    """The SQL ``bm25(table, w1, w2, w3)`` call with ``BM25_WEIGHTS`` (lower is better)."""
    weights = ", ".join(repr(w) for w in BM25_WEIGHTS)
    return f"bm25({table}, {weights})"


def day_text(created_at: datetime) -> str:
    """The day of a message as words, e.g. ``Monday 8 May 2023``."""
    return _day_words(created_at.date())


@functools.lru_cache(maxsize=4096)
def _day_words(day: date) -> str:
    """Cached: every message of a day asks for the same words, and strftime is slow."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def keyword_fields(
    content: str, previous: str | None, created_at: datetime
) -> tuple[str, str, str]:
    """The values of ``FTS_COLUMNS`` for a message: itself, the previous message, its day."""
    return content, previous or "", day_text(created_at)


def embedding_text(content: str) -> str:
    """What is embedded for a message: the stored content itself (``"<speaker>: <text>"``).

    Measured alternatives, in the full pipeline (recall@10 / @50): the message 79.3 / 90.7; the
    day + message 78.8 / 90.9; the previous message + message 79.1 / 90.4; all three 79.7 / 90.4.
    Alone they help the vector list (45.0 -> 47.8 @10), but once the keyword row carries the
    previous message and scores spread to neighbours the gain is gone, so the vector of a message
    depends on nothing else and never needs recomputing.
    """
    return content


def rrf(lists: Iterable[Sequence[tuple[P, float]]], k: float = RRF_K) -> dict[P, float]:
    """Reciprocal-rank fusion: each list adds ``1 / (k + rank)`` (rank from 1) to its positions."""
    fused: dict[P, float] = {}
    for ranked in lists:
        for rank, (position, _score) in enumerate(ranked, start=1):
            fused[position] = fused.get(position, 0.0) + 1.0 / (k + rank)
    return fused


def spread(
    scores: Mapping[Position, float],
    decay: float = NEIGHBOUR_DECAY,
    reach: int = NEIGHBOUR_REACH,
) -> dict[Position, float]:
    """Add ``decay**d`` of each score to the positions ``d`` steps away (1 <= d <= reach).

    Positions before seq 0 are skipped; positions past the end of a session may appear and are
    dropped by the store when it fetches them.
    """
    out = dict(scores)
    if decay <= 0:
        return out
    for (session, seq), score in scores.items():
        for distance in range(1, reach + 1):
            share = score * decay**distance
            for neighbour in (seq - distance, seq + distance):
                if neighbour >= 0:
                    key = (session, neighbour)
                    out[key] = out.get(key, 0.0) + share
    return out


def best(scores: Mapping[P, float], n: int) -> list[tuple[P, float]]:
    """The ``n`` highest scores, best first; ties by position for a stable order."""
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:n]


def hybrid_candidates(
    keyword: Scored,
    vector: Scored,
    *,
    k: float = RRF_K,
    decay: float = NEIGHBOUR_DECAY,
    reach: int = NEIGHBOUR_REACH,
    n: int = CANDIDATES,
) -> list[tuple[Position, float]]:
    """Fuse the keyword and vector lists, spread to neighbours, keep the best ``n``."""
    return best(spread(rrf((keyword, vector), k), decay, reach), n)


def fuse(
    keyword: Sequence[tuple[P, float]], vector: Sequence[tuple[P, float]], k: float = RRF_K
) -> list[tuple[P, float]]:
    """Reciprocal-rank fusion of the two lists only, best first (no neighbours, no speakers).

    Recall@10 68.6 on the development split; ``hybrid_candidates`` + ``rerank`` reach 79.3 but
    need the store to fetch the neighbouring messages.
    """
    return best(rrf((keyword, vector), k), len(keyword) + len(vector))


def speaker_of(content: str) -> str | None:
    """The speaker name a message starts with (``"Caroline: hi"`` -> ``Caroline``), or None."""
    match = _SPEAKER.match(content)
    return match.group(1).strip() if match else None


def named_speakers(query: str, speakers: Iterable[str]) -> set[str]:
    """The speakers whose name appears in ``query`` as whole words, case-insensitively."""
    words = set(_WORD.findall(unicodedata.normalize("NFKC", query).casefold()))
    named: set[str] = set()
    for speaker in speakers:
        parts = _WORD.findall(unicodedata.normalize("NFKC", speaker).casefold())
        if parts and all(part in words for part in parts):
            named.add(speaker)
    return named


def rerank(
    candidates: Scored,
    query: str,
    speakers: Mapping[Position, str | None],
    boost: float = SPEAKER_BOOST,
) -> list[tuple[Position, float]]:
    """Multiply by ``boost`` the candidates whose speaker is the only one the query names.

    ``speakers`` gives each candidate's speaker (``speaker_of`` its content); when the query names
    none or several of them, the order is unchanged.
    """
    named = named_speakers(query, {s for s in speakers.values() if s})
    chosen = next(iter(named)) if len(named) == 1 else None
    rescored = {
        position: score * (boost if chosen and speakers.get(position) == chosen else 1.0)
        for position, score in candidates
    }
    return best(rescored, len(rescored))


def recall_at_k(evidence: Iterable[str], ranked: Sequence[str], k: int) -> float:
    """LoCoMo's retrieval recall: the share of ``evidence`` ids among the first ``k`` of ``ranked``.

    A question without evidence counts as 1.0, as in the paper.
    """
    wanted = set(evidence)
    if not wanted:
        return 1.0
    return len(wanted.intersection(ranked[:k])) / len(wanted)
