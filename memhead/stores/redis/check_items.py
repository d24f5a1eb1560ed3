"""Invariant checks of the memory items in the Redis store (part of ``memhead check``): each
record's keyword entry and vector agree with it (filter tokens included, once every item has
them), and no entry or vector outlives its item. Reads only, by SCAN, a pipeline per batch
of keys."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
from redis.asyncio import Redis

from memhead.stores.redis.item_filters import value_tokens
from memhead.stores.redis.keyspace import Keys

BATCH = 500


async def _batches(client: Redis, pattern: str) -> AsyncIterator[list[bytes]]:
    batch: list[bytes] = []
    async for name in client.scan_iter(match=pattern, count=1000):
        batch.append(name)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _record_problems(
    name: str,
    indexed: bool,
    pending: bytes | None,
    revision: bytes | None,
    text: bool,
    vector: bytes | None,
) -> list[str]:
    problems = []
    if indexed != text:
        problems.append("text but no keyword entry" if indexed else "a keyword entry but no text")
    if vector is not None and vector != revision:
        problems.append("a vector of another revision")
    if indexed and pending == b"n" and vector is None:
        problems.append("no vector and not in the embedding backlog")
    if pending == b"y" and vector is not None:
        problems.append("a vector but still in the embedding backlog")
    return [f"item {name}: {p}" for p in problems]


Fields = list[bytes | None]


def _token_problems(name: str, record: Fields, others: list[Fields]) -> list[str]:
    """``record``: the value and filter tokens; ``others``: of the keyword entry and the
    vector, a field that is there when they are, and their tokens."""
    value, tokens = record
    if tokens is None or value is None:
        return [f"item {name}: no filter tokens"]
    problems = []
    if tokens.decode() != value_tokens(orjson.loads(value)):
        problems.append(f"item {name}: filter tokens not of its value")
    for kind, (there, held) in zip(("keyword entry", "vector"), others, strict=True):
        if there is not None and held != tokens:
            problems.append(f"item {name}: its {kind} has other filter tokens")
    return problems


async def _check_records(client: Redis, keys: Keys) -> list[str]:
    problems: list[str] = []
    tokens_ready = bool(await client.exists(keys.ready("item_filters")))
    async for batch in _batches(client, keys.items_index_prefix() + "*"):
        async with client.pipeline(transaction=False) as pipe:
            for name in batch:
                item = keys.item_of(name)
                pipe.hmget(name, ["indexed", "pending", "revision", "value", "filter_tag"])
                pipe.exists(keys.item_text(item))
                pipe.hget(keys.item_text(item), "filter_tag")
                pipe.hmget(keys.item_vector(item), ["revision", "filter_tag"])
            replies = await pipe.execute()
        for i, name in enumerate(batch):
            (indexed, pending, revision, *record), text, text_tokens, vector = replies[
                4 * i : 4 * i + 4
            ]
            problems += _record_problems(
                name.decode(), indexed == b"1", pending, revision, bool(text), vector[0]
            )
            if tokens_ready:
                entry = [b"1" if text else None, text_tokens]
                problems += _token_problems(name.decode(), record, [entry, vector])
    return problems


async def _orphans(client: Redis, keys: Keys, prefix: str) -> int:
    count = 0
    async for batch in _batches(client, prefix + "*"):
        async with client.pipeline(transaction=False) as pipe:
            for name in batch:
                pipe.exists(keys.item(keys.item_of(name)))
            found = await pipe.execute()
        count += sum(1 for exists in found if not exists)
    return count


async def check_items(client: Redis, keys: Keys) -> list[str]:
    """Every invariant violation of the items, as readable lines."""
    problems = await _check_records(client, keys)
    for kind, prefix in (
        ("keyword entries", keys.item_texts_index_prefix()),
        ("vectors", keys.item_vectors_index_prefix()),
    ):
        orphans = await _orphans(client, keys, prefix)
        if orphans:
            problems.append(f"{orphans} item {kind} belong to no item")
    return problems
