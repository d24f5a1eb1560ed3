"""The shared store: Redis 8 (or Redis Stack >= 7.2), for many processes on many machines.

Every multi-key write is one Lua script (``scripts``), so it lands whole or not at all; key
names come from ``keyspace``. Times are the caller's (``now``), never the server's.
Connection failures and timeouts surface as ``BackendUnavailable`` after one quick reconnect
attempt; the connection pool reconnects by itself once Redis is back.

``RedisStore`` is the plumbing (client, layout check, search probe) and a table of
delegations to a module per role, each a set of functions over ``fields.Db`` (the memory
items' table is ``item_methods.RedisItems``, mixed in).
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import ResponseError

import memhead.stores.redis.api_keys as api_keys
import memhead.stores.redis.check as check
import memhead.stores.redis.compaction as compaction
import memhead.stores.redis.embedding as embedding
import memhead.stores.redis.item_upgrade as item_upgrade
import memhead.stores.redis.retention as retention
import memhead.stores.redis.search as search
import memhead.stores.redis.sessions as sessions
import memhead.stores.redis.user_tags as user_tags
from memhead.errors import ConfigError, SearchUnavailable
from memhead.models import (
    ApiKey,
    Hit,
    Memory,
    Message,
    NewMessage,
    PendingEmbedding,
    SearchScope,
    Session,
    SessionKey,
    SessionPatch,
)
from memhead.stores.redis.connection import TIMEOUT_S, connect, unavailable_as_503
from memhead.stores.redis.fields import Db
from memhead.stores.redis.indexes import Indexes
from memhead.stores.redis.item_methods import RedisItems
from memhead.stores.redis.keyspace import LAYOUT_VERSION, Keys
from memhead.stores.redis.lifecycle_methods import RedisLifecycle
from memhead.stores.redis.scripts import register

NO_SEARCH = (
    "search needs the Redis Query Engine (FT.* commands), which this Redis lacks: use Redis 8, "
    "or Redis Stack >= 7.2 (the RediSearch module)"
)


class RedisStore(RedisItems, RedisLifecycle):
    backend = "redis"

    def __init__(self, client: Redis, *, prefix: str = "memhead") -> None:
        """Use ``client`` (which must not decode responses); key names start with ``prefix``."""
        if client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ConfigError("RedisStore needs a client with decode_responses=False")
        self.client = client
        self.keys = Keys(prefix)
        self.has_search: bool | None = None
        """Whether the server has the query engine (``FT.*``); known after ``setup()``."""
        self._db = Db(client, self.keys, register(client))
        self._indexes = Indexes(client, self.keys)

    @classmethod
    def from_url(
        cls, url: str, prefix: str = "memhead", *, timeout_s: float = TIMEOUT_S
    ) -> RedisStore:
        """``redis://``, ``rediss://`` (TLS) or ``unix://``; timeouts, no blind retries."""
        client = connect(url, timeout_s)
        return cls(client, prefix=prefix)

    # -- Lifecycle ----------------------------------------------------------------------

    @unavailable_as_503
    async def setup(self) -> None:
        # Every check that can refuse comes before the first write: a refused setup leaves
        # nothing behind.
        self.has_search = await self._probe_search()
        if self.has_search:
            db = self.client.connection_pool.connection_kwargs.get("db", 0)
            if db not in (0, "0", None):
                raise ConfigError(
                    f"this Redis URL selects database {db}, but the query engine (search) "
                    "indexes only database 0: use a URL ending in /0 or with no database; "
                    f"memhead's keys are already kept apart under {self.keys.prefix!r}"
                )
        schema = self.keys.schema()
        await self.client.set(schema, LAYOUT_VERSION, nx=True)
        stored = await self.client.get(schema)
        if stored != str(LAYOUT_VERSION).encode():
            raise ConfigError(
                f"Redis keys under {self.keys.prefix!r} have layout {stored!r}; "
                f"this memhead reads layout {LAYOUT_VERSION}"
            )
        if self.has_search:
            await self._indexes.setup()
            await user_tags.backfill(self._db)
            await item_upgrade.backfill(self._db, self._indexes)
        await retention.backfill(self._db)

    async def _probe_search(self) -> bool:
        try:
            await self.client.execute_command("FT._LIST")  # type: ignore[no-untyped-call]
        except ResponseError:
            return False
        return True

    async def _searchable(self) -> Indexes:
        """The indexes, or ``SearchUnavailable`` when this Redis has no query engine."""
        if self.has_search is None:
            await self.setup()
        if not self.has_search:
            raise SearchUnavailable(NO_SEARCH)
        return self._indexes

    async def _has_search(self) -> bool:
        if self.has_search is None:
            await self.setup()
        return bool(self.has_search)

    async def close(self) -> None:
        await self.client.aclose()

    @unavailable_as_503
    async def ping(self) -> None:
        await self.client.ping()

    @unavailable_as_503
    async def check(self) -> list[str]:
        return await check.check(self.client, self.keys)

    # -- Sessions -----------------------------------------------------------------------

    @unavailable_as_503
    async def append(
        self,
        key: SessionKey,
        messages: Sequence[NewMessage],
        *,
        now: int,
        window: int,
        namespace: str | None = None,
        context: str | None = None,
    ) -> list[Message]:
        return await sessions.append(self._db, key, messages, now, window, namespace, context)

    @unavailable_as_503
    async def memory(self, key: SessionKey, window: int) -> Memory:
        return await sessions.memory(self._db, key, window)

    @unavailable_as_503
    async def history(
        self, key: SessionKey, *, before_seq: int | None, limit: int
    ) -> list[Message]:
        return await sessions.history(self._db, key, before_seq, limit)

    @unavailable_as_503
    async def span(self, key: SessionKey, *, after_seq: int, through_seq: int) -> list[Message]:
        return await sessions.span(self._db, key, after_seq, through_seq)

    @unavailable_as_503
    async def get_session(self, key: SessionKey) -> Session | None:
        return await sessions.get_session(self._db, key)

    @unavailable_as_503
    async def put_session(self, key: SessionKey, patch: SessionPatch, *, now: int) -> Session:
        return await sessions.put_session(self._db, key, patch, now)

    @unavailable_as_503
    async def delete_session(self, key: SessionKey) -> bool:
        return await sessions.delete_session(self._db, key)

    @unavailable_as_503
    async def list_namespace(
        self, tenant: str, namespace: str, *, offset: int, limit: int
    ) -> list[str]:
        return await sessions.list_namespace(self._db, tenant, namespace, offset, limit)

    @unavailable_as_503
    async def list_sessions(
        self,
        tenant: str,
        *,
        user_id: str | None,
        before: tuple[int, str] | None,
        limit: int,
        namespace: str | None = None,
    ) -> list[Session]:
        return await sessions.list_sessions(self._db, tenant, user_id, before, limit, namespace)

    # -- CompactionQueue ----------------------------------------------------------------

    @unavailable_as_503
    async def due_sessions(self, *, now: int, limit: int) -> list[SessionKey]:
        return await compaction.due_sessions(self._db, now, limit)

    @unavailable_as_503
    async def acquire_lease(self, key: SessionKey, *, owner: str, now: int, ttl_ms: int) -> bool:
        return await compaction.acquire_lease(self._db, key, owner, now, ttl_ms)

    @unavailable_as_503
    async def release_lease(self, key: SessionKey, *, owner: str) -> None:
        await compaction.release_lease(self._db, key, owner)

    @unavailable_as_503
    async def commit_summary(
        self,
        key: SessionKey,
        *,
        incarnation: str,
        expected_version: int,
        summary: str | None,
        upto_seq: int,
        tokens: int,
        now: int,
        window: int,
    ) -> bool:
        return await compaction.commit_summary(
            self._db, key, incarnation, expected_version, summary, upto_seq, tokens, now, window
        )

    @unavailable_as_503
    async def record_failure(
        self, key: SessionKey, *, incarnation: str, error: str, retry_at: int
    ) -> None:
        await compaction.record_failure(self._db, key, incarnation, error, retry_at)

    # -- SearchIndex --------------------------------------------------------------------

    @unavailable_as_503
    async def keyword_search(
        self, scope: SearchScope, terms: Sequence[str], limit: int
    ) -> list[Hit]:
        return await search.keyword_search(self._db, await self._searchable(), scope, terms, limit)

    @unavailable_as_503
    async def vector_search(
        self, scope: SearchScope, vector: Sequence[float], limit: int
    ) -> list[Hit]:
        return await search.vector_search(self._db, await self._searchable(), scope, vector, limit)

    @unavailable_as_503
    async def fetch(self, tenant: str, positions: Sequence[tuple[str, int]]) -> list[Hit]:
        return await search.fetch(self._db, tenant, positions)

    @unavailable_as_503
    async def similarities(
        self, tenant: str, positions: Sequence[tuple[str, int]], vector: Sequence[float]
    ) -> list[float | None]:
        return await search.similarities(self._db, tenant, positions, vector)

    # -- EmbeddingQueue -----------------------------------------------------------------

    @unavailable_as_503
    async def embedding_backlog(self, *, limit: int) -> list[PendingEmbedding]:
        await self._searchable()
        return await embedding.embedding_backlog(self._db, limit)

    @unavailable_as_503
    async def store_vectors(
        self, items: Sequence[tuple[PendingEmbedding, Sequence[float]]], *, model: str
    ) -> None:
        await embedding.store_vectors(self._db, await self._searchable(), items, model)

    @unavailable_as_503
    async def embedding_space(self) -> tuple[str, int] | None:
        return await embedding.embedding_space(self._db, self._indexes)

    @unavailable_as_503
    async def embedding_backlog_size(self) -> int:
        return await embedding.embedding_backlog_size(self._db) + await self._pending_items()

    @unavailable_as_503
    async def reset_vectors(self, *, model: str, dimensions: int) -> None:
        await embedding.reset_vectors(self._db, await self._searchable(), model, dimensions)

    # -- KeyStore -----------------------------------------------------------------------

    @unavailable_as_503
    async def create_key(self, key: ApiKey, *, key_hash: str) -> None:
        await api_keys.create_key(self._db, key, key_hash)

    @unavailable_as_503
    async def list_keys(self) -> list[ApiKey]:
        return await api_keys.list_keys(self._db)

    @unavailable_as_503
    async def tenant_for_key(self, key_hash: str) -> str | None:
        return await api_keys.tenant_for_key(self._db, key_hash)

    @unavailable_as_503
    async def revoke_key(self, key_id: str, *, now: int) -> bool:
        return await api_keys.revoke_key(self._db, key_id, now)
