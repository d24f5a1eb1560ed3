"""Erasing a user: every session of the user with everything of it (messages, summary,
vectors, keyword entries, leases, listing entries), through ``delete_session``, and every
memory item under the namespaces the request names (items have no user: the caller says
where the user's items live, e.g. ``("users", "ada")``). Idempotent: erasing again finds
nothing and answers zeros."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memhead.lifecycle.export import TenantStore
from memhead.models import ItemKey, Namespace, SessionKey, now_ms
from memhead.stores.item_roles import ItemStore
from memhead.stores.roles import Sessions

PAGE = 100


@dataclass(slots=True)
class Erased:
    """What an erase deleted."""

    sessions: int = 0
    messages: int = 0
    summaries: int = 0
    items: int = 0


async def erase_user(
    store: TenantStore, tenant: str, user_id: str, namespaces: Sequence[Namespace] = ()
) -> Erased:
    """Delete every session of ``user_id`` in ``tenant``, and every item under each of
    ``namespaces`` (prefixes by whole labels, already checked); sessions and items written
    while this runs are deleted too if it reaches them (run it again to be sure after the
    last one)."""
    erased = await _erase_sessions(store, tenant, user_id)
    for prefix in namespaces:
        erased.items += await _erase_items(store, tenant, prefix)
    return erased


async def _erase_sessions(store: Sessions, tenant: str, user_id: str) -> Erased:
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


async def _erase_items(store: ItemStore, tenant: str, prefix: Namespace) -> int:
    """Live items only: an expired one is never shown again and the item sweep deletes it."""
    erased = 0
    while True:
        page = await store.list_items(
            tenant, prefix, filter=None, now=now_ms(), offset=0, limit=PAGE
        )
        deleted = 0
        for item in page:
            deleted += await store.delete_item(ItemKey(tenant, item.namespace, item.key))
        erased += deleted
        if len(page) < PAGE or deleted == 0:
            return erased
