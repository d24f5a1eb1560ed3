"""Memory items stored before filter tokens (``item_filters``) and order sets
(``item_records``) existed get them at setup.

``Indexes.setup`` adds ``filter_tag`` to the item indexes made before it; this module then
walks the records (SCAN, a batch at a time) and gives each item without tokens the tokens of
its value, on its record, keyword entry and vector, and its member in the order set of each
of its namespace prefixes, by a script that skips an item put since it was read. Once done,
``P:item_filters_ready`` is set and searches push equality filters down and list from the
order sets (``ready``): before that, an item without them would be missed.
Safe to run in several processes at once and to repeat.
"""

from __future__ import annotations

from typing import cast

import orjson

from memhead.stores.redis.fields import Db
from memhead.stores.redis.indexes import Indexes
from memhead.stores.redis.item_filters import value_tokens

BATCH = 100
"""Items per script call: each re-indexes their hashes, and a call must end well within the
client's timeout on a busy server."""


async def backfill(db: Db, indexes: Indexes) -> int:
    """Give every older item its filter tokens (once per store); how many got them."""
    k = db.keys
    if await db.client.exists(k.ready("item_filters")):
        return 0
    space = await indexes.stored_space()
    if space is not None:  # its index must know the field before vectors get it
        await indexes.ensure_vector_index(space)
    done = 0
    batch: list[bytes] = []
    async for name in db.client.scan_iter(match=k.items_index_prefix() + "*", count=1000):
        batch.append(cast(bytes, name))
        if len(batch) >= BATCH:
            done += await _batch(db, batch)
            batch = []
    if batch:
        done += await _batch(db, batch)
    await db.client.set(k.ready("item_filters"), 1)
    return done


async def _batch(db: Db, names: list[bytes]) -> int:
    async with db.client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hmget(name, ["revision", "value", "filter_tag"])
        found: list[list[bytes | None]] = await pipe.execute()
    keys: list[str] = []
    args: list[str | bytes] = [db.keys.item_order_base()]
    for name, (revision, value, tokens) in zip(names, found, strict=True):
        if revision is None or value is None or tokens is not None:
            continue  # gone, or put by this version
        keys += db.keys.item_set(db.keys.item_of(name))
        args += [revision, value_tokens(orjson.loads(value))]
    if not keys:
        return 0
    return int(await db.scripts.backfill_item_filters(keys=keys, args=args))


async def ready(db: Db, indexes: Indexes) -> bool:
    """Whether every item has its filter tokens (remembered once true)."""
    if not indexes.item_filters_ready:
        indexes.item_filters_ready = bool(await db.client.exists(db.keys.ready("item_filters")))
    return indexes.item_filters_ready
