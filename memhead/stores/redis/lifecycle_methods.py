"""``RedisStore``'s half for the data lifecycle roles (``memhead.stores.data_roles``:
``Retention``, ``Transfer``): a delegation per operation to ``retention`` and ``transfer``."""

from __future__ import annotations

from collections.abc import Sequence

import memhead.stores.redis.retention as retention
import memhead.stores.redis.transfer as transfer
from memhead.models import Message, Session, SessionKey
from memhead.stores.redis.connection import unavailable_as_503
from memhead.stores.redis.fields import Db


class RedisLifecycle:
    """Mixed into the store class, which provides ``_db``."""

    _db: Db

    @unavailable_as_503
    async def expired_sessions(
        self, *, now: int, default_ttl_ms: int | None, limit: int
    ) -> list[SessionKey]:
        return await retention.expired_sessions(self._db, now, default_ttl_ms, limit)

    @unavailable_as_503
    async def expire_session(
        self, key: SessionKey, *, now: int, default_ttl_ms: int | None
    ) -> bool:
        return await retention.expire_session(self._db, key, now, default_ttl_ms)

    @unavailable_as_503
    async def acquire_job(self, name: str, *, owner: str, now: int, ttl_ms: int) -> bool:
        return await retention.acquire_job(self._db, name, owner, now, ttl_ms)

    @unavailable_as_503
    async def release_job(self, name: str, *, owner: str) -> None:
        await retention.release_job(self._db, name, owner)

    @unavailable_as_503
    async def tenants(self) -> list[str]:
        return await transfer.tenants(self._db)

    @unavailable_as_503
    async def import_session(self, key: SessionKey, session: Session) -> None:
        await transfer.import_session(self._db, key, session)

    @unavailable_as_503
    async def import_messages(
        self, key: SessionKey, messages: Sequence[Message], *, window: int
    ) -> int:
        return await transfer.import_messages(self._db, key, messages, window)

    @unavailable_as_503
    async def import_summary(
        self, key: SessionKey, *, summary: str | None, upto_seq: int, tokens: int, window: int
    ) -> None:
        await transfer.import_summary(self._db, key, summary, upto_seq, tokens, window)
