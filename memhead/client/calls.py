"""Every route of the native API as a ``Call``: the request to send and how to read the
answer. Built once here and sent by both ``Memhead`` and ``AsyncMemhead``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from memhead.client.types import (
    Memory,
    Message,
    MessagePage,
    SearchMode,
    SearchResults,
    Session,
    SessionPage,
    SummaryStatus,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
PREFIX = "/api/v1"


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, Any] | None = None
    json: Any = None
    idempotent: bool = True
    """Safe to send again after a lost answer. Every call of the native API is: reads, PUT,
    DELETE, search, and appends (each message carries a client id, so a retry stores nothing
    twice)."""


def _model(kind: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: kind.model_validate_json(response.content)


def _nothing(response: httpx.Response) -> None:
    return None


def _messages(response: httpx.Response) -> list[Message]:
    return MessagePage.model_validate_json(response.content).messages


def _session_path(session_id: str, tail: str = "") -> str:
    if not session_id:
        raise ValueError("session_id must not be empty")
    # Every reserved character escaped ("/" too): the id comes back as it went, whatever it is.
    return f"{PREFIX}/sessions/{quote(session_id, safe='')}{tail}"


def _present(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def put_session(
    session_id: str, user_id: str | None, metadata: Mapping[str, Any] | None
) -> Call[Session]:
    body = _present(user_id=user_id, metadata=None if metadata is None else dict(metadata))
    return Call("PUT", _session_path(session_id), _model(Session), json=body)


def get_session(session_id: str) -> Call[Session]:
    return Call("GET", _session_path(session_id), _model(Session))


def delete_session(session_id: str) -> Call[None]:
    return Call("DELETE", _session_path(session_id), _nothing)


def list_sessions(
    user_id: str | None, namespace: str | None, cursor: str | None, limit: int
) -> Call[SessionPage]:
    params = _present(user_id=user_id, namespace=namespace, cursor=cursor, limit=limit)
    return Call("GET", f"{PREFIX}/sessions", _model(SessionPage), params=params)


def add_messages(session_id: str, messages: Iterable[Mapping[str, Any]]) -> Call[list[Message]]:
    body = {"messages": [_message_body(m) for m in messages]}
    return Call("POST", _session_path(session_id, "/messages"), _messages, json=body)


def _message_body(message: Mapping[str, Any]) -> dict[str, Any]:
    body = dict(message)
    body["id"] = body.get("id") or str(uuid.uuid4())
    if isinstance(body.get("created_at"), datetime):
        body["created_at"] = body["created_at"].isoformat()
    return body


def list_messages(session_id: str, before_seq: int | None, limit: int) -> Call[MessagePage]:
    params = _present(before_seq=before_seq, limit=limit)
    return Call("GET", _session_path(session_id, "/messages"), _model(MessagePage), params=params)


def get_memory(session_id: str, lastn: int | None) -> Call[Memory]:
    params = _present(lastn=lastn)
    return Call("GET", _session_path(session_id, "/memory"), _model(Memory), params=params)


def get_summary(session_id: str) -> Call[SummaryStatus]:
    return Call("GET", _session_path(session_id, "/summary"), _model(SummaryStatus))


@dataclass(frozen=True, slots=True)
class SearchQuery:
    query: str
    session_id: str | None = None
    user_id: str | None = None
    limit: int = 10
    mode: SearchMode = "hybrid"
    since: datetime | None = None
    until: datetime | None = None
    roles: Sequence[str] | None = None


def search(q: SearchQuery) -> Call[SearchResults]:
    body = _present(
        query=q.query,
        session_id=q.session_id,
        user_id=q.user_id,
        limit=q.limit,
        mode=q.mode,
        since=_iso(q.since),
        until=_iso(q.until),
        roles=None if q.roles is None else list(q.roles),
    )
    return Call("POST", f"{PREFIX}/search", _model(SearchResults), json=body)
