"""How a request body is read: its content type, its size, its deadline, and what a client
that goes away mid-body becomes. Applied once, at the edge (``edge.py``), to every route.

- A write (POST, PUT, PATCH) must say its body is JSON (``application/json`` or
  ``...+json``), else 415. A web page can send ``text/plain`` (or no type) cross-origin
  without a CORS preflight; refusing it keeps any page a user visits from writing to a
  memhead on ``localhost``.
- A body over the limit is 413, whether declared by ``Content-Length`` or streamed. The
  refused body is read and discarded up to ``DRAIN_FACTOR`` times the limit first, so an
  ordinary client (Python's urllib, which sends the whole body before reading) gets the
  JSON answer instead of a reset connection; beyond that the connection is closed.
- The whole body must arrive within the body timeout of the first read, else 408 and the
  connection is closed (a client announcing 100,000 bytes and sending 3 holds nothing).
  One watchdog task enforces every request's deadline: a timer per request
  (``asyncio.timeout``) cost 5-10 µs of CPU on every POST, more than the rest of this module.
- A client that disconnects mid-body raises ``ClientDisconnected`` (see ``errors.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import Message, Receive, Scope

from memhead.errors import (
    ClientDisconnected,
    InvalidRequest,
    MemheadError,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
)

WRITES = frozenset({"POST", "PUT", "PATCH"})
DRAIN_FACTOR = 8


def is_json(content_type: bytes) -> bool:
    """``application/json``, or any ``application/...+json``, parameters allowed."""
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


class Deadlines:
    """Tasks waiting for a body, each with its deadline, and the one watchdog that cancels
    those past it. The watchdog runs only while some task waits, so an idle server has none;
    a deadline is enforced within ``period`` seconds of passing."""

    def __init__(self, period: float) -> None:
        self.period = period
        self.waiting: dict[asyncio.Task[Any], float] = {}
        self.expired: set[asyncio.Task[Any]] = set()
        self._watchdog: asyncio.Task[None] | None = None

    async def wait(self, receive: Receive, deadline: float) -> Message:
        """``await receive()``, cancelled with ``TimeoutError`` once ``deadline`` passes."""
        task = asyncio.current_task()
        assert task is not None
        self.waiting[task] = deadline
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.create_task(self._watch(), name="body-deadlines")
        try:
            return await receive()
        except asyncio.CancelledError:
            if task not in self.expired:
                raise
            task.uncancel()
            raise TimeoutError from None
        finally:
            # the watchdog only runs while this task is suspended in ``receive``: whatever
            # it cancelled was delivered above
            self.waiting.pop(task, None)
            self.expired.discard(task)

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while self.waiting:
            await asyncio.sleep(self.period)
            now = loop.time()
            for task, deadline in list(self.waiting.items()):
                if deadline <= now:
                    del self.waiting[task]
                    self.expired.add(task)
                    task.cancel()


class BodyPolicy:
    """The limits of one server: ``limit`` bytes, ``timeout_s`` seconds to send them."""

    def __init__(self, limit: int, timeout_s: float) -> None:
        self.limit = limit
        self.timeout_s = timeout_s
        self.drain_bytes = DRAIN_FACTOR * limit
        self.too_large = f"request body larger than {limit} bytes"
        self.deadlines = Deadlines(period=min(1.0, max(0.02, timeout_s / 10)))

    def refusal(self, scope: Scope) -> MemheadError | None:
        """What the headers alone refuse: a declared length over the limit, a write that
        is not JSON."""
        length = -1
        content_type = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = int(value) if value.isdigit() else -1
            elif name == b"content-type":
                content_type = value
        if length > self.limit:
            return PayloadTooLarge(self.too_large)
        if scope["method"] in WRITES and (content_type is None or not is_json(content_type)):
            return UnsupportedMediaType(
                "send the body as JSON with 'Content-Type: application/json'"
            )
        return None

    def reader(self, receive: Receive) -> Receive:
        """``receive`` for the app: the body's messages within the limit and the deadline;
        after the last one, ``receive`` unchanged (a later ``http.disconnect`` is normal)."""
        seen = 0
        deadline = -1.0
        done = False

        async def read() -> Message:
            nonlocal seen, deadline, done
            if done:
                return await receive()
            if deadline < 0:
                deadline = self.deadline()
            message = await self._next(receive, deadline)
            seen += len(message.get("body", b""))
            if seen > self.limit:
                if message.get("more_body", False):  # after the last part, none will come
                    await self.drain(receive, deadline, seen)
                raise PayloadTooLarge(self.too_large)
            done = not message.get("more_body", False)
            return message

        return read

    async def _next(self, receive: Receive, deadline: float) -> Message:
        try:
            message = await self.deadlines.wait(receive, deadline)
        except TimeoutError:
            raise RequestTimeout(
                f"the request body did not arrive within {self.timeout_s:g} seconds"
            ) from None
        if message["type"] == "http.disconnect":
            raise ClientDisconnected("the client disconnected before sending the whole body")
        return message

    async def drain(self, receive: Receive, deadline: float, seen: int = 0) -> bool:
        """Read and discard the rest of a refused body, up to ``drain_bytes`` in all.
        True when the whole body was read (the connection may then be kept)."""
        try:
            while seen <= self.drain_bytes:
                message = await self._next(receive, deadline)
                seen += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return True
        except InvalidRequest:  # timed out: the answer goes out and the connection closes
            return False
        return False

    def deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.timeout_s


def declared_length(scope: Scope) -> int:
    """The body's ``Content-Length``; -1 when not declared (chunked)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else -1
    return -1
