"""The ``EmbeddingQueue`` role on SQLite: messages with ``embedded = 0`` are the backlog; a
stored vector goes to the ``vectors`` table, and the one ``embedding_space`` row fixes the
model and dimensions of them all, and of the items' vectors (``item_vectors``) too."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

import memhead.stores.sqlite.rows as rows
from memhead.errors import EmbeddingMismatch
from memhead.models import PendingEmbedding, SessionKey, now_ms
from memhead.stores.sqlite.batches import writing
from memhead.stores.sqlite.rows import JOINED_MESSAGE_COLUMNS


def embedding_backlog(conn: sqlite3.Connection, limit: int) -> list[PendingEmbedding]:
    found = conn.execute(
        f"SELECT s.tenant, s.id, s.sid, {JOINED_MESSAGE_COLUMNS} FROM messages m "
        "JOIN sessions s ON s.sid = m.sid WHERE m.embedded = 0 ORDER BY m.id LIMIT :limit",
        {"limit": limit},
    ).fetchall()
    return [PendingEmbedding(SessionKey(r[0], r[1]), str(r[2]), rows.message(r[3:])) for r in found]


def store_vectors(
    conn: sqlite3.Connection,
    items: Sequence[tuple[PendingEmbedding, Sequence[float]]],
    model: str,
) -> None:
    """Write vectors in one transaction."""
    if not items:
        return
    dims = {len(v) for _, v in items}
    if len(dims) != 1:
        raise EmbeddingMismatch(f"vectors of different dimensions in one batch: {sorted(dims)}")
    with writing(conn):
        check_space(conn, model, dims.pop())
        for item, vector in items:
            _store_vector(conn, int(item.incarnation), item.message.seq, vector)


def _store_vector(conn: sqlite3.Connection, sid: int, seq: int, vector: Sequence[float]) -> None:
    row = conn.execute(
        "SELECT id FROM messages WHERE sid = :sid AND seq = :seq AND embedded = 0",
        {"sid": sid, "seq": seq},
    ).fetchone()
    if row is None:
        return  # deleted meanwhile, or embedded by another worker
    ids = {"id": row[0], "sid": sid}
    conn.execute(
        "INSERT INTO vectors (id, sid, vector) VALUES (:id, :sid, :vector)",
        {**ids, "vector": normalised(vector).tobytes()},
    )
    conn.execute("UPDATE messages SET embedded = 1 WHERE id = :id", ids)
    conn.execute("UPDATE sessions SET vectors = vectors + 1 WHERE sid = :sid", ids)


def normalised(vector: Sequence[float]) -> npt.NDArray[np.float32]:
    """``vector`` as float32 of unit length (so that a dot product is the cosine)."""
    out = np.asarray(vector, dtype=np.float32)
    return out / max(float(np.linalg.norm(out)), 1e-12)


def check_space(conn: sqlite3.Connection, model: str, dim: int) -> None:
    """Record the embedding space with the first vector; refuse vectors of another one."""
    row = conn.execute("SELECT model, dimensions FROM embedding_space").fetchone()
    if row is None:
        conn.execute(
            "INSERT INTO embedding_space (only, model, dimensions) VALUES (1, :model, :dim)",
            {"model": model, "dim": dim},
        )
        return
    if (row[0], row[1]) != (model, dim):
        raise EmbeddingMismatch(
            f"this store holds vectors of {row[0]} ({row[1]} dimensions); the embedder is "
            f"{model} ({dim} dimensions). Use the same model, or a new store."
        )


def embedding_space(conn: sqlite3.Connection) -> tuple[str, int] | None:
    row = conn.execute("SELECT model, dimensions FROM embedding_space").fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def embedding_backlog_size(conn: sqlite3.Connection) -> int:
    """Messages and live indexed items without a vector."""
    messages = conn.execute("SELECT count(*) FROM messages WHERE embedded = 0").fetchone()[0]
    items = conn.execute(
        "SELECT count(*) FROM items WHERE indexed = 1 AND embedded = 0 "
        "AND (expires_at IS NULL OR expires_at > :now)",
        {"now": now_ms()},
    ).fetchone()[0]
    return int(messages) + int(items)


def reset_vectors(conn: sqlite3.Connection, model: str, dimensions: int) -> None:
    """One transaction: a reindex starts from nothing or not at all."""
    with writing(conn):
        conn.execute("DELETE FROM vectors")
        conn.execute("UPDATE messages SET embedded = 0 WHERE embedded = 1")
        conn.execute("UPDATE sessions SET vectors = 0 WHERE vectors > 0")
        conn.execute("DELETE FROM item_vectors")
        conn.execute("UPDATE items SET embedded = 0 WHERE embedded = 1")
        conn.execute("DELETE FROM embedding_space")
        conn.execute(
            "INSERT INTO embedding_space (only, model, dimensions) VALUES (1, :model, :dim)",
            {"model": model, "dim": dimensions},
        )
