"""Text as the Redis Query Engine sees it: folded words, TAG values and query strings.

SQLite's FTS5 (``unicode61 remove_diacritics``) strips accents and splits on ``_``; the
engine does neither, so stored texts and query words are folded here (``fold``). A TAG value
is ``search_tag``: each part as ``x`` + the hex of its UTF-8 bytes, so any id (punctuation,
spaces, unicode) becomes ``[0-9a-fx]``, needs no escaping in a query, and distinct ids never
share a value. See ``search`` for how the queries are built and scored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from memhead.retrieval import day_text

TEXT_SCALE = 1e6
"""The weight of a query's text clause, divided out of its score again (see ``search``)."""

_WORD = re.compile(r"[^\W_]+")
MAX_WORD_BYTES = 128
"""The longest term the engine indexes whole."""


def fold(text: str) -> str:
    """Lower-case words without accents, one space apart (``"Zürich, l'été"`` -> ``zurich l ete``).

    Words are runs of letters and digits, so nothing in a folded text or query word is
    punctuation, query syntax or a separator to the engine's tokenizer. Words are cut to
    ``MAX_WORD_BYTES`` here, since the engine cuts longer ones when indexing but not in
    queries: two words that long match when they start alike.
    """
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text.casefold())
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_clip(w) for w in _WORD.findall(text.lower()))


def _clip(word: str) -> str:
    encoded = word.encode()
    if len(encoded) <= MAX_WORD_BYTES:
        return word
    return encoded[:MAX_WORD_BYTES].decode(errors="ignore")


def day(created_at: int) -> str:
    """The ``day`` field of a message created at ``created_at`` (ms): its day in words, folded."""
    return fold(day_text(datetime.fromtimestamp(created_at / 1000, tz=UTC)))


def search_tag(*parts: str) -> str:
    """The TAG value of ``parts`` (e.g. tenant and session): ``x<hex>`` per part."""
    return "".join("x" + part.encode().hex() for part in parts)


def match_terms(terms: Sequence[str]) -> list[str]:
    """The distinct folded terms; one that folds to several words (``"a:b"``) is the phrase
    of them, as in FTS5, and one without a word is dropped."""
    folded = (fold(t) for t in terms)
    return list(dict.fromkeys(f'"{f}"' if " " in f else f for f in folded if f))


def keyword_query(field: str, terms: Sequence[str], filters: str) -> str:
    """Documents in scope matching any term in ``field``; see ``search``'s docstring."""
    weight = f"=>{{$weight:{TEXT_SCALE:g}}}"
    return " | ".join(f"((@{field}:{term}){weight} {filters})" for term in terms)


def weighted_query(
    field_repeats: Sequence[tuple[str, int]], terms: Sequence[str], filters: str
) -> str:
    """Documents in scope matching any term in any of the fields: a union of one filtered
    clause per (term, field), a field's clause repeated to weight it (see ``search``)."""
    return " | ".join(
        f"((@{field}:{term}) {filters})"
        for term in terms
        for field, repeats in field_repeats
        for _ in range(repeats)
    )


def normalised(vector: Sequence[float]) -> bytes:
    v = np.asarray(vector, dtype=np.float32)
    v /= max(float(np.linalg.norm(v)), 1e-12)
    return v.tobytes()
