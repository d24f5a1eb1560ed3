"""The ``KeyStore`` role on SQLite: the ``api_keys`` table."""

from __future__ import annotations

import sqlite3

from memhead.models import ApiKey
from memhead.stores.sqlite.batches import writing


def create_key(conn: sqlite3.Connection, key: ApiKey, key_hash: str) -> None:
    with writing(conn):
        conn.execute(
            "INSERT INTO api_keys (id, key_hash, tenant, name, created_at) "
            "VALUES (:id, :key_hash, :tenant, :name, :created_at)",
            {
                "id": key.id,
                "key_hash": key_hash,
                "tenant": key.tenant,
                "name": key.name,
                "created_at": key.created_at,
            },
        )


def list_keys(conn: sqlite3.Connection) -> list[ApiKey]:
    found = conn.execute(
        "SELECT id, tenant, name, created_at, revoked_at FROM api_keys ORDER BY created_at, id"
    ).fetchall()
    return [ApiKey(*r) for r in found]


def revoke_key(conn: sqlite3.Connection, key_id: str, now: int) -> bool:
    with writing(conn):
        cur = conn.execute(
            "UPDATE api_keys SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL",
            {"now": now, "id": key_id},
        )
    return cur.rowcount == 1


def tenant_for_key(conn: sqlite3.Connection, key_hash: str) -> str | None:
    row = conn.execute(
        "SELECT tenant FROM api_keys WHERE key_hash = :key_hash AND revoked_at IS NULL",
        {"key_hash": key_hash},
    ).fetchone()
    return None if row is None else str(row[0])
