"""The export format: one JSON object per line, its ``kind`` naming what it holds.

- ``session``: ``tenant``, ``id``, ``namespace``, ``user_id``, ``metadata``, ``created_at``,
  ``updated_at``, ``ttl`` (seconds; ``null``: the store's default, ``0``: never)
- ``message``: ``tenant``, ``session_id``, ``seq``, ``role``, ``content``, ``created_at``,
  ``id`` (the client's id), ``metadata``
- ``summary``: ``tenant``, ``session_id``, ``text``, ``upto_seq``, ``tokens``
- ``item``: ``tenant``, ``namespace`` (a list of labels), ``key``, ``value``, ``created_at``,
  ``updated_at``, ``expires_at`` (``null``: never), ``ttl`` (minutes; ``null``: none). No
  search text: an import indexes the value by the importing server's ``MEMHEAD_ITEM_INDEX``

Times are UTC ISO 8601 with milliseconds (exact: memhead keeps milliseconds). Keys are
sorted, so equal data gives equal bytes. A new kind of record is one more pair of functions
here and one more entry in ``importer.HANDLERS``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from memhead.items import checks
from memhead.models import Item, ItemKey, JSONObject, Message, Session

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


def _number(value: float | None) -> float | int | None:
    """Whole numbers as integers, so that equal data gives equal bytes."""
    return value if value is None or not value.is_integer() else int(value)


def item_record(tenant: str, i: Item) -> Record:
    return {
        "kind": "item",
        "tenant": tenant,
        "namespace": list(i.namespace),
        "key": i.key,
        "value": i.value,
        "created_at": iso(i.created_at),
        "updated_at": iso(i.updated_at),
        "expires_at": None if i.expires_at is None else iso(i.expires_at),
        "ttl": _number(None if i.ttl_ms is None else i.ttl_ms / 60_000),
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


def item_of(tenant: str, record: Record, max_bytes: int) -> tuple[ItemKey, Item]:
    """The item's place and the item (checked as a put checks it: ``InvalidRequest``)."""
    where = ItemKey(
        tenant,
        checks.namespace(field(record, "namespace", list)),
        checks.key(field(record, "key", str)),
    )
    ttl = optional(record, "ttl", (int, float))  # type: ignore[arg-type]
    expires = record.get("expires_at")
    return where, Item(
        where.namespace,
        where.key,
        checks.value(field(record, "value", dict), max_bytes),
        ms(record.get("created_at")),
        ms(record.get("updated_at")),
        None if expires is None else ms(expires),
        checks.ttl_ms(ttl),
    )
