"""The ``Sessions`` role on SQLite: appending messages, reading windows and history, the
session records and their listings. Plain functions over the store's connection, each run
whole on the store's thread (``batches``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import memhead.stores.sqlite.rows as rows
from memhead.models import Memory, Message, NewMessage, Session, SessionKey, SessionPatch
from memhead.retrieval import keyword_fields
from memhead.stores.sqlite.batches import writing
from memhead.stores.sqlite.rows import MESSAGE_COLUMNS, SESSION_COLUMNS
from memhead.stores.sqlite.scope_tokens import row_tokens

NO_SEQ_LIMIT = 2**62

APPEND_UPDATE = """UPDATE sessions SET
    last_seq = :last_seq,
    updated_at = CASE WHEN :stored THEN :now ELSE updated_at END,
    namespace = coalesce(:namespace, namespace),
    summary = CASE WHEN :has_context THEN :context ELSE summary END,
    summary_version = summary_version + :has_context,
    due_at = CASE WHEN due_at IS NULL AND :last_seq - upto_seq > :window THEN :now ELSE due_at END
WHERE sid = :sid"""


def append(
    conn: sqlite3.Connection,
    key: SessionKey,
    messages: Sequence[NewMessage],
    now: int,
    window: int,
    namespace: str | None,
    context: str | None,
) -> list[Message]:
    with writing(conn):
        sid, last_seq = _ensure_session(conn, key, now, namespace)
        known = _known_client_ids(conn, sid, messages)
        stored: list[Message] = []
        new_rows: list[dict[str, Any]] = []
        for new in messages:
            if new.client_id is not None and new.client_id in known:
                stored.append(known[new.client_id])
                continue
            last_seq += 1
            msg = Message(
                last_seq,
                new.role,
                new.content,
                now if new.created_at is None else new.created_at,
                new.client_id,
                new.metadata,
            )
            new_rows.append(rows.message_values(sid, msg))
            stored.append(msg)
            if msg.client_id is not None:
                known[msg.client_id] = msg
        _insert(conn, sid, new_rows)
        has_context = int(context is not None)
        conn.execute(
            APPEND_UPDATE,
            {
                "last_seq": last_seq,
                "stored": bool(new_rows),
                "now": now,
                "namespace": namespace,
                "has_context": has_context,
                "context": context,
                "window": window,
                "sid": sid,
            },
        )
    return stored


def _insert(conn: sqlite3.Connection, sid: int, new_rows: list[dict[str, Any]]) -> None:
    """Insert messages and their keyword rows (message, previous message, day, scope)."""
    if not new_rows:
        return
    scope = row_tokens(
        *conn.execute(
            "SELECT tenant, id, user_id FROM sessions WHERE sid = :sid", {"sid": sid}
        ).fetchone()
    )
    previous = conn.execute(
        "SELECT content FROM messages WHERE sid = :sid AND seq = :seq",
        {"sid": sid, "seq": new_rows[0]["seq"] - 1},
    ).fetchone()
    context = previous[0] if previous else ""
    for row in new_rows:
        cur = conn.execute(
            f"INSERT INTO messages (sid, {MESSAGE_COLUMNS}) VALUES "
            "(:sid, :seq, :role, :content, :created_at, :client_id, :metadata)",
            row,
        )
        created = datetime.fromtimestamp(row["created_at"] / 1000, tz=UTC)
        content, previous_content, day = keyword_fields(row["content"], context, created)
        conn.execute(
            "INSERT INTO messages_fts (rowid, content, context, day, scope) "
            "VALUES (:rowid, :content, :context, :day, :scope)",
            {
                "rowid": cur.lastrowid,
                "content": content,
                "context": previous_content,
                "day": day,
                "scope": scope,
            },
        )
        context = row["content"]


def _ensure_session(
    conn: sqlite3.Connection, key: SessionKey, now: int, namespace: str | None
) -> tuple[int, int]:
    where = {"tenant": key.tenant, "id": key.session_id}
    row = conn.execute(
        "SELECT sid, last_seq FROM sessions WHERE tenant = :tenant AND id = :id", where
    ).fetchone()
    if row is not None:
        return row[0], row[1]
    cur = conn.execute(
        "INSERT INTO sessions (tenant, id, namespace, created_at, updated_at) "
        "VALUES (:tenant, :id, :namespace, :now, :now)",
        {**where, "namespace": namespace or "", "now": now},
    )
    assert cur.lastrowid is not None
    return cur.lastrowid, 0


def _known_client_ids(
    conn: sqlite3.Connection, sid: int, messages: Sequence[NewMessage]
) -> dict[str, Message]:
    ids = [m.client_id for m in messages if m.client_id is not None]
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))  # a list of values: positional by necessity
    found = conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE sid = ? AND client_id IN ({marks})",
        (sid, *ids),
    ).fetchall()
    return {row[4]: rows.message(row) for row in found}


def memory(conn: sqlite3.Connection, key: SessionKey, window: int) -> Memory:
    session = get_session(conn, key)
    if session is None:
        return Memory(None, [])
    found = conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE sid = :sid AND seq > :upto "
        "ORDER BY seq DESC LIMIT :window",
        {"sid": int(session.incarnation), "upto": session.upto_seq, "window": window},
    ).fetchall()
    return Memory(session, [rows.message(r) for r in found])


def history(
    conn: sqlite3.Connection, key: SessionKey, before_seq: int | None, limit: int
) -> list[Message]:
    found = conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE sid = "
        "(SELECT sid FROM sessions WHERE tenant = :tenant AND id = :id) AND seq < :before "
        "ORDER BY seq DESC LIMIT :limit",
        {
            "tenant": key.tenant,
            "id": key.session_id,
            "before": before_seq or NO_SEQ_LIMIT,
            "limit": limit,
        },
    ).fetchall()
    return [rows.message(r) for r in found]


def span(
    conn: sqlite3.Connection, key: SessionKey, after_seq: int, through_seq: int
) -> list[Message]:
    found = conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE sid = "
        "(SELECT sid FROM sessions WHERE tenant = :tenant AND id = :id) "
        "AND seq > :after AND seq <= :through ORDER BY seq",
        {"tenant": key.tenant, "id": key.session_id, "after": after_seq, "through": through_seq},
    ).fetchall()
    return [rows.message(r) for r in found]


def get_session(conn: sqlite3.Connection, key: SessionKey) -> Session | None:
    row = conn.execute(
        f"SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant = :tenant AND id = :id",
        {"tenant": key.tenant, "id": key.session_id},
    ).fetchone()
    return None if row is None else rows.session(row)


def put_session(
    conn: sqlite3.Connection, key: SessionKey, patch: SessionPatch, now: int
) -> Session:
    with writing(conn):
        before = get_session(conn, key)
        conn.execute(
            """INSERT INTO sessions (tenant, id, user_id, metadata, created_at, updated_at,
                ttl_ms)
            VALUES (:tenant, :id, :user_id, :metadata, :now, :now, :ttl)
            ON CONFLICT (tenant, id) DO UPDATE SET
                user_id = coalesce(excluded.user_id, user_id),
                metadata = coalesce(excluded.metadata, metadata),
                updated_at = excluded.updated_at,
                ttl_ms = CASE WHEN :set_ttl THEN excluded.ttl_ms ELSE ttl_ms END""",
            {
                "tenant": key.tenant,
                "id": key.session_id,
                "user_id": patch.user_id,
                "metadata": rows.dump(patch.metadata),
                "now": now,
                "ttl": None if patch.ttl_ms is None or patch.ttl_ms < 0 else patch.ttl_ms,
                "set_ttl": patch.ttl_ms is not None,
            },
        )
        session = get_session(conn, key)
        assert session is not None
        if before is not None and before.user_id != session.user_id:
            rescope(conn, int(session.incarnation), key, session.user_id)
    return session


def rescope(conn: sqlite3.Connection, sid: int, key: SessionKey, user_id: str | None) -> None:
    """Give the keyword rows of session ``sid`` the scope tokens of its (new) user."""
    conn.execute(
        "UPDATE messages_fts SET scope = :scope "
        "WHERE rowid IN (SELECT id FROM messages WHERE sid = :sid)",
        {"scope": row_tokens(key.tenant, key.session_id, user_id), "sid": sid},
    )


def delete_session(conn: sqlite3.Connection, key: SessionKey) -> bool:
    with writing(conn):
        row = conn.execute(
            "DELETE FROM sessions WHERE tenant = :tenant AND id = :id RETURNING sid",
            {"tenant": key.tenant, "id": key.session_id},
        ).fetchone()
        if row is None:
            return False
        delete_contents(conn, row[0])
    return True


def delete_contents(conn: sqlite3.Connection, sid: int) -> None:
    """Delete the messages, keyword rows and vectors of a session (row ``sid``)."""
    args = {"sid": sid}
    conn.execute(
        "DELETE FROM messages_fts WHERE rowid IN (SELECT id FROM messages WHERE sid = :sid)",
        args,
    )
    conn.execute("DELETE FROM messages WHERE sid = :sid", args)
    conn.execute("DELETE FROM vectors WHERE sid = :sid", args)


def list_namespace(
    conn: sqlite3.Connection, tenant: str, namespace: str, offset: int, limit: int
) -> list[str]:
    found = conn.execute(
        "SELECT id FROM sessions WHERE tenant = :tenant AND namespace = :namespace "
        "ORDER BY updated_at, id LIMIT :limit OFFSET :offset",
        {"tenant": tenant, "namespace": namespace, "limit": limit, "offset": offset},
    ).fetchall()
    return [r[0] for r in found]


def list_sessions(
    conn: sqlite3.Connection,
    tenant: str,
    user_id: str | None,
    before: tuple[int, str] | None,
    limit: int,
    namespace: str | None,
) -> list[Session]:
    sql = f"SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant = :tenant"
    args: dict[str, Any] = {"tenant": tenant, "limit": limit}
    for column, value in (("user_id", user_id), ("namespace", namespace)):
        if value is not None:
            sql += f" AND {column} = :{column}"
            args[column] = value
    if before is not None:
        sql += " AND (updated_at, id) < (:before_at, :before_id)"
        args["before_at"], args["before_id"] = before
    sql += " ORDER BY updated_at DESC, id DESC LIMIT :limit"
    return [rows.session(r) for r in conn.execute(sql, args).fetchall()]
