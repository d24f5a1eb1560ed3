"""LangGraph's long-term memory store over a memhead server: ``pip install 'memhead[langgraph]'``.

    from langchain.agents import create_agent
    from memhead.integrations.langgraph import MemheadStore

    store = MemheadStore("http://127.0.0.1:8080", api_key="mh_...")
    agent = create_agent(model, tools, store=store)  # or any graph compiled with store=

Every ``BaseStore`` call (``put``/``get``/``search``/``delete``/``list_namespaces`` and their
``a``-prefixed twins) becomes requests to the server's ``/store`` routes, the ones LangGraph
Platform serves. The server keeps the items, indexes them for keyword search at once and embeds
them in the background (no embedding happens here), and expires them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx
from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    validate_op_namespace,
)

from memhead.client import AsyncMemhead, Memhead, NotFoundError
from memhead.client.base import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from memhead.client.calls import Call

__all__ = ["MemheadStore"]

T = TypeVar("T")
ITEMS = "/store/items"


class MemheadStore(BaseStore):
    """A LangGraph ``BaseStore`` kept by a memhead server, sync and async.

    ``url`` defaults to ``MEMHEAD_BASE_URL`` (else ``http://127.0.0.1:8080``) and ``api_key``
    to ``MEMHEAD_API_KEY``; the key selects the tenant whose items the store sees. Requests
    time out (``timeout``) and are retried up to ``max_retries`` times when no answer came or
    the server was unavailable (every store operation is idempotent). Pass ``client`` /
    ``async_client`` to share a ``memhead.client`` connection pool instead.

    ``ttl`` is LangGraph's ``TTLConfig``: ``default_ttl`` (minutes) for puts that name no
    ``ttl`` and ``refresh_on_read`` (default true) for reads that name no ``refresh_ttl``.
    A put whose TTL is ``None`` leaves the expiry to the server (``MEMHEAD_ITEM_TTL``, unset:
    never). Sweeping is the server's (``MEMHEAD_ITEM_SWEEP_INTERVAL``).

    ``batch`` / ``abatch`` send one request per operation (``abatch`` concurrently), with
    LangGraph's batch semantics: reads see the store as it was before the batch's writes,
    and of several puts to one key the last wins. Errors raise ``memhead.client`` exceptions
    carrying the server's message (``InvalidRequestError`` for a value too large, ...);
    a namespace LangGraph forbids raises ``InvalidNamespaceError`` before any request.
    """

    supports_ttl = True

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        ttl: TTLConfig | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        client: Memhead | None = None,
        async_client: AsyncMemhead | None = None,
    ) -> None:
        self.ttl_config = ttl
        given = client or async_client
        if given is not None:  # the other client talks to the same server, with the same key
            url, api_key = url or given.base_url, api_key or given.api_key
        self._options: dict[str, Any] = {
            "api_key": api_key,
            "timeout": timeout,
            "max_retries": max_retries,
        }
        self._url = url
        self._owns = (client is None, async_client is None)
        self._client = client
        self._async_client = async_client
        self._lock = threading.Lock()  # graph nodes may call a store from several threads
        # An httpx.AsyncClient's connections belong to the loop that opened them: a store
        # used from a second event loop (a second asyncio.run) gets a client of its own.
        self._async_loop: asyncio.AbstractEventLoop | None = None

    @property
    def client(self) -> Memhead:
        """The blocking client ``batch`` sends through (built on first use)."""
        with self._lock:
            if self._client is None:
                self._client = Memhead(self._url, **self._options)
            return self._client

    def _aclient(self) -> AsyncMemhead:
        loop = asyncio.get_running_loop()
        stale = self._owns[1] and self._async_loop not in (None, loop)
        if self._async_client is None or stale:
            self._async_client = AsyncMemhead(self._url, **self._options)
        self._async_loop = loop
        return self._async_client

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops``, one request each; results in the order of ``ops``."""
        plan = _Plan(ops)
        for index, call in plan.reads:
            plan.results[index] = _read(self.client._send, call)
        for call in plan.writes:
            self.client._send(call)
        return plan.results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops``, one request each, concurrently; results in the order of ``ops``."""
        plan = _Plan(ops)
        client = self._aclient()
        found = await asyncio.gather(*(_aread(client._send, call) for _, call in plan.reads))
        for (index, _), result in zip(plan.reads, found, strict=True):
            plan.results[index] = result
        await asyncio.gather(*(client._send(call) for call in plan.writes))
        return plan.results

    def close(self) -> None:
        """Close the blocking client's connections, if this store built it (a later call
        opens new ones). Clients passed in are left to their owner."""
        with self._lock:
            if self._client is not None and self._owns[0]:
                self._client.close()
                self._client = None

    async def aclose(self) -> None:
        """``close``, and the async client's connections too: await it before the event loop
        ends (``asyncio.run`` leaves a loop's connections open otherwise)."""
        self.close()
        if self._async_client is not None and self._owns[1]:
            await self._async_client.aclose()
            self._async_client = None

    def __enter__(self) -> MemheadStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> MemheadStore:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class _Plan:
    """A batch as requests: the reads (with the position of their result) and the writes,
    each put of a key but the last one dropped."""

    def __init__(self, ops: Iterable[Op]) -> None:
        self.reads: list[tuple[int, Call[Any]]] = []
        writes: dict[tuple[tuple[str, ...], str], Call[None]] = {}
        self.results: list[Result] = []
        for index, op in enumerate(ops):
            validate_op_namespace(op)
            self.results.append(None)
            if isinstance(op, PutOp):
                writes.pop((op.namespace, op.key), None)
                writes[(op.namespace, op.key)] = _put(op)
            else:
                self.reads.append((index, _read_call(op)))
        self.writes = list(writes.values())


def _read(send: Callable[[Call[Any]], Any], call: Call[Any]) -> Result:
    try:
        result: Result = send(call)
    except NotFoundError:
        if call.method != "GET":
            raise
        return None
    return result


async def _aread(send: Callable[[Call[Any]], Awaitable[Any]], call: Call[Any]) -> Result:
    try:
        result: Result = await send(call)
    except NotFoundError:
        if call.method != "GET":
            raise
        return None
    return result


def _read_call(op: Op) -> Call[Any]:
    if isinstance(op, GetOp):
        return _get(op)
    if isinstance(op, SearchOp):
        return _search(op)
    if isinstance(op, ListNamespacesOp):
        return _list_namespaces(op)
    raise TypeError(f"MemheadStore cannot run {type(op).__name__}")


def _get(op: GetOp) -> Call[Item]:
    params = {
        "namespace": ".".join(op.namespace),
        "key": op.key,
        "refresh_ttl": "true" if op.refresh_ttl else "false",
    }
    return Call("GET", ITEMS, lambda r: _item(Item, r.json()), params=params)


def _put(op: PutOp) -> Call[None]:
    where = {"namespace": list(op.namespace), "key": op.key}
    if op.value is None:
        return Call("DELETE", ITEMS, _nothing, json=where)
    body: dict[str, Any] = {**where, "value": op.value}
    if op.index is not None:
        body["index"] = op.index if op.index is False else list(op.index)
    if op.ttl is not None:
        body["ttl"] = op.ttl
    return Call("PUT", ITEMS, _nothing, json=body)


def _search(op: SearchOp) -> Call[list[SearchItem]]:
    body: dict[str, Any] = {
        "namespace_prefix": list(op.namespace_prefix),
        "limit": op.limit,
        "offset": op.offset,
        "refresh_ttl": op.refresh_ttl,
    }
    if op.filter:
        body["filter"] = op.filter
    if op.query:  # LangGraph's stores read an empty query as none: a listing
        body["query"] = op.query
    return Call("POST", ITEMS + "/search", _search_items, json=body)


def _list_namespaces(op: ListNamespacesOp) -> Call[list[tuple[str, ...]]]:
    body: dict[str, Any] = {"limit": op.limit, "offset": op.offset}
    for condition in op.match_conditions or ():
        if condition.match_type in body:
            raise ValueError(f"MemheadStore takes at most one {condition.match_type} condition")
        body[condition.match_type] = list(condition.path)
    if op.max_depth is not None:
        body["max_depth"] = op.max_depth
    return Call("POST", "/store/namespaces", _namespaces, json=body)


def _nothing(response: httpx.Response) -> None:
    return None


def _search_items(response: httpx.Response) -> list[SearchItem]:
    return [_item(SearchItem, found) for found in response.json()["items"]]


def _namespaces(response: httpx.Response) -> list[tuple[str, ...]]:
    return [tuple(namespace) for namespace in response.json()["namespaces"]]


def _item(kind: Callable[..., T], body: dict[str, Any]) -> T:
    fields = {
        "namespace": tuple(body["namespace"]),
        "key": body["key"],
        "value": body["value"],
        "created_at": datetime.fromisoformat(body["created_at"]),
        "updated_at": datetime.fromisoformat(body["updated_at"]),
    }
    if kind is SearchItem:
        fields["score"] = body.get("score")
    return kind(**fields)
