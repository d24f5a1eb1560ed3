"""Import: the lines of an export (``records``) written into a store through the
``Transfer`` role, streamed (messages go in chunks), idempotent (run it again after an
interruption: what is stored is skipped), seqs kept. Vectors are not exported: imported
messages join the embedding backlog and the embedding worker gives them new ones.

A session's line must come before its messages and summary, as an export writes them.
Messages whose seq is already stored are skipped, so importing into a store that already
holds a session of that id keeps the stored messages. An item is put as exported (its
times kept), replacing one stored at its key; its search text is taken from its value by
this server's default index paths (``MEMHEAD_ITEM_INDEX``), as an export holds no text.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Coroutine
from dataclasses import dataclass
from dataclasses import field as default
from typing import Any, Protocol

import orjson

from memhead.errors import InvalidRequest
from memhead.items import paths
from memhead.lifecycle.records import Record, field, item_of, message_of, optional, session_of
from memhead.models import Message, NewItem, SessionKey
from memhead.settings_values import ItemSettings
from memhead.stores.data_roles import Transfer
from memhead.stores.item_roles import ItemStore

DEFAULTS = ItemSettings()

CHUNK = 500
"""Messages written per store operation."""


class BadLine(ValueError):
    """A line that cannot be imported; the message names the line."""


class ImportStore(Transfer, ItemStore, Protocol):
    """What an import writes."""


@dataclass(slots=True)
class Importer:
    """Feeds records to the store one by one; ``counts`` says what was written."""

    store: ImportStore
    window: int
    items: ItemSettings
    counts: dict[str, int] = default(
        default_factory=lambda: {"session": 0, "message": 0, "item": 0}
    )
    _key: SessionKey | None = None
    _pending: list[Message] = default(default_factory=list)

    async def add(self, record: Record) -> None:
        kind = record.get("kind")
        handler = HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise ValueError(f"unknown kind {kind!r}")
        await handler(self, record)

    async def session(self, record: Record) -> None:
        await self.flush()
        session = session_of(record)
        self._key = SessionKey(_tenant(record), session.id)
        await self.store.import_session(self._key, session)
        self.counts["session"] += 1

    async def message(self, record: Record) -> None:
        message = message_of(record)
        if message.seq < 1:
            raise ValueError("message record: 'seq' must be at least 1")
        if self._key != self._owner(record):
            raise ValueError("a message must follow its session's line")
        self._pending.append(message)
        if len(self._pending) >= CHUNK:
            await self.flush()

    async def summary(self, record: Record) -> None:
        await self.flush()
        key = self._owner(record)
        if key is None or self._key != key:
            raise ValueError("a summary must follow its session's line")
        upto, tokens = field(record, "upto_seq", int), field(record, "tokens", int)
        if upto < 0 or tokens < 0:
            raise ValueError("summary record: 'upto_seq' and 'tokens' must not be negative")
        await self.store.import_summary(
            key,
            summary=optional(record, "text", str),
            upto_seq=upto,
            tokens=tokens,
            window=self.window,
        )

    async def item(self, record: Record) -> None:
        await self.flush()
        where, item = item_of(_tenant(record), record, self.items.max_bytes)
        text = paths.text_of(item.value, [paths.parse(p) for p in self.items.index])
        await self.store.put_item(
            where,
            NewItem(item.value, text, item.ttl_ms),
            now=item.updated_at,
            created_at=item.created_at,
            expires_at=item.expires_at,
        )
        self.counts["item"] += 1

    def _owner(self, record: Record) -> SessionKey | None:
        session_id = record.get("session_id")
        return SessionKey(_tenant(record), session_id) if isinstance(session_id, str) else None

    async def flush(self) -> None:
        if self._pending and self._key is not None:
            stored = await self.store.import_messages(self._key, self._pending, window=self.window)
            self.counts["message"] += stored
        self._pending = []


def _tenant(record: Record) -> str:
    tenant = record.get("tenant")
    if not isinstance(tenant, str) or not tenant:
        raise ValueError(f"{record.get('kind')} record: 'tenant' is missing or invalid")
    return tenant


Handler = Callable[[Importer, Record], Coroutine[Any, Any, None]]
HANDLERS: dict[str, Handler] = {
    "session": Importer.session,
    "message": Importer.message,
    "summary": Importer.summary,
    "item": Importer.item,
}
"""What each kind of record does."""


async def import_lines(
    store: ImportStore, lines: AsyncIterable[bytes], *, window: int, items: ItemSettings = DEFAULTS
) -> dict[str, int]:
    """Import every line; ``BadLine`` (naming the line) on the first bad one. Returns
    how many sessions and items were written and how many messages were new. ``items``:
    the server's item settings (index paths, size limit)."""
    importer = Importer(store, window, items)
    number = 0
    async for raw in lines:
        number += 1
        if not raw.strip():
            continue
        try:
            record = orjson.loads(raw)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            await importer.add(record)
        except (ValueError, InvalidRequest) as exc:  # orjson's error is a ValueError
            reason = exc.message if isinstance(exc, InvalidRequest) else str(exc)
            raise BadLine(f"line {number}: {reason}") from None
    try:
        await importer.flush()
    except InvalidRequest as exc:
        raise BadLine(f"line {number}: {exc.message}") from None
    return importer.counts
