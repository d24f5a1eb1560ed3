"""Helpers the search and embedding contract tests share: messages in, vectors for them."""

from __future__ import annotations

from memhead.models import NewMessage, SessionKey
from memhead.stores import Store

W = 12


async def add(store: Store, key: SessionKey, *contents: str, at: int = 1000) -> None:
    msgs = [NewMessage("user" if i % 2 == 0 else "assistant", c) for i, c in enumerate(contents)]
    await store.append(key, msgs, now=at, window=W)


def vec(*xs: float) -> list[float]:
    return [*xs, *([0.0] * (4 - len(xs)))]


async def embed_all(store: Store, vectors: dict[str, list[float]]) -> None:
    """Give every pending message the vector named by its content."""
    backlog = await store.embedding_backlog(limit=1000)
    await store.store_vectors([(p, vectors[p.message.content]) for p in backlog], model="m")
