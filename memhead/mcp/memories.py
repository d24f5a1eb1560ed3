"""Memory items as the MCP tools show them: what ``remember`` stores, how a found item reads
as a search hit, and how message and memory hits become one ranked list."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field

from memhead import retrieval
from memhead.api.schemas import to_datetime
from memhead.errors import InvalidRequest
from memhead.mcp.results import Hit
from memhead.models import Item

ItemNamespace = Annotated[
    list[str],
    Field(
        min_length=1,
        description='A memory\'s namespace: a list of labels, e.g. ["memories"] or '
        '["users", "ana"]; no label may contain a dot.',
    ),
]

DEFAULT_NAMESPACE = ("memories",)
"""Where ``remember`` stores a memory when the call names no namespace."""
MEMORY_INDEX = ("content",)
"""What search sees of a memory ``remember`` stores: its text, not its metadata."""


def memory_value(content: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
    """The value ``remember`` stores: the content, with the metadata's fields beside it (at
    the top level, where search filters of the item API can select by them)."""
    if metadata and "content" in metadata:
        raise InvalidRequest("metadata must not have a 'content' field (content is the memory)")
    return {"content": content, **(metadata or {})}


def merged(lists: Sequence[list[Hit]], limit: int) -> list[Hit]:
    """Ranked lists of hits of different kinds (whose scores are in different units) as one,
    by reciprocal rank as hybrid search fuses its lists; the score is the fused one. On a tie
    the earlier list (messages) comes first."""
    ranked = sorted(
        (
            (1.0 / (retrieval.RRF_K + rank), order, rank, hit)
            for order, hits in enumerate(lists)
            for rank, hit in enumerate(hits, start=1)
        ),
        key=lambda r: (-r[0], r[1], r[2]),
    )
    return [hit.model_copy(update={"score": score}) for score, _, _, hit in ranked[:limit]]


def _memory_value(content: str, metadata: dict[str, Any] | None) -> dict[str, Any]:
    if metadata and "content" in metadata:
        raise InvalidRequest("metadata must not have a 'content' field (content is the memory)")
    return {"content": content, **(metadata or {})}


def memory_hit(item: Item, score: float) -> Hit:
    content = item.value.get("content")
    if not isinstance(content, str):
        content = json.dumps(item.value, ensure_ascii=False, separators=(",", ":"))
    return Hit(
        kind="memory",
        namespace=list(item.namespace),
        key=item.key,
        value=item.value,
        content=content,
        created_at=to_datetime(item.updated_at),
        score=score,
    )
