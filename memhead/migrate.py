"""``memhead migrate-motorhead --from redis://...``: bring a Motörhead Redis into memhead.

The source is only read (``motorhead_source``: Motörhead's keys and how they are read);
everything is written through the ``Sessions`` and ``CompactionQueue`` roles of the
configured store, so SQLite and Redis targets behave the same.

- **Idempotency**: message ``i`` counted from the *oldest* end of a list gets the client id
  ``motorhead:<session|legacy>:<i>``, and the store does not store a known client id twice.
  Motörhead adds at the newest end (LPUSH), so these positions do not move while it keeps
  serving; its compaction trims the oldest end (LTRIM), which shifts every position, so a
  re-run is duplicate-free only if no compaction ran on the source in between. Stop
  Motörhead (or its traffic) before the final run.
- **Namespace and time**: the zset an id is listed in gives its namespace (``sessions``: the
  default one) and its last write time, used as the messages' and the session's time so
  that listings keep their order. Listed in several: the most recent wins.
- **Context**: becomes the summary when the memhead session has none yet (a re-run keeps a
  summary memhead may have written since); it lands atomically with the first messages.
  Imported messages are all in the window (``upto_seq`` stays 0): memhead folds them into
  the summary later, with Motörhead's context as the previous summary.
- **Tokens**: the session ends with at least Motörhead's count (``max`` of both, so a re-run
  adds nothing), added with a compare-and-set ``commit_summary`` that keeps the summary and
  ``upto_seq`` as they are.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO

from redis.asyncio import Redis
from redis.exceptions import ConnectionError, TimeoutError

from memhead.errors import BackendUnavailable, ConfigError, Conflict
from memhead.models import SessionKey, now_ms
from memhead.motorhead_source import MotorheadSession, read_session, scan
from memhead.stores import Store
from memhead.stores.roles import CompactionStore

CHUNK = 500  # messages per append: bounds one Lua script's arguments
TIMEOUT_S = 10.0
COMMIT_ATTEMPTS = 5


@dataclass
class Counts:
    sessions: int = 0
    messages: int = 0
    present: int = 0
    """Messages found already stored (a re-run)."""
    contexts: int = 0
    tokens: int = 0
    """Sessions whose token count was raised to Motörhead's."""
    skipped_lists: int = 0
    """Lists that do not look like Motörhead sessions."""

    def line(self) -> str:
        return (
            f"migrated {self.sessions} sessions, {self.messages} messages "
            f"({self.present} already present), {self.contexts} contexts, "
            f"{self.tokens} token counts; skipped {self.skipped_lists} other lists"
        )


# -- writing the target (the store's Sessions and CompactionQueue roles only) -----------------


async def import_session(
    store: CompactionStore, tenant: str, src: MotorheadSession, *, window: int, counts: Counts
) -> None:
    key = SessionKey(tenant, src.id)
    before = await store.get_session(key)
    known_before = 0 if before is None else before.last_seq
    with_context = src.context is not None and (before is None or before.summary is None)
    at = src.written_at if src.written_at is not None else now_ms()
    chunks = [src.messages[i : i + CHUNK] for i in range(0, len(src.messages), CHUNK)] or [[]]
    for i, chunk in enumerate(chunks):
        context = src.context if with_context and i == 0 else None
        await store.append(
            key, chunk, now=at, window=window, namespace=src.namespace, context=context
        )
    after = await store.get_session(key)
    stored = 0 if after is None else after.last_seq - known_before
    counts.sessions += 1
    counts.messages += stored
    counts.present += len(src.messages) - stored
    counts.contexts += int(with_context)
    if after is not None and src.tokens > after.tokens:
        await add_tokens(store, key, src.tokens - after.tokens, window=window)
        counts.tokens += 1


async def add_tokens(store: CompactionStore, key: SessionKey, tokens: int, *, window: int) -> None:
    """Raise the session's token count, keeping its summary and ``upto_seq``; retried when a
    compaction (or a client) changed the summary in between."""
    for _ in range(COMMIT_ATTEMPTS):
        s = await store.get_session(key)
        if s is None:
            return
        if await store.commit_summary(
            key,
            incarnation=s.incarnation,
            expected_version=s.summary_version,
            summary=s.summary,
            upto_seq=s.upto_seq,
            tokens=tokens,
            now=now_ms(),
            window=window,
        ):
            return
    raise Conflict(f"session {key.session_id!r} kept changing; run the import again")


# -- the command ---------------------------------------------------------------------------


async def migrate(
    source: Redis, store: CompactionStore, *, tenant: str, window: int, progress: TextIO | None
) -> Counts:
    """Copy every Motörhead session of ``source`` into ``store``; safe to run again."""
    found = await scan(source)
    ids = found.ids()
    counts = Counts()
    bar = Progress(len(ids), progress)
    for sid in ids:
        src = await read_session(source, sid, found)
        if src is not None:
            await import_session(store, tenant, src, window=window, counts=counts)
        elif "legacy" in found.lists.get(sid, []):
            counts.skipped_lists += 1
        bar.advance()
    bar.finish()
    return counts


def open_source(url: str) -> Redis:
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"--from must be a redis://, rediss:// or unix:// URL, not {url!r}")
    return Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)


async def run(store: Store, source: Redis, *, tenant: str, window: int) -> int:
    """The command, from an open source to a store already set up (both closed here): exit
    status 0, or 1 with one line on stderr when either side fails."""
    try:
        counts = await migrate(source, store, tenant=tenant, window=window, progress=sys.stderr)
    except (ConnectionError, TimeoutError) as exc:
        print(f"memhead: cannot read the Motörhead Redis: {exc}", file=sys.stderr)
        return 1
    except (BackendUnavailable, Conflict) as exc:
        print(f"memhead: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
        await source.aclose()
    print(counts.line())
    return 0


class Progress:
    """A one-line progress bar on a terminal; a line per 10 % when the output is a file.

    Hand-written: neither ``tqdm`` nor ``rich`` is a dependency of memhead (here they only
    come with optional extras), and this is all the command needs."""

    WIDTH = 30

    def __init__(
        self,
        total: int,
        out: TextIO | None,
        *,
        command: str = "migrate-motorhead",
        unit: str = "session ids",
    ) -> None:
        self.total, self.out, self.done = total, out, 0
        self.command, self.unit = command, unit
        self.tty = out is not None and out.isatty()
        self._shown = -1.0
        self._step = -1

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self.tty and time.monotonic() - self._shown >= 0.1:
            self._show("\r")
        elif not self.tty and self.total and self.done * 10 // self.total > self._step:
            self._step = self.done * 10 // self.total
            self._show("", "\n")

    def finish(self) -> None:
        if self.tty:
            self._show("\r", "\n")

    def _show(self, start: str, end: str = "") -> None:
        if self.out is None:
            return
        part = self.done / self.total if self.total else 1.0
        filled = int(part * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        count = f"{self.done}/{self.total} {self.unit}"
        self.out.write(f"{start}{self.command} [{bar}] {part:4.0%} {count}{end}")
        self.out.flush()
        self._shown = time.monotonic()
