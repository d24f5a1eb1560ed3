"""The MCP tools: thin adapters over ``MemoryService``, ``SearchService`` and
``ItemService``, like the HTTP routes. Each is a typed method (the SDK derives its JSON schema
from the signature) whose docstring tells a model what it is for. memhead's errors come back
as tool errors with the message the HTTP API gives; nothing a tool raises stops the server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from memhead.api.schemas import to_datetime
from memhead.errors import MemheadError
from memhead.items.service import ItemService
from memhead.mcp.memories import (
    DEFAULT_NAMESPACE,
    MEMORY_INDEX,
    ItemNamespace,
    memory_hit,
    memory_value,
    merged,
)
from memhead.mcp.results import (
    Appended,
    Deleted,
    Forgotten,
    Hit,
    Hits,
    Remembered,
    SessionInfo,
    Sessions,
)
from memhead.mcp.tenants import TenantOf
from memhead.memory import MemoryService
from memhead.models import Message, NewMessage, SearchScope
from memhead.search import Mode, SearchService
from memhead.text import QUERY_CHARS, Name, Role, Text

SessionId = Annotated[str, Field(description="The conversation's id, exactly as stored.")]


@contextmanager
def as_tool_errors() -> Iterator[None]:
    try:
        yield
    except MemheadError as exc:
        raise ToolError(exc.message) from exc


class MessageIn(BaseModel):
    role: Role = Field(description="e.g. user, assistant, system")
    content: Text


READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
ERASE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)


class MemoryTools:
    """The tools, bound to the services and to how a call finds its tenant."""

    def __init__(
        self,
        service: MemoryService,
        search: SearchService,
        items: ItemService,
        tenant_of: TenantOf,
    ):
        self.service = service
        self.searcher = search
        self.items = items
        self.tenant_of = tenant_of

    def tools(self) -> list[tuple[Callable[..., Any], ToolAnnotations]]:
        return [
            (self.add_messages, WRITE),
            (self.get_session_memory, READ),
            (self.search, READ),
            (self.remember, WRITE),
            (self.forget, ERASE),
            (self.list_sessions, READ),
            (self.delete_session, ERASE),
        ]

    async def add_messages(
        self, session_id: SessionId, messages: list[MessageIn], ctx: Context[Any, Any]
    ) -> Appended:
        """Save messages of a conversation to long-term memory, oldest first. Call it after
        each exchange (the user's message and your answer) so later conversations can recall
        it; the session is created on first use. Older messages are summarized automatically.
        Returns the position each message got."""
        with as_tool_errors():
            key = self.service.key(await self.tenant_of(ctx), session_id)
            stored = await self.service.append(
                key, [NewMessage(m.role, m.content) for m in messages]
            )
        last = stored[-1].seq if stored else 0
        return Appended(session_id=session_id, seqs=[m.seq for m in stored], message_count=last)

    async def get_session_memory(self, session_id: SessionId, ctx: Context[Any, Any]) -> str:
        """What you should know about a conversation before continuing it: the running
        summary of its older messages, then its most recent messages verbatim, oldest first,
        as text ready to read. Call it at the start of a conversation you are resuming."""
        with as_tool_errors():
            key = self.service.key(await self.tenant_of(ctx), session_id)
            memory = await self.service.memory(key)
        summary = memory.session.summary if memory.session else None
        if summary is None and not memory.window:
            return f"No memory of session {session_id!r} yet."
        parts = [f"Summary of the earlier conversation:\n{summary}"] if summary else []
        if memory.window:
            lines = [f"{m.role}: {m.content}" for m in reversed(memory.window)]
            parts.append("Most recent messages, oldest first:\n" + "\n".join(lines))
        return "\n\n".join(parts)

    async def search(
        self,
        query: Annotated[
            Text, Field(min_length=1, max_length=QUERY_CHARS, description="What to look for.")
        ],
        ctx: Context[Any, Any],
        session_id: Annotated[
            str | None, Field(description="Only this conversation's messages.", min_length=1)
        ] = None,
        user_id: Annotated[
            Name | None, Field(description="Only this user's conversations' messages.")
        ] = None,
        namespace: Annotated[
            list[str] | None,
            Field(description="Only memories stored under this namespace (or below it)."),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="How many hits, at most.")] = 10,
    ) -> Hits:
        """Find what you know that is relevant to a question, by meaning and by keyword, best
        first: past messages of conversations and saved memories (see remember) together.
        Use it to recall facts, preferences or decisions before answering. With no other
        argument it searches everything you can access; session_id or user_id narrow it to
        those conversations' messages, namespace to the memories stored there (give both to
        search both, each narrowed). Each hit says what it is (kind) and where it came from:
        session_id and seq for a message, namespace and key for a memory."""
        messages_only = namespace is None and (session_id is not None or user_id is not None)
        items_only = namespace is not None and session_id is None and user_id is None
        with as_tool_errors():
            tenant = await self.tenant_of(ctx)
            mode = self.searcher.effective_mode("hybrid")
            scope = SearchScope(tenant, session_id=session_id, user_id=user_id)
            messages, memories = await asyncio.gather(
                _nothing() if items_only else self._messages(scope, query, mode, limit),
                _nothing() if messages_only else self._memories(tenant, namespace, query, limit),
            )
        return Hits(mode=mode, hits=merged((messages, memories), limit))

    async def _messages(self, scope: SearchScope, query: str, mode: Mode, limit: int) -> list[Hit]:
        results = await self.searcher.search(scope, query, mode=mode, limit=limit)
        return [_message_hit(r.hit.session_id, r.hit.message, r.score) for r in results]

    async def _memories(
        self, tenant: str, namespace: Sequence[str] | None, query: str, limit: int
    ) -> list[Hit]:
        found = await self.items.search(tenant, tuple(namespace or ()), query=query, limit=limit)
        return [memory_hit(f.item, f.score or 0.0) for f in found]

    async def remember(
        self,
        content: Annotated[
            Text,
            Field(
                min_length=1,
                description="The memory, self-contained: e.g. \"Ana's sister Inès lives in "
                'Porto" rather than "her sister lives there".',
            ),
        ],
        ctx: Context[Any, Any],
        namespace: Annotated[
            list[str] | None,
            Field(
                description='Where to store it; default ["memories"]. Use e.g. ["users", '
                '"<user id>"] to keep each user\'s memories apart.'
            ),
        ] = None,
        key: Annotated[
            str | None,
            Field(
                min_length=1,
                description="To update a memory: the key remember or search gave for it. "
                "Leave it out to store a new memory under a new key.",
            ),
        ] = None,
        metadata: Annotated[
            dict[str, Any] | None,
            Field(description='Extra fields to store with it, e.g. {"topic": "family"}.'),
        ] = None,
    ) -> Remembered:
        """Save a lasting memory: a fact, preference, decision or note worth knowing in later
        conversations, beyond what the conversation itself keeps. One fact per call, written
        to be understood on its own. To correct or update a memory, call it again with that
        memory's namespace and key: the new content replaces the old. search finds memories
        later. Returns where it was stored (namespace and key), which forget takes."""
        with as_tool_errors():
            value = memory_value(content, metadata)
            stored = await self.items.put(
                await self.tenant_of(ctx),
                tuple(namespace) if namespace is not None else DEFAULT_NAMESPACE,
                key if key is not None else uuid.uuid4().hex,
                value,
                index=list(MEMORY_INDEX),
            )
        assert stored is not None  # a put with a value returns the item it stored
        return Remembered(namespace=list(stored.namespace), key=stored.key)

    async def forget(
        self,
        namespace: ItemNamespace,
        key: Annotated[str, Field(description="The memory's key, as remember or search gave.")],
        ctx: Context[Any, Any],
    ) -> Forgotten:
        """Permanently delete one saved memory, found by its namespace and key (as remember
        returned them, or a search hit shows them). Call it when the user asks you to forget
        something, or a memory turned out wrong and should not be replaced."""
        with as_tool_errors():
            deleted = await self.items.delete(await self.tenant_of(ctx), tuple(namespace), key)
        return Forgotten(namespace=namespace, key=key, deleted=deleted)

    async def list_sessions(
        self,
        ctx: Context[Any, Any],
        user_id: Annotated[
            Name | None, Field(description="Only this user's conversations.")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="How many, at most.")] = 20,
    ) -> Sessions:
        """List stored conversations, most recently active first, with their sizes. Use it
        to find the session id of a conversation to read, search or delete."""
        with as_tool_errors():
            page = await self.service.list_sessions(
                await self.tenant_of(ctx), user_id=user_id, cursor=None, limit=limit
            )
        return Sessions(
            sessions=[
                SessionInfo(
                    session_id=s.id,
                    user_id=s.user_id,
                    message_count=s.last_seq,
                    updated_at=to_datetime(s.updated_at),
                )
                for s in page.sessions
            ]
        )

    async def delete_session(self, session_id: SessionId, ctx: Context[Any, Any]) -> Deleted:
        """Permanently erase a conversation: all its messages and its summary. Only call it
        when the user asks to forget that conversation; it cannot be undone."""
        with as_tool_errors():
            deleted = await self.service.delete(
                self.service.key(await self.tenant_of(ctx), session_id)
            )
        return Deleted(session_id=session_id, deleted=deleted)


async def _nothing() -> list[Hit]:
    return []


def _message_hit(session_id: str, m: Message, score: float) -> Hit:
    return Hit(
        kind="message",
        session_id=session_id,
        seq=m.seq,
        role=m.role,
        content=m.content,
        created_at=to_datetime(m.created_at),
        score=score,
    )
