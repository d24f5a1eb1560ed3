"""The store's roles for the data lifecycle (issue 20), kept beside ``roles`` (which names
them in ``Store``): retention (``Retention``) and moving data in (``Transfer``).

Reading data out (export) and erasing a user need no role of their own: they page through
``Sessions.list_sessions`` and ``Sessions.span`` and call ``Sessions.delete_session``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from memhead.models import Message, Session, SessionKey


class Retention(Protocol):
    """Sessions past their time to live, and the one sweep across processes: what the
    retention sweep (``memhead.retention``) uses.

    A session expires ``ttl`` after its last write (``updated_at``), where ``ttl`` is its own
    ``ttl_ms`` when set, else ``default_ttl_ms`` (``None``: sessions without their own TTL
    never expire); a ``ttl_ms`` of 0 never expires.
    """

    async def expired_sessions(
        self, *, now: int, default_ttl_ms: int | None, limit: int
    ) -> list[SessionKey]:
        """Sessions expired at ``now``, at most ``limit``, longest expired first."""

    async def expire_session(
        self, key: SessionKey, *, now: int, default_ttl_ms: int | None
    ) -> bool:
        """Delete the session and everything of it, as ``delete_session`` does, only if it
        is still expired at ``now`` (a write since it was listed keeps it), in one atomic
        operation; ``False`` when nothing was deleted."""

    async def acquire_job(self, name: str, *, owner: str, now: int, ttl_ms: int) -> bool:
        """Take (or extend) the store-wide lease named ``name`` unless another owner holds
        it unexpired: one process at a time runs that job."""

    async def release_job(self, name: str, *, owner: str) -> None:
        """Give the lease back if ``owner`` still holds it."""


class Transfer(Protocol):
    """Writing sessions as an export holds them: what ``memhead import`` uses. Each
    operation is idempotent, so an interrupted import can be run again from the start."""

    async def tenants(self) -> list[str]:
        """Every tenant that has a session, sorted."""

    async def import_session(self, key: SessionKey, session: Session) -> None:
        """Create the session or set its record to ``session``'s namespace, user id,
        metadata, times and ``ttl_ms`` (its listings follow); messages and summary stay."""

    async def import_messages(
        self, key: SessionKey, messages: Sequence[Message], *, window: int
    ) -> int:
        """Store messages at their own ``seq`` (ascending, each at most one past the
        session's last seq; others raise ``InvalidRequest``) in one atomic operation,
        skipping seqs already stored; each is queued for embedding and the session's
        ``updated_at`` is kept. The session (which must exist: ``import_session`` first)
        becomes due when more than ``window`` messages are unsummarized. Returns how many
        were stored."""

    async def import_summary(
        self, key: SessionKey, *, summary: str | None, upto_seq: int, tokens: int, window: int
    ) -> None:
        """Set the summary, ``upto_seq`` (at most the session's last seq, else
        ``InvalidRequest``) and tokens; the session is due when more than ``window``
        messages remain unsummarized, and not due otherwise."""
