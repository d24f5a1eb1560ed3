"""Invariant checks of the SQLite store (``memhead check``, the ``Lifecycle`` role): one
query per invariant, each row it returns a violation."""

from __future__ import annotations

import sqlite3

CHECKS = (
    (
        "session {} ({}): seqs are not 1..{} (count {}, max {})",
        "SELECT s.tenant, s.id, s.last_seq, count(m.id), coalesce(max(m.seq), 0) "
        "FROM sessions s LEFT JOIN messages m ON m.sid = s.sid GROUP BY s.sid "
        "HAVING count(m.id) != s.last_seq OR coalesce(max(m.seq), 0) != s.last_seq",
    ),
    (
        "session {} ({}): upto_seq {} > last_seq {}",
        "SELECT tenant, id, upto_seq, last_seq FROM sessions WHERE upto_seq > last_seq",
    ),
    (
        "session {} ({}): lease half set (owner {!r}, until {})",
        "SELECT tenant, id, lease_owner, lease_until FROM sessions "
        "WHERE (lease_owner IS NULL) != (lease_until IS NULL)",
    ),
    (
        "{} messages belong to no session",
        "SELECT count(*) FROM messages WHERE sid NOT IN (SELECT sid FROM sessions) "
        "HAVING count(*) > 0",
    ),
    (
        "{} vectors belong to no message",
        "SELECT count(*) FROM vectors WHERE id NOT IN (SELECT id FROM messages) "
        "HAVING count(*) > 0",
    ),
    (
        "{} keyword rows belong to no message",
        "SELECT count(*) FROM messages_fts WHERE rowid NOT IN (SELECT id FROM messages) "
        "HAVING count(*) > 0",
    ),
    (
        "{} messages have no keyword row",
        "SELECT count(*) FROM messages WHERE id NOT IN (SELECT rowid FROM messages_fts) "
        "HAVING count(*) > 0",
    ),
    (
        "{} messages marked embedded have no vector",
        "SELECT count(*) FROM messages WHERE embedded = 1 "
        "AND id NOT IN (SELECT id FROM vectors) HAVING count(*) > 0",
    ),
)


def check(conn: sqlite3.Connection) -> list[str]:
    """Every invariant violation, as readable lines."""
    return [message.format(*row) for message, sql in CHECKS for row in conn.execute(sql).fetchall()]
