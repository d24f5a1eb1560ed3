"""What the Redis store reads and writes, converted: hash fields and script replies to model
objects, optional values to a value and a flag, and the handle every role module works on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis

from memhead.models import ApiKey, JSONObject, Message, Session
from memhead.stores.redis.keyspace import Keys
from memhead.stores.redis.scripts import Scripts

MESSAGE_FIELDS = ("seq", "role", "content", "created_at", "client_id", "metadata")
"""The message fields a read returns, in the order ``message`` reads them."""

Fields = list[bytes | None]


@dataclass(frozen=True, slots=True)
class Db:
    """A store's client, key names and scripts: what every role module works on."""

    client: Redis
    keys: Keys
    scripts: Scripts


def flag(value: str | None) -> tuple[str, str]:
    return ("", "0") if value is None else (value, "1")


def dump(value: JSONObject | None) -> str:
    return "" if value is None else orjson.dumps(value).decode()


def load(value: bytes | None) -> JSONObject | None:
    if value is None:
        return None
    loaded: JSONObject = orjson.loads(value)
    return loaded


def text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


def integer(value: bytes | None) -> int | None:
    return None if value is None else int(value)


def string(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def message(values: Sequence[Any]) -> Message:
    """A message from the values of ``MESSAGE_FIELDS``."""
    seq, role, content, created, client_id, meta = values
    return Message(
        int(seq), role.decode(), content.decode(), int(created), text(client_id), load(meta)
    )


def session(h: Mapping[bytes, bytes]) -> Session:
    return Session(
        id=h[b"id"].decode(),
        incarnation=h[b"incarnation"].decode(),
        namespace=h[b"namespace"].decode(),
        user_id=text(h.get(b"user_id")),
        metadata=load(h.get(b"metadata")),
        created_at=int(h[b"created_at"]),
        updated_at=int(h[b"updated_at"]),
        last_seq=int(h[b"last_seq"]),
        summary=text(h.get(b"summary")),
        upto_seq=int(h[b"upto_seq"]),
        summary_version=int(h[b"summary_version"]),
        tokens=int(h[b"tokens"]),
        last_compacted_at=integer(h.get(b"last_compacted_at")),
        last_error=text(h.get(b"last_error")),
        attempts=int(h[b"attempts"]),
        next_attempt_at=integer(h.get(b"next_attempt_at")),
        ttl_ms=integer(h.get(b"ttl_ms")),
    )


def pairs(flat: Sequence[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def api_key(h: Mapping[bytes, bytes]) -> ApiKey:
    revoked = h.get(b"revoked_at")
    return ApiKey(
        h[b"id"].decode(),
        h[b"tenant"].decode(),
        h[b"name"].decode(),
        int(h[b"created_at"]),
        None if revoked is None else int(revoked),
    )
