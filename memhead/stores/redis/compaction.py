"""The ``CompactionQueue`` role on Redis: the ``P:due`` zset, the lease fields of the session
hash, and the summary's compare-and-set, each one script."""

from __future__ import annotations

from memhead.models import SessionKey
from memhead.stores.redis.fields import Db, flag
from memhead.stores.redis.keyspace import key_of_due_member


async def due_sessions(db: Db, now: int, limit: int) -> list[SessionKey]:
    members = await db.scripts.due_sessions(
        keys=[db.keys.due()], args=[now, limit, *db.keys.session_of_member()]
    )
    return [key_of_due_member(m) for m in members]


async def acquire_lease(db: Db, key: SessionKey, owner: str, now: int, ttl_ms: int) -> bool:
    taken = await db.scripts.acquire_lease(
        keys=[db.keys.session(key)], args=[owner, now, now + ttl_ms]
    )
    return bool(taken)


async def release_lease(db: Db, key: SessionKey, owner: str) -> None:
    await db.scripts.release_lease(keys=[db.keys.session(key)], args=[owner])


async def commit_summary(
    db: Db,
    key: SessionKey,
    incarnation: str,
    expected_version: int,
    summary: str | None,
    upto_seq: int,
    tokens: int,
    now: int,
    window: int,
) -> bool:
    committed = await db.scripts.commit_summary(
        keys=[db.keys.session(key), db.keys.due()],
        args=[
            incarnation,
            expected_version,
            *flag(summary),
            upto_seq,
            tokens,
            now,
            window,
            db.keys.due_member(key),
        ],
    )
    return bool(committed)


async def record_failure(
    db: Db, key: SessionKey, incarnation: str, error: str, retry_at: int
) -> None:
    await db.scripts.record_failure(
        keys=[db.keys.session(key), db.keys.due()],
        args=[incarnation, error, retry_at, db.keys.due_member(key)],
    )
