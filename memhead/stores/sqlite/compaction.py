"""The ``CompactionQueue`` role on SQLite: the due marker (``due_at``), the lease columns and
the summary's compare-and-set, all on the session's row."""

from __future__ import annotations

import sqlite3

from memhead.models import SessionKey

COMMIT_SUMMARY = """UPDATE sessions SET
    summary = :summary, upto_seq = :upto_seq, summary_version = summary_version + 1,
    tokens = tokens + :tokens, last_compacted_at = :now, last_error = NULL,
    attempts = 0, next_attempt_at = NULL,
    due_at = CASE WHEN last_seq - :upto_seq > :window THEN :now ELSE NULL END
WHERE tenant = :tenant AND id = :id AND sid = :sid AND summary_version = :expected_version
    AND :upto_seq <= last_seq AND :upto_seq >= upto_seq"""


def due_sessions(conn: sqlite3.Connection, now: int, limit: int) -> list[SessionKey]:
    found = conn.execute(
        "SELECT tenant, id FROM sessions WHERE due_at IS NOT NULL AND due_at <= :now "
        "AND (lease_until IS NULL OR lease_until <= :now) ORDER BY due_at LIMIT :limit",
        {"now": now, "limit": limit},
    ).fetchall()
    return [SessionKey(r[0], r[1]) for r in found]


def acquire_lease(
    conn: sqlite3.Connection, key: SessionKey, owner: str, now: int, ttl_ms: int
) -> bool:
    cur = conn.execute(
        "UPDATE sessions SET lease_owner = :owner, lease_until = :until "
        "WHERE tenant = :tenant AND id = :id "
        "AND (lease_until IS NULL OR lease_until <= :now OR lease_owner = :owner)",
        {
            "owner": owner,
            "until": now + ttl_ms,
            "tenant": key.tenant,
            "id": key.session_id,
            "now": now,
        },
    )
    return cur.rowcount == 1


def release_lease(conn: sqlite3.Connection, key: SessionKey, owner: str) -> None:
    conn.execute(
        "UPDATE sessions SET lease_owner = NULL, lease_until = NULL "
        "WHERE tenant = :tenant AND id = :id AND lease_owner = :owner",
        {"tenant": key.tenant, "id": key.session_id, "owner": owner},
    )


def commit_summary(
    conn: sqlite3.Connection,
    key: SessionKey,
    incarnation: str,
    expected_version: int,
    summary: str | None,
    upto_seq: int,
    tokens: int,
    now: int,
    window: int,
) -> bool:
    cur = conn.execute(
        COMMIT_SUMMARY,
        {
            "summary": summary,
            "upto_seq": upto_seq,
            "tokens": tokens,
            "now": now,
            "window": window,
            "tenant": key.tenant,
            "id": key.session_id,
            "sid": int(incarnation),
            "expected_version": expected_version,
        },
    )
    return cur.rowcount == 1


def record_failure(
    conn: sqlite3.Connection, key: SessionKey, incarnation: str, error: str, retry_at: int
) -> None:
    conn.execute(
        "UPDATE sessions SET last_error = :error, attempts = attempts + 1, "
        "next_attempt_at = :retry_at, due_at = :retry_at "
        "WHERE tenant = :tenant AND id = :id AND sid = :sid",
        {
            "error": error,
            "retry_at": retry_at,
            "tenant": key.tenant,
            "id": key.session_id,
            "sid": int(incarnation),
        },
    )
