"""The ``KeyStore`` role on Redis: a hash per key under the SHA-256 of the key, and one hash
from key id to that SHA-256 (the list of keys)."""

from __future__ import annotations

import memhead.stores.redis.fields as f
from memhead.models import ApiKey
from memhead.stores.redis.fields import Db


async def create_key(db: Db, key: ApiKey, key_hash: str) -> None:
    async with db.client.pipeline(transaction=True) as pipe:
        pipe.hset(
            db.keys.api_key(key_hash),
            mapping={
                "id": key.id,
                "tenant": key.tenant,
                "name": key.name,
                "created_at": key.created_at,
            },
        )
        pipe.hset(db.keys.api_keys(), key.id, key_hash)
        await pipe.execute()


async def list_keys(db: Db) -> list[ApiKey]:
    hashes = await db.client.hgetall(db.keys.api_keys())
    async with db.client.pipeline(transaction=False) as pipe:
        for key_hash in hashes.values():
            pipe.hgetall(db.keys.api_key(f.string(key_hash)))
        records: list[dict[bytes, bytes]] = await pipe.execute()
    keys = [f.api_key(r) for r in records if r]
    return sorted(keys, key=lambda k: (k.created_at, k.id))


async def revoke_key(db: Db, key_id: str, now: int) -> bool:
    key_hash = await db.client.hget(db.keys.api_keys(), key_id)
    if key_hash is None:
        return False
    record = db.keys.api_key(f.string(key_hash))
    # HSETNX: only the first revocation counts, concurrent ones see False.
    return bool(await db.client.hsetnx(record, "revoked_at", now))


async def tenant_for_key(db: Db, key_hash: str) -> str | None:
    tenant, revoked = await db.client.hmget(db.keys.api_key(key_hash), ["tenant", "revoked_at"])
    return None if tenant is None or revoked is not None else f.string(tenant)
