"""The ``Transfer`` role on SQLite: sessions, messages at their own seqs and summaries as an
export holds them (``memhead import``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import memhead.stores.sqlite.rows as rows
from memhead.errors import InvalidRequest
from memhead.models import Message, NewMessage, Session, SessionKey
from memhead.stores.sqlite.batches import writing
from memhead.stores.sqlite.sessions import _insert, _known_client_ids, get_session, rescope

IMPORT_SESSION = """INSERT INTO sessions
    (tenant, id, namespace, user_id, metadata, created_at, updated_at, ttl_ms)
VALUES (:tenant, :id, :namespace, :user_id, :metadata, :created_at, :updated_at, :ttl_ms)
ON CONFLICT (tenant, id) DO UPDATE SET
    namespace = excluded.namespace, user_id = excluded.user_id,
    metadata = excluded.metadata, created_at = excluded.created_at,
    updated_at = excluded.updated_at, ttl_ms = excluded.ttl_ms"""

DUE = "CASE WHEN {} - {} > :window THEN coalesce(due_at, updated_at) ELSE NULL END"
"""The due marker after an import (an UPDATE's expressions see the old values, hence the
new ones as parameters); an imported session is due at once."""


def tenants(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT tenant FROM sessions ORDER BY tenant")]


def import_session(conn: sqlite3.Connection, key: SessionKey, session: Session) -> None:
    with writing(conn):
        before = get_session(conn, key)
        conn.execute(
            IMPORT_SESSION,
            {
                "tenant": key.tenant,
                "id": key.session_id,
                "namespace": session.namespace,
                "user_id": session.user_id,
                "metadata": rows.dump(session.metadata),
                "created_at": session.created_at,
                "updated_at": session.updated_at,
                "ttl_ms": session.ttl_ms,
            },
        )
        if before is not None and before.user_id != session.user_id:
            rescope(conn, int(before.incarnation), key, session.user_id)


def _state(conn: sqlite3.Connection, key: SessionKey) -> tuple[int, int]:
    row = conn.execute(
        "SELECT sid, last_seq FROM sessions WHERE tenant = :tenant AND id = :id",
        {"tenant": key.tenant, "id": key.session_id},
    ).fetchone()
    if row is None:
        raise InvalidRequest(f"session {key.session_id!r} must be imported before its messages")
    return row[0], row[1]


def new_messages(messages: Sequence[Message], last_seq: int) -> list[Message]:
    """The messages past ``last_seq``, which must follow it without a gap."""
    fresh = [m for m in messages if m.seq > last_seq]
    for expected, message in enumerate(fresh, start=last_seq + 1):
        if message.seq != expected:
            raise InvalidRequest(f"message seq {message.seq} leaves a gap after {expected - 1}")
    return fresh


def import_messages(
    conn: sqlite3.Connection, key: SessionKey, messages: Sequence[Message], window: int
) -> int:
    with writing(conn):
        sid, last_seq = _state(conn, key)
        fresh = new_messages(messages, last_seq)
        if not fresh:
            return 0
        ids = [NewMessage("", "", m.client_id) for m in fresh if m.client_id is not None]
        taken = _known_client_ids(conn, sid, ids)
        if taken:
            raise InvalidRequest(f"client id {next(iter(taken))!r} is stored at another seq")
        _insert(conn, sid, [rows.message_values(sid, m) for m in fresh])
        conn.execute(
            "UPDATE sessions SET last_seq = :last_seq, "
            f"due_at = {DUE.format(':last_seq', 'upto_seq')} WHERE sid = :sid",
            {"last_seq": fresh[-1].seq, "window": window, "sid": sid},
        )
    return len(fresh)


def import_summary(
    conn: sqlite3.Connection,
    key: SessionKey,
    summary: str | None,
    upto_seq: int,
    tokens: int,
    window: int,
) -> None:
    with writing(conn):
        sid, last_seq = _state(conn, key)
        if not 0 <= upto_seq <= last_seq:
            raise InvalidRequest(f"summary upto_seq {upto_seq} is past the last seq {last_seq}")
        conn.execute(
            "UPDATE sessions SET summary = :summary, upto_seq = :upto_seq, tokens = :tokens, "
            "summary_version = summary_version + 1, "
            f"due_at = {DUE.format('last_seq', ':upto_seq')} WHERE sid = :sid",
            {
                "summary": summary,
                "upto_seq": upto_seq,
                "tokens": tokens,
                "window": window,
                "sid": sid,
            },
        )
