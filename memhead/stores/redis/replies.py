"""Replies of the query engine's ``FT.SEARCH`` and ``FT.AGGREGATE``, RESP3 (maps, what
redis-py asks for by default) or RESP2 (flat arrays), as plain rows."""

from __future__ import annotations

from typing import Any

Row = tuple[bytes, float, dict[bytes, bytes]]
"""A document: key, score (0 without ``WITHSCORES``), returned fields."""


def _pairs(flat: Any) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def rows(reply: Any, *, scores: bool = False, content: bool = True) -> list[Row]:
    """The documents of an ``FT.SEARCH`` reply, in its order."""
    if isinstance(reply, dict):
        return [
            (r[b"id"], float(r.get(b"score", 0)), r.get(b"extra_attributes", {}))
            for r in reply[b"results"]
        ]
    stride = 1 + scores + content
    return [
        (
            reply[i],
            float(reply[i + 1]) if scores else 0.0,
            _pairs(reply[i + stride - 1]) if content else {},
        )
        for i in range(1, len(reply), stride)
    ]


def total(reply: Any) -> int:
    """How many documents an ``FT.SEARCH`` matched, whatever page it returned."""
    return int(reply[b"total_results"] if isinstance(reply, dict) else reply[0])


def groups(reply: Any) -> list[dict[bytes, bytes]]:
    """The rows of an ``FT.AGGREGATE`` reply."""
    if isinstance(reply, dict):
        return [r.get(b"extra_attributes", {}) for r in reply[b"results"]]
    return [_pairs(r) for r in reply[1:]]
