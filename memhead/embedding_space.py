"""Whether an embedder can work with the vectors a store already holds: the store records the
model and dimensions of its vectors at the first write, and a process with another embedder
must not start (its vectors could not be stored, its queries not compared with them)."""

from __future__ import annotations

from memhead.errors import ConfigError, EmbeddingMismatch
from memhead.providers.base import Embedder


def known_dimension(embedder: Embedder) -> int | None:
    """The length of the embedder's vectors when it is known without a call (a local model);
    a provider's model tells it only in its first answer, so then only names are compared."""
    from memhead.providers.local import LocalEmbedder  # imports no model library

    return embedder.dimension if isinstance(embedder, LocalEmbedder) else None


def embedding_mismatch(space: tuple[str, int] | None, embedder: Embedder) -> bool:
    """Whether the recorded ``(model, dimensions)`` differs from what ``embedder`` makes."""
    if space is None:
        return False
    dimension = known_dimension(embedder)
    return space[0] != embedder.model or (dimension is not None and dimension != space[1])


def check_embedding_space(space: tuple[str, int] | None, embedder: Embedder) -> None:
    """Refuse to start with an embedder of another model than the stored vectors: its vectors
    could not be stored, and its queries could not be compared with them."""
    if not embedding_mismatch(space, embedder):
        return
    assert space is not None
    dimension = known_dimension(embedder)
    made = (
        f"{dimension} dimensions"
        if dimension is not None
        else "dimensions known after its first call, so only the model name is compared"
    )
    raise ConfigError(
        f"MEMHEAD_EMBED_MODEL: the embedder is {embedder.model} ({made}), but the store "
        f"holds vectors of {space[0]} ({space[1]} dimensions): to switch models run "
        f"`memhead reindex` with the new MEMHEAD_EMBED_MODEL (it re-embeds every message); "
        f"to keep the stored vectors set MEMHEAD_EMBED_MODEL back to {space[0]}"
    )


def check_query_space(space: tuple[str, int] | None, model: str, dimensions: int) -> None:
    """Refuse (409) to compare a query vector of ``model`` with stored vectors of another
    space: another process may have reindexed the store under this one."""
    if space is not None and space != (model, dimensions):
        raise EmbeddingMismatch(
            f"the stored vectors are now of {space[0]} ({space[1]} dimensions) but this "
            f"process embeds queries with {model} ({dimensions} "
            "dimensions): the store was reindexed (memhead reindex) under it; restart it "
            f"with MEMHEAD_EMBED_MODEL={space[0]}"
        )
