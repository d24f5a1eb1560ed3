"""The Redis Query Engine's indexes over memhead's hashes, and the embedding space.

Two indexes, with the same filter fields:

- ``P:idx`` over the message hashes (``P:msg:``), made by ``setup``: the keyword row of
  ``retrieval.keyword_fields`` as three TEXT fields, ``text`` (the content), ``context`` (the
  text of the message stored before it in the session) and ``day`` (its day in words), each
  folded as SQLite's tokenizer sees it (``text.fold``). Stemming (English) is the engine's;
  stopwords are off (the service drops its own).
- ``P:vidx:<dimensions>`` over the vector hashes (``P:vec:``), made when the first vector is
  stored (only then is the dimension known): ``vector`` (HNSW, cosine). A vector lives in a
  hash of its own, so that a message hash is written once, and again only when its session's
  user changes (``user_tags``): RediSearch re-indexes a hash on any write, and before its
  BM25STD underflow fix (in 2.10 still) it then over-counts a term's documents. The
  dimension is in the name, so that an index left from vectors of another size (keys wiped,
  indexes kept) is never taken for this one.

Filter fields, written by the append script: ``tenant_tag``, ``session_tag`` (tenant and
session), ``user_tag`` (tenant and the session's user; ``user_tags`` keeps it current),
``role_tag`` TAG (``text.search_tag``) and ``created_at`` NUMERIC. An index made before
``user_tag`` existed gains it at setup (``FT.ALTER ... SCHEMA ADD``, which indexes only hashes
written afterwards: ``user_tags.backfill`` writes the tag into the older ones).

Memory items (``item_records`` has their fields) have three more, made alike: ``P:iidx``
over the records (scope, backlog flag, expiry, order; no text), ``P:itidx`` over their keyword
entries (``text`` as the messages' ``text``, with the scope) and ``P:ividx:<dimensions>`` over
their vectors (with the scope), made with the messages' vector index.

The embedding space (model, dimensions) is fixed by the first ``SET NX``; messages and items
share it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, cast

import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from memhead.errors import EmbeddingMismatch
from memhead.stores.redis.keyspace import Keys

KEYWORD_FIELDS = ("text", "context", "day")
"""The keyword row, as ``retrieval.FTS_COLUMNS`` (weighted by ``retrieval.BM25_WEIGHTS``)."""
USER_TAG = ("user_tag", "TAG")
FILTER_SCHEMA = (
    *("tenant_tag", "TAG", "session_tag", "TAG", "role_tag", "TAG"),
    *("created_at", "NUMERIC", *USER_TAG),
)
SORTED_CODE = ("TAG", "SEPARATOR", ";", "SORTABLE", "UNF", "NOINDEX")
"""A field only read back or sorted by (never split: ``;`` is in no code)."""
ITEM_FILTER = ("filter_tag", "TAG")
"""Items' equality filter tokens (``item_filters``), added to indexes made before them."""
ITEM_SCHEMA = (
    *("scope_tag", "TAG", "pending", "TAG", "live_until", "NUMERIC", "SORTABLE"),
    *("updated_at", "NUMERIC", "SORTABLE", "ns", *SORTED_CODE, "order", *SORTED_CODE),
    *ITEM_FILTER,
)
ITEM_TEXT_SCHEMA = ("text", "TEXT", "scope_tag", "TAG", *ITEM_FILTER)
SCORERS = ("BM25STD", "BM25")
"""Standard BM25 when the engine has it (RediSearch >= 2.10, Redis 8), else its older BM25."""
SCAN_WAIT_S = 30.0
"""How long ``setup`` waits for a new index's scan of the existing keys (see ``_create``)."""


@dataclass(frozen=True, slots=True)
class Space:
    model: str
    dimensions: int


def _already_exists(exc: ResponseError) -> bool:
    return "already exists" in str(exc).lower()


class Indexes:
    """What one store knows of the indexes: the scorer to use, the embedding space (fixed for
    good once stored) and whether the vector index is known to exist."""

    def __init__(self, client: Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self.scorer = SCORERS[0]
        self._space: Space | None = None
        self._vector_index = False
        self.item_filters_ready = False
        """Whether every item has its filter tokens (``item_upgrade``)."""

    async def ft(self, *args: Any) -> Any:
        """An ``FT.*`` command (redis-py types them loosely)."""
        return await self.client.execute_command(*args)  # type: ignore[no-untyped-call]

    async def setup(self) -> None:
        """Create the keyword index (once for all processes) and pick the BM25 scorer."""
        text_fields = (part for field in KEYWORD_FIELDS for part in (field, "TEXT"))
        created = await self._create(
            self.keys.search_index(),
            *("ON", "HASH", "PREFIX", 1, self.keys.messages_index_prefix(), "STOPWORDS", 0),
            *("SCHEMA", *text_fields, *FILTER_SCHEMA),
        )
        if created:
            await self._wait_scanned(self.keys.search_index())
        await self._add_user_tag()
        for index, prefix, schema in (
            (self.keys.item_index(), self.keys.items_index_prefix(), ITEM_SCHEMA),
            (self.keys.item_text_index(), self.keys.item_texts_index_prefix(), ITEM_TEXT_SCHEMA),
        ):
            spec = ("ON", "HASH", "PREFIX", 1, prefix, "STOPWORDS", 0, "SCHEMA", *schema)
            if await self._create(index, *spec):
                await self._wait_scanned(index)
            else:
                await self._add_item_filter(index)
        for scorer in SCORERS:
            try:  # a query that matches nothing, whatever the index holds
                await self.ft(
                    *("FT.SEARCH", self.keys.search_index(), "@tenant_tag:{probe}"),
                    *("SCORER", scorer, "LIMIT", 0, 0, "DIALECT", 2),
                )
            except ResponseError:
                continue
            self.scorer = scorer
            return

    async def _add_user_tag(self) -> None:
        """Add ``user_tag`` to the message indexes made before it existed (a no-op on the
        others, and safe against a concurrent setup: the second alter finds it there)."""
        space = await self.stored_space()
        indexes = [self.keys.search_index()]
        if space is not None:
            indexes.append(self.keys.vector_index(space.dimensions))
        for index in indexes:
            try:
                await self.ft("FT.ALTER", index, "SCHEMA", "ADD", *USER_TAG)
            except ResponseError as exc:
                text = str(exc).lower()
                if "duplicate field" not in text and "unknown index" not in text:
                    raise

    async def _create(self, index: str, *spec: str | int) -> bool:
        """``FT.CREATE`` unless it exists (then ``False``): concurrent creators all succeed."""
        try:
            await self.ft("FT.CREATE", index, *spec)
        except ResponseError as exc:
            if not _already_exists(exc):
                raise
            return False
        return True

    async def _add_item_filter(self, index: str) -> None:
        """Add ``filter_tag`` to an item index made before it (no scan: no hash has it yet;
        ``item_upgrade`` writes it, and each write re-indexes the hash)."""
        try:
            await self.ft("FT.ALTER", index, "SKIPINITIALSCAN", "SCHEMA", "ADD", *ITEM_FILTER)
        except ResponseError as exc:
            if "duplicate" not in str(exc).lower():
                raise

    async def _wait_scanned(self, index: str) -> None:
        """Wait (up to ``SCAN_WAIT_S``) for a new index's background scan of the keyspace.

        A hash written during the scan is indexed twice, and RediSearch keeps counting the
        stale copy in its term statistics, which skews BM25 for good.
        """
        deadline = time.monotonic() + SCAN_WAIT_S
        while time.monotonic() < deadline:
            info = await self.ft("FT.INFO", index)
            stats = (
                info if isinstance(info, dict) else dict(zip(info[::2], info[1::2], strict=True))
            )
            if not int(stats.get(b"indexing", 0)):
                return
            await asyncio.sleep(0.01)

    async def ensure_vector_index(self, space: Space) -> None:
        """The vector indexes of messages and of items, for ``space``."""
        if self._vector_index:
            return
        vector = ("vector", "VECTOR", "HNSW", 6, "TYPE", "FLOAT32", "DIM", space.dimensions)
        for index, prefix, filters in (
            (self.keys.vector_index, self.keys.vectors_index_prefix(), FILTER_SCHEMA),
            (
                self.keys.item_vector_index,
                self.keys.item_vectors_index_prefix(),
                ("scope_tag", "TAG", *ITEM_FILTER),
            ),
        ):
            created = await self._create(
                index(space.dimensions),
                *("ON", "HASH", "PREFIX", 1, prefix, "SCHEMA", *filters, *vector),
                *("DISTANCE_METRIC", "COSINE"),
            )
            if not created and index == self.keys.item_vector_index:
                await self._add_item_filter(index(space.dimensions))
        self._vector_index = True

    async def stored_space(self) -> Space | None:
        if self._space is None:
            raw = await self.client.get(self.keys.embedding_space())
            if raw is not None:
                self._space = Space(**orjson.loads(raw))
        return self._space

    async def read_space(self) -> Space | None:
        """The space as stored now: another process may have reset it (``memhead reindex``),
        and then the vector index known to exist may be gone."""
        raw = await self.client.get(self.keys.embedding_space())
        space = None if raw is None else Space(**orjson.loads(raw))
        if space != self._space:
            self._space, self._vector_index = space, False
        return space

    async def replace_space(self, space: Space) -> None:
        """Record ``space`` in place of the stored one (a reset, for a reindex), and drop the
        old space's vector index when it was of another dimension (its name holds it)."""
        value = orjson.dumps({"model": space.model, "dimensions": space.dimensions})
        before = await self.client.set(self.keys.embedding_space(), value, get=True)
        old = None if before is None else Space(**orjson.loads(cast(bytes, before)))
        if old is not None and old.dimensions != space.dimensions:
            for index in (self.keys.vector_index, self.keys.item_vector_index):
                try:
                    await self.ft("FT.DROPINDEX", index(old.dimensions))
                except ResponseError as exc:
                    text = str(exc).lower()
                    if "unknown index" not in text and "no such" not in text:
                        raise
        self._space, self._vector_index = space, False
        await self.ensure_vector_index(space)

    async def claim_space(self, model: str, dimensions: int) -> Space:
        """The store's space; the first caller ever fixes it (``SET NX``), others must match.
        Read afresh each time: a reindex elsewhere must stop this process's vectors."""
        wanted = Space(model, dimensions)
        space = await self.read_space()
        if space is None:
            value = orjson.dumps({"model": model, "dimensions": dimensions})
            before = await self.client.set(self.keys.embedding_space(), value, nx=True, get=True)
            space = wanted if before is None else Space(**orjson.loads(cast(bytes, before)))
            self._space = space
        if space != wanted:
            raise EmbeddingMismatch(
                f"this store holds vectors of {space.model} ({space.dimensions} dimensions); "
                f"the embedder is {model} ({dimensions} dimensions). Use the same model, "
                "or a new store."
            )
        return space
