"""Listing memory-item namespaces: LangGraph's match conditions, one implementation for every
backend (which only lists the distinct namespaces under a literal prefix).

A condition is a prefix or a suffix of labels in which ``*`` matches any one label.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from memhead.models import Namespace

WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class Condition:
    """Namespaces that start (``prefix``) or end (``suffix``) with ``path``."""

    match_type: Literal["prefix", "suffix"]
    path: Namespace


def _same(labels: Sequence[str], path: Sequence[str]) -> bool:
    return all(p == WILDCARD or p == label for label, p in zip(labels, path, strict=True))


def holds(namespace: Namespace, condition: Condition) -> bool:
    """Whether ``namespace`` meets ``condition``."""
    n = len(condition.path)
    if n > len(namespace):
        return False
    part = namespace[:n] if condition.match_type == "prefix" else namespace[len(namespace) - n :]
    return _same(part, condition.path)


def literal_prefix(conditions: Iterable[Condition]) -> Namespace:
    """The longest wildcard-free start of the prefix conditions: what a store can narrow by."""
    best: Namespace = ()
    for c in conditions:
        if c.match_type != "prefix":
            continue
        labels: list[str] = []
        for label in c.path:
            if label == WILDCARD:
                break
            labels.append(label)
        if len(labels) > len(best):
            best = tuple(labels)
    return best


def select(
    namespaces: Iterable[Namespace],
    conditions: Sequence[Condition],
    *,
    max_depth: int | None,
    offset: int,
    limit: int,
) -> list[Namespace]:
    """The namespaces meeting every condition, cut to ``max_depth`` labels (duplicates the cut
    makes are listed once), sorted, the page ``[offset, offset + limit)``."""
    kept = {
        ns if max_depth is None else ns[:max_depth]
        for ns in namespaces
        if all(holds(ns, c) for c in conditions)
    }
    return sorted(kept)[offset : offset + limit]
