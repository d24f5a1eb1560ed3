"""Bodies of the ``/store`` routes (LangGraph Platform's store shape, as ``langgraph_sdk``
sends and reads them).

The models check types only; the rules of names, values and paths are
``memhead.items.checks``' (the service applies them for every surface, with messages that
name the field and the limit). The JSON Schema of each field states the same rules, so the
OpenAPI document promises exactly what the server accepts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from memhead.api import examples
from memhead.items import checks, paths
from memhead.items.filters import OPERATORS
from memhead.models import Item
from memhead.text import QUERY_CHARS

LABELS: JsonDict = {
    "maxItems": checks.MAX_DEPTH,
    "items": {"type": "string", "pattern": checks.LABEL_PATTERN},
}
_FIELD = r"[^.\[\]{}]+(\[(\*|-?[0-9]{1,9})\])*"
PATH_PATTERN = rf"^(\$|{_FIELD}(\.{_FIELD})*)$"
"""The common forms of an index path (the server also takes ``{a,b}`` unions)."""
CONDITION: JsonDict = {
    "anyOf": [
        {"type": ["string", "number", "boolean", "null", "array"]},
        {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"enum": list(OPERATORS)},
            "description": "Comparisons that must all hold.",
        },
    ]
}


class ItemPut(BaseModel):
    """Body of ``PUT /store/items``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.ITEM_PUT]})

    namespace: list[str] = Field(
        description=f"1-{checks.MAX_DEPTH} labels, each 1-{checks.LABEL_CHARS} characters, "
        "without dots or control characters.",
        json_schema_extra={"minItems": 1, **LABELS},
    )
    key: str = Field(
        description=f"1-{checks.KEY_CHARS} characters, no control characters.",
        json_schema_extra={
            "minLength": 1,
            "maxLength": checks.KEY_CHARS,
            "pattern": checks.KEY_PATTERN,
        },
    )
    value: Any = Field(
        description="A JSON object (at most `MEMHEAD_ITEM_MAX_BYTES` as compact JSON, 64 KiB "
        "by default); null deletes the item.",
        json_schema_extra={"anyOf": [{"type": "object"}, {"type": "null"}]},
    )
    index: Literal[False] | list[str] | None = Field(
        None,
        description="What query search sees: false, nothing; a list of paths into the value "
        "(`text`, `tags[*]`, `author.name`, `$` for the whole value); absent or null, the "
        "server's `MEMHEAD_ITEM_INDEX`.",
        json_schema_extra={
            "anyOf": [
                {"const": False},
                {
                    "type": "array",
                    "maxItems": paths.MAX_PATHS,
                    "items": {
                        "type": "string",
                        "maxLength": paths.PATH_CHARS,
                        "pattern": PATH_PATTERN,
                    },
                },
                {"type": "null"},
            ]
        },
    )
    ttl: float | None = Field(
        None,
        gt=0,
        le=checks.MAX_TTL_MINUTES,
        description="Minutes until the item expires (restarted by reads that refresh it); "
        "absent or null: `MEMHEAD_ITEM_TTL` (unset: never).",
    )


class ItemRef(BaseModel):
    """Body of ``DELETE /store/items``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.ITEM_REF]})

    namespace: list[str] = Field(json_schema_extra={"minItems": 1, **LABELS})
    key: str = Field(
        json_schema_extra={
            "minLength": 1,
            "maxLength": checks.KEY_CHARS,
            "pattern": checks.KEY_PATTERN,
        }
    )


class ItemSearch(BaseModel):
    """Body of ``POST /store/items/search``."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.ITEM_SEARCH]}
    )

    namespace_prefix: list[str] = Field(
        [],
        description="Search under these labels; empty: the whole tenant.",
        json_schema_extra=LABELS,
    )
    filter: dict[str, Any] | None = Field(
        None,
        description="Top-level value fields: a value matches equal values; an object of "
        "comparisons (`$eq $ne $gt $gte $lt $lte`) must hold for all of them.",
        json_schema_extra={"additionalProperties": CONDITION},
    )
    limit: int = Field(10, ge=1, le=checks.MAX_LIMIT)
    offset: int = Field(0, ge=0, le=checks.MAX_OFFSET)
    query: str | None = Field(
        None,
        description="Search by meaning and keywords, best first; absent: most recently "
        "updated first.",
        json_schema_extra={"maxLength": QUERY_CHARS},
    )
    refresh_ttl: bool | None = Field(
        None,
        description="Restart the TTL of the returned items; absent: `MEMHEAD_ITEM_REFRESH_TTL`.",
    )


class NamespaceQuery(BaseModel):
    """Body of ``POST /store/namespaces``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.NAMESPACES]})

    prefix: list[str] | None = Field(
        None,
        description="Namespaces starting with these labels; `*` matches any one label.",
        json_schema_extra=LABELS,
    )
    suffix: list[str] | None = Field(
        None,
        description="Namespaces ending with these labels; `*` matches any one label.",
        json_schema_extra=LABELS,
    )
    max_depth: int | None = Field(
        None, ge=1, description="Cut longer namespaces to this many labels (listed once)."
    )
    limit: int = Field(100, ge=1, le=checks.MAX_LIMIT)
    offset: int = Field(0, ge=0, le=checks.MAX_OFFSET)


class ItemOut(BaseModel):
    """An item as ``GET /store/items`` returns it."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.ITEM]})

    namespace: list[str]
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = Field(None, description="Present when the item has a TTL.")


class SearchItemOut(ItemOut):
    score: float | None = Field(
        description="Higher is better, comparable within one search; null without a query."
    )


class SearchItemsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ITEM_SEARCH_RESULT]})

    items: list[SearchItemOut]


class NamespacesOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.NAMESPACE_LIST]})

    namespaces: list[list[str]]


STORE_MODELS = (
    ItemPut,
    ItemRef,
    ItemSearch,
    NamespaceQuery,
    ItemOut,
    SearchItemsOut,
    NamespacesOut,
)
"""The models whose examples the OpenAPI document shows."""


def iso(ms: int) -> str:
    """A time as the API writes it: ISO 8601 UTC with milliseconds (``...T09:15:02.118Z``)."""
    moment = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=ms % 1000 * 1000)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def item_body(item: Item) -> dict[str, Any]:
    body: dict[str, Any] = {
        "namespace": list(item.namespace),
        "key": item.key,
        "value": item.value,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
    }
    if item.expires_at is not None:
        body["expires_at"] = iso(item.expires_at)
    return body
