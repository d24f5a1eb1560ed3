"""The ``Retention`` role on Redis: ``P:written`` (sessions by last write, for the default
TTL) and ``P:expires`` (sessions with their own TTL, by expiry), kept by the listing
functions of every session write; the delete script with a re-check; job leases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

from redis.asyncio import Redis

import memhead.stores.redis.sessions as sessions
from memhead.models import SessionKey
from memhead.stores.redis.fields import Db
from memhead.stores.redis.keyspace import Keys, key_of_due_member

BACKFILL_BATCH = 500


async def expired_sessions(
    db: Db, now: int, default_ttl_ms: int | None, limit: int
) -> list[SessionKey]:
    if limit <= 0:
        return []
    k = db.keys
    async with db.client.pipeline(transaction=False) as pipe:
        pipe.zrange(k.expires(), "-inf", now, byscore=True, offset=0, num=limit, withscores=True)
        if default_ttl_ms is not None:
            cutoff = now - default_ttl_ms
            pipe.zrange(
                k.written(), "-inf", cutoff, byscore=True, offset=0, num=limit, withscores=True
            )
        replies = await pipe.execute()
    found = _swap(replies[0])
    if default_ttl_ms is not None:
        found += [(score + default_ttl_ms, member) for score, member in _swap(replies[1])]
    found.sort()
    return [key_of_due_member(member) for _, member in found[:limit]]


def _swap(pairs: list[tuple[bytes, float]]) -> list[tuple[float, bytes]]:
    return [(score, member) for member, score in pairs]


async def expire_session(db: Db, key: SessionKey, now: int, default_ttl_ms: int | None) -> bool:
    ttl = "" if default_ttl_ms is None else default_ttl_ms
    return await sessions.delete_session(db, key, now, ttl)


async def acquire_job(db: Db, name: str, owner: str, now: int, ttl_ms: int) -> bool:
    taken = await db.scripts.acquire_job(keys=[db.keys.job(name)], args=[owner, now, now + ttl_ms])
    return bool(taken)


async def release_job(db: Db, name: str, owner: str) -> None:
    await db.scripts.release_job(keys=[db.keys.job(name)], args=[owner])


async def backfill(db: Db) -> None:
    """Index the sessions stored before retention existed (once per store; safe to run
    concurrently and to repeat: each session's entry is rebuilt from its hash)."""
    k = db.keys
    if await db.client.exists(k.ready("retention")):
        return
    batch: list[str] = []
    async for skey in _session_keys(db.client, k):
        batch.append(skey)
        if len(batch) == BACKFILL_BATCH:
            await db.scripts.backfill_retention(keys=[k.written(), k.expires()], args=batch)
            batch = []
    if batch:
        await db.scripts.backfill_retention(keys=[k.written(), k.expires()], args=batch)
    await db.client.set(k.ready("retention"), 1)


async def _session_keys(client: Redis, keys: Keys) -> AsyncIterator[str]:
    async for key in client.scan_iter(match=f"{keys.prefix}:session:*", count=1000):
        yield cast(bytes, key).decode()
