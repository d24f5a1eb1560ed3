"""Invariant checks of the Redis store (``memhead check``): reads only, by SCAN."""

from __future__ import annotations

from collections.abc import AsyncIterator

from redis.asyncio import Redis

from memhead.stores.redis.check_items import check_items
from memhead.stores.redis.keyspace import Keys


async def _scan(client: Redis, pattern: str) -> AsyncIterator[str]:
    async for key in client.scan_iter(match=pattern, count=1000):
        yield key.decode() if isinstance(key, bytes) else key


def _tag_and_seq(key: str, kind_prefix: str) -> tuple[str, str]:
    """``P:msg:{tag}:7`` -> (``{tag}``, ``7``)."""
    tag, _, seq = key[len(kind_prefix) :].rpartition(":")
    return tag, seq


async def check(client: Redis, keys: Keys) -> list[str]:
    """Every invariant violation, as readable lines."""
    problems: list[str] = []
    session_prefix = f"{keys.prefix}:session:"
    async for session_key in _scan(client, session_prefix + "*"):
        problems += await _check_session(client, keys, session_key[len(session_prefix) :])
    problems += await _retention_orphans(client, keys)
    for kind, owner in (("msg", "session"), ("vec", "msg")):
        orphans = await _orphans(client, keys.prefix, kind, owner)
        if orphans:
            problems.append(f"{orphans} {kind} keys belong to no {owner}")
    return problems + await check_items(client, keys)


async def _check_session(client: Redis, keys: Keys, tag: str) -> list[str]:
    last, upto, owner, until, ttl = await client.hmget(
        f"{keys.prefix}:session:{tag}",
        ["last_seq", "upto_seq", "lease_owner", "lease_until", "ttl_ms"],
    )
    last_seq, upto_seq = int(last or 0), int(upto or 0)
    problems = await _retention_entry(client, keys, tag, ttl)
    if upto_seq > last_seq:
        problems.append(f"session {tag}: upto_seq {upto_seq} > last_seq {last_seq}")
    if (owner is None) != (until is None):
        owner, until = (v.decode() if isinstance(v, bytes) else v for v in (owner, until))
        problems.append(f"session {tag}: lease half set (owner {owner!r}, until {until})")
    async with client.pipeline(transaction=False) as pipe:
        for seq in range(1, last_seq + 1):
            pipe.exists(f"{keys.prefix}:msg:{tag}:{seq}")
        present = await pipe.execute()
    missing = [seq for seq, found in zip(range(1, last_seq + 1), present, strict=True) if not found]
    if missing:
        problems.append(f"session {tag}: messages missing at seqs {missing[:10]}")
    extra = await client.exists(f"{keys.prefix}:msg:{tag}:{last_seq + 1}")
    if extra:
        problems.append(f"session {tag}: a message beyond last_seq {last_seq}")
    return problems


async def _orphans(client: Redis, prefix: str, kind: str, owner: str) -> int:
    kind_prefix = f"{prefix}:{kind}:"
    count = 0
    async for key in _scan(client, kind_prefix + "*"):
        tag, seq = _tag_and_seq(key, kind_prefix)
        owner_key = f"{prefix}:session:{tag}" if owner == "session" else f"{prefix}:msg:{tag}:{seq}"
        if not await client.exists(owner_key):
            count += 1
    return count


async def _retention_entry(
    client: Redis, keys: Keys, tag: str, ttl: bytes | str | None
) -> list[str]:
    """A session is in ``written`` (no TTL of its own), ``expires`` (a positive one) or
    neither (0: never), never in the wrong one."""
    if not await client.exists(keys.ready("retention")):
        return []  # not indexed yet: the next setup does it
    member = tag[1:-1]
    written = await client.zscore(keys.written(), member) is not None
    expires = await client.zscore(keys.expires(), member) is not None
    want = (ttl is None, ttl is not None and int(ttl) > 0)
    if (written, expires) != want:
        return [f"session {tag}: retention entry (written {written}, expires {expires}) wrong"]
    return []


async def _retention_orphans(client: Redis, keys: Keys) -> list[str]:
    problems = []
    for zset in (keys.written(), keys.expires()):
        orphans = 0
        async for member, _ in client.zscan_iter(zset, count=1000):
            name = member.decode() if isinstance(member, bytes) else member
            if not await client.exists(f"{keys.prefix}:session:{{{name}}}"):
                orphans += 1
        if orphans:
            problems.append(f"{orphans} {zset} entries belong to no session")
    return problems
