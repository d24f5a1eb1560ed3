"""The ``ItemStore`` role on Redis: puts, reads, listings, refreshes and the sweep of memory
items (searches are in ``item_search``, vectors in ``item_embedding``, the layout in
``item_records``). Every write is one Lua script; listings are queries of ``P:iidx``, which
holds each item's scope, expiry and order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any, cast

import orjson

from memhead.items.filters import matches
from memhead.models import Item, ItemKey, JSONObject, Namespace, NewItem
from memhead.stores.redis.fields import Db
from memhead.stores.redis.item_filters import value_tokens
from memhead.stores.redis.item_records import (
    NEVER,
    RECORD_FIELDS,
    key_of_order,
    namespace_of,
    ns_code,
    order,
    record_item,
    scope_tag,
    scope_tags,
)
from memhead.stores.redis.replies import groups, rows
from memhead.stores.redis.text import fold

LIST_BATCH = 200
"""Items read per query while a filtered listing fills its page."""


async def ft(db: Db, *args: Any) -> Any:
    """An ``FT.*`` command (redis-py types them loosely)."""
    return await db.client.execute_command(*args)  # type: ignore[no-untyped-call]


def live_in(tenant: str, prefix: Namespace, now: int, pushed: str = "") -> str:
    """The query clauses for the live items of ``tenant`` under ``prefix`` (and ``pushed``,
    the clauses of a filter, ``item_filters``)."""
    return f"@scope_tag:{{{scope_tag(tenant, prefix)}}} @live_until:[({now} +inf] {pushed}"


async def put_item(
    db: Db, key: ItemKey, item: NewItem, now: int, kept: tuple[int | None, int | None]
) -> Item:
    """``kept``: an import's ``created_at`` and ``expires_at`` (``None``: the put's own)."""
    text, ttl = item.text, item.ttl_ms
    expires_at = None if ttl is None else kept[1] or now + ttl
    created = await db.scripts.put_item(
        keys=db.keys.item_set(key),
        args=[
            *(now, key.tenant, ns_code(key.namespace), key.key, orjson.dumps(item.value)),
            *(
                "" if ttl is None else ttl,
                NEVER if expires_at is None else expires_at,
                uuid.uuid4().hex,
            ),
            *("0" if text is None else "1", text or "", fold(text or "")),
            *(scope_tags(key.tenant, key.namespace), order(now, key.namespace, key.key)),
            "" if kept[0] is None else kept[0],
            value_tokens(item.value),
            db.keys.item_order_base(),
        ],
    )
    return Item(key.namespace, key.key, item.value, int(created), now, expires_at, ttl)


async def get_item(db: Db, key: ItemKey, now: int, refresh: bool) -> Item | None:
    values = await db.scripts.get_item(
        keys=[db.keys.item(key)], args=[now, "1" if refresh else "0", *RECORD_FIELDS]
    )
    return None if values is None else record_item(values)


async def delete_item(db: Db, key: ItemKey, now: int) -> bool:
    args: list[str | int] = [now, "0", db.keys.item_order_base()]
    return bool(await db.scripts.delete_item(keys=db.keys.item_set(key), args=args))


async def records(db: Db, names: Sequence[bytes | str]) -> list[Item | None]:
    """The items whose records (or keyword entries, or vectors) ``names`` are, read in one
    round trip; ``None`` for one gone meanwhile."""
    async with db.client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hmget(db.keys.item(db.keys.item_of(name)), RECORD_FIELDS)
        found: list[list[bytes | None]] = await pipe.execute()
    return [None if values[0] is None else record_item(values) for values in found]


def passes(item: Item | None, filter: JSONObject | None, now: int) -> bool:
    """Whether a candidate read back is live and passes ``filter``."""
    if item is None or (item.expires_at is not None and item.expires_at <= now):
        return False
    return matches(item.value, filter)


async def _listed(db: Db, query: str, start: int, count: int) -> list[Item]:
    reply = await ft(
        db,
        *("FT.SEARCH", db.keys.item_index(), query, "SORTBY", "order", "ASC"),
        *("RETURN", len(RECORD_FIELDS), *RECORD_FIELDS, "LIMIT", start, count, "DIALECT", 2),
    )
    return [
        record_item([fields.get(f.encode()) for f in RECORD_FIELDS]) for _, _, fields in rows(reply)
    ]


async def _from_order_set(
    db: Db, tenant: str, prefix: Namespace, filter: JSONObject | None, now: int, wanted: int
) -> list[Item]:
    """The first ``wanted`` live items passing ``filter``, read from the prefix's order set
    a batch at a time (an expired item stays there until the sweep deletes it)."""
    name = db.keys.item_order(scope_tag(tenant, prefix))
    kept: list[Item] = []
    start, batch = 0, wanted if not filter else max(wanted, LIST_BATCH)
    while True:
        members = cast(list[bytes], await db.client.zrange(name, start, start + batch - 1))
        found = await records(db, [db.keys.item(key_of_order(tenant, m)) for m in members])
        kept += [item for item in found if item is not None and passes(item, filter, now)]
        if len(kept) >= wanted or len(members) < batch:
            return kept[:wanted]
        start, batch = start + batch, max(batch, LIST_BATCH)


async def list_items(
    db: Db,
    tenant: str,
    prefix: Namespace,
    filter: JSONObject | None,
    now: int,
    page: tuple[int, int],
    pushed: str | None,
) -> list[Item]:
    """``pushed``: ``None`` before every item is in the order sets (``item_upgrade``), else
    the query clauses of ``filter`` the engine can check (``item_filters``). With clauses,
    the engine picks and sorts the items; without, the order set gives them in order.
    Either way pages are read from the start until enough items pass ``filter`` (its
    semantics are Python's, ``filters.matches``)."""
    offset, limit = page
    if limit <= 0:
        return []
    if pushed == "":
        return (await _from_order_set(db, tenant, prefix, filter, now, offset + limit))[offset:]
    query = live_in(tenant, prefix, now, pushed or "")
    if not filter:
        return await _listed(db, query, offset, limit)
    kept: list[Item] = []
    start = 0
    while True:
        found = await _listed(db, query, start, LIST_BATCH)
        kept += [item for item in found if matches(item.value, filter)]
        if len(kept) >= offset + limit or len(found) < LIST_BATCH:
            return kept[offset : offset + limit]
        start += LIST_BATCH


async def refresh_items(db: Db, keys: Sequence[ItemKey], now: int) -> None:
    if keys:
        await db.scripts.refresh_items(keys=[db.keys.item(k) for k in keys], args=[now])


async def item_namespaces(db: Db, tenant: str, prefix: Namespace, now: int) -> list[Namespace]:
    reply = await ft(
        db,
        *("FT.AGGREGATE", db.keys.item_index(), live_in(tenant, prefix, now)),
        *("GROUPBY", 1, "@ns", "DIALECT", 2),
    )
    return sorted(namespace_of(row[b"ns"]) for row in groups(reply))


async def sweep_expired_items(db: Db, now: int, limit: int) -> int:
    """Each expired item is deleted by a script that checks it is still expired, so sweeps
    running at once in several processes delete (and count) each item once."""
    if limit <= 0:
        return 0
    reply = await ft(
        db,
        *("FT.SEARCH", db.keys.item_index(), f"@live_until:[-inf {now}]"),
        *("NOCONTENT", "LIMIT", 0, limit, "DIALECT", 2),
    )
    calls = [
        db.scripts.delete_item(
            keys=db.keys.item_set(db.keys.item_of(name)),
            args=[now, "1", db.keys.item_order_base()],
        )
        for name, _, _ in rows(reply, content=False)
    ]
    return sum(await asyncio.gather(*calls))
