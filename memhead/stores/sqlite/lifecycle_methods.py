"""``SqliteStore``'s half for the data lifecycle roles (``memhead.stores.data_roles``:
``Retention``, ``Transfer``): a line per operation, each a function of ``retention`` or
``transfer`` run on the store's thread."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import memhead.stores.sqlite.retention as retention
import memhead.stores.sqlite.transfer as transfer
from memhead.models import Message, Session, SessionKey

T = TypeVar("T")


class SqliteLifecycle:
    """Mixed into the store class, which provides ``_run``."""

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError  # SqliteStore's

    async def expired_sessions(
        self, *, now: int, default_ttl_ms: int | None, limit: int
    ) -> list[SessionKey]:
        return await self._run(retention.expired_sessions, now, default_ttl_ms, limit)

    async def expire_session(
        self, key: SessionKey, *, now: int, default_ttl_ms: int | None
    ) -> bool:
        return await self._run(retention.expire_session, key, now, default_ttl_ms)

    async def acquire_job(self, name: str, *, owner: str, now: int, ttl_ms: int) -> bool:
        return await self._run(retention.acquire_job, name, owner, now, ttl_ms)

    async def release_job(self, name: str, *, owner: str) -> None:
        await self._run(retention.release_job, name, owner)

    async def tenants(self) -> list[str]:
        return await self._run(transfer.tenants)

    async def import_session(self, key: SessionKey, session: Session) -> None:
        await self._run(transfer.import_session, key, session)

    async def import_messages(
        self, key: SessionKey, messages: Sequence[Message], *, window: int
    ) -> int:
        return await self._run(transfer.import_messages, key, messages, window)

    async def import_summary(
        self, key: SessionKey, *, summary: str | None, upto_seq: int, tokens: int, window: int
    ) -> None:
        await self._run(transfer.import_summary, key, summary, upto_seq, tokens, window)
