"""The native API at ``/api/v1``: what new users should call. Thin adapters over the service."""

from __future__ import annotations

import base64
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.routing import APIRoute

from memhead.api.schemas import (
    AppendRequest,
    ErrorBody,
    MemoryOut,
    MessageList,
    MessageOut,
    SearchHit,
    SearchRequest,
    SearchResponse,
    SessionIn,
    SessionList,
    SessionOut,
    SummaryOut,
    to_datetime,
    to_ms,
)
from memhead.api.tenancy import TenantResolver
from memhead.errors import InvalidRequest
from memhead.memory import SESSION_ID_PATTERN, MemoryService
from memhead.models import SearchScope, SessionKey, SessionPatch
from memhead.search import Result, SearchService
from memhead.text import NAME_CHARS, NAME_PATTERN, OPTIONAL_NAME_PATTERN

TENANT = "memhead.tenant"
"""Scope key of the tenant ``tenant_first`` resolved for the request."""

SessionId = Annotated[
    str,
    Path(
        pattern=SESSION_ID_PATTERN,
        description="Any non-empty string without control characters, URL-encoded, matched "
        "exactly.",
    ),
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such session"}}
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in [
        (400, "Invalid request"),
        (404, "No such route (or session)"),
        (413, "Body too large"),
        (422, "Body or parameters do not match the schema"),
        (503, "The store cannot be reached"),
    ]
}


def encode_cursor(cursor: tuple[int, str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(cursor)).decode()


def decode_cursor(raw: str) -> tuple[int, str]:
    try:
        updated_at, session_id = orjson.loads(base64.urlsafe_b64decode(raw.encode()))
        if not isinstance(updated_at, int) or not isinstance(session_id, str):
            raise ValueError(raw)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidRequest("invalid cursor") from None
    return updated_at, session_id


def tenant_first(tenant_of: TenantResolver) -> type[APIRoute]:
    """A route class that resolves the caller's tenant (authenticates) before FastAPI reads
    and validates the body: a request without a valid key is a 401, whatever its body."""

    class TenantFirstRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def authenticated(request: Request) -> Response:
                request.scope[TENANT] = await tenant_of(request)
                return await handler(request)

            return authenticated

    return TenantFirstRoute


def tenant(request: Request) -> str:
    """The tenant ``tenant_first`` resolved for ``request``."""
    value: str = request.scope[TENANT]
    return value


class NativeEndpoints:
    def __init__(
        self, service: MemoryService, search: SearchService, tenant_of: TenantResolver
    ) -> None:
        self.service = service
        self.searcher = search
        self.tenant_of = tenant_of

    async def _key(self, request: Request, session_id: str) -> SessionKey:
        return self.service.key(tenant(request), session_id)

    async def append_messages(
        self, request: Request, session_id: SessionId, body: AppendRequest
    ) -> MessageList:
        """Append messages. Each gets the next `seq`; a message whose `id` is already stored
        is returned as stored, not stored again. Never waits for a model."""
        key = await self._key(request, session_id)
        stored = await self.service.append(key, [m.to_new() for m in body.messages])
        return MessageList(messages=[MessageOut.of(m) for m in stored])

    async def list_messages(
        self,
        request: Request,
        session_id: SessionId,
        before_seq: Annotated[int | None, Query(ge=1, le=2**53)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> MessageList:
        """The full stored history, newest first, one page at a time."""
        key = await self._key(request, session_id)
        page = await self.service.history(key, before_seq=before_seq, limit=limit)
        more = len(page) == limit and page[-1].seq > 1
        return MessageList(
            messages=[MessageOut.of(m) for m in page],
            next_before_seq=page[-1].seq if more else None,
        )

    async def get_memory(
        self,
        request: Request,
        session_id: SessionId,
        lastn: Annotated[int | None, Query(ge=1, le=1000)] = None,
    ) -> MemoryOut:
        """The window (newest unsummarized messages, newest first; at most `lastn`, default
        the window size) and the running summary of everything older."""
        key = await self._key(request, session_id)
        return MemoryOut.of(await self.service.memory(key, lastn))

    async def get_summary(self, request: Request, session_id: SessionId) -> SummaryOut:
        """The running summary and how compaction of this session is going."""
        return SummaryOut.of(await self.service.session(await self._key(request, session_id)))

    async def get_session(self, request: Request, session_id: SessionId) -> SessionOut:
        """A session's record: user, metadata, namespace, times and message count; 404 when
        it does not exist."""
        return SessionOut.of(await self.service.session(await self._key(request, session_id)))

    async def put_session(
        self, request: Request, session_id: SessionId, body: SessionIn
    ) -> SessionOut:
        """Create a session or update its `user_id` / `metadata` / `ttl` (fields left out are
        kept)."""
        patch = SessionPatch(user_id=body.user_id, metadata=body.metadata, ttl_ms=body.ttl_ms())
        key = await self._key(request, session_id)
        return SessionOut.of(await self.service.put_session(key, patch))

    async def delete_session(self, request: Request, session_id: SessionId) -> Response:
        """Delete a session and everything of it. Deleting what does not exist succeeds."""
        await self.service.delete(await self._key(request, session_id))
        return Response(status_code=204)

    async def list_sessions(
        self,
        request: Request,
        user_id: Annotated[
            str | None, Query(min_length=1, max_length=NAME_CHARS, pattern=NAME_PATTERN)
        ] = None,
        namespace: Annotated[
            str | None,
            Query(
                max_length=NAME_CHARS,
                pattern=OPTIONAL_NAME_PATTERN,
                description="Motörhead's listing group; empty is the default.",
            ),
        ] = None,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    ) -> SessionList:
        """Sessions, most recently updated first; `user_id` keeps one user's, `namespace`
        one listing group's (both: the user's sessions in that group)."""
        page = await self.service.list_sessions(
            tenant(request),
            user_id=user_id,
            cursor=None if cursor is None else decode_cursor(cursor),
            limit=limit,
            namespace=namespace,
        )
        next_cursor = None if page.next_cursor is None else encode_cursor(page.next_cursor)
        return SessionList(
            sessions=[SessionOut.of(s) for s in page.sessions], next_cursor=next_cursor
        )

    async def search(self, request: Request, body: SearchRequest) -> SearchResponse:
        """Past messages relevant to `query`, best first: within one session (`session_id`),
        across one user's sessions (`user_id`), or across the tenant (neither)."""
        if body.session_id is not None:  # the rules of a session id in a path
            self.service.key(tenant(request), body.session_id)
        scope = SearchScope(
            tenant(request),
            session_id=body.session_id,
            user_id=body.user_id,
            since=None if body.since is None else to_ms(body.since),
            until=None if body.until is None else to_ms(body.until),
            roles=tuple(body.roles or ()),
        )
        mode = self.searcher.effective_mode(body.mode)
        results = await self.searcher.search(scope, body.query, mode=mode, limit=body.limit)
        return SearchResponse(mode=mode, hits=[search_hit(r) for r in results])

    def router(self) -> APIRouter:
        # Routes under a session id come before the bare session route: ids may contain "/".
        r = APIRouter(
            prefix="/api/v1",
            tags=["native"],
            responses=ERRORS,
            route_class=tenant_first(self.tenant_of),
        )
        one = "/sessions/{session_id:path}"
        r.add_api_route(one + "/messages", self.append_messages, methods=["POST"], status_code=201)
        r.add_api_route(one + "/messages", self.list_messages, methods=["GET"])
        r.add_api_route(one + "/memory", self.get_memory, methods=["GET"])
        r.add_api_route(one + "/summary", self.get_summary, methods=["GET"], responses=NOT_FOUND)
        r.add_api_route(one, self.get_session, methods=["GET"], responses=NOT_FOUND)
        r.add_api_route(one, self.put_session, methods=["PUT"])
        r.add_api_route(one, self.delete_session, methods=["DELETE"], status_code=204)
        r.add_api_route("/sessions", self.list_sessions, methods=["GET"])
        r.add_api_route("/search", self.search, methods=["POST"])
        return r


def search_hit(result: Result) -> SearchHit:
    m = result.hit.message
    return SearchHit(
        session_id=result.hit.session_id,
        seq=m.seq,
        role=m.role,
        content=m.content,
        created_at=to_datetime(m.created_at),
        metadata=m.metadata,
        score=result.score,
        retrievers=list(result.retrievers),
    )


def native_router(
    service: MemoryService, search: SearchService, tenant_of: TenantResolver
) -> APIRouter:
    return NativeEndpoints(service, search, tenant_of).router()
