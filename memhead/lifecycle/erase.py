"""Erasing a user: every session of the user with everything of it (messages, summary,
vectors, keyword entries, leases, listing entries), through ``delete_session``. Idempotent:
erasing again finds nothing and answers zeros. Memory items, once they exist, are one more
step here (the namespaces the request names)."""

from __future__ import annotations

from dataclasses import dataclass

from memhead.models import SessionKey
from memhead.stores.roles import Sessions

PAGE = 100


@dataclass(slots=True)
class Erased:
    """What an erase deleted."""

    sessions: int = 0
    messages: int = 0
    summaries: int = 0


async def erase_user(store: Sessions, tenant: str, user_id: str) -> Erased:
    """Delete every session of ``user_id`` in ``tenant``; sessions the user starts while this
    runs are deleted too if it reaches them (run it again to be sure after the last one)."""
    erased = Erased()
    while True:
        page = await store.list_sessions(tenant, user_id=user_id, before=None, limit=PAGE)
        deleted = 0
        for session in page:
            if await store.delete_session(SessionKey(tenant, session.id)):
                deleted += 1
                erased.messages += session.last_seq
                erased.summaries += session.summary is not None
        erased.sessions += deleted
        if len(page) < PAGE or deleted == 0:
            return erased
