"""Rows of the SQLite store and the model objects they hold: the column lists every query
selects, and the conversions between the two."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from memhead.models import JSONObject, Message, Session

SESSION_COLUMNS = (
    "sid, id, namespace, user_id, metadata, created_at, updated_at, last_seq, summary, "
    "upto_seq, summary_version, tokens, last_compacted_at, last_error, attempts, "
    "next_attempt_at, ttl_ms"
)
MESSAGE_COLUMNS = "seq, role, content, created_at, client_id, metadata"
JOINED_MESSAGE_COLUMNS = "m.seq, m.role, m.content, m.created_at, m.client_id, m.metadata"
"""``MESSAGE_COLUMNS`` of the messages table joined as ``m``."""


def dump(value: JSONObject | None) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def load(value: str | None) -> JSONObject | None:
    if value is None:
        return None
    loaded: JSONObject = orjson.loads(value)
    return loaded


def message(row: Sequence[Any]) -> Message:
    """A message from the values of ``MESSAGE_COLUMNS``."""
    seq, role, content, created_at, client_id, metadata = row
    return Message(seq, role, content, created_at, client_id, load(metadata))


def session(row: sqlite3.Row) -> Session:
    """A session from the values of ``SESSION_COLUMNS``."""
    return Session(
        id=row[1],
        incarnation=str(row[0]),
        namespace=row[2],
        user_id=row[3],
        metadata=load(row[4]),
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
        ttl_ms=row[16],
    )


def message_values(sid: int, msg: Message) -> dict[str, Any]:
    """The named parameters of one message's row."""
    return {
        "sid": sid,
        "seq": msg.seq,
        "role": msg.role,
        "content": msg.content,
        "created_at": msg.created_at,
        "client_id": msg.client_id,
        "metadata": dump(msg.metadata),
    }
