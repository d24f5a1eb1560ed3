"""``AsyncMemhead``: the asyncio client (the same calls as ``Memhead``, awaited)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, TypeVar

import httpx

from memhead.client import calls
from memhead.client.base import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, BaseClient, Retry
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


class AsyncMemhead(BaseClient):
    """A memhead server's native API (``/api/v1``) and its memory items (``/store``).

    ``base_url`` defaults to ``MEMHEAD_BASE_URL`` (else ``http://127.0.0.1:8080``) and
    ``api_key`` to ``MEMHEAD_API_KEY``; the key is sent as ``Authorization: Bearer``.
    Calls time out (``timeout``, seconds or an ``httpx.Timeout``) and are retried up to
    ``max_retries`` times when no answer came or the server was unavailable (every call is
    idempotent: appends carry client message ids, an item put sends the whole value).
    Errors raise ``memhead.client.APIError`` and its subclasses. Use as an async context
    manager, or await ``aclose()``.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_s: float = 0.5,
    ) -> None:
        super().__init__(base_url, api_key, timeout, max_retries, backoff_s)
        self._http = httpx.AsyncClient(**self._http_options())

    async def _send(self, call: calls.Call[T]) -> T:
        attempt = 0
        while True:
            answer: httpx.Response | httpx.TransportError
            try:
                answer = await self._http.request(
                    call.method, call.path, params=call.params, json=call.json
                )
            except httpx.TransportError as exc:
                answer = exc
            outcome = self._outcome(call, attempt, answer)
            if not isinstance(outcome, Retry):
                return outcome
            await asyncio.sleep(outcome.delay)
            attempt += 1

    async def put_session(
        self,
        session_id: str,
        *,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        ttl: int | None = None,
    ) -> Session:
        """Create a session, or set its ``user_id`` / ``metadata`` / ``ttl`` (seconds after
        its last write it is deleted, 0: never); ``None`` keeps a field."""
        return await self._send(calls.put_session(session_id, user_id, metadata, ttl))

    async def get_session(self, session_id: str) -> Session:
        """A session's record; ``NotFoundError`` if it has none."""
        return await self._send(calls.get_session(session_id))

    async def list_sessions(
        self,
        *,
        user_id: str | None = None,
        namespace: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> SessionPage:
        """Sessions, most recently updated first (one user's with ``user_id``, one listing
        group's with ``namespace``), a page at a time: pass the page's ``next_cursor`` back
        as ``cursor``."""
        return await self._send(calls.list_sessions(user_id, namespace, cursor, limit))

    async def delete_session(self, session_id: str) -> None:
        """Delete a session and all of it (messages, summary); deleting none succeeds."""
        return await self._send(calls.delete_session(session_id))

    async def add_messages(
        self, session_id: str, messages: Iterable[Mapping[str, Any]]
    ) -> list[Message]:
        """Append messages (``{"role", "content"}``, see ``MessageParam``); returns them as
        stored. Each gets a client id unless it has one, so a retry stores nothing twice."""
        return await self._send(calls.add_messages(session_id, messages))

    async def list_messages(
        self, session_id: str, *, before_seq: int | None = None, limit: int = 100
    ) -> MessagePage:
        """The full stored history, newest first, a page at a time: pass the page's
        ``next_before_seq`` back as ``before_seq``."""
        return await self._send(calls.list_messages(session_id, before_seq, limit))

    async def get_memory(self, session_id: str, *, lastn: int | None = None) -> Memory:
        """The running summary and the window (at most ``lastn`` messages, default the
        server's window size), newest first. An unknown session has an empty memory."""
        return await self._send(calls.get_memory(session_id, lastn))

    async def get_summary(self, session_id: str) -> SummaryStatus:
        """The summary and the state of its compaction (backlog, last error, next attempt)."""
        return await self._send(calls.get_summary(session_id))

    async def search(
        self,
        query: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        limit: int = 10,
        mode: SearchMode = "hybrid",
        since: datetime | None = None,
        until: datetime | None = None,
        roles: Sequence[str] | None = None,
    ) -> SearchResults:
        """Past messages relevant to ``query``, best first: in one session, in one user's
        sessions, or (neither given) in every session the key's tenant has."""
        q = calls.SearchQuery(query, session_id, user_id, limit, mode, since, until, roles)
        return await self._send(calls.search(q))

    async def put_item(
        self,
        namespace: Sequence[str] | str,
        key: str,
        value: Mapping[str, Any],
        *,
        index: Literal[False] | Sequence[str] | None = None,
        ttl: float | None = None,
    ) -> None:
        """Store a memory item (a JSON object) under ``namespace`` (a tuple of labels; a
        string is one label) and ``key``, replacing any item there. ``index``: the fields
        search sees (JSON paths such as ``["text", "tags[*]"]``; ``False``: never found by a
        query; ``None``: the server's default); ``ttl``: minutes until it expires (``None``:
        the server's default)."""
        return await self._send(calls.put_item(namespace, key, value, index, ttl))

    async def get_item(
        self, namespace: Sequence[str] | str, key: str, *, refresh_ttl: bool | None = None
    ) -> Item | None:
        """The item, or ``None`` if there is none (or it expired). ``refresh_ttl`` restarts
        its TTL (``None``: the server's default, on)."""
        return await self._send(calls.get_item(namespace, key, refresh_ttl))

    async def delete_item(self, namespace: Sequence[str] | str, key: str) -> None:
        """Delete an item; deleting none succeeds."""
        return await self._send(calls.delete_item(namespace, key))

    async def search_items(
        self,
        namespace_prefix: Sequence[str] | str = (),
        *,
        query: str | None = None,
        filter: Mapping[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
    ) -> list[SearchItem]:
        """Items under ``namespace_prefix`` (whole labels; ``()``: all of them) whose value
        passes ``filter`` (top-level fields: a value, or ``{"$gt": 3}`` with ``$eq $ne $gt
        $gte $lt $lte``): with a ``query``, best first with a ``score`` (hybrid when the
        server has an embedder, keyword otherwise); without, most recently updated first."""
        q = calls.ItemQuery(namespace_prefix, query, filter, limit, offset, refresh_ttl)
        return await self._send(calls.search_items(q))

    async def list_namespaces(
        self,
        *,
        prefix: Sequence[str] | None = None,
        suffix: Sequence[str] | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Namespace]:
        """The namespaces holding items, sorted: those starting with ``prefix`` and ending
        with ``suffix`` (``"*"`` matches any one label), cut to ``max_depth`` labels."""
        q = calls.NamespaceQuery(prefix, suffix, max_depth, limit, offset)
        return await self._send(calls.list_namespaces(q))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncMemhead:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
