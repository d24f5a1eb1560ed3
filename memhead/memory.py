"""The use cases: append, read memory, history, sessions, delete. Both APIs call only this."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memhead.errors import InvalidRequest, NotFound
from memhead.models import (
    Memory,
    Message,
    NewMessage,
    Session,
    SessionKey,
    SessionPatch,
    now_ms,
)
from memhead.stores.roles import Sessions
from memhead.text import NAME_PATTERN, check_name, check_text

SESSION_ID_PATTERN = NAME_PATTERN
"""Session ids follow the rules for names (``memhead.text``) with their own length limit."""
MAX_PAGE_SIZE = 1000
MAX_PAGE = 1_000_000


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may carry (each breach is a 400 that changes nothing)."""

    session_id_chars: int = 1024
    messages_per_append: int = 1000
    content_chars: int = 200_000


@dataclass(frozen=True, slots=True)
class SessionPage:
    sessions: list[Session]
    next_cursor: tuple[int, str] | None


class MemoryService:
    """Validates what the store cannot, and turns requests into store operations."""

    def __init__(self, store: Sessions, *, window: int, limits: Limits | None = None) -> None:
        self.store = store
        self.window = window
        self.limits = limits or Limits()

    def key(self, tenant: str, session_id: str) -> SessionKey:
        if not session_id:
            raise InvalidRequest("session id must not be empty")
        check_name(session_id, "session id", max_chars=self.limits.session_id_chars)
        return SessionKey(tenant, session_id)

    async def append(
        self,
        key: SessionKey,
        messages: Sequence[NewMessage],
        *,
        namespace: str | None = None,
        context: str | None = None,
    ) -> list[Message]:
        """Store messages (and optionally replace the summary) without waiting for any model."""
        if not messages:
            raise InvalidRequest("messages must not be empty")
        if len(messages) > self.limits.messages_per_append:
            raise InvalidRequest(f"at most {self.limits.messages_per_append} messages per request")
        if any(len(m.content) > self.limits.content_chars for m in messages):
            raise InvalidRequest(f"a message is longer than {self.limits.content_chars} characters")
        if context is not None:
            check_text(context, "context", max_chars=self.limits.content_chars)
        if namespace is not None:
            check_name(namespace, "namespace")
        return await self.store.append(
            key, messages, now=now_ms(), window=self.window, namespace=namespace, context=context
        )

    async def memory(self, key: SessionKey, lastn: int | None = None) -> Memory:
        """The window (newest first) and the session's summary state."""
        return await self.store.memory(key, self.window if lastn is None else lastn)

    async def history(
        self, key: SessionKey, *, before_seq: int | None, limit: int
    ) -> list[Message]:
        _check_limit(limit)
        return await self.store.history(key, before_seq=before_seq, limit=limit)

    async def session(self, key: SessionKey) -> Session:
        session = await self.store.get_session(key)
        if session is None:
            raise NotFound(f"session {key.session_id!r} not found")
        return session

    async def put_session(self, key: SessionKey, patch: SessionPatch) -> Session:
        return await self.store.put_session(key, patch, now=now_ms())

    async def delete(self, key: SessionKey) -> bool:
        """Delete the session and everything of it; deleting nothing is not an error."""
        return await self.store.delete_session(key)

    async def list_namespace(self, tenant: str, namespace: str, page: int, size: int) -> list[str]:
        """Motörhead's listing: ``page`` from 1, ``size`` 1..100, least recently written first."""
        if not 1 <= page <= MAX_PAGE:
            raise InvalidRequest(f"page must be between 1 and {MAX_PAGE}")
        if not 1 <= size <= 100:
            raise InvalidRequest("size must be between 1 and 100")
        if namespace:
            check_name(namespace, "namespace")
        return await self.store.list_namespace(
            tenant, namespace, offset=(page - 1) * size, limit=size
        )

    async def list_sessions(
        self,
        tenant: str,
        *,
        user_id: str | None,
        cursor: tuple[int, str] | None,
        limit: int,
        namespace: str | None = None,
    ) -> SessionPage:
        _check_limit(limit)
        sessions = await self.store.list_sessions(
            tenant, user_id=user_id, before=cursor, limit=limit + 1, namespace=namespace
        )
        if len(sessions) <= limit:
            return SessionPage(sessions, None)
        last = sessions[limit - 1]
        return SessionPage(sessions[:limit], (last.updated_at, last.id))


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE_SIZE}")
