"""The embedded store: one SQLite file in WAL mode, written from a single worker thread.

Each store operation runs whole on that thread, so a request costs one hop off the event
loop however many statements it takes; operations queued together share one transaction
(``batches``). Several processes may share one file: writes take the lock with
``BEGIN IMMEDIATE`` and wait up to ``busy_timeout``. Searches read on a pool of reader
connections instead (``readers``), beside the writes.

``SqliteStore`` is the plumbing (connection, thread, checkpoints) and a table of
delegations: each operation is a function of its role's module, run on the store's thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import memhead.stores.sqlite.api_keys as api_keys
import memhead.stores.sqlite.check as check
import memhead.stores.sqlite.compaction as compaction
import memhead.stores.sqlite.embedding as embedding
import memhead.stores.sqlite.search as search
import memhead.stores.sqlite.sessions as sessions
from memhead.errors import ConfigError
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
from memhead.stores.sqlite.batches import BatchRunner, Checkpointer, writing
from memhead.stores.sqlite.item_store import SqliteItems
from memhead.stores.sqlite.item_vector_cache import ItemVectorCache
from memhead.stores.sqlite.lifecycle_methods import SqliteLifecycle
from memhead.stores.sqlite.readers import ReaderPool
from memhead.stores.sqlite.schema import migrate
from memhead.stores.sqlite.vector_cache import VectorCache

T = TypeVar("T")

WRITER_CHECKPOINT_PAGES = 4000
"""The writer's own checkpoint (the one that lets the WAL start over, see ``Checkpointer``)
runs once the WAL holds this many pages. Each one stalls the queue for its fsyncs, but a
longer WAL slows every read that misses the page cache (SQLite's docs: readers search the WAL
index, which grows with it). Tried 16,000: single-run p99s within the noise (27-30 ms
against 29-31), and in one bench/load run the summarizing side fell to 2.5-4.3k req/s from
4.9-5.3k (a noisy run, but no gain to set against it)."""


def path_from_url(url: str) -> str:
    """``sqlite:///rel.db`` is relative, ``sqlite:////abs.db`` absolute, ``sqlite://:memory:``."""
    if url in ("sqlite://:memory:", "sqlite:///:memory:"):
        return ":memory:"
    if not url.startswith("sqlite:///") or len(url) == len("sqlite:///"):
        raise ConfigError(f"invalid SQLite URL {url!r}: use sqlite:///path/to/file.db")
    return url[len("sqlite:///") :]


def _ping(conn: sqlite3.Connection) -> None:
    """Ready means writable: take the write lock (within ``busy_timeout``) and let go."""
    with writing(conn):
        conn.execute("SELECT 1").fetchone()


class SqliteStore(SqliteItems, SqliteLifecycle):
    backend = "sqlite"

    def __init__(
        self,
        path: str,
        *,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = 5000,
        vector_cache_bytes: int = 512 * 1024 * 1024,
    ):
        self.path = path
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._vectors = VectorCache(vector_cache_bytes)
        self._item_vectors = ItemVectorCache(vector_cache_bytes)
        # A search in a batch that is then rolled back may have cached vectors that were
        # never committed; the caches are keyed by the session's vector count and by the
        # tenant's highest vector number, which the next write can bring back to the same
        # number with other vectors.
        self._runner = BatchRunner(
            self._connect, name="memhead-sqlite", on_rollback=self._forget_vectors
        )
        self._checkpointer = Checkpointer(self._connect)
        self._readers = ReaderPool(self._connect)

    @classmethod
    def from_url(
        cls, url: str, *, synchronous: str = "NORMAL", vector_cache_bytes: int = 512 * 1024 * 1024
    ) -> SqliteStore:
        return cls(
            path_from_url(url), synchronous=synchronous, vector_cache_bytes=vector_cache_bytes
        )

    def _forget_vectors(self) -> None:
        self._vectors.clear()
        self._item_vectors.clear()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=0)
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        return conn

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(conn, *args)`` on the store's thread, in the transaction of its batch."""
        result: T = await self._runner.submit(fn, *args)
        return result

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(conn, *args)`` in a read transaction on a reader thread (on the store's thread
        for an in-memory database, which no other connection can see)."""
        if self.path == ":memory:":
            return await self._run(fn, *args)
        return await self._readers.run(fn, *args)

    # -- Lifecycle ----------------------------------------------------------------------

    async def setup(self) -> None:
        await self._run(migrate)
        if self.path != ":memory:":  # most checkpointing moves to its own thread
            self._checkpointer.start()
            await self._run(
                lambda conn: conn.execute(f"PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}")
            )

    async def close(self) -> None:
        await asyncio.to_thread(self._checkpointer.stop)
        await asyncio.to_thread(self._readers.stop)
        await asyncio.to_thread(self._runner.stop)

    async def ping(self) -> None:
        await self._run(_ping)

    async def check(self) -> list[str]:
        return await self._run(check.check)

    # -- Sessions -----------------------------------------------------------------------

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
        return await self._run(sessions.append, key, messages, now, window, namespace, context)

    async def memory(self, key: SessionKey, window: int) -> Memory:
        return await self._run(sessions.memory, key, window)

    async def history(
        self, key: SessionKey, *, before_seq: int | None, limit: int
    ) -> list[Message]:
        return await self._run(sessions.history, key, before_seq, limit)

    async def span(self, key: SessionKey, *, after_seq: int, through_seq: int) -> list[Message]:
        return await self._run(sessions.span, key, after_seq, through_seq)

    async def get_session(self, key: SessionKey) -> Session | None:
        return await self._run(sessions.get_session, key)

    async def put_session(self, key: SessionKey, patch: SessionPatch, *, now: int) -> Session:
        return await self._run(sessions.put_session, key, patch, now)

    async def delete_session(self, key: SessionKey) -> bool:
        return await self._run(sessions.delete_session, key)

    async def list_namespace(
        self, tenant: str, namespace: str, *, offset: int, limit: int
    ) -> list[str]:
        return await self._run(sessions.list_namespace, tenant, namespace, offset, limit)

    async def list_sessions(
        self,
        tenant: str,
        *,
        user_id: str | None,
        before: tuple[int, str] | None,
        limit: int,
        namespace: str | None = None,
    ) -> list[Session]:
        return await self._run(sessions.list_sessions, tenant, user_id, before, limit, namespace)

    # -- CompactionQueue ----------------------------------------------------------------

    async def due_sessions(self, *, now: int, limit: int) -> list[SessionKey]:
        return await self._run(compaction.due_sessions, now, limit)

    async def acquire_lease(self, key: SessionKey, *, owner: str, now: int, ttl_ms: int) -> bool:
        return await self._run(compaction.acquire_lease, key, owner, now, ttl_ms)

    async def release_lease(self, key: SessionKey, *, owner: str) -> None:
        await self._run(compaction.release_lease, key, owner)

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
        return await self._run(
            compaction.commit_summary,
            *(key, incarnation, expected_version, summary, upto_seq, tokens, now, window),
        )

    async def record_failure(
        self, key: SessionKey, *, incarnation: str, error: str, retry_at: int
    ) -> None:
        await self._run(compaction.record_failure, key, incarnation, error, retry_at)

    # -- SearchIndex --------------------------------------------------------------------

    async def keyword_search(
        self, scope: SearchScope, terms: Sequence[str], limit: int
    ) -> list[Hit]:
        return await self._read(search.keyword_search, scope, terms, limit)

    async def vector_search(
        self, scope: SearchScope, vector: Sequence[float], limit: int
    ) -> list[Hit]:
        return await self._read(search.vector_search, self._vectors, scope, vector, limit)

    async def fetch(self, tenant: str, positions: Sequence[tuple[str, int]]) -> list[Hit]:
        return await self._read(search.fetch, tenant, positions)

    async def similarities(
        self, tenant: str, positions: Sequence[tuple[str, int]], vector: Sequence[float]
    ) -> list[float | None]:
        return await self._read(search.similarities, tenant, positions, vector)

    # -- EmbeddingQueue -----------------------------------------------------------------

    async def embedding_backlog(self, *, limit: int) -> list[PendingEmbedding]:
        return await self._run(embedding.embedding_backlog, limit)

    async def store_vectors(
        self, items: Sequence[tuple[PendingEmbedding, Sequence[float]]], *, model: str
    ) -> None:
        await self._run(embedding.store_vectors, items, model)

    async def embedding_space(self) -> tuple[str, int] | None:
        return await self._read(embedding.embedding_space)

    async def embedding_backlog_size(self) -> int:
        return await self._run(embedding.embedding_backlog_size)

    async def reset_vectors(self, *, model: str, dimensions: int) -> None:
        def reset(conn: sqlite3.Connection) -> None:
            embedding.reset_vectors(conn, model, dimensions)
            self._forget_vectors()  # matrices of another space; the counters restart from 0

        await self._run(reset)

    # -- KeyStore -----------------------------------------------------------------------

    async def create_key(self, key: ApiKey, *, key_hash: str) -> None:
        await self._run(api_keys.create_key, key, key_hash)

    async def list_keys(self) -> list[ApiKey]:
        return await self._run(api_keys.list_keys)

    async def revoke_key(self, key_id: str, *, now: int) -> bool:
        return await self._run(api_keys.revoke_key, key_id, now)

    async def tenant_for_key(self, key_hash: str) -> str | None:
        return await self._run(api_keys.tenant_for_key, key_hash)
