"""Equality filters of item searches, pushed down into the Redis Query Engine.

Each of an item's indexed hashes (record, keyword entry, vector) carries ``filter_tag``: one
TAG token per top-level field of its value holding a scalar (string, number, boolean or
null), a digest of the field, the value's kind and the value as Python compares it. A
filter's equality conditions (``{"field": value}`` or ``{"field": {"$eq": value, ...}}``) on
a scalar then become TAG clauses, so the engine drops the items that cannot match before
scoring or sorting them.

A token only narrows the candidates: ``memhead.items.filters.matches`` still judges every
item read back, so a digest collision can only cost a wasted read, never a wrong result. The
one thing a token must never do is miss an item that matches, hence:

- Equal values give equal tokens as Python's ``==`` sees them (the filter's semantics):
  ``true``, ``1`` and ``1.0`` are one number; ``"1"`` is a string, apart from them.
- Bounds: a string longer than ``MAX_VALUE_CHARS`` gets no token, and a condition on one is
  not pushed (equal strings have equal lengths). An item with more than ``MAX_FIELDS``
  scalar fields gets the single token ``OVERFLOW`` instead, which every pushed clause also
  accepts: such an item is judged by Python alone.
- Other operators (``$ne``, ``$gt``, ...) and non-scalar values stay with Python.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from memhead.items.filters import _is_comparison

MAX_VALUE_CHARS = 256
"""The longest string value that gets a token (and whose equality is pushed down)."""
MAX_FIELDS = 32
"""The most scalar fields an item gets tokens for; more: ``OVERFLOW`` only."""
OVERFLOW = "overflow"
"""The token of an item with too many scalar fields: every pushed clause admits it."""
FIELD = "filter_tag"


def _canonical(value: Any) -> tuple[str, str] | None:
    """The kind and text of a scalar, equal exactly when Python's ``==`` holds; ``None``
    for a value that gets no token."""
    if value is None:
        return "z", ""
    if isinstance(value, bool | int):
        return "n", str(int(value))
    if isinstance(value, float):
        return "n", str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str) and len(value) <= MAX_VALUE_CHARS:
        return "s", value
    return None


def _token(field: str, value: Any) -> str | None:
    canonical = _canonical(value)
    if canonical is None:
        return None
    kind, text = canonical
    parts = [part.encode("utf-8", "surrogatepass") for part in (field, kind, text)]
    framed = b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    return hashlib.blake2b(framed, digest_size=12).hexdigest()


def value_tokens(value: Mapping[str, Any]) -> str:
    """The ``filter_tag`` field of an item holding ``value``."""
    tokens = [t for field, v in value.items() if (t := _token(field, v)) is not None]
    if len(tokens) > MAX_FIELDS:
        return OVERFLOW
    return ",".join(tokens)


def _expected(condition: Any) -> tuple[bool, Any]:
    """Whether the condition asks for equality with one value, and that value."""
    if not _is_comparison(condition):
        return True, condition
    if "$eq" in condition:
        return True, condition["$eq"]
    return False, None


def pushed_tokens(filter: Mapping[str, Any] | None) -> list[str]:
    """One token per condition of ``filter`` the engine can check: an item matching the
    filter holds every one of them (or ``OVERFLOW``)."""
    tokens = []
    for field, condition in (filter or {}).items():
        equal, value = _expected(condition)
        token = _token(field, value) if equal else None
        if token is not None:
            tokens.append(token)
    return tokens


def clauses(tokens: list[str]) -> str:
    """The query clauses of ``pushed_tokens`` (empty: none)."""
    return " ".join(f"@{FIELD}:{{{token}|{OVERFLOW}}}" for token in tokens)


def admits(tokens: list[str], stored: bytes) -> bool:
    """Whether a hash whose ``filter_tag`` is ``stored`` passes the clauses of ``tokens``."""
    held = set(stored.decode().split(","))
    return OVERFLOW in held or all(t in held for t in tokens)
