"""The MCP tools: thin adapters over ``MemoryService`` and ``SearchService``, like the HTTP
routes. Each is a typed method (the SDK derives its JSON schema from the signature) whose
docstring tells a model what it is for. memhead's errors come back as tool errors with the
message the HTTP API gives; nothing a tool raises stops the server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field
from starlette.requests import Request

from memhead.api.schemas import to_datetime
from memhead.errors import MemheadError, Unauthorized
from memhead.memory import MemoryService
from memhead.models import Message, NewMessage, SearchScope
from memhead.search import SearchService
from memhead.text import QUERY_CHARS, Name, Role, Text

TenantOf = Callable[[Context[Any, Any]], Awaitable[str]]
"""Which tenant a tool call acts for."""

SessionId = Annotated[str, Field(description="The conversation's id, exactly as stored.")]


def fixed_tenant(tenant: str) -> TenantOf:
    """stdio: every call acts for the tenant the command line named."""

    async def of(ctx: Context[Any, Any]) -> str:
        return tenant

    return of


TENANT_STATE = "memhead_tenant"
"""Where the ``/mcp`` route (``memhead.mcp.server.TenantGate``) leaves the tenant of the
request it let in, in the request's state."""


async def http_tenant(ctx: Context[Any, Any]) -> str:
    """Streamable HTTP: the tenant the request's API key was resolved to at the door."""
    request = ctx.request_context.request
    tenant = getattr(request.state, TENANT_STATE, None) if isinstance(request, Request) else None
    if not isinstance(tenant, str):
        raise Unauthorized("this call came without an HTTP request that was let in")
    return tenant


@contextmanager
def as_tool_errors() -> Iterator[None]:
    try:
        yield
    except MemheadError as exc:
        raise ToolError(exc.message) from exc


class MessageIn(BaseModel):
    role: Role = Field(description="e.g. user, assistant, system")
    content: Text


class Appended(BaseModel):
    session_id: str
    seqs: list[int] = Field(description="The position each message got in the session.")
    message_count: int


class Hit(BaseModel):
    kind: str = Field(description="What was found: 'message' (a conversation message).")
    session_id: str = Field(description="The session the message belongs to.")
    seq: int = Field(description="Its position in that session.")
    role: str
    content: str
    created_at: datetime
    score: float = Field(description="Higher is better; comparable within one search.")


class Hits(BaseModel):
    mode: str = Field(description="The search actually run: hybrid, vector or keyword.")
    hits: list[Hit]


class SessionInfo(BaseModel):
    session_id: str
    user_id: str | None
    message_count: int
    updated_at: datetime


class Sessions(BaseModel):
    sessions: list[SessionInfo] = Field(description="Most recently updated first.")


class Deleted(BaseModel):
    session_id: str
    deleted: bool = Field(description="False when there was no such session.")


READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
ERASE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)


class MemoryTools:
    """The tools, bound to the services and to how a call finds its tenant."""

    def __init__(self, service: MemoryService, search: SearchService, tenant_of: TenantOf):
        self.service = service
        self.searcher = search
        self.tenant_of = tenant_of

    def tools(self) -> list[tuple[Callable[..., Any], ToolAnnotations]]:
        return [
            (self.add_messages, WRITE),
            (self.get_session_memory, READ),
            (self.search, READ),
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
            str | None, Field(description="Only this conversation.", min_length=1)
        ] = None,
        user_id: Annotated[
            Name | None, Field(description="Only this user's conversations.")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="How many hits, at most.")] = 10,
    ) -> Hits:
        """Find past messages relevant to a question, by meaning and by keyword, best first.
        Use it to recall facts, preferences or decisions from earlier conversations. Without
        session_id or user_id it searches every conversation you can access. Each hit says
        what it is (kind), which session it came from and where in it (seq)."""
        with as_tool_errors():
            scope = SearchScope(await self.tenant_of(ctx), session_id=session_id, user_id=user_id)
            mode = self.searcher.effective_mode("hybrid")
            results = await self.searcher.search(scope, query, mode=mode, limit=limit)
        return Hits(
            mode=mode, hits=[_hit(r.hit.session_id, r.hit.message, r.score) for r in results]
        )

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


def _hit(session_id: str, m: Message, score: float) -> Hit:
    return Hit(
        kind="message",
        session_id=session_id,
        seq=m.seq,
        role=m.role,
        content=m.content,
        created_at=to_datetime(m.created_at),
        score=score,
    )
