"""Value types and parsers behind ``memhead.settings`` (which stays the one place where
settings are declared): short durations, the item index paths, and the items' view of the
settings that ``ItemService`` takes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from memhead.items.paths import parse, split_top_level

DURATION = re.compile(r"(\d+)\s*([dhms]?)")
UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds", "": "seconds"}


def short_duration(value: object) -> object:
    """``30d`` / ``12h`` / ``90m`` / ``45s`` (or blank: unset) as a ``timedelta``; anything
    else is left for pydantic (seconds, ISO 8601), which has no parser for the short form."""
    if isinstance(value, str):
        if not value.strip():
            return None
        match = DURATION.fullmatch(value.strip())
        if match:
            return timedelta(**{UNITS[match[2]]: int(match[1])})
    return value


@dataclass(frozen=True, slots=True)
class ItemSettings:
    """The defaults and limits of memory items (``ItemService``)."""

    index: tuple[str, ...] = ("$",)
    """Paths indexed when a put names none (empty: not indexed)."""
    ttl_minutes: float | None = None
    refresh_ttl: bool = True
    max_bytes: int = 65_536


def item_paths(spec: str) -> list[str]:
    """``MEMHEAD_ITEM_INDEX`` as a list of paths; ``ValueError`` naming a malformed one."""
    found = [p for p in split_top_level(spec) if p]
    for path in found:
        try:
            parse(path)
        except ValueError as exc:
            raise ValueError(f"path {path!r}: {exc}") from None
    return found
