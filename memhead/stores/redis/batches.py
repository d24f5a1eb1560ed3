"""Auto-pipelining for the Redis store: the script calls that concurrent requests make in one
turn of the event loop go to Redis together, in pipelines of up to ``MAX_PIPELINE`` calls
(one write, one read each).

redis-py spends about 110 µs of CPU on each command sent alone (connection checkout, retry
and timeout wrappers, a write and a read); in a pipeline the same script call costs about
20 µs (``bench/load.py --backend redis`` measures the effect end to end). A pipeline without
a transaction changes nothing about what each call does: every script still runs atomically
and on its own, and each caller gets its own reply or its own error. (Calls of one turn come
from concurrent requests, which never had an order among them; a request's own calls are
made one after another.) A call made alone is sent alone, as before, so an idle server pays
nothing.

Scripts are called by SHA (``EVALSHA``). A script the server does not know (it restarted, or
``SCRIPT FLUSH``) answers ``NOSCRIPT``; that call alone is then retried through redis-py's
own script object, which loads the script first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

MAX_PIPELINE = 24
"""Calls per pipeline at most; a turn with more sends several pipelines at once. Redis answers
a pipeline only when all of it has run, so one pipeline of everything leaves memhead idle
while Redis works through it; smaller ones return sooner and overlap with Redis, but each
costs its own round trip. Measured with ``bench/load.py``'s mixed workload (64 connections):
8, 16, 24, 32, 48 and unbounded gave 4.2k, 4.4k, 4.8-5.1k, 5.0k, 4.4k and 3.8k requests/s."""

Args = Iterable[str | bytes | int | float]


@dataclass(slots=True)
class _Call:
    script: AsyncScript
    keys: Sequence[str]
    args: tuple[str | bytes | int | float, ...]
    future: asyncio.Future[Any]


class ScriptBatcher:
    """Queues script calls and sends each turn's calls in pipelines."""

    def __init__(self, client: Redis) -> None:
        self.client = client
        self._queue: list[_Call] = []
        self._sending: set[asyncio.Task[None]] = set()  # kept referenced until done

    async def call(self, script: AsyncScript, keys: Sequence[str], args: Args) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._queue:
            loop.call_soon(self._flush)
        self._queue.append(_Call(script, keys, tuple(args), future))
        return await future

    def _flush(self) -> None:
        queue, self._queue = self._queue, []
        loop = asyncio.get_running_loop()
        for start in range(0, len(queue), MAX_PIPELINE):
            task = loop.create_task(self._send(queue[start : start + MAX_PIPELINE]))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[_Call]) -> None:
        if len(batch) == 1:
            await self._alone(batch[0])
            return
        try:
            replies = await self._pipeline(batch)
        except asyncio.CancelledError:  # the server is shutting down
            for call in batch:
                call.future.cancel()
            raise
        except Exception as exc:  # the connection failed: every call in it fails alike
            for call in batch:
                _settle(call.future, exc, failed=True)
            return
        for call, reply in zip(batch, replies, strict=True):
            if isinstance(reply, NoScriptError):
                await self._alone(call)
            else:
                _settle(call.future, reply, failed=isinstance(reply, Exception))

    async def _pipeline(self, batch: list[_Call]) -> list[Any]:
        """One write and one read; a call's own error comes back as its reply."""
        async with self.client.pipeline(transaction=False) as pipe:
            for call in batch:
                pipe.execute_command(
                    "EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args
                )
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies

    @staticmethod
    async def _alone(call: _Call) -> None:
        try:
            reply = await call.script(keys=call.keys, args=call.args)
        except Exception as exc:
            _settle(call.future, exc, failed=True)
        else:
            _settle(call.future, reply, failed=False)


def _settle(future: asyncio.Future[Any], value: Any, *, failed: bool) -> None:
    if future.done():  # its request was cancelled (the client went away)
        return
    if failed:
        future.set_exception(value)
    else:
        future.set_result(value)


class BatchedScript:
    """A Lua script whose calls go through a ``ScriptBatcher``; called as redis-py's own."""

    def __init__(self, script: AsyncScript, batcher: ScriptBatcher) -> None:
        self.script = script
        self.batcher = batcher

    async def __call__(self, *, keys: Sequence[str], args: Args = ()) -> Any:
        return await self.batcher.call(self.script, keys, args)
