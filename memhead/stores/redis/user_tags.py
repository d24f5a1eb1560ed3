"""The user scope of messages on Redis: every message hash and vector hash carries
``user_tag`` (``text.search_tag(tenant, user)``, or empty when its session has no user), so a
user-scope search is one TAG filter.

The append and import scripts write the tag from the session's user as they read it. When a
session's user changes (``put_session``, ``import_session``), ``retag`` walks the session's
messages in steps of ``RETAG_STEP`` (each step one script, so Redis serves other clients in
between) before the write returns. Each rewritten hash is re-indexed, its vector re-inserted
into the HNSW graph: a cost paid only on a change of user, which is rare. (RediSearch before
the BM25STD underflow fix, e.g. 2.10, then also counts the old copy of each rewritten
message in its term statistics until the index is rebuilt.)

Stores written before the tag existed are brought up by ``backfill`` at setup, once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

from memhead.models import SessionKey
from memhead.stores.redis.fields import Db
from memhead.stores.redis.keyspace import key_of_due_member
from memhead.stores.redis.text import search_tag

RETAG_STEP = 200
"""Messages (with their vectors) per retag script: a step runs for a few ms to tens of ms
(one HNSW insertion per vector), so no client waits long behind it."""


async def retag(db: Db, key: SessionKey) -> None:
    """Set the user tag of all of the session's messages to its current user."""
    k = db.keys
    keys = [k.session(key)]
    prefixes = [k.message_prefix(key), k.vector_prefix(key), search_tag(key.tenant)]
    first = 1
    while first:
        first = int(await db.scripts.retag(keys=keys, args=[*prefixes, first, RETAG_STEP]))


async def backfill(db: Db) -> None:
    """Tag the messages of every session with a user, stored before tags existed (once per
    store; safe to run concurrently and to repeat: each step re-reads the session's user)."""
    k = db.keys
    if await db.client.exists(k.ready("user_tags")):
        return
    async for key in _sessions_with_a_user(db):
        await retag(db, key)
    await db.client.set(k.ready("user_tags"), 1)


async def _sessions_with_a_user(db: Db) -> AsyncIterator[SessionKey]:
    head, tail = db.keys.session_of_member()
    async for name in db.client.scan_iter(match=head + "*", count=1000):
        text = cast(bytes, name).decode()
        if await db.client.hexists(text, "user_id"):
            yield key_of_due_member(text[len(head) : -len(tail)].encode())
