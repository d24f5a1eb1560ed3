"""What a memory item request may hold: namespaces, keys, values, index paths, TTLs, filters
and page bounds. ``memhead.text``'s rules plus the limits of items; each breach raises
``InvalidRequest`` (400) with a message naming the field and the limit, so HTTP and MCP
callers read the same words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import orjson

from memhead.errors import InvalidRequest
from memhead.items import paths
from memhead.items.filters import filter_problem
from memhead.models import JSONObject, Namespace
from memhead.text import NAME_CHARS, QUERY_CHARS, check_json, check_text, text_problem

MAX_DEPTH = 16
LABEL_CHARS = NAME_CHARS
KEY_CHARS = 1024
MAX_LIMIT = 1000
MAX_OFFSET = 10_000
"""Deeper pages of a query would ask every retriever for that many candidates."""
MAX_TTL_MINUTES = 100 * 525_600.0
"""A hundred years: beyond it an expiry time no longer fits a store's 64-bit integer."""

LABEL_PATTERN = f"^[^\u0000-\u001f\u007f-\u009f.]{{1,{LABEL_CHARS}}}$"
"""A namespace label as a JSON Schema pattern, for the OpenAPI document."""
KEY_PATTERN = "^[^\u0000-\u001f\u007f-\u009f]+$"
DOTTED_NAMESPACE_PATTERN = (
    f"^[^\u0000-\u001f\u007f-\u009f.]{{1,{LABEL_CHARS}}}"
    f"(\\.[^\u0000-\u001f\u007f-\u009f.]{{1,{LABEL_CHARS}}}){{0,{MAX_DEPTH - 1}}}$"
)
"""A namespace as ``GET /store/items`` takes it: labels joined with dots."""


def namespace(labels: Sequence[str], what: str = "namespace", *, empty: bool = False) -> Namespace:
    """``labels`` as a namespace (``empty``: the empty one is allowed, a prefix of all)."""
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        raise InvalidRequest(f"{what} must be a list of labels")
    if not labels and not empty:
        raise InvalidRequest(f"{what} must have at least one label")
    if len(labels) > MAX_DEPTH:
        raise InvalidRequest(f"{what} has {len(labels)} labels; at most {MAX_DEPTH}")
    for label in labels:
        _label(label, what)
    return tuple(labels)


def _label(label: object, what: str) -> None:
    if not isinstance(label, str):
        raise InvalidRequest(f"{what} labels must be strings")
    if not label:
        raise InvalidRequest(f"{what} labels must not be empty")
    problem = text_problem(label, max_chars=LABEL_CHARS, name=True)
    if problem is not None:
        raise InvalidRequest(f"{what} label {_quote(label)} {problem}")
    if "." in label:
        raise InvalidRequest(f"{what} label {label!r} must not contain '.'")


def _quote(label: str) -> str:
    return repr(label[:40] + "..." if len(label) > 40 else label)


def dotted(joined: str) -> Namespace:
    """A namespace sent as labels joined with dots (``users.ada``)."""
    return namespace(joined.split("."))


def key(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest("key must be a non-empty string")
    problem = text_problem(value, max_chars=KEY_CHARS, name=True)
    if problem is not None:
        raise InvalidRequest(f"key {problem}")
    return value


def value(content: Any, max_bytes: int) -> JSONObject:
    """A JSON object of at most ``max_bytes`` as compact UTF-8 JSON."""
    if not isinstance(content, dict):
        raise InvalidRequest("value must be a JSON object (or null, which deletes the item)")
    size = len(_json("value", content))
    if size > max_bytes:
        raise InvalidRequest(
            f"value is {size} bytes as JSON; at most {max_bytes} (MEMHEAD_ITEM_MAX_BYTES)"
        )
    return content


def _json(what: str, content: Any) -> bytes:
    """``content`` as compact JSON, if every number and string in it can be stored."""
    try:
        check_json(content)
        return orjson.dumps(content)
    except ValueError as exc:
        raise InvalidRequest(f"{what}: {exc}") from None
    except TypeError as exc:  # orjson: an integer beyond 64 bits, a key that is not a string
        raise InvalidRequest(f"{what} cannot be stored as JSON: {exc}") from None


def index(spec: Literal[False] | Sequence[str] | None) -> Literal[False] | list[paths.Path] | None:
    """An ``index`` argument: ``False`` (not indexed), ``None`` (the server's default) or
    the parsed paths."""
    if spec is None or spec is False:
        return spec
    if isinstance(spec, str) or not isinstance(spec, Sequence):
        raise InvalidRequest("index must be false, null or a list of paths")
    if len(spec) > paths.MAX_PATHS:
        raise InvalidRequest(f"index has {len(spec)} paths; at most {paths.MAX_PATHS}")
    return [_path(p) for p in spec]


def _path(path: object) -> paths.Path:
    if not isinstance(path, str):
        raise InvalidRequest("index paths must be strings")
    check_text(path, "index path", max_chars=paths.PATH_CHARS)
    try:
        return paths.parse(path)
    except ValueError as exc:
        raise InvalidRequest(f"index path {path!r}: {exc}") from None


def ttl_ms(minutes: float | None) -> int | None:
    """A TTL in minutes (``None``: none) as milliseconds."""
    if minutes is None:
        return None
    if isinstance(minutes, bool) or not isinstance(minutes, int | float):
        raise InvalidRequest("ttl must be a number of minutes")
    if not (math.isfinite(minutes) and 0 < minutes <= MAX_TTL_MINUTES):
        raise InvalidRequest(f"ttl must be more than 0 and at most {MAX_TTL_MINUTES:g} minutes")
    return max(1, round(minutes * 60_000))


def search_filter(content: JSONObject | None) -> JSONObject | None:
    if content is None:
        return None
    if not isinstance(content, dict):
        raise InvalidRequest("filter must be a JSON object")
    _json("filter", content)
    problem = filter_problem(content)
    if problem is not None:
        raise InvalidRequest(problem)
    return content


def query(text: str | None) -> str | None:
    """The query, ``None`` when there is none to run (absent, or only blanks)."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidRequest("query must be a string")
    check_text(text, "query", max_chars=QUERY_CHARS)
    return text if text.strip() else None


def page(limit: int, offset: int) -> None:
    _bounded("limit", limit, 1, MAX_LIMIT)
    _bounded("offset", offset, 0, MAX_OFFSET)


def max_depth(depth: int | None) -> None:
    if depth is not None:
        _bounded("max_depth", depth, 1, None)


def _bounded(what: str, number: int, low: int, high: int | None) -> None:
    if isinstance(number, bool) or not isinstance(number, int):
        raise InvalidRequest(f"{what} must be a whole number")
    if number < low or (high is not None and number > high):
        upper = f" and at most {high}" if high is not None else ""
        raise InvalidRequest(f"{what} must be at least {low}{upper}")
