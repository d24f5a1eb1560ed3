"""The data model shared by the service, the stores and the workers (``docs/architecture.md``).

Values are frozen dataclasses, except the ones every request builds by the dozen (``Message``,
``NewMessage``, ``Session``, ``Memory``): a frozen dataclass sets each field through
``object.__setattr__``, 1.0 µs per six-field object against 0.23 µs, and a window read
builds one per message. Nothing mutates them even so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

JSONObject = dict[str, Any]

DEFAULT_TENANT = "default"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class NewMessage:
    """A message as a client posts it; the store assigns its ``seq``."""

    role: str
    content: str
    client_id: str | None = None
    metadata: JSONObject | None = None
    created_at: int | None = None  # ms since epoch; the store uses "now" when absent


@dataclass(slots=True)
class Message:
    seq: int
    role: str
    content: str
    created_at: int
    client_id: str | None = None
    metadata: JSONObject | None = None


@dataclass(slots=True)
class Session:
    """A session with its summary state and its compaction status."""

    id: str
    incarnation: str  # changes when a session is deleted and created again
    namespace: str = ""
    user_id: str | None = None
    metadata: JSONObject | None = None
    created_at: int = 0
    updated_at: int = 0
    last_seq: int = 0
    summary: str | None = None
    upto_seq: int = 0
    summary_version: int = 0
    tokens: int = 0
    last_compacted_at: int | None = None
    last_error: str | None = None
    attempts: int = 0
    next_attempt_at: int | None = None
    ttl_ms: int | None = None
    """Retention: deleted once not written for this long; ``None``: the store-wide default
    (``MEMHEAD_SESSION_TTL``), ``0``: never."""

    @property
    def unsummarized(self) -> int:
        return self.last_seq - self.upto_seq


@dataclass(frozen=True, slots=True)
class SessionPatch:
    """Fields a native PUT may change; ``None`` leaves a field as it is."""

    user_id: str | None = None
    metadata: JSONObject | None = None
    ttl_ms: int | None = None
    """``0``: never expires; ``-1``: back to the default; ``None``: unchanged."""


@dataclass(slots=True)
class Memory:
    """What a client reads back: the session (if any) and its window, newest first."""

    session: Session | None
    window: list[Message] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SessionKey:
    tenant: str
    session_id: str


@dataclass(frozen=True, slots=True)
class SearchScope:
    """Where a search looks: one session, or every session of one user, within a tenant."""

    tenant: str
    session_id: str | None = None
    user_id: str | None = None
    since: int | None = None
    until: int | None = None
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Hit:
    """A message a retriever found; ``score`` is higher-is-better in that retriever's units."""

    session_id: str
    message: Message
    score: float


@dataclass(frozen=True, slots=True)
class PendingEmbedding:
    """A stored message that has no vector yet."""

    key: SessionKey
    incarnation: str
    message: Message


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key's record; the key itself is never stored, only its SHA-256."""

    id: str
    tenant: str
    name: str
    created_at: int
    revoked_at: int | None = None


Namespace = tuple[str, ...]
"""A memory item's namespace: a non-empty tuple of non-empty labels (``("users", "u1")``)."""


@dataclass(frozen=True, slots=True)
class ItemKey:
    """Where a memory item lives: a tenant's namespace and a key within it."""

    tenant: str
    namespace: Namespace
    key: str


@dataclass(frozen=True, slots=True)
class NewItem:
    """A memory item as the service hands it to a store (already validated).

    ``text`` is what keyword and vector search see (taken by the service from the fields the
    put's ``index`` names); ``None`` means not indexed: never found by a query. ``ttl_ms``
    (when set) makes the item expire ``ttl_ms`` after the put, and after each refresh."""

    value: JSONObject
    text: str | None = None
    ttl_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """A stored memory item; times are ms since the epoch."""

    namespace: Namespace
    key: str
    value: JSONObject
    created_at: int
    updated_at: int
    expires_at: int | None = None
    ttl_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ItemHit:
    """An item a retriever found; ``score`` is higher-is-better in that retriever's units."""

    item: Item
    score: float


@dataclass(frozen=True, slots=True)
class PendingItemEmbedding:
    """A stored, indexed item that has no vector yet. ``revision`` identifies the put that
    wrote ``text``: a vector is stored only while the item still holds that revision."""

    key: ItemKey
    revision: str
    text: str
