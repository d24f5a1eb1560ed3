"""A Motörhead Redis, read only (SCAN, TYPE, LRANGE, GET, ZRANGE), for ``migrate``.

Motörhead keeps, per session id (current names / names of older versions)::

    session:{id}    {id}            list of "role: content", newest first (LPUSH)
    context:{id}    {id}_context    string: the running summary
    tokens:{id}     {id}_tokens     integer: provider tokens spent on summaries
    sessions, sessions:{namespace}  zset of session ids per listing group, score = last write (s)

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
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

from redis.asyncio import Redis

from memhead.models import NewMessage

Style = Literal["legacy", "session"]

ROLE = re.compile(r"[A-Za-z][\w .-]{0,63}", re.ASCII)
SEPARATOR = ": "


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
