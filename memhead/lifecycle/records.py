"""The export format: one JSON object per line, its ``kind`` naming what it holds.

- ``session``: ``tenant``, ``id``, ``namespace``, ``user_id``, ``metadata``, ``created_at``,
  ``updated_at``, ``ttl`` (seconds; ``null``: the store's default, ``0``: never)
- ``message``: ``tenant``, ``session_id``, ``seq``, ``role``, ``content``, ``created_at``,
  ``id`` (the client's id), ``metadata``
- ``summary``: ``tenant``, ``session_id``, ``text``, ``upto_seq``, ``tokens``

Times are UTC ISO 8601 with milliseconds (exact: memhead keeps milliseconds). Keys are
sorted, so equal data gives equal bytes. A new kind of record (memory items) is one more
pair of functions here and one more entry in ``importer.HANDLERS``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from memhead.models import JSONObject, Message, Session

Record = dict[str, Any]


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def ms(value: object) -> int:
    if not isinstance(value, str):
        raise ValueError(f"a time must be an ISO 8601 string, not {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return round(parsed.timestamp() * 1000)


def line(record: Record) -> bytes:
    """One line of an export."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS) + b"\n"


def session_record(tenant: str, s: Session) -> Record:
    ttl = None if s.ttl_ms is None else s.ttl_ms / 1000
    return {
        "kind": "session",
        "tenant": tenant,
        "id": s.id,
        "namespace": s.namespace,
        "user_id": s.user_id,
        "metadata": s.metadata,
        "created_at": iso(s.created_at),
        "updated_at": iso(s.updated_at),
        "ttl": ttl if ttl is None or not ttl.is_integer() else int(ttl),
    }


def message_record(tenant: str, session_id: str, m: Message) -> Record:
    return {
        "kind": "message",
        "tenant": tenant,
        "session_id": session_id,
        "seq": m.seq,
        "role": m.role,
        "content": m.content,
        "created_at": iso(m.created_at),
        "id": m.client_id,
        "metadata": m.metadata,
    }


def summary_record(tenant: str, s: Session) -> Record | None:
    """The session's summary, or ``None`` when it has none."""
    if s.summary is None and s.upto_seq == 0 and s.tokens == 0:
        return None
    return {
        "kind": "summary",
        "tenant": tenant,
        "session_id": s.id,
        "text": s.summary,
        "upto_seq": s.upto_seq,
        "tokens": s.tokens,
    }


def field(record: Record, name: str, kind: type | tuple[type, ...]) -> Any:
    """``record[name]``, which must be of ``kind`` (``ValueError`` otherwise)."""
    value = record.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ValueError(f"{record.get('kind')} record: {name!r} is missing or invalid")
    return value


def optional(record: Record, name: str, kind: type) -> Any:
    return None if record.get(name) is None else field(record, name, kind)


def session_of(record: Record) -> Session:
    ttl = optional(record, "ttl", (int, float))  # type: ignore[arg-type]
    metadata: JSONObject | None = optional(record, "metadata", dict)
    return Session(
        id=field(record, "id", str),
        incarnation="",
        namespace=field(record, "namespace", str),
        user_id=optional(record, "user_id", str),
        metadata=metadata,
        created_at=ms(record.get("created_at")),
        updated_at=ms(record.get("updated_at")),
        ttl_ms=None if ttl is None else round(ttl * 1000),
    )


def message_of(record: Record) -> Message:
    return Message(
        field(record, "seq", int),
        field(record, "role", str),
        field(record, "content", str),
        ms(record.get("created_at")),
        optional(record, "id", str),
        optional(record, "metadata", dict),
    )
