"""A store that times every operation into ``Metrics.store_latency``, by backend and
operation, and otherwise is the store it wraps (same roles, same behaviour).

Each operation is written out, so the type checker holds this class to the ``Store``
protocol like any backend: a role's new operation that is missing here fails ``mypy``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import TracebackType

from memhead.metrics import HotHistogram, Metrics
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
from memhead.stores.instrumented_items import InstrumentedItems
from memhead.stores.roles import Store


class _Timing:
    """Adds the time spent in its ``with`` block to one histogram series."""

    __slots__ = ("series", "start")

    def __init__(self, series: list[float]) -> None:
        self.series = series
        self.start = 0.0

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        HotHistogram.observe(self.series, time.perf_counter() - self.start)


class InstrumentedStore(InstrumentedItems):
    def __init__(self, store: Store, metrics: Metrics) -> None:
        self.store = store
        self.backend = store.backend
        self._histogram = metrics.store_latency
        self._series: dict[str, list[float]] = {}

    def _timed(self, operation: str) -> _Timing:
        series = self._series.get(operation)
        if series is None:
            series = self._series[operation] = self._histogram.child((self.backend, operation))
        return _Timing(series)

    # -- Lifecycle ----------------------------------------------------------------------

    async def setup(self) -> None:
        with self._timed("setup"):
            await self.store.setup()

    async def close(self) -> None:
        with self._timed("close"):
            await self.store.close()

    async def ping(self) -> None:
        with self._timed("ping"):
            await self.store.ping()

    async def check(self) -> list[str]:
        with self._timed("check"):
            return await self.store.check()

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
        with self._timed("append"):
            return await self.store.append(
                key, messages, now=now, window=window, namespace=namespace, context=context
            )

    async def memory(self, key: SessionKey, window: int) -> Memory:
        with self._timed("memory"):
            return await self.store.memory(key, window)

    async def history(
        self, key: SessionKey, *, before_seq: int | None, limit: int
    ) -> list[Message]:
        with self._timed("history"):
            return await self.store.history(key, before_seq=before_seq, limit=limit)

    async def span(self, key: SessionKey, *, after_seq: int, through_seq: int) -> list[Message]:
        with self._timed("span"):
            return await self.store.span(key, after_seq=after_seq, through_seq=through_seq)

    async def get_session(self, key: SessionKey) -> Session | None:
        with self._timed("get_session"):
            return await self.store.get_session(key)

    async def put_session(self, key: SessionKey, patch: SessionPatch, *, now: int) -> Session:
        with self._timed("put_session"):
            return await self.store.put_session(key, patch, now=now)

    async def delete_session(self, key: SessionKey) -> bool:
        with self._timed("delete_session"):
            return await self.store.delete_session(key)

    async def list_namespace(
        self, tenant: str, namespace: str, *, offset: int, limit: int
    ) -> list[str]:
        with self._timed("list_namespace"):
            return await self.store.list_namespace(tenant, namespace, offset=offset, limit=limit)

    async def list_sessions(
        self,
        tenant: str,
        *,
        user_id: str | None,
        before: tuple[int, str] | None,
        limit: int,
        namespace: str | None = None,
    ) -> list[Session]:
        with self._timed("list_sessions"):
            return await self.store.list_sessions(
                tenant, user_id=user_id, before=before, limit=limit, namespace=namespace
            )

    # -- CompactionQueue ----------------------------------------------------------------

    async def due_sessions(self, *, now: int, limit: int) -> list[SessionKey]:
        with self._timed("due_sessions"):
            return await self.store.due_sessions(now=now, limit=limit)

    async def acquire_lease(self, key: SessionKey, *, owner: str, now: int, ttl_ms: int) -> bool:
        with self._timed("acquire_lease"):
            return await self.store.acquire_lease(key, owner=owner, now=now, ttl_ms=ttl_ms)

    async def release_lease(self, key: SessionKey, *, owner: str) -> None:
        with self._timed("release_lease"):
            await self.store.release_lease(key, owner=owner)

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
        with self._timed("commit_summary"):
            return await self.store.commit_summary(
                key,
                incarnation=incarnation,
                expected_version=expected_version,
                summary=summary,
                upto_seq=upto_seq,
                tokens=tokens,
                now=now,
                window=window,
            )

    async def record_failure(
        self, key: SessionKey, *, incarnation: str, error: str, retry_at: int
    ) -> None:
        with self._timed("record_failure"):
            await self.store.record_failure(
                key, incarnation=incarnation, error=error, retry_at=retry_at
            )

    # -- SearchIndex --------------------------------------------------------------------

    async def keyword_search(
        self, scope: SearchScope, terms: Sequence[str], limit: int
    ) -> list[Hit]:
        with self._timed("keyword_search"):
            return await self.store.keyword_search(scope, terms, limit)

    async def vector_search(
        self, scope: SearchScope, vector: Sequence[float], limit: int
    ) -> list[Hit]:
        with self._timed("vector_search"):
            return await self.store.vector_search(scope, vector, limit)

    async def fetch(self, tenant: str, positions: Sequence[tuple[str, int]]) -> list[Hit]:
        with self._timed("fetch"):
            return await self.store.fetch(tenant, positions)

    async def similarities(
        self, tenant: str, positions: Sequence[tuple[str, int]], vector: Sequence[float]
    ) -> list[float | None]:
        with self._timed("similarities"):
            return await self.store.similarities(tenant, positions, vector)

    # -- EmbeddingQueue -----------------------------------------------------------------

    async def embedding_backlog(self, *, limit: int) -> list[PendingEmbedding]:
        with self._timed("embedding_backlog"):
            return await self.store.embedding_backlog(limit=limit)

    async def store_vectors(
        self, items: Sequence[tuple[PendingEmbedding, Sequence[float]]], *, model: str
    ) -> None:
        with self._timed("store_vectors"):
            await self.store.store_vectors(items, model=model)

    async def embedding_space(self) -> tuple[str, int] | None:
        with self._timed("embedding_space"):
            return await self.store.embedding_space()

    async def embedding_backlog_size(self) -> int:
        with self._timed("embedding_backlog_size"):
            return await self.store.embedding_backlog_size()

    async def reset_vectors(self, *, model: str, dimensions: int) -> None:
        with self._timed("reset_vectors"):
            await self.store.reset_vectors(model=model, dimensions=dimensions)

    # -- KeyStore -----------------------------------------------------------------------

    async def create_key(self, key: ApiKey, *, key_hash: str) -> None:
        with self._timed("create_key"):
            await self.store.create_key(key, key_hash=key_hash)

    async def list_keys(self) -> list[ApiKey]:
        with self._timed("list_keys"):
            return await self.store.list_keys()

    async def revoke_key(self, key_id: str, *, now: int) -> bool:
        with self._timed("revoke_key"):
            return await self.store.revoke_key(key_id, now=now)

    async def tenant_for_key(self, key_hash: str) -> str | None:
        with self._timed("tenant_for_key"):
            return await self.store.tenant_for_key(key_hash)

    # -- Data lifecycle (issue 20): Retention, Transfer ----------------------------------

    async def expired_sessions(
        self, *, now: int, default_ttl_ms: int | None, limit: int
    ) -> list[SessionKey]:
        with self._timed("expired_sessions"):
            return await self.store.expired_sessions(
                now=now, default_ttl_ms=default_ttl_ms, limit=limit
            )

    async def expire_session(
        self, key: SessionKey, *, now: int, default_ttl_ms: int | None
    ) -> bool:
        with self._timed("expire_session"):
            return await self.store.expire_session(key, now=now, default_ttl_ms=default_ttl_ms)

    async def acquire_job(self, name: str, *, owner: str, now: int, ttl_ms: int) -> bool:
        with self._timed("acquire_job"):
            return await self.store.acquire_job(name, owner=owner, now=now, ttl_ms=ttl_ms)

    async def release_job(self, name: str, *, owner: str) -> None:
        with self._timed("release_job"):
            await self.store.release_job(name, owner=owner)

    async def tenants(self) -> list[str]:
        with self._timed("tenants"):
            return await self.store.tenants()

    async def import_session(self, key: SessionKey, session: Session) -> None:
        with self._timed("import_session"):
            await self.store.import_session(key, session)

    async def import_messages(
        self, key: SessionKey, messages: Sequence[Message], *, window: int
    ) -> int:
        with self._timed("import_messages"):
            return await self.store.import_messages(key, messages, window=window)

    async def import_summary(
        self, key: SessionKey, *, summary: str | None, upto_seq: int, tokens: int, window: int
    ) -> None:
        with self._timed("import_summary"):
            await self.store.import_summary(
                key, summary=summary, upto_seq=upto_seq, tokens=tokens, window=window
            )
