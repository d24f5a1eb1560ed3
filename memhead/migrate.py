"""``memhead migrate-motorhead --from redis://...``: bring a Motörhead Redis into memhead.

Motörhead keeps, per session id (current names / names of older versions)::

    session:{id}    {id}            list of "role: content", newest first (LPUSH)
    context:{id}    {id}_context    string: the running summary
    tokens:{id}     {id}_tokens     integer: provider tokens spent on summaries
    sessions, sessions:{namespace}  zset of session ids per listing group, score = last write (s)

The source is only read (SCAN, TYPE, LRANGE, GET, ZRANGE); everything is written through the
``Store`` protocol of the configured store, so SQLite and Redis targets behave the same.

- **Order**: a list is read whole and stored oldest first, so memhead's ``seq`` order is
  Motörhead's order. An element is split on its first ``": "`` (content may hold more);
  an element without one is skipped, as Motörhead's reader skipped it.
- **Older key names**: a list whose name does not start with ``session:`` is an old-style
  session only if every element is ``"<role>: <content>"`` with a role that starts with an
  ASCII letter and has at most 64 letters, digits, ``_``, ``-``, ``.`` or spaces (``Human``,
  ``AI``, ``user``, ``assistant``...). Queues of other programs sharing the Redis hold JSON,
  ids or pickles, which fail that test; such lists are counted as skipped, never imported.
  Old Motörhead had no ``sessions`` zset, so the content is the only evidence there is.
  When both an old-style and a current list exist for one id, the old one goes first.
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

import re
import sys
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TextIO, cast

from redis.asyncio import Redis
from redis.exceptions import ConnectionError, TimeoutError

from memhead.errors import BackendUnavailable, ConfigError, Conflict
from memhead.models import NewMessage, SessionKey, now_ms
from memhead.stores import Store

Style = Literal["legacy", "session"]

ROLE = re.compile(r"[A-Za-z][\w .-]{0,63}", re.ASCII)
SEPARATOR = ": "
CHUNK = 500  # messages per append: bounds one Lua script's arguments
TIMEOUT_S = 10.0
COMMIT_ATTEMPTS = 5


@dataclass
class Source:
    """What a scan of the Motörhead Redis found, before any list is read."""

    lists: dict[str, list[Style]] = field(default_factory=dict)
    """Session id -> the kinds of list it has, oldest kind first."""
    listed: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Session id -> (namespace, last write in ms) from the ``sessions*`` zsets."""

    def ids(self) -> list[str]:
        return sorted(self.lists.keys() | self.listed.keys())


@dataclass(frozen=True, slots=True)
class MotorheadSession:
    id: str
    namespace: str
    written_at: int | None
    messages: list[NewMessage]
    context: str | None
    tokens: int


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


# -- reading the source (read-only commands only) ------------------------------------------


async def scan(source: Redis) -> Source:
    """Every list (a session, or for old-style names a candidate that ``read_session``
    checks) and every ``sessions*`` zset of the source."""
    found = Source()
    async for name, kind in _typed_keys(source):
        if kind == b"list":
            _add_list(found, name)
        elif kind == b"zset" and (name == b"sessions" or name.startswith(b"sessions:")):
            await _add_listing(source, found, name)
    return found


async def _typed_keys(source: Redis) -> AsyncIterator[tuple[bytes, bytes]]:
    batch: list[bytes] = []
    async for name in source.scan_iter(count=1000):
        batch.append(name)
        if len(batch) == 500:
            for pair in await _types(source, batch):
                yield pair
            batch = []
    for pair in await _types(source, batch):
        yield pair


async def _types(source: Redis, names: list[bytes]) -> list[tuple[bytes, bytes]]:
    async with source.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.type(name)
        kinds: list[bytes] = await pipe.execute()
    return list(zip(names, kinds, strict=True))


def _add_list(found: Source, name: bytes) -> None:
    style: Style = "session" if name.startswith(b"session:") else "legacy"
    text = _decode(name[len(b"session:") :] if style == "session" else name)
    if text is None:
        return
    styles = found.lists.setdefault(text, [])
    if style not in styles:  # SCAN may return a key twice
        styles.insert(0 if style == "legacy" else len(styles), style)


async def _add_listing(source: Redis, found: Source, name: bytes) -> None:
    namespace = _decode(name[len(b"sessions:") :]) if name != b"sessions" else ""
    if namespace is None:
        return
    members = await source.zrange(name, 0, -1, withscores=True)
    for member, score in cast(list[tuple[bytes, float]], members):
        sid, at = _decode(member), int(score * 1000)
        if sid is not None and (sid not in found.listed or found.listed[sid][1] < at):
            found.listed[sid] = (namespace, at)


def _decode(raw: bytes) -> str | None:
    """Motörhead's ids came from URL paths, so UTF-8; anything else is not its key."""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


def list_key(style: Style, sid: str) -> str:
    return f"session:{sid}" if style == "session" else sid


def context_key(style: Style, sid: str) -> str:
    return f"context:{sid}" if style == "session" else f"{sid}_context"


def tokens_key(style: Style, sid: str) -> str:
    return f"tokens:{sid}" if style == "session" else f"{sid}_tokens"


def parse(element: bytes) -> tuple[str, str] | None:
    """``"role: content"`` split on the first ``": "``; ``None`` when there is none."""
    role, sep, content = element.decode(errors="replace").partition(SEPARATOR)
    return (role, content) if sep else None


def looks_like_session(elements: Sequence[bytes]) -> bool:
    """The rule for an old-style list: non-empty, every element ``"<role>: <content>"``."""
    if not elements:
        return False
    for element in elements:
        parsed = parse(element)
        if parsed is None or not ROLE.fullmatch(parsed[0]):
            return False
    return True


async def read_session(source: Redis, sid: str, found: Source) -> MotorheadSession | None:
    """One session's messages (oldest first), context and tokens; ``None`` when it holds
    nothing to import (an old-style candidate that is no session, or an empty listing)."""
    messages: list[NewMessage] = []
    contexts: list[str] = []
    tokens = 0
    for style in found.lists.get(sid, []):
        newest_first = cast(list[bytes], await source.lrange(list_key(style, sid), 0, -1))
        if style == "legacy" and not looks_like_session(newest_first):
            continue
        messages += _messages(style, reversed(newest_first))
        context, spent = await _context_and_tokens(source, style, sid)
        contexts += [] if context is None else [context]
        tokens += spent
    if "session" not in found.lists.get(sid, []):  # listed only: an empty POST left this
        context, spent = await _context_and_tokens(source, "session", sid)
        contexts += [] if context is None else [context]
        tokens += spent
    if not messages and not contexts:
        return None
    namespace, written_at = found.listed.get(sid, ("", None))
    context = contexts[-1] if contexts else None  # the current key name wins
    return MotorheadSession(sid, namespace, written_at, messages, context, tokens)


def _messages(style: Style, oldest_first: Iterable[bytes]) -> list[NewMessage]:
    out = []
    for position, element in enumerate(oldest_first):
        parsed = parse(element)
        if parsed is not None:
            role, content = parsed
            out.append(NewMessage(role, content, client_id=f"motorhead:{style}:{position}"))
    return out


async def _context_and_tokens(source: Redis, style: Style, sid: str) -> tuple[str | None, int]:
    context = cast(bytes | None, await source.get(context_key(style, sid)))
    raw = cast(bytes | None, await source.get(tokens_key(style, sid)))
    try:
        tokens = int(raw) if raw is not None else 0
    except ValueError:
        tokens = 0
    return (None if context is None else context.decode(errors="replace")), max(tokens, 0)


# -- writing the target (the Store protocol only) ------------------------------------------


async def import_session(
    store: Store, tenant: str, src: MotorheadSession, *, window: int, counts: Counts
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


async def add_tokens(store: Store, key: SessionKey, tokens: int, *, window: int) -> None:
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
    source: Redis, store: Store, *, tenant: str, window: int, progress: TextIO | None
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

    def __init__(self, total: int, out: TextIO | None) -> None:
        self.total, self.out, self.done = total, out, 0
        self.tty = out is not None and out.isatty()
        self._shown = -1.0
        self._step = -1

    def advance(self) -> None:
        self.done += 1
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
        count = f"{self.done}/{self.total} session ids"
        self.out.write(f"{start}migrate-motorhead [{bar}] {part:4.0%} {count}{end}")
        self.out.flush()
        self._shown = time.monotonic()
