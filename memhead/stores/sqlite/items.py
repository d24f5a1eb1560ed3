"""The ``ItemStore`` role on SQLite, minus the vectors (``item_vectors``): putting, reading,
listing, refreshing and sweeping memory items, and their keyword search (FTS5, BM25). Plain
functions over the store's connection, each run whole on the store's thread (``batches``);
the reads of a search (keyword, list, namespaces) on a reader thread instead (``readers``).

An item's keyword row is written in the put's transaction, so a search right after it sees
the new text and never the old. Methods that take no ``now`` (``delete_item``, the
embedding backlog) judge expiry by the real clock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import memhead.stores.sqlite.rows as rows
from memhead.models import Item, ItemHit, ItemKey, JSONObject, Namespace, NewItem, now_ms
from memhead.retrieval import match_expression
from memhead.stores.sqlite.batches import writing
from memhead.stores.sqlite.item_rows import (
    ITEM_COLUMNS,
    LIVE,
    decode,
    encode,
    item,
    paged,
    prefix_sql,
    remove,
    scope_sql,
    scope_token,
    scope_tokens,
)

BY_KEY = "i.tenant = :tenant AND i.ns = :ns AND i.key = :key"
REFRESH = (
    "UPDATE items AS i SET expires_at = max(expires_at, :now + ttl_ms) "
    f"WHERE {BY_KEY} AND i.ttl_ms IS NOT NULL AND {LIVE}"
)
"""A live item with a TTL expires ``ttl_ms`` after ``now`` (never sooner than it would:
clocks of several processes differ a little)."""


def key_args(key: ItemKey) -> dict[str, Any]:
    return {"tenant": key.tenant, "ns": encode(key.namespace), "key": key.key}


Kept = tuple[int | None, int | None]
"""An import's ``created_at`` and ``expires_at`` (``None``: the put's own)."""


def put_item(
    conn: sqlite3.Connection, key: ItemKey, new: NewItem, now: int, kept: Kept = (None, None)
) -> Item:
    where = key_args(key)
    with writing(conn):
        old = conn.execute(
            f"SELECT i.id, i.created_at, {LIVE} FROM items i WHERE {BY_KEY}", {**where, "now": now}
        ).fetchone()
        created_at = old[1] if old is not None and old[2] else now
        if old is not None:
            remove(conn, [old[0]])
        created_at = created_at if kept[0] is None else kept[0]
        expires_at = None if new.ttl_ms is None else kept[1] or now + new.ttl_ms
        cur = conn.execute(
            "INSERT INTO items (tenant, ns, key, value, created_at, updated_at, expires_at, "
            "ttl_ms, indexed) VALUES (:tenant, :ns, :key, :value, :created_at, :now, "
            ":expires_at, :ttl_ms, :indexed)",
            {
                **where,
                "value": rows.dump(new.value),
                "created_at": created_at,
                "now": now,
                "expires_at": expires_at,
                "ttl_ms": new.ttl_ms,
                "indexed": int(new.text is not None),
            },
        )
        if new.text is not None:
            conn.execute(
                "INSERT INTO items_fts (rowid, text, scope) VALUES (:id, :text, :scope)",
                {
                    "id": cur.lastrowid,
                    "text": new.text,
                    "scope": scope_tokens(key.tenant, where["ns"]),
                },
            )
    return Item(key.namespace, key.key, new.value, created_at, now, expires_at, new.ttl_ms)


def get_item(conn: sqlite3.Connection, key: ItemKey, now: int, refresh: bool) -> Item | None:
    args = {**key_args(key), "now": now}
    select = f"SELECT {ITEM_COLUMNS} FROM items i WHERE {BY_KEY} AND {LIVE}"
    row = conn.execute(select, args).fetchone()
    if row is None or not refresh or row[6] is None:
        return None if row is None else item(row)
    # Only an item with a TTL costs a write; read again inside it, as another process may
    # have changed the item since.
    with writing(conn):
        conn.execute(REFRESH, args)
        row = conn.execute(select, args).fetchone()
    return None if row is None else item(row)


def delete_item(conn: sqlite3.Connection, key: ItemKey) -> bool:
    with writing(conn):
        row = conn.execute(
            f"SELECT i.id, {LIVE} FROM items i WHERE {BY_KEY}", {**key_args(key), "now": now_ms()}
        ).fetchone()
        if row is None:
            return False
        remove(conn, [row[0]])
    return bool(row[1])


SMALL_PREFIX = 2000
"""A prefix holding fewer items is listed from the key index (its items sorted by time);
a larger one by walking the tenant's items newest first until the page is full."""


def _listing_index(conn: sqlite3.Connection, tenant: str, prefix: Namespace) -> str:
    if not prefix:
        return "items_recent"
    under, args = prefix_sql(prefix, "ns")
    small = conn.execute(
        f"SELECT count(*) < :small FROM (SELECT 1 FROM items WHERE tenant = :tenant AND {under} "
        "LIMIT :small)",
        {"tenant": tenant, "small": SMALL_PREFIX, **args},
    ).fetchone()[0]
    return "items_key" if small else "items_recent"


def list_items(
    conn: sqlite3.Connection,
    tenant: str,
    prefix: Namespace,
    filter: JSONObject | None,
    now: int,
    offset: int,
    limit: int,
) -> list[Item]:
    index = _listing_index(conn, tenant, prefix)
    where, args = scope_sql(tenant, prefix, now)
    sql = (
        f"SELECT {ITEM_COLUMNS} FROM items i INDEXED BY {index} WHERE {where} "
        "ORDER BY i.updated_at DESC, i.ns, i.key"
    )
    return paged(conn, sql, args, item, lambda i: i.value, (filter, offset, limit))


def _hit(row: Sequence[Any]) -> ItemHit:
    return ItemHit(item(row), -float(row[7]))


SCOPED_SHARE = 8
SCOPED_MAX = SMALL_PREFIX
"""The scope token pays only when the prefix holds a small share of the store: FTS5 walks the
token's whole list of rows (about 0.2 µs a row), while each match it spares costs a score and
a row lookup. At 100,000 items all under one prefix a search took 2 ms (p50) without the
token and 24 ms with it. So it is used when the prefix holds at most 1/``SCOPED_SHARE`` of
the items ever put (the highest id: a cheap bound) and at most ``SCOPED_MAX`` items: counting
them is paid by every search (1.3 ms of CPU to count 10,000, 0.16 ms for 1,000), so a larger
prefix is searched without the token, as before it existed."""


def _narrow(conn: sqlite3.Connection, tenant: str, prefix: Namespace) -> bool:
    """Whether the scope token of ``prefix`` narrows a search enough to pay (see above)."""
    ever = conn.execute("SELECT coalesce(max(id), 0) FROM items").fetchone()[0]
    cap = min(ever // SCOPED_SHARE, SCOPED_MAX)
    under, args = prefix_sql(prefix, "ns")
    held = conn.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM items WHERE tenant = :tenant AND {under} LIMIT :cap)",
        {"tenant": tenant, "cap": cap + 1, **args},
    ).fetchone()[0]
    return bool(held <= cap)


def scoped_match(
    conn: sqlite3.Connection, tenant: str, prefix: Namespace, terms: Sequence[str]
) -> str | None:
    """The FTS5 query for ``terms`` in the text of items, with the token of the items under
    ``prefix`` when it pays: then the index scores only them (``scope`` weighs 0 in bm25, so a
    score is the same either way)."""
    expression = match_expression(terms)
    if expression is None:
        return None
    if not _narrow(conn, tenant, prefix):
        return f"text : ({expression})"
    return f'scope : "{scope_token(tenant, prefix)}" AND text : ({expression})'


def item_keyword_search(
    conn: sqlite3.Connection,
    tenant: str,
    prefix: Namespace,
    terms: Sequence[str],
    filter: JSONObject | None,
    now: int,
    limit: int,
) -> list[ItemHit]:
    expression = scoped_match(conn, tenant, prefix, terms)
    if expression is None:
        return []
    # The exact conditions stay: the token only narrows what the index scores.
    where, args = scope_sql(tenant, prefix, now)
    sql = (
        f"SELECT {ITEM_COLUMNS}, bm25(items_fts, 1.0, 0.0) AS score FROM items_fts "
        f"JOIN items i ON i.id = items_fts.rowid WHERE items_fts MATCH :expression AND {where} "
        "ORDER BY score"
    )
    args["expression"] = expression
    return paged(conn, sql, args, _hit, lambda h: h.item.value, (filter, 0, limit))


def refresh_items(conn: sqlite3.Connection, keys: Sequence[ItemKey], now: int) -> None:
    if not keys:
        return
    with writing(conn):
        conn.executemany(REFRESH, [{**key_args(k), "now": now} for k in keys])


NAMESPACES = """WITH RECURSIVE spaces (ns) AS (
    SELECT min(ns) FROM items WHERE tenant = :tenant AND {under}
    UNION ALL
    SELECT (SELECT min(ns) FROM items WHERE tenant = :tenant AND ns > spaces.ns AND {under})
    FROM spaces WHERE ns IS NOT NULL
) SELECT ns FROM spaces WHERE ns IS NOT NULL AND EXISTS
    (SELECT 1 FROM items i WHERE i.tenant = :tenant AND i.ns = spaces.ns AND {live})
ORDER BY ns"""
"""The distinct namespaces by jumping from one to the next in the index (a step per
namespace, not per item), each kept if it holds a live item."""


def item_namespaces(
    conn: sqlite3.Connection, tenant: str, prefix: Namespace, now: int
) -> list[Namespace]:
    under, args = prefix_sql(prefix, "ns")
    found = conn.execute(
        NAMESPACES.format(under=under, live=LIVE), {"tenant": tenant, "now": now, **args}
    )
    return [decode(row[0]) for row in found]


def sweep_expired_items(conn: sqlite3.Connection, now: int, limit: int) -> int:
    with writing(conn):
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM items WHERE expires_at <= :now ORDER BY expires_at LIMIT :limit",
                {"now": now, "limit": limit},
            )
        ]
        remove(conn, ids)
    return len(ids)
