"""Which text of a memory item search sees: the values at its index paths (LangGraph's path
syntax), written by hand because the server must not depend on LangGraph; its
``langgraph.store.base.embed.get_text_at_path`` is the reference for the semantics.

A path is ``$`` (the whole value) or fields separated by dots, each optionally followed by
list steps: ``a.b``, ``a[0]``, ``a[-1]`` (from the end), ``a[*]`` (every element),
``a[*].b``; ``*`` is every value of an object (or element of a list) and ``{a,b.c}`` the
union of several sub-paths. A step that does not fit the value (a field of a list, an index
out of range) finds nothing rather than failing: items differ in shape.

Where memhead differs from LangGraph: a malformed path (unclosed bracket, an index that is
not a number, an empty field name) is refused instead of finding nothing, and non-string
values become compact JSON (``true``, ``[1,2]``) rather than Python's ``str``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

WHOLE = "$"
MAX_PATHS = 64
PATH_CHARS = 1024


@dataclass(frozen=True, slots=True)
class Field:
    name: str


@dataclass(frozen=True, slots=True)
class Index:
    position: int


@dataclass(frozen=True, slots=True)
class Every:
    """``[*]``: every element of a list."""


@dataclass(frozen=True, slots=True)
class Wildcard:
    """``*``: every value of an object, every element of a list."""


@dataclass(frozen=True, slots=True)
class Union:
    """``{a,b.c}``: what each sub-path finds, in order."""

    paths: tuple[Path, ...]


Step = Field | Index | Every | Wildcard | Union
Path = tuple[Step, ...]


def split_top_level(text: str) -> list[str]:
    """``text`` split at the commas outside brackets and braces (what
    ``MEMHEAD_ITEM_INDEX`` holds: ``text, tags[*], {a,b}``), each part stripped."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return parts


def parse(path: str) -> Path:
    """The steps of ``path`` (``()`` for ``$``); ``ValueError`` saying what is wrong."""
    if path == WHOLE:
        return ()
    if not path:
        raise ValueError("a path must not be empty (use '$' for the whole value)")
    steps: list[Step] = []
    for segment in _segments(path):
        steps.extend(_steps(segment))
    return tuple(steps)


def _segments(path: str) -> Iterator[str]:
    """The dot-separated parts of ``path``, dots inside brackets and braces left alone."""
    depth = 0
    start = 0
    for i, char in enumerate(path):
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth < 0:
                raise ValueError(f"unmatched {char!r}")
        elif char == "." and depth == 0:
            yield path[start:i]
            start = i + 1
    if depth:
        raise ValueError("unclosed '[' or '{'")
    yield path[start:]


def _steps(segment: str) -> list[Step]:
    """``name``, ``name[i][j]``, ``[i]``, ``*`` or ``{a,b}`` as steps."""
    if segment.startswith("{"):
        if not segment.endswith("}"):
            raise ValueError(f"nothing may follow '}}' in {segment!r}")
        return [Union(tuple(parse(p) for p in split_top_level(segment[1:-1])))]
    name, bracket, rest = segment.partition("[")
    if not name and not bracket:
        raise ValueError("empty field name")
    if "]" in name or "}" in name or "{" in name:
        raise ValueError(f"unexpected bracket in {segment!r}")
    steps: list[Step] = [] if not name else [Wildcard() if name == "*" else Field(name)]
    rest = bracket + rest
    while rest:
        if not rest.startswith("["):
            raise ValueError(f"unexpected {rest!r} after ']'")
        inside, _, rest = rest[1:].partition("]")
        steps.append(_list_step(inside))
    return steps


def _list_step(inside: str) -> Step:
    if inside == "*":
        return Every()
    try:
        return Index(int(inside))
    except ValueError:
        raise ValueError(f"[{inside}] is not an index (use a whole number or *)") from None


def values_at(value: Any, path: Sequence[Step]) -> list[Any]:
    """Every value ``path`` leads to inside ``value``, in document order."""
    if not path:
        return [value]
    step, rest = path[0], path[1:]
    found: list[Any] = []
    for child in _children(value, step):
        found.extend(values_at(child, rest))
    return found


def _children(value: Any, step: Step) -> list[Any]:
    if isinstance(step, Field):
        return [value[step.name]] if isinstance(value, dict) and step.name in value else []
    if isinstance(step, Index):
        if isinstance(value, list) and -len(value) <= step.position < len(value):
            return [value[step.position]]
        return []
    if isinstance(step, Every):
        return list(value) if isinstance(value, list) else []
    if isinstance(step, Wildcard):
        if isinstance(value, dict):
            return list(value.values())
        return list(value) if isinstance(value, list) else []
    return [found for path in step.paths for found in values_at(value, path)]


def as_text(value: Any) -> str:
    """A found value as search text: a string as it is, anything else as compact JSON."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def text_of(value: Any, paths: Sequence[Path]) -> str | None:
    """The item's search text: the values at ``paths``, one per line; ``None`` when nothing
    (but nulls and empty strings) was found."""
    lines = [as_text(v) for path in paths for v in values_at(value, path) if v is not None]
    text = "\n".join(line for line in lines if line)
    return text or None
