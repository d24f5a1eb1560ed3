"""The embedded store: one SQLite file in WAL mode, driven from a single worker thread.

Each store operation runs whole on that thread, so a request costs one hop off the event
loop however many statements it takes; operations queued together share one transaction
(``sqlite_batches``). Several processes may share one file: writes take the lock with
``BEGIN IMMEDIATE`` and wait up to ``busy_timeout``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson

from memhead.errors import ConfigError
from memhead.models import (
    ApiKey,
    Hit,
    JSONObject,
    Memory,
    Message,
    NewMessage,
    PendingEmbedding,
    SearchScope,
    Session,
    SessionKey,
    SessionPatch,
)
from memhead.retrieval import keyword_fields
from memhead.stores import sqlite_search as search
from memhead.stores.sqlite_batches import BatchRunner, Checkpointer, writing
from memhead.stores.sqlite_schema import migrate

T = TypeVar("T")

SESSION_COLUMNS = (
    "sid, id, namespace, user_id, metadata, created_at, updated_at, last_seq, summary, "
    "upto_seq, summary_version, tokens, last_compacted_at, last_error, attempts, "
    "next_attempt_at"
)
MESSAGE_COLUMNS = "seq, role, content, created_at, client_id, metadata"
WRITER_CHECKPOINT_PAGES = 4000
"""The writer's own checkpoint (the one that lets the WAL start over, see ``Checkpointer``)
runs once the WAL holds this many pages. Each one stalls the queue for its fsyncs, but a
longer WAL slows every read that misses the page cache (SQLite's docs: readers search the WAL
index, which grows with it). Tried 16,000: single-run p99s within the noise (27-30 ms
against 29-31), and in one bench/load run the summarizing side fell to 2.5-4.3k req/s from
4.9-5.3k (a noisy run, but no gain to set against it)."""


def path_from_url(url: str) -> str:
    """``sqlite:///rel.db`` is relative, ``sqlite:////abs.db`` absolute, ``sqlite://:memory:``."""
    if url in ("sqlite://:memory:", "sqlite:///:memory:"):
        return ":memory:"
    if not url.startswith("sqlite:///") or len(url) == len("sqlite:///"):
        raise ConfigError(f"invalid SQLite URL {url!r}: use sqlite:///path/to/file.db")
    return url[len("sqlite:///") :]


def _dump(value: JSONObject | None) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _load(value: str | None) -> JSONObject | None:
    if value is None:
        return None
    loaded: JSONObject = orjson.loads(value)
    return loaded


def _message(row: Sequence[Any]) -> Message:
    seq, role, content, created_at, client_id, metadata = row
    return Message(seq, role, content, created_at, client_id, _load(metadata))


def _session(row: sqlite3.Row) -> Session:
    return Session(
        id=row[1],
        incarnation=str(row[0]),
        namespace=row[2],
        user_id=row[3],
        metadata=_load(row[4]),
        created_at=row[5],
        updated_at=row[6],
        last_seq=row[7],
        summary=row[8],
        upto_seq=row[9],
        summary_version=row[10],
        tokens=row[11],
        last_compacted_at=row[12],
        last_error=row[13],
        attempts=row[14],
        next_attempt_at=row[15],
    )


class SqliteStore:
    backend = "sqlite"

    def __init__(
        self,
        path: str,
        *,
        synchronous: str = "NORMAL",
        busy_timeout_ms: int = 5000,
        vector_cache_bytes: int = 512 * 1024 * 1024,
    ):
        self.path = path
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._vectors = search.VectorCache(vector_cache_bytes)
        # A search in a batch that is then rolled back may have cached vectors that were
        # never committed; the cache is keyed by the session's vector count, which the
        # next write can bring back to the same number with other vectors.
        self._runner = BatchRunner(
            self._connect, name="memhead-sqlite", on_rollback=self._vectors.clear
        )
        self._checkpointer = Checkpointer(self._connect)

    @classmethod
    def from_url(
        cls, url: str, *, synchronous: str = "NORMAL", vector_cache_bytes: int = 512 * 1024 * 1024
    ) -> SqliteStore:
        return cls(
            path_from_url(url), synchronous=synchronous, vector_cache_bytes=vector_cache_bytes
        )

    # -- plumbing ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=0)
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        return conn

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        result: T = await self._runner.submit(fn, *args)
        return result

    async def setup(self) -> None:
        await self._run(migrate)
        if self.path != ":memory:":  # most checkpointing moves to its own thread
            self._checkpointer.start()
            await self._run(
                lambda conn: conn.execute(f"PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}")
            )

    async def close(self) -> None:
        await asyncio.to_thread(self._checkpointer.stop)
        await asyncio.to_thread(self._runner.stop)

    async def ping(self) -> None:
        """Ready means writable: take the write lock (within ``busy_timeout``) and let go."""

        def ping(conn: sqlite3.Connection) -> None:
            with writing(conn):
                conn.execute("SELECT 1").fetchone()

        await self._run(ping)

    # -- messages ---------------------------------------------------------------------

    async def append(
        self,
        key: SessionKey,
        messages: Sequence[NewMessage],
        *,
        now: int,
        window: int,
        namespace: str | None = None,
        context: str | None = None,
    ) -> list[Message]:
        return await self._run(self._append, key, messages, now, window, namespace, context)

    def _append(
        self,
        conn: sqlite3.Connection,
        key: SessionKey,
        messages: Sequence[NewMessage],
        now: int,
        window: int,
        namespace: str | None,
        context: str | None,
    ) -> list[Message]:
        with writing(conn):
            sid, last_seq = self._ensure_session(conn, key, now, namespace)
            known = self._known_client_ids(conn, sid, messages)
            stored: list[Message] = []
            rows = []
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
                rows.append((sid, *self._message_values(msg)))
                stored.append(msg)
                if msg.client_id is not None:
                    known[msg.client_id] = msg
            self._insert(conn, sid, rows)
            conn.execute(
                """UPDATE sessions SET
                    last_seq = ?,
                    updated_at = CASE WHEN ? THEN ? ELSE updated_at END,
                    namespace = coalesce(?, namespace),
                    summary = CASE WHEN ? THEN ? ELSE summary END,
                    summary_version = summary_version + ?,
                    due_at = CASE WHEN due_at IS NULL AND ? - upto_seq > ? THEN ? ELSE due_at END
                WHERE sid = ?""",
                (
                    last_seq,
                    bool(rows),
                    now,
                    namespace,
                    context is not None,
                    context,
                    int(context is not None),
                    last_seq,
                    window,
                    now,
                    sid,
                ),
            )
        return stored

    @staticmethod
    def _insert(conn: sqlite3.Connection, sid: int, rows: list[tuple[Any, ...]]) -> None:
        """Insert messages and their keyword rows (message, previous message, day)."""
        if not rows:
            return
        previous = conn.execute(
            "SELECT content FROM messages WHERE sid = ? AND seq = ?", (sid, rows[0][1] - 1)
        ).fetchone()
        context = previous[0] if previous else ""
        for row in rows:
            cur = conn.execute(
                f"INSERT INTO messages (sid, {MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", row
            )
            created = datetime.fromtimestamp(row[4] / 1000, tz=UTC)
            conn.execute(
                "INSERT INTO messages_fts (rowid, content, context, day) VALUES (?, ?, ?, ?)",
                (cur.lastrowid, *keyword_fields(row[3], context, created)),
            )
            context = row[3]

    @staticmethod
    def _message_values(msg: Message) -> tuple[Any, ...]:
        return (
            msg.seq,
            msg.role,
            msg.content,
            msg.created_at,
            msg.client_id,
            _dump(msg.metadata),
        )

    @staticmethod
    def _ensure_session(
        conn: sqlite3.Connection, key: SessionKey, now: int, namespace: str | None
    ) -> tuple[int, int]:
        row = conn.execute(
            "SELECT sid, last_seq FROM sessions WHERE tenant = ? AND id = ?",
            (key.tenant, key.session_id),
        ).fetchone()
        if row is not None:
            return row[0], row[1]
        cur = conn.execute(
            "INSERT INTO sessions (tenant, id, namespace, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (key.tenant, key.session_id, namespace or "", now, now),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid, 0

    @staticmethod
    def _known_client_ids(
        conn: sqlite3.Connection, sid: int, messages: Sequence[NewMessage]
    ) -> dict[str, Message]:
        ids = [m.client_id for m in messages if m.client_id is not None]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = conn.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE sid = ? AND client_id IN ({marks})",
            (sid, *ids),
        ).fetchall()
        return {row[4]: _message(row) for row in rows}

    async def memory(self, key: SessionKey, window: int) -> Memory:
        return await self._run(self._read_memory, key, window)

    def _read_memory(self, conn: sqlite3.Connection, key: SessionKey, window: int) -> Memory:
        session = self._get_session(conn, key)
        if session is None:
            return Memory(None, [])
        rows = conn.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE sid = ? AND seq > ? "
            "ORDER BY seq DESC LIMIT ?",
            (int(session.incarnation), session.upto_seq, window),
        ).fetchall()
        return Memory(session, [_message(r) for r in rows])

    async def history(
        self, key: SessionKey, *, before_seq: int | None, limit: int
    ) -> list[Message]:
        def read(conn: sqlite3.Connection) -> list[Message]:
            rows = conn.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE sid = "
                "(SELECT sid FROM sessions WHERE tenant = ? AND id = ?) AND seq < ? "
                "ORDER BY seq DESC LIMIT ?",
                (key.tenant, key.session_id, before_seq or 2**62, limit),
            ).fetchall()
            return [_message(r) for r in rows]

        return await self._run(read)

    async def span(self, key: SessionKey, *, after_seq: int, through_seq: int) -> list[Message]:
        def read(conn: sqlite3.Connection) -> list[Message]:
            rows = conn.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE sid = "
                "(SELECT sid FROM sessions WHERE tenant = ? AND id = ?) AND seq > ? AND seq <= ? "
                "ORDER BY seq",
                (key.tenant, key.session_id, after_seq, through_seq),
            ).fetchall()
            return [_message(r) for r in rows]

        return await self._run(read)

    # -- sessions ---------------------------------------------------------------------

    @staticmethod
    def _get_session(conn: sqlite3.Connection, key: SessionKey) -> Session | None:
        row = conn.execute(
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant = ? AND id = ?",
            (key.tenant, key.session_id),
        ).fetchone()
        return None if row is None else _session(row)

    async def get_session(self, key: SessionKey) -> Session | None:
        return await self._run(self._get_session, key)

    async def put_session(self, key: SessionKey, patch: SessionPatch, *, now: int) -> Session:
        def write(conn: sqlite3.Connection) -> Session:
            with writing(conn):
                conn.execute(
                    """INSERT INTO sessions (tenant, id, user_id, metadata, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (tenant, id) DO UPDATE SET
                        user_id = coalesce(excluded.user_id, user_id),
                        metadata = coalesce(excluded.metadata, metadata),
                        updated_at = excluded.updated_at""",
                    (key.tenant, key.session_id, patch.user_id, _dump(patch.metadata), now, now),
                )
                session = self._get_session(conn, key)
            assert session is not None
            return session

        return await self._run(write)

    async def delete_session(self, key: SessionKey) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            with writing(conn):
                row = conn.execute(
                    "DELETE FROM sessions WHERE tenant = ? AND id = ? RETURNING sid",
                    (key.tenant, key.session_id),
                ).fetchone()
                if row is None:
                    return False
                conn.execute(
                    "DELETE FROM messages_fts WHERE rowid IN "
                    "(SELECT id FROM messages WHERE sid = ?)",
                    (row[0],),
                )
                conn.execute("DELETE FROM messages WHERE sid = ?", (row[0],))
                conn.execute("DELETE FROM vectors WHERE sid = ?", (row[0],))
            return True

        return await self._run(delete)

    async def list_namespace(
        self, tenant: str, namespace: str, *, offset: int, limit: int
    ) -> list[str]:
        def read(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT id FROM sessions WHERE tenant = ? AND namespace = ? "
                "ORDER BY updated_at, id LIMIT ? OFFSET ?",
                (tenant, namespace, limit, offset),
            ).fetchall()
            return [r[0] for r in rows]

        return await self._run(read)

    async def list_sessions(
        self,
        tenant: str,
        *,
        user_id: str | None,
        before: tuple[int, str] | None,
        limit: int,
        namespace: str | None = None,
    ) -> list[Session]:
        def read(conn: sqlite3.Connection) -> list[Session]:
            sql = f"SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant = ?"
            args: list[Any] = [tenant]
            for column, value in (("user_id", user_id), ("namespace", namespace)):
                if value is not None:
                    sql += f" AND {column} = ?"
                    args.append(value)
            if before is not None:
                sql += " AND (updated_at, id) < (?, ?)"
                args.extend(before)
            sql += " ORDER BY updated_at DESC, id DESC LIMIT ?"
            rows = conn.execute(sql, (*args, limit)).fetchall()
            return [_session(r) for r in rows]

        return await self._run(read)

    # -- compaction -------------------------------------------------------------------

    async def due_sessions(self, *, now: int, limit: int) -> list[SessionKey]:
        def read(conn: sqlite3.Connection) -> list[SessionKey]:
            rows = conn.execute(
                "SELECT tenant, id FROM sessions WHERE due_at IS NOT NULL AND due_at <= ? "
                "AND (lease_until IS NULL OR lease_until <= ?) ORDER BY due_at LIMIT ?",
                (now, now, limit),
            ).fetchall()
            return [SessionKey(r[0], r[1]) for r in rows]

        return await self._run(read)

    async def acquire_lease(self, key: SessionKey, *, owner: str, now: int, ttl_ms: int) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE sessions SET lease_owner = ?, lease_until = ? "
                "WHERE tenant = ? AND id = ? "
                "AND (lease_until IS NULL OR lease_until <= ? OR lease_owner = ?)",
                (owner, now + ttl_ms, key.tenant, key.session_id, now, owner),
            )
            return cur.rowcount == 1

        return await self._run(write)

    async def release_lease(self, key: SessionKey, *, owner: str) -> None:
        await self._run(
            lambda conn: conn.execute(
                "UPDATE sessions SET lease_owner = NULL, lease_until = NULL "
                "WHERE tenant = ? AND id = ? AND lease_owner = ?",
                (key.tenant, key.session_id, owner),
            )
        )

    async def commit_summary(
        self,
        key: SessionKey,
        *,
        incarnation: str,
        expected_version: int,
        summary: str | None,
        upto_seq: int,
        tokens: int,
        now: int,
        window: int,
    ) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                """UPDATE sessions SET
                    summary = ?, upto_seq = ?, summary_version = summary_version + 1,
                    tokens = tokens + ?, last_compacted_at = ?, last_error = NULL,
                    attempts = 0, next_attempt_at = NULL,
                    due_at = CASE WHEN last_seq - ? > ? THEN ? ELSE NULL END
                WHERE tenant = ? AND id = ? AND sid = ? AND summary_version = ?
                    AND ? <= last_seq AND ? >= upto_seq""",
                (
                    summary,
                    upto_seq,
                    tokens,
                    now,
                    upto_seq,
                    window,
                    now,
                    key.tenant,
                    key.session_id,
                    int(incarnation),
                    expected_version,
                    upto_seq,
                    upto_seq,
                ),
            )
            return cur.rowcount == 1

        return await self._run(write)

    async def record_failure(
        self, key: SessionKey, *, incarnation: str, error: str, retry_at: int
    ) -> None:
        await self._run(
            lambda conn: conn.execute(
                "UPDATE sessions SET last_error = ?, attempts = attempts + 1, "
                "next_attempt_at = ?, due_at = ? WHERE tenant = ? AND id = ? AND sid = ?",
                (error, retry_at, retry_at, key.tenant, key.session_id, int(incarnation)),
            )
        )

    # -- search -----------------------------------------------------------------------

    async def keyword_search(
        self, scope: SearchScope, terms: Sequence[str], limit: int
    ) -> list[Hit]:
        rows = await self._run(search.keyword_search, scope, terms, limit)
        return [Hit(sid, _message(m), score) for sid, m, score in rows]

    async def vector_search(
        self, scope: SearchScope, vector: Sequence[float], limit: int
    ) -> list[Hit]:
        rows = await self._run(search.vector_search, self._vectors, scope, vector, limit)
        return [Hit(sid, _message(m), score) for sid, m, score in rows]

    async def fetch(self, tenant: str, positions: Sequence[tuple[str, int]]) -> list[Hit]:
        rows = await self._run(search.fetch, tenant, positions)
        return [Hit(sid, _message(m), 0.0) for sid, m in rows]

    async def embedding_backlog(self, *, limit: int) -> list[PendingEmbedding]:
        rows = await self._run(search.embedding_backlog, limit)
        return [search.pending(r, _message(r[3:])) for r in rows]

    async def store_vectors(
        self, items: Sequence[tuple[PendingEmbedding, Sequence[float]]], *, model: str
    ) -> None:
        def write(conn: sqlite3.Connection) -> None:
            with writing(conn):
                search.store_vectors(conn, items, model)

        await self._run(write)

    # -- API keys ---------------------------------------------------------------------

    async def create_key(self, key: ApiKey, *, key_hash: str) -> None:
        def write(conn: sqlite3.Connection) -> None:
            with writing(conn):
                conn.execute(
                    "INSERT INTO api_keys (id, key_hash, tenant, name, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (key.id, key_hash, key.tenant, key.name, key.created_at),
                )

        await self._run(write)

    async def list_keys(self) -> list[ApiKey]:
        def read(conn: sqlite3.Connection) -> list[ApiKey]:
            rows = conn.execute(
                "SELECT id, tenant, name, created_at, revoked_at FROM api_keys "
                "ORDER BY created_at, id"
            ).fetchall()
            return [ApiKey(*r) for r in rows]

        return await self._run(read)

    async def revoke_key(self, key_id: str, *, now: int) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            with writing(conn):
                cur = conn.execute(
                    "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                    (now, key_id),
                )
            return cur.rowcount == 1

        return await self._run(write)

    async def tenant_for_key(self, key_hash: str) -> str | None:
        def read(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT tenant FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
                (key_hash,),
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._run(read)

    # -- invariants -------------------------------------------------------------------

    async def check(self) -> list[str]:
        return await self._run(search.check)
