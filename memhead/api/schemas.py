"""Request and response bodies of the native API (and the error body every route shares):
validation and the OpenAPI document in one. Motörhead's are in ``schemas_motorhead``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from memhead.api import examples
from memhead.models import Memory, Message, NewMessage, Session
from memhead.text import NAME_PATTERN, Name, Role, Text, check_json


class ErrorBody(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.ERROR]})

    error: str


# -- native shape -------------------------------------------------------------------------


def _json_safe(value: dict[str, Any]) -> dict[str, Any]:
    """Metadata must round-trip through JSON as stored (e.g. integers within 64 bits, finite
    numbers, valid text)."""
    check_json(value)
    try:
        orjson.dumps(value)
    except TypeError as exc:
        raise ValueError(f"metadata cannot be stored as JSON: {exc}") from None
    return value


Metadata = Annotated[
    dict[str, Any],
    AfterValidator(_json_safe),
    Field(description="Any JSON object; integers must fit in 64 bits, numbers be finite."),
]


def to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def to_ms(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    content: Text
    id: Name | None = Field(
        None,
        description="Client-chosen id; a retried POST with the same id stores nothing twice.",
    )
    metadata: Metadata | None = None
    created_at: datetime | None = Field(None, description="Defaults to the time of the POST.")

    def to_new(self) -> NewMessage:
        created = None if self.created_at is None else to_ms(self.created_at)
        return NewMessage(self.role, self.content, self.id, self.metadata, created)


class AppendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.APPEND]})

    messages: list[MessageIn] = Field(min_length=1)


class MessageOut(BaseModel):
    seq: int
    role: str
    content: str
    created_at: datetime
    id: str | None = None
    metadata: dict[str, Any] | None = None

    @classmethod
    def of(cls, m: Message) -> MessageOut:
        return cls(
            seq=m.seq,
            role=m.role,
            content=m.content,
            created_at=to_datetime(m.created_at),
            id=m.client_id,
            metadata=m.metadata,
        )


class MessageList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.MESSAGE_LIST]})

    messages: list[MessageOut]
    next_before_seq: int | None = Field(
        None, description="Pass as `before_seq` for the next (older) page; null at the end."
    )


class MemoryOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.MEMORY]})

    messages: list[MessageOut] = Field(description="The window, newest first.")
    summary: str | None
    upto_seq: int = Field(description="The summary covers every message with seq <= upto_seq.")
    tokens: int
    message_count: int
    unsummarized: int

    @classmethod
    def of(cls, memory: Memory) -> MemoryOut:
        s = memory.session or Session(id="", incarnation="")
        return cls(
            messages=[MessageOut.of(m) for m in memory.window],
            summary=s.summary,
            upto_seq=s.upto_seq,
            tokens=s.tokens,
            message_count=s.last_seq,
            unsummarized=s.unsummarized,
        )


class SessionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [examples.SESSION_PUT]}
    )

    user_id: Name | None = None
    metadata: Metadata | None = None
    ttl: int | None = Field(
        None,
        ge=0,
        le=100 * 365 * 86_400,
        description="Retention: delete the session once not written for this many seconds; "
        "0: never; null: back to the server's default (`MEMHEAD_SESSION_TTL`); left out: "
        "unchanged.",
    )

    def ttl_ms(self) -> int | None:
        """The patch's ``ttl_ms``: ``None`` (unchanged) unless ``ttl`` was sent; -1 for null."""
        if "ttl" not in self.model_fields_set:
            return None
        return -1 if self.ttl is None else self.ttl * 1000


class SessionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.SESSION]})

    id: str
    user_id: str | None
    metadata: dict[str, Any] | None
    namespace: str
    created_at: datetime
    updated_at: datetime
    message_count: int
    upto_seq: int = Field(description="The summary covers every message with seq <= upto_seq.")
    last_error: str | None = Field(description="The last compaction failure, until one succeeds.")
    ttl: int | None = Field(
        None,
        description="The session's own retention in seconds (0: never); null: the server's "
        "default.",
    )

    @classmethod
    def of(cls, s: Session) -> SessionOut:
        return cls(
            id=s.id,
            user_id=s.user_id,
            metadata=s.metadata,
            namespace=s.namespace,
            created_at=to_datetime(s.created_at),
            updated_at=to_datetime(s.updated_at),
            message_count=s.last_seq,
            upto_seq=s.upto_seq,
            last_error=s.last_error,
            ttl=None if s.ttl_ms is None else s.ttl_ms // 1000,
        )


class SessionList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.SESSION_LIST]})

    sessions: list[SessionOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page.")


class SummaryOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.SUMMARY_STATE]})

    summary: str | None
    upto_seq: int = Field(description="The summary covers every message with seq <= upto_seq.")
    tokens: int = Field(description="Provider tokens spent summarizing this session.")
    unsummarized: int = Field(description="Messages not yet folded into the summary.")
    last_compacted_at: datetime | None
    last_error: str | None = Field(description="The last compaction failure, until one succeeds.")
    attempts: int = Field(description="Failed compaction attempts since the last success.")
    next_attempt_at: datetime | None = Field(description="No retry before this time.")

    @classmethod
    def of(cls, s: Session) -> SummaryOut:
        return cls(
            summary=s.summary,
            upto_seq=s.upto_seq,
            tokens=s.tokens,
            unsummarized=s.unsummarized,
            last_compacted_at=_maybe_datetime(s.last_compacted_at),
            last_error=s.last_error,
            attempts=s.attempts,
            next_attempt_at=_maybe_datetime(s.next_attempt_at),
        )


def _maybe_datetime(ms: int | None) -> datetime | None:
    return None if ms is None else to_datetime(ms)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [examples.SEARCH]})

    query: Text = Field(min_length=1, max_length=10_000)
    session_id: str | None = Field(
        None,
        min_length=1,
        description="Search one session.",
        json_schema_extra={"pattern": NAME_PATTERN},  # checked as a session id in a path
    )
    user_id: Name | None = Field(None, description="Search every session of this user.")
    limit: int = Field(10, ge=1, le=100)
    mode: Literal["hybrid", "vector", "keyword"] = Field(
        "hybrid", description="Without an embedder, hybrid is keyword search."
    )
    since: datetime | None = Field(None, description="Only messages created at or after.")
    until: datetime | None = Field(None, description="Only messages created before.")
    roles: list[Role] | None = Field(None, min_length=1, description="Only these roles.")


class SearchHit(BaseModel):
    session_id: str
    seq: int
    role: str
    content: str
    created_at: datetime
    metadata: dict[str, Any] | None
    score: float = Field(description="Higher is better; comparable within one search.")
    retrievers: list[str] = Field(description="Which retrievers found it: keyword, vector.")


class SearchResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [examples.SEARCH_RESULT]})

    mode: Literal["hybrid", "vector", "keyword"] = Field(description="The mode actually used.")
    hits: list[SearchHit]
