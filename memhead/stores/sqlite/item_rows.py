"""Rows of the ``items`` table and the SQL pieces every item query shares: how a namespace is
stored, which items a prefix holds, which are live, and reading a page of them through a
filter."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from hashlib import blake2b
from itertools import islice
from typing import Any, TypeVar

import memhead.stores.sqlite.rows as rows
from memhead.items.filters import matches
from memhead.models import Item, JSONObject, Namespace
from memhead.stores.sqlite.search import in_list

T = TypeVar("T")

SEPARATOR = "\x1f"
"""Between the labels of a stored namespace: a control character, which labels never hold,
and lower than any character they do hold, so that sorting the joined strings sorts the
namespaces label by label."""
ABOVE_SEPARATOR = "\x20"

ITEM_COLUMNS = "i.ns, i.key, i.value, i.created_at, i.updated_at, i.expires_at, i.ttl_ms"
"""The columns ``item`` reads, of the items table joined as ``i``."""
LIVE = "(i.expires_at IS NULL OR i.expires_at > :now)"


def encode(namespace: Namespace) -> str:
    return SEPARATOR.join(namespace)


def decode(ns: str) -> Namespace:
    return tuple(ns.split(SEPARATOR))


def scope_token(tenant: str, prefix: Namespace) -> str:
    """The keyword index's token for the items of ``tenant`` under ``prefix`` (``()``: the
    whole tenant): a short digest, hex, so the tokenizer keeps it one word. Two scopes may share
    a token; it only narrows what the index scores, and every search still holds to the exact
    SQL conditions (``scope_sql``), so a shared token can cost time but never leak an item."""
    whole = f"{len(tenant)}:{tenant}{SEPARATOR}{encode(prefix)}"
    return blake2b(whole.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def scope_tokens(tenant: str, ns: str) -> str:
    """The scope column of an item stored under ``ns`` (as stored): one token per prefix of
    its namespace, from the tenant alone to the whole namespace."""
    labels = decode(ns)
    return " ".join(scope_token(tenant, labels[:k]) for k in range(len(labels) + 1))


def item(row: Sequence[Any]) -> Item:
    """An item from the values of ``ITEM_COLUMNS``."""
    value = rows.load(row[2])
    assert value is not None
    return Item(decode(row[0]), row[1], value, row[3], row[4], row[5], row[6])


def prefix_sql(prefix: Namespace, column: str = "i.ns") -> tuple[str, dict[str, Any]]:
    """The condition holding the namespaces under ``prefix`` by whole labels: ``ns`` is the
    prefix itself or starts with it and a separator. As labels hold no control character,
    nothing sorts between the prefix and the prefix followed by the separator, so that is one
    range, which the index serves."""
    if not prefix:
        return "1", {}
    p = encode(prefix)
    sql = f"({column} >= :prefix AND {column} < :prefix_high)"
    return sql, {"prefix": p, "prefix_high": p + ABOVE_SEPARATOR}


def scope_sql(tenant: str, prefix: Namespace, now: int) -> tuple[str, dict[str, Any]]:
    """The live items of a tenant under a prefix, as a WHERE condition on ``i``."""
    under, args = prefix_sql(prefix)
    return f"i.tenant = :tenant AND {under} AND {LIVE}", {"tenant": tenant, "now": now, **args}


def paged(
    conn: sqlite3.Connection,
    sql: str,
    args: dict[str, Any],
    build: Callable[[Sequence[Any]], T],
    value_of: Callable[[T], JSONObject],
    page: tuple[JSONObject | None, int, int],
) -> list[T]:
    """The page ``[offset, offset + limit)`` of ``sql``'s rows (built by ``build``) whose
    values pass the filter. Without a filter the database cuts the page; with one, rows are
    read in order until the page is full, so a filtered page is full when enough match."""
    filter, offset, limit = page
    if not filter:
        sql += " LIMIT :page_limit OFFSET :page_offset"
        args = {**args, "page_limit": limit, "page_offset": offset}
    cursor = conn.execute(sql, args)
    try:
        built: Iterable[T] = map(build, cursor)
        if filter:
            built = (x for x in built if matches(value_of(x), filter))
            built = islice(built, offset, offset + limit)
        return list(built)
    finally:
        cursor.close()


def remove(conn: sqlite3.Connection, ids: Sequence[int]) -> None:
    """Delete items with their keyword rows and vectors (inside a write)."""
    if not ids:
        return
    id_list, id_args = in_list("id", ids)
    conn.execute(f"DELETE FROM items_fts WHERE rowid IN {id_list}", id_args)
    conn.execute(f"DELETE FROM item_vectors WHERE item IN {id_list}", id_args)
    conn.execute(f"DELETE FROM items WHERE id IN {id_list}", id_args)
