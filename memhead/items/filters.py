"""Search filters on memory items: LangGraph's semantics, one implementation for every backend.

A filter maps a top-level field of the item's value to a condition: a plain value matches an
equal value; an object whose keys all start with ``$`` is a set of comparisons that must all
hold (``$eq $ne $gt $gte $lt $lte``). A comparison between values that do not order (a string
against a number, a missing field against anything but ``$ne``) does not match rather than
fail: a filter selects items, it never breaks a search because one item differs in shape.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": operator.eq,
    "$ne": operator.ne,
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}


def _is_comparison(condition: Any) -> bool:
    return (
        isinstance(condition, Mapping)
        and bool(condition)
        and all(isinstance(k, str) and k.startswith("$") for k in condition)
    )


def filter_problem(filter: Mapping[str, Any]) -> str | None:
    """Why ``filter`` is refused (an unknown ``$`` operator), or ``None``."""
    for field, condition in filter.items():
        if _is_comparison(condition):
            unknown = sorted(set(condition) - set(OPERATORS))
            if unknown:
                known = ", ".join(OPERATORS)
                return f"filter on {field!r}: unknown operator {unknown[0]!r} (use {known})"
    return None


def _holds(op: str, actual: Any, expected: Any) -> bool:
    if op in ("$gt", "$gte", "$lt", "$lte") and (
        isinstance(actual, bool) != isinstance(expected, bool)
    ):
        return False  # True > 0 in Python; not in a JSON filter
    try:
        return bool(OPERATORS[op](actual, expected))
    except TypeError:
        return False


_MISSING = object()


def _field_matches(value: Mapping[str, Any], field: str, condition: Any) -> bool:
    actual = value.get(field, _MISSING)
    if not _is_comparison(condition):
        return actual is not _MISSING and bool(actual == condition)
    if actual is _MISSING:
        return all(op == "$ne" for op in condition)
    return all(_holds(op, actual, expected) for op, expected in condition.items())


def matches(value: Mapping[str, Any], filter: Mapping[str, Any] | None) -> bool:
    """Whether an item's value passes ``filter`` (``None`` or ``{}``: every value does).
    ``filter`` must have passed ``filter_problem``."""
    if not filter:
        return True
    return all(_field_matches(value, f, c) for f, c in filter.items())
