"""Invariant checks of the SQLite store (``memhead check``, the ``Lifecycle`` role): one
query per invariant, each row it returns a violation. Items: a keyword row for each indexed
item and for no other, a vector only for an indexed item's current revision, and the
``embedded`` mark agreeing with the vectors."""

from __future__ import annotations

import sqlite3

from memhead.stores.sqlite.scope_tokens import row_tokens

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
        # Stale tokens leak nothing (the search's SQL decides), but hide rows from searches.
        "{} keyword rows hold the scope tokens of another tenant, user or session",
        "SELECT count(*) FROM messages_fts f JOIN messages m ON m.id = f.rowid "
        "JOIN sessions s ON s.sid = m.sid "
        "WHERE f.scope != memhead_scope_tokens(s.tenant, s.id, s.user_id) HAVING count(*) > 0",
    ),
    (
        "{} messages marked embedded have no vector",
        "SELECT count(*) FROM messages WHERE embedded = 1 "
        "AND id NOT IN (SELECT id FROM vectors) HAVING count(*) > 0",
    ),
    (
        "{} indexed items have no keyword row",
        "SELECT count(*) FROM items WHERE indexed = 1 "
        "AND id NOT IN (SELECT rowid FROM items_fts) HAVING count(*) > 0",
    ),
    (
        "{} item keyword rows belong to no indexed item",
        "SELECT count(*) FROM items_fts WHERE rowid NOT IN "
        "(SELECT id FROM items WHERE indexed = 1) HAVING count(*) > 0",
    ),
    (
        # An item's row id is its revision: a vector of a replaced item points at no row.
        "{} item vectors belong to no indexed item of their tenant (or to an old revision)",
        "SELECT count(*) FROM item_vectors v WHERE NOT EXISTS (SELECT 1 FROM items i "
        "WHERE i.id = v.item AND i.tenant = v.tenant AND i.indexed = 1) HAVING count(*) > 0",
    ),
    (
        "{} items marked embedded have no vector",
        "SELECT count(*) FROM items WHERE embedded = 1 "
        "AND id NOT IN (SELECT item FROM item_vectors) HAVING count(*) > 0",
    ),
    (
        "{} items have a vector but are not marked embedded",
        "SELECT count(*) FROM items WHERE embedded = 0 "
        "AND id IN (SELECT item FROM item_vectors) HAVING count(*) > 0",
    ),
    (
        "{} items have a TTL without an expiry or an expiry without a TTL",
        "SELECT count(*) FROM items WHERE (ttl_ms IS NULL) != (expires_at IS NULL) "
        "HAVING count(*) > 0",
    ),
)


def check(conn: sqlite3.Connection) -> list[str]:
    """Every invariant violation, as readable lines."""
    conn.create_function("memhead_scope_tokens", 3, row_tokens, deterministic=True)
    return [message.format(*row) for message, sql in CHECKS for row in conn.execute(sql).fetchall()]
