"""Every route of the native API, and the memory-item routes (``/store``), as a ``Call``: the
request to send and how to read the answer. Built once here and sent by both ``Memhead`` and
``AsyncMemhead``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from memhead.client.types import (
    Item,
    Memory,
    Message,
    MessagePage,
    Namespace,
    SearchItem,
    SearchMode,
    SearchResults,
    Session,
    SessionPage,
    SummaryStatus,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
PREFIX = "/api/v1"
STORE = "/store"


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, Any] | None = None
    json: Any = None
    idempotent: bool = True
    """Safe to send again after a lost answer. Every call memhead has is: reads, PUT,
    DELETE, search, appends (each message carries a client id, so a retry stores nothing
    twice), and the item calls (a put sends the whole value, so sending it again leaves the
    same item; a delete of what is gone succeeds)."""
    absent_ok: bool = False
    """A 404 is an answer for ``parse`` (an absent item reads as ``None``), not an error."""


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
    session_id: str,
    user_id: str | None,
    metadata: Mapping[str, Any] | None,
    ttl: int | None = None,
) -> Call[Session]:
    body = _present(user_id=user_id, metadata=None if metadata is None else dict(metadata), ttl=ttl)
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


# -- memory items: LangGraph Platform's store routes (/store), which the server serves as is --


def _labels(namespace: Sequence[str] | str) -> list[str]:
    """A namespace as the list the routes take; a plain string is a one-label namespace."""
    return [namespace] if isinstance(namespace, str) else list(namespace)


def _item_namespace(namespace: Sequence[str] | str) -> list[str]:
    labels = _labels(namespace)
    if not labels:
        raise ValueError("namespace must have at least one label")
    return labels


def put_item(
    namespace: Sequence[str] | str,
    key: str,
    value: Mapping[str, Any],
    index: Literal[False] | Sequence[str] | None,
    ttl: float | None,
) -> Call[None]:
    body: dict[str, Any] = {"namespace": _item_namespace(namespace), "key": key}
    body["value"] = dict(value)
    if index is not None:
        body["index"] = False if index is False else list(index)
    if ttl is not None:
        body["ttl"] = ttl
    return Call("PUT", f"{STORE}/items", _nothing, json=body)


def _item_or_none(response: httpx.Response) -> Item | None:
    if response.status_code == 404:
        return None
    return Item.model_validate_json(response.content)


def get_item(
    namespace: Sequence[str] | str, key: str, refresh_ttl: bool | None
) -> Call[Item | None]:
    labels = _item_namespace(namespace)
    # The route takes the labels joined by dots (LangGraph's wire form), so a label holding
    # one would name another namespace: refused here rather than read from the wrong place.
    if any("." in label for label in labels):
        raise ValueError("namespace labels must not contain '.'")
    params = _present(namespace=".".join(labels), key=key, refresh_ttl=refresh_ttl)
    return Call("GET", f"{STORE}/items", _item_or_none, params=params, absent_ok=True)


def delete_item(namespace: Sequence[str] | str, key: str) -> Call[None]:
    body = {"namespace": _item_namespace(namespace), "key": key}
    return Call("DELETE", f"{STORE}/items", _nothing, json=body)


@dataclass(frozen=True, slots=True)
class ItemQuery:
    namespace_prefix: Sequence[str] | str = ()
    query: str | None = None
    filter: Mapping[str, Any] | None = None
    limit: int = 10
    offset: int = 0
    refresh_ttl: bool | None = None


def _search_items(response: httpx.Response) -> list[SearchItem]:
    return _SearchItems.model_validate_json(response.content).items


def search_items(q: ItemQuery) -> Call[list[SearchItem]]:
    body = _present(
        namespace_prefix=_labels(q.namespace_prefix),
        query=q.query,
        filter=None if q.filter is None else dict(q.filter),
        limit=q.limit,
        offset=q.offset,
        refresh_ttl=q.refresh_ttl,
    )
    return Call("POST", f"{STORE}/items/search", _search_items, json=body)


@dataclass(frozen=True, slots=True)
class NamespaceQuery:
    prefix: Sequence[str] | None = None
    suffix: Sequence[str] | None = None
    max_depth: int | None = None
    limit: int = 100
    offset: int = 0


def _namespaces(response: httpx.Response) -> list[Namespace]:
    return _NamespaceList.model_validate_json(response.content).namespaces


def list_namespaces(q: NamespaceQuery) -> Call[list[Namespace]]:
    body = _present(
        prefix=None if q.prefix is None else _labels(q.prefix),
        suffix=None if q.suffix is None else _labels(q.suffix),
        max_depth=q.max_depth,
        limit=q.limit,
        offset=q.offset,
    )
    return Call("POST", f"{STORE}/namespaces", _namespaces, json=body)


class _SearchItems(BaseModel):
    items: list[SearchItem]


class _NamespaceList(BaseModel):
    namespaces: list[Namespace]
