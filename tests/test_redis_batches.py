"""Auto-pipelined script calls (``redis_batches``): each caller gets its own reply or its own
error, whatever else shares its pipeline."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from memhead.stores.redis.batches import MAX_PIPELINE, BatchedScript, ScriptBatcher

PUSH = "redis.call('RPUSH', KEYS[1], ARGV[1]); return redis.call('LLEN', KEYS[1])"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    c = Redis.from_url(redis_url)
    yield c
    await c.aclose()


def names(n: int) -> list[str]:
    base = f"memhead-test-batch-{uuid.uuid4().hex}"
    return [f"{base}:{i}" for i in range(n)]


async def connections_received(client: Redis) -> int:
    stats = await client.info("stats")
    return int(stats["total_connections_received"])


async def test_concurrent_calls_share_a_pipeline_and_each_gets_its_own_reply(
    client: Redis,
) -> None:
    push = BatchedScript(client.register_script(PUSH), ScriptBatcher(client))
    keys = names(10)
    await push(keys=[keys[0]], args=["warm"])  # one connection in the pool, scripts loaded
    before = await connections_received(client)
    lengths = await asyncio.gather(*(push(keys=[keys[i % 10]], args=[f"v{i}"]) for i in range(200)))
    # each caller got the length of its own list, right after its own push
    for k in range(10):
        mine = sorted(lengths[i] for i in range(k, 200, 10))
        assert mine == list(range(2 if k == 0 else 1, 22 if k == 0 else 21))
        stored = await client.lrange(keys[k], 0, -1)
        assert sorted(stored) == sorted(
            [b"warm"] * (k == 0) + [f"v{i}".encode() for i in range(k, 200, 10)]
        )
    # alone, 200 concurrent calls would each have checked out (and opened) a connection;
    # here each pipeline of MAX_PIPELINE calls takes one
    assert await connections_received(client) - before <= -(-200 // MAX_PIPELINE)


async def test_a_failing_call_fails_only_its_caller(client: Redis) -> None:
    push = BatchedScript(client.register_script(PUSH), ScriptBatcher(client))
    keys = names(3)
    await client.set(keys[1], "not a list")
    results = await asyncio.gather(
        *(push(keys=[k], args=["x"]) for k in keys), return_exceptions=True
    )
    assert results[0] == 1 and results[2] == 1
    assert isinstance(results[1], ResponseError) and "WRONGTYPE" in str(results[1])
    assert await client.get(keys[1]) == b"not a list"


async def test_scripts_the_server_forgot_are_loaded_again(client: Redis) -> None:
    push = BatchedScript(client.register_script(PUSH), ScriptBatcher(client))
    keys = names(5)
    await push(keys=[keys[0]], args=["x"])
    await client.script_flush()  # as after a restart: every EVALSHA now answers NOSCRIPT
    assert await asyncio.gather(*(push(keys=[k], args=["y"]) for k in keys)) == [2, 1, 1, 1, 1]


async def test_many_calls_the_server_forgot_go_again_in_pipelines(redis_url: str) -> None:
    # After a restart, a burst of calls (an embedding batch, a busy server) all answer
    # NOSCRIPT. Each pipeline's calls are sent again one after another, so the first loads
    # the script for the rest, and the burst holds one pooled connection per pipeline, not
    # one per call (all at once, a 2,000-vector store_vectors ran out of the pool's 100).
    pipelines = 15
    client = Redis.from_url(redis_url, max_connections=pipelines + 1)
    try:
        push = BatchedScript(client.register_script(PUSH), ScriptBatcher(client))
        keys = names(pipelines * MAX_PIPELINE)
        await push(keys=[keys[0]], args=["x"])
        await client.script_flush()
        await client.config_resetstat()
        assert await asyncio.gather(*(push(keys=[k], args=["y"]) for k in keys)) == [2] + [1] * (
            len(keys) - 1
        )
        commands = await client.info("commandstats")
        assert commands["cmdstat_script|load"]["calls"] <= pipelines
    finally:
        await client.aclose()


async def test_a_cancelled_caller_leaves_the_others_answered(client: Redis) -> None:
    push = BatchedScript(client.register_script(PUSH), ScriptBatcher(client))
    keys = names(4)
    calls = [asyncio.ensure_future(push(keys=[k], args=["x"])) for k in keys]
    await asyncio.sleep(0)  # all four are queued in the same turn
    calls[1].cancel()
    done = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(done[1], asyncio.CancelledError)
    assert [done[0], done[2], done[3]] == [1, 1, 1]


async def test_a_refused_connection_fails_every_call_of_the_pipeline() -> None:
    dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    push = BatchedScript(dead.register_script(PUSH), ScriptBatcher(dead))
    results = await asyncio.gather(
        *(push(keys=[k], args=["x"]) for k in names(3)), return_exceptions=True
    )
    assert all(isinstance(r, RedisConnectionError) for r in results), results
    await dead.aclose()
