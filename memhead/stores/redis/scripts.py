"""The Lua scripts behind every multi-key write (and the consistent reads) of ``RedisStore``,
kept as ``.lua`` files in ``lua/`` (package data) so they can be read and linted as Lua.

Each script runs atomically on the server. Redis does not roll a script back when it fails
half way, so every script checks its preconditions before its first write. Times come in as
arguments (the caller's clock), never from ``TIME``. Key names are built in ``keyspace``; a
script only appends a seq to a message prefix, rebuilds the listing keys of a session's
previous state, or builds embed members with ``keys.lua``. Optional values travel as a value
plus a ``'1'``/``'0'`` flag. Each file starts with its ``KEYS`` and ``ARGV``.

A script that uses shared functions names them in ``PRELUDES``; they are put before it, in
that order. A read-only script declares itself with ``#!lua flags=no-writes`` on its first
line, so it takes no prelude.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache
from importlib.resources import files

from redis.asyncio import Redis

from memhead.stores.redis.batches import BatchedScript, ScriptBatcher

PRELUDES: dict[str, tuple[str, ...]] = {
    "append": ("keys", "listing"),
    "put_session": ("keys", "listing"),
    "delete": ("keys", "listing"),
    "import_session": ("keys", "listing"),
    "import_messages": ("keys",),
    "retag": ("keys",),
}


@cache
def lua(name: str) -> str:
    """The text of ``lua/<name>.lua``."""
    return (files("memhead.stores.redis") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


def source(name: str) -> str:
    """The script ``name`` as sent to Redis: its preludes, then its own file."""
    own = lua(name)
    preludes = PRELUDES.get(name, ())
    assert not (preludes and own.startswith("#!")), f"{name}.lua: a flagged script stands alone"
    return "".join(lua(p) for p in preludes) + own


@dataclass(frozen=True, slots=True)
class Scripts:
    """One callable per script, named as its file."""

    append: BatchedScript
    read: BatchedScript
    put_session: BatchedScript
    delete: BatchedScript
    commit_summary: BatchedScript
    record_failure: BatchedScript
    acquire_lease: BatchedScript
    release_lease: BatchedScript
    due_sessions: BatchedScript
    store_vectors: BatchedScript
    requeue: BatchedScript
    retag: BatchedScript
    put_item: BatchedScript
    get_item: BatchedScript
    delete_item: BatchedScript
    refresh_items: BatchedScript
    store_item_vector: BatchedScript
    requeue_item: BatchedScript
    backfill_item_filters: BatchedScript
    # data lifecycle (issue 20)
    acquire_job: BatchedScript
    release_job: BatchedScript
    backfill_retention: BatchedScript
    import_session: BatchedScript
    import_messages: BatchedScript
    import_summary: BatchedScript


def register(client: Redis) -> Scripts:
    """Register every script once; each loads itself on first use (and after a restart).
    Concurrent calls share pipelines (``batches``)."""
    batcher = ScriptBatcher(client)
    return Scripts(
        **{
            f.name: BatchedScript(client.register_script(source(f.name)), batcher)
            for f in fields(Scripts)
        }
    )
