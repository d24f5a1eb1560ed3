"""The ``Transfer`` role on Redis: sessions, messages at their own seqs and summaries as an
export holds them (``memhead import``), each one script."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from itertools import chain
from typing import Any, cast
from urllib.parse import unquote

import memhead.stores.redis.fields as f
import memhead.stores.redis.user_tags as user_tags
from memhead.errors import InvalidRequest
from memhead.models import Message, Session, SessionKey
from memhead.stores.redis.fields import Db
from memhead.stores.redis.text import day, fold, search_tag


async def tenants(db: Db) -> list[str]:
    base = db.keys.recent_base()
    found = set()
    async for key in db.client.scan_iter(match=base + "*", count=1000):
        found.add(unquote(cast(bytes, key).decode()[len(base) :]))
    return sorted(found)


async def import_session(db: Db, key: SessionKey, session: Session) -> None:
    k = db.keys
    user_changed = await db.scripts.import_session(
        keys=[k.session(key), k.recent(key.tenant), k.written(), k.expires()],
        args=[
            *(k.namespace_base(key.tenant), k.user_base(key.tenant), key.tenant),
            *(key.session_id, uuid.uuid4().hex, k.due_member(key)),
            *(session.namespace, *f.flag(session.user_id), f.dump(session.metadata)),
            *(session.created_at, session.updated_at),
            "" if session.ttl_ms is None else session.ttl_ms,
        ],
    )
    if user_changed:
        await user_tags.retag(db, key)


def _message_args(m: Message) -> tuple[Any, ...]:
    return (
        *(m.seq, m.role, search_tag(m.role), m.content, fold(m.content), day(m.created_at)),
        *(m.created_at, *f.flag(m.client_id), f.dump(m.metadata)),
    )


async def import_messages(db: Db, key: SessionKey, messages: Sequence[Message], window: int) -> int:
    k = db.keys
    reply = await db.scripts.import_messages(
        keys=[k.session(key), k.client_ids(key), k.due(), k.embed()],
        args=[
            *(k.message_prefix(key), k.due_member(key), key.tenant, key.session_id, window),
            *(search_tag(key.tenant), search_tag(key.tenant, key.session_id)),
            *chain.from_iterable(_message_args(m) for m in messages),
        ],
    )
    code = int(reply[0])
    if code == -1:
        raise InvalidRequest(f"session {key.session_id!r} must be imported before its messages")
    if code == -2:
        raise InvalidRequest(f"message seq {int(reply[1])} leaves a gap in the session's seqs")
    if code == -3:
        raise InvalidRequest(f"the client id of seq {int(reply[1])} is stored at another seq")
    return code


async def import_summary(
    db: Db, key: SessionKey, summary: str | None, upto_seq: int, tokens: int, window: int
) -> None:
    k = db.keys
    code = await db.scripts.import_summary(
        keys=[k.session(key), k.due()],
        args=[*f.flag(summary), upto_seq, tokens, window, k.due_member(key)],
    )
    if code == -1:
        raise InvalidRequest(f"session {key.session_id!r} must be imported before its summary")
    if code == -2:
        raise InvalidRequest(f"summary upto_seq {upto_seq} is past the session's last seq")
