"""The ``Retention`` role on SQLite: sessions past their TTL (two partial indexes, one per
kind of TTL), their deletion with a re-check, and the store-wide job leases (``jobs``)."""

from __future__ import annotations

import sqlite3

from memhead.models import SessionKey
from memhead.stores.sqlite.batches import writing
from memhead.stores.sqlite.sessions import delete_contents

NEVER = -1
"""A default TTL of "never" in SQL: no ``updated_at`` is below it."""

EXPIRED = """
SELECT tenant, id, expiry FROM (
    SELECT tenant, id, updated_at + ttl_ms AS expiry FROM sessions
    WHERE ttl_ms > 0 AND updated_at + ttl_ms <= :now
    ORDER BY updated_at + ttl_ms LIMIT :limit)
UNION ALL
SELECT tenant, id, expiry FROM (
    SELECT tenant, id, updated_at + :default AS expiry FROM sessions
    WHERE ttl_ms IS NULL AND updated_at <= :cutoff ORDER BY updated_at LIMIT :limit)
ORDER BY expiry LIMIT :limit"""

STILL_EXPIRED = """
DELETE FROM sessions WHERE tenant = :tenant AND id = :id
    AND ((ttl_ms > 0 AND updated_at + ttl_ms <= :now)
        OR (ttl_ms IS NULL AND updated_at <= :cutoff))
RETURNING sid"""


def _args(now: int, default_ttl_ms: int | None) -> dict[str, int]:
    if default_ttl_ms is None:
        return {"now": now, "default": 0, "cutoff": NEVER}
    return {"now": now, "default": default_ttl_ms, "cutoff": now - default_ttl_ms}


def expired_sessions(
    conn: sqlite3.Connection, now: int, default_ttl_ms: int | None, limit: int
) -> list[SessionKey]:
    found = conn.execute(EXPIRED, {**_args(now, default_ttl_ms), "limit": limit}).fetchall()
    return [SessionKey(r[0], r[1]) for r in found]


def expire_session(
    conn: sqlite3.Connection, key: SessionKey, now: int, default_ttl_ms: int | None
) -> bool:
    with writing(conn):
        row = conn.execute(
            STILL_EXPIRED,
            {"tenant": key.tenant, "id": key.session_id, **_args(now, default_ttl_ms)},
        ).fetchone()
        if row is None:
            return False
        delete_contents(conn, row[0])
    return True


def acquire_job(conn: sqlite3.Connection, name: str, owner: str, now: int, ttl_ms: int) -> bool:
    with writing(conn):
        cur = conn.execute(
            "INSERT INTO jobs (name, owner, until) VALUES (:name, :owner, :until) "
            "ON CONFLICT (name) DO UPDATE SET owner = :owner, until = :until "
            "WHERE jobs.until <= :now OR jobs.owner = :owner",
            {"name": name, "owner": owner, "until": now + ttl_ms, "now": now},
        )
    return cur.rowcount == 1


def release_job(conn: sqlite3.Connection, name: str, owner: str) -> None:
    with writing(conn):
        conn.execute(
            "DELETE FROM jobs WHERE name = :name AND owner = :owner",
            {"name": name, "owner": owner},
        )
