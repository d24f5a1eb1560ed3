"""SQLite schema: an ordered list of migrations; ``schema_version`` records how many ran."""

from __future__ import annotations

import sqlite3

from memhead.stores.sqlite.item_rows import scope_tokens
from memhead.stores.sqlite.scope_tokens import row_tokens

MIGRATIONS: list[str] = [
    """
    CREATE TABLE sessions (
        sid INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        namespace TEXT NOT NULL DEFAULT '',
        user_id TEXT,
        metadata TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_seq INTEGER NOT NULL DEFAULT 0,
        summary TEXT,
        upto_seq INTEGER NOT NULL DEFAULT 0,
        summary_version INTEGER NOT NULL DEFAULT 0,
        tokens INTEGER NOT NULL DEFAULT 0,
        last_compacted_at INTEGER,
        last_error TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        due_at INTEGER,
        lease_owner TEXT,
        lease_until INTEGER,
        UNIQUE (tenant, id)
    );
    CREATE INDEX sessions_listing ON sessions (tenant, namespace, updated_at, id);
    CREATE INDEX sessions_recent ON sessions (tenant, updated_at, id);
    CREATE INDEX sessions_user ON sessions (tenant, user_id, updated_at, id)
        WHERE user_id IS NOT NULL;
    CREATE INDEX sessions_due ON sessions (due_at) WHERE due_at IS NOT NULL;
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        sid INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        client_id TEXT,
        metadata TEXT,
        UNIQUE (sid, seq)
    );
    CREATE UNIQUE INDEX messages_client_id ON messages (sid, client_id)
        WHERE client_id IS NOT NULL;
    """,
    """
    CREATE VIRTUAL TABLE messages_fts USING fts5 (
        content, context, day, tokenize = 'porter unicode61 remove_diacritics 2'
    );
    ALTER TABLE messages ADD COLUMN embedded INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX messages_unembedded ON messages (id) WHERE embedded = 0;
    ALTER TABLE sessions ADD COLUMN vectors INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE vectors (
        id INTEGER PRIMARY KEY,
        sid INTEGER NOT NULL,
        vector BLOB NOT NULL
    );
    CREATE INDEX vectors_sid ON vectors (sid);
    CREATE TABLE embedding_space (
        only INTEGER PRIMARY KEY CHECK (only = 1),
        model TEXT NOT NULL,
        dimensions INTEGER NOT NULL
    );
    """,
    """
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        key_hash TEXT NOT NULL UNIQUE,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    """,
    # Memory items. ``ns`` is the namespace's labels joined by "\x1f" (which labels never
    # hold), so a prefix is a range of ``ns``. Each put is a new row (a replace deletes the
    # old one): the row id is the revision, and AUTOINCREMENT never hands an id out twice,
    # so a vector computed for an old revision finds no row. ``vseq`` numbers item vectors
    # in the order they were stored, which lets a cached matrix pick up only the new ones.
    """
    CREATE TABLE items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        ns TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        expires_at INTEGER,
        ttl_ms INTEGER,
        indexed INTEGER NOT NULL,
        embedded INTEGER NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX items_key ON items (tenant, ns, key);
    CREATE INDEX items_recent ON items (tenant, updated_at DESC, ns, key, expires_at);
    CREATE INDEX items_expiry ON items (expires_at) WHERE expires_at IS NOT NULL;
    CREATE INDEX items_unembedded ON items (id) WHERE indexed = 1 AND embedded = 0;
    CREATE VIRTUAL TABLE items_fts USING fts5 (
        text, tokenize = 'porter unicode61 remove_diacritics 2'
    );
    CREATE TABLE item_vectors (
        vseq INTEGER PRIMARY KEY AUTOINCREMENT,
        item INTEGER NOT NULL UNIQUE,
        tenant TEXT NOT NULL,
        vector BLOB NOT NULL
    );
    CREATE INDEX item_vectors_tenant ON item_vectors (tenant, vseq);
    """,
    # -- data lifecycle (issue 20): retention ------------------------------------------
    # ttl_ms: NULL = the default TTL, 0 = never. The two partial indexes answer the sweep's
    # two questions (expired by the default, expired by their own TTL) without a scan.
    """
    ALTER TABLE sessions ADD COLUMN ttl_ms INTEGER;
    CREATE INDEX sessions_written ON sessions (updated_at) WHERE ttl_ms IS NULL;
    CREATE INDEX sessions_expiry ON sessions (updated_at + ttl_ms) WHERE ttl_ms > 0;
    CREATE TABLE jobs (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        until INTEGER NOT NULL
    );
    """,
    # -- search at agent speed (issue 21): scope tokens in the keyword index ------------
    # A ``scope`` column (``scope_tokens``); FTS5 has no ALTER, so a new table is filled
    # from the old one (its keyword rows kept as they are) and takes its name.
    """
    CREATE VIRTUAL TABLE messages_fts_scoped USING fts5 (
        content, context, day, scope, tokenize = 'porter unicode61 remove_diacritics 2'
    );
    INSERT INTO messages_fts_scoped (rowid, content, context, day, scope)
        SELECT f.rowid, f.content, f.context, f.day, memhead_scope_tokens(s.tenant, s.id, s.user_id)
        FROM messages_fts f JOIN messages m ON m.id = f.rowid JOIN sessions s ON s.sid = m.sid;
    DROP TABLE messages_fts;
    ALTER TABLE messages_fts_scoped RENAME TO messages_fts;
    """,
    # -- search at agent speed (issue 21): items ----------------------------------------
    # ``scope`` holds a token per prefix of the item's namespace, the tenant alone included
    # (``item_rows.scope_tokens``), so a search MATCHes only its prefix's items instead of
    # scoring every match of the store; it weighs 0 in bm25. The keyword rows are copied into
    # the new table (the text lives only there) with their tokens.
    """
    CREATE VIRTUAL TABLE items_fts_scoped USING fts5 (
        text, scope, tokenize = 'porter unicode61 remove_diacritics 2'
    );
    INSERT INTO items_fts_scoped (rowid, text, scope)
        SELECT f.rowid, f.text, memhead_item_scope_tokens(i.tenant, i.ns)
        FROM items_fts f JOIN items i ON i.id = f.rowid;
    DROP TABLE items_fts;
    ALTER TABLE items_fts_scoped RENAME TO items_fts;
    """,
]


def register_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions the migrations call: they compute what SQL cannot, and exist on this
    connection only."""
    conn.create_function("memhead_scope_tokens", 3, row_tokens, deterministic=True)
    conn.create_function("memhead_item_scope_tokens", 2, scope_tokens, deterministic=True)


def migrate(conn: sqlite3.Connection) -> None:
    """Run the migrations this database has not seen yet, each in its own transaction."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    register_functions(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        done = row[0] or 0
        for version, script in enumerate(MIGRATIONS[done:], start=done + 1):
            for statement in statements(script):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def statements(script: str) -> list[str]:
    """Split a script into statements (triggers hold ``;`` inside ``BEGIN ... END``)."""
    out: list[str] = []
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n;"):
                out.append(buffer.strip())
            buffer = ""
    return out
