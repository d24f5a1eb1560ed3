"""The ``Sessions`` role on Redis: appends and session writes are scripts (so each lands
whole); a window, history or span is one read script, consistent with its session."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any, cast

import memhead.stores.redis.fields as f
import memhead.stores.redis.user_tags as user_tags
from memhead.models import Memory, Message, NewMessage, Session, SessionKey, SessionPatch
from memhead.stores.redis.fields import Db
from memhead.stores.redis.keyspace import listing_member, session_id_of_member
from memhead.stores.redis.text import day, fold, search_tag


def _message_args(new: NewMessage, now: int) -> tuple[str, ...]:
    created_at = now if new.created_at is None else new.created_at
    return (
        *(new.role, search_tag(new.role), new.content, fold(new.content), day(created_at)),
        *(str(created_at), *f.flag(new.client_id), f.dump(new.metadata)),
    )


def _stored(reply: Sequence[Any], new: NewMessage, now: int) -> Message:
    """A message the append script stored now (``{seq}``), or the one stored before it."""
    if len(reply) > 1:
        return f.message(reply)
    created_at = now if new.created_at is None else new.created_at
    return Message(int(reply[0]), new.role, new.content, created_at, new.client_id, new.metadata)


async def append(
    db: Db,
    key: SessionKey,
    messages: Sequence[NewMessage],
    now: int,
    window: int,
    namespace: str | None,
    context: str | None,
) -> list[Message]:
    k = db.keys
    replies = await db.scripts.append(
        keys=k.write_set(key),
        args=[
            k.message_prefix(key),
            k.namespace_base(key.tenant),
            k.user_base(key.tenant),
            k.due_member(key),
            key.tenant,
            key.session_id,
            uuid.uuid4().hex,
            now,
            window,
            *f.flag(namespace),
            *f.flag(context),
            search_tag(key.tenant),
            search_tag(key.tenant, key.session_id),
            *chain.from_iterable(_message_args(m, now) for m in messages),
        ],
    )
    return [_stored(reply, new, now) for reply, new in zip(replies, messages, strict=True)]


async def _read(db: Db, key: SessionKey, *args: str | int) -> tuple[Session | None, list[Message]]:
    reply = await db.scripts.read(
        keys=[db.keys.session(key)], args=[db.keys.message_prefix(key), *args]
    )
    if not reply:
        return None, []
    return f.session(f.pairs(reply[0])), [f.message(m) for m in reply[1:]]


async def memory(db: Db, key: SessionKey, window: int) -> Memory:
    session, messages = await _read(db, key, "window", window, "")
    return Memory(session, messages)


async def history(db: Db, key: SessionKey, before_seq: int | None, limit: int) -> list[Message]:
    before = "" if before_seq is None else before_seq
    return (await _read(db, key, "history", before, limit))[1]


async def span(db: Db, key: SessionKey, after_seq: int, through_seq: int) -> list[Message]:
    return (await _read(db, key, "span", after_seq, through_seq))[1]


async def get_session(db: Db, key: SessionKey) -> Session | None:
    fields = await db.client.hgetall(db.keys.session(key))
    return f.session(cast(dict[bytes, bytes], fields)) if fields else None


async def put_session(db: Db, key: SessionKey, patch: SessionPatch, now: int) -> Session:
    k = db.keys
    reply = await db.scripts.put_session(
        keys=[k.session(key), k.recent(key.tenant), k.written(), k.expires()],
        args=[
            k.namespace_base(key.tenant),
            k.user_base(key.tenant),
            key.tenant,
            key.session_id,
            uuid.uuid4().hex,
            now,
            *f.flag(patch.user_id),
            f.dump(patch.metadata),
            k.due_member(key),
            "" if patch.ttl_ms is None else patch.ttl_ms,
        ],
    )
    record, user_changed = reply
    if user_changed:
        await user_tags.retag(db, key)
    return f.session(f.pairs(record))


async def delete_session(db: Db, key: SessionKey, *condition: str | int) -> bool:
    """Delete the session and everything of it in one script. ``condition`` (the retention
    sweep's ``now`` and default TTL) makes the script delete only a session still expired."""
    k = db.keys
    deleted = await db.scripts.delete(
        keys=k.write_set(key),
        args=[
            k.message_prefix(key),
            k.namespace_base(key.tenant),
            k.user_base(key.tenant),
            k.due_member(key),
            key.session_id,
            k.vector_prefix(key),
            *condition,
        ],
    )
    return bool(deleted)


async def list_namespace(db: Db, tenant: str, namespace: str, offset: int, limit: int) -> list[str]:
    if limit <= 0:
        return []
    ids = await db.client.zrange(db.keys.namespace(tenant, namespace), offset, offset + limit - 1)
    return [i.decode() for i in cast(list[bytes], ids)]


FILTER_BATCH = 100
"""Listing members read per round when sessions are filtered after reading."""


async def list_sessions(
    db: Db,
    tenant: str,
    user_id: str | None,
    before: tuple[int, str] | None,
    limit: int,
    namespace: str | None,
) -> list[Session]:
    if limit <= 0:
        return []
    if namespace is not None and user_id is not None:
        return await _users_in_namespace(db, tenant, user_id, namespace, before, limit)
    if namespace is not None:
        ids = await _namespace_page(db, tenant, namespace, before, limit)
    else:
        listing = db.keys.recent(tenant) if user_id is None else db.keys.user(tenant, user_id)
        members = await _listing_page(db, listing, _lex_bound(before), limit)
        ids = [session_id_of_member(m) for m in members]
    return await _sessions(db, (SessionKey(tenant, i) for i in ids))


def _lex_bound(before: tuple[int, str] | None) -> str:
    """The exclusive upper lex bound of a listing page after the cursor ``before``."""
    return "+" if before is None else "(" + listing_member(*before)


async def _listing_page(db: Db, listing: str, upper: str | bytes, num: int) -> list[bytes]:
    """Listing members below ``upper``, newest first."""
    members = await db.client.zrange(listing, upper, "-", desc=True, bylex=True, offset=0, num=num)
    return cast(list[bytes], members)


async def _namespace_page(
    db: Db, tenant: str, namespace: str, before: tuple[int, str] | None, limit: int
) -> list[str]:
    """Session ids of a namespace after the cursor, newest first. The namespace zset scores
    ``updated_at`` and orders ties by id, so a cursor splits into the ties at its time (few:
    same millisecond) and everything older."""
    key = db.keys.namespace(tenant, namespace)
    if before is None:
        found = await db.client.zrange(
            key, "+inf", "-inf", desc=True, byscore=True, offset=0, num=limit
        )
        return [m.decode() for m in cast(list[bytes], found)]
    updated_at, session_id = before
    async with db.client.pipeline(transaction=False) as pipe:
        pipe.zrange(key, updated_at, updated_at, desc=True, byscore=True)
        pipe.zrange(key, f"({updated_at}", "-inf", desc=True, byscore=True, offset=0, num=limit)
        ties, older = await pipe.execute()
    below = session_id.encode()
    members = [m for m in cast(list[bytes], ties) if m < below] + cast(list[bytes], older)
    return [m.decode() for m in members[:limit]]


async def _users_in_namespace(
    db: Db, tenant: str, user_id: str, namespace: str, before: tuple[int, str] | None, limit: int
) -> list[Session]:
    """One user's sessions in one namespace: walks the user's listing (a user has few
    sessions) and keeps the namespace's."""
    listing = db.keys.user(tenant, user_id)
    upper: str | bytes = _lex_bound(before)
    found: list[Session] = []
    while len(found) < limit:
        members = await _listing_page(db, listing, upper, FILTER_BATCH)
        ids = [session_id_of_member(m) for m in members]
        sessions = await _sessions(db, (SessionKey(tenant, i) for i in ids))
        found += [s for s in sessions if s.namespace == namespace]
        if len(members) < FILTER_BATCH:
            break
        upper = b"(" + members[-1]
    return found[:limit]


async def _sessions(db: Db, keys: Iterable[SessionKey]) -> list[Session]:
    async with db.client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hgetall(db.keys.session(key))
        found: list[dict[bytes, bytes]] = await pipe.execute()
    return [f.session(fields) for fields in found if fields]  # deleted meanwhile: skipped
