"""Export: every session of a tenant (or one user), its messages and its summary, as JSON
lines (``records``), streamed page by page so memory stays flat whatever the store holds (items:
one namespace at a time, which is read whole to be sorted by key).

Order: tenants by name; within one, sessions most recently written first (ties by id,
descending: the order of ``list_sessions``); each session's line, then its messages by seq,
then its summary; after the sessions, the tenant's live memory items by namespace (label by
label), then key. Items have no user: a user's export holds none. An import keeps every
time, so exporting the import gives the same bytes.
Each session is exported as it was when its page was read (messages through its
``last_seq`` then); a session written while the export runs moves to the head of the
order, so it is left out if the export had not reached it yet: for a point-in-time copy
of a whole store, use ``memhead backup`` (SQLite) or the Redis procedure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from memhead.lifecycle.records import (
    item_record,
    line,
    message_record,
    session_record,
    summary_record,
)
from memhead.models import Item, Namespace, Session, SessionKey, now_ms
from memhead.stores.data_roles import Transfer
from memhead.stores.item_roles import ItemStore
from memhead.stores.roles import Sessions

SESSION_PAGE = 100
MESSAGE_PAGE = 500
ITEM_PAGE = 500


class TenantStore(Sessions, ItemStore, Protocol):
    """What one tenant's export reads."""


class ExportStore(TenantStore, Transfer, Protocol):
    """What an export of every tenant reads."""


async def export_lines(
    store: TenantStore, tenant: str, *, user_id: str | None = None
) -> AsyncIterator[bytes]:
    """The lines of one tenant's export (one user's when ``user_id`` is given)."""
    before: tuple[int, str] | None = None
    while True:
        page = await store.list_sessions(tenant, user_id=user_id, before=before, limit=SESSION_PAGE)
        for session in page:
            async for out in _session_lines(store, tenant, session):
                yield out
        if len(page) < SESSION_PAGE:
            break
        before = (page[-1].updated_at, page[-1].id)
    if user_id is None:
        now = now_ms()
        for namespace in await store.item_namespaces(tenant, (), now=now):
            for item in await _items_in(store, tenant, namespace, now):
                yield line(item_record(tenant, item))


async def _items_in(store: ItemStore, tenant: str, namespace: Namespace, now: int) -> list[Item]:
    """The live items of exactly ``namespace``, by key. The store lists a prefix (this one
    and those below it) by time, so one namespace is read whole and sorted here."""
    found: list[Item] = []
    offset = 0
    while True:
        page = await store.list_items(
            tenant, namespace, filter=None, now=now, offset=offset, limit=ITEM_PAGE
        )
        found += [item for item in page if item.namespace == namespace]
        if len(page) < ITEM_PAGE:
            return sorted(found, key=lambda item: item.key)
        offset += ITEM_PAGE


async def _session_lines(store: Sessions, tenant: str, s: Session) -> AsyncIterator[bytes]:
    yield line(session_record(tenant, s))
    key = SessionKey(tenant, s.id)
    for after in range(0, s.last_seq, MESSAGE_PAGE):
        through = min(after + MESSAGE_PAGE, s.last_seq)
        for m in await store.span(key, after_seq=after, through_seq=through):
            yield line(message_record(tenant, s.id, m))
    summary = summary_record(tenant, s)
    if summary is not None:
        yield line(summary)


async def export_store(
    store: ExportStore, *, tenant: str | None = None, user_id: str | None = None
) -> AsyncIterator[bytes]:
    """The lines of every tenant's export (``tenant``: that one only)."""
    for name in [tenant] if tenant is not None else await store.tenants():
        async for out in export_lines(store, name, user_id=user_id):
            yield out
