"""Motörhead's API: self-hosted at ``/`` and hosted (``{"data": ...}``) at ``/v1/motorhead``.

These are the hot routes, so they are plain Starlette endpoints: bodies are validated by
the same pydantic models the OpenAPI document is built from (``memhead.api.openapi``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from memhead.api.responses import describe_validation_errors, json_response
from memhead.api.schemas_motorhead import MotorheadPost, MotorheadRetrievalQuery
from memhead.api.tenancy import TenantResolver
from memhead.errors import InvalidRequest
from memhead.memory import MemoryService
from memhead.models import NewMessage, SearchScope, now_ms
from memhead.search import SearchService

M = TypeVar("M", MotorheadPost, MotorheadRetrievalQuery)
Endpoint = Callable[[Request], Awaitable[Response]]
Wrap = Callable[[Any], Any]

OK = {"status": "Ok"}


def _plain(data: Any) -> Any:
    return data


def _enveloped(data: Any) -> Any:
    return {"data": data}


def _query(request: Request, name: str) -> str | None:
    """A query parameter; most requests have none, and parsing nothing still costs."""
    if not request.scope.get("query_string"):
        return None
    return request.query_params.get(name)


def _int_param(request: Request, name: str, default: int) -> int:
    raw = _query(request, name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer") from None


def _parse(model: type[M], body: bytes) -> M:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidRequest(describe_validation_errors(exc.errors())) from None


class MotorheadEndpoints:
    """The Motörhead operations, rendered plainly or inside the hosted envelope."""

    def __init__(
        self,
        service: MemoryService,
        search: SearchService,
        tenant_of: TenantResolver,
        *,
        long_term_memory: bool,
        wrap: Wrap,
    ) -> None:
        self.service = service
        self.search = search
        self.tenant_of = tenant_of
        self.long_term_memory = long_term_memory
        self.wrap = wrap

    async def _key(self, request: Request) -> Any:
        return self.service.key(await self.tenant_of(request), request.path_params["session_id"])

    async def now(self, request: Request) -> Response:
        return json_response(self.wrap({"now": now_ms()}))

    async def list_sessions(self, request: Request) -> Response:
        ids = await self.service.list_namespace(
            await self.tenant_of(request),
            _query(request, "namespace") or "",
            _int_param(request, "page", 1),
            _int_param(request, "size", 10),
        )
        return json_response(self.wrap(ids))

    async def get_memory(self, request: Request) -> Response:
        memory = await self.service.memory(await self._key(request))
        session = memory.session
        body = {
            "messages": [{"role": m.role, "content": m.content} for m in memory.window],
            "context": session.summary if session else None,
            "tokens": session.tokens if session else 0,
        }
        return json_response(self.wrap(body))

    async def post_memory(self, request: Request) -> Response:
        key = await self._key(request)
        post = _parse(MotorheadPost, await request.body())
        await self.service.append(
            key,
            [NewMessage(m.role, m.content) for m in post.messages],
            namespace=_query(request, "namespace") or None,
            context=post.context,
        )
        return json_response(self.wrap(OK))

    async def delete_memory(self, request: Request) -> Response:
        await self.service.delete(await self._key(request))
        return json_response(self.wrap(OK))

    async def retrieval(self, request: Request) -> Response:
        key = await self._key(request)
        if not self.long_term_memory:
            raise InvalidRequest(
                "long-term memory is off: set MOTORHEAD_LONG_TERM_MEMORY=true to enable retrieval"
            )
        query = _parse(MotorheadRetrievalQuery, await request.body())
        scope = SearchScope(key.tenant, session_id=key.session_id)
        results = await self.search.search(scope, query.text, limit=10, distances=True)
        hits = [
            {"role": r.hit.message.role, "content": r.hit.message.content, "dist": r.distance}
            for r in results
        ]
        return json_response(self.wrap(hits))

    async def current_key(self, request: Request) -> Response:
        """What n8n's credential test reads: any 2xx passes it (a valid key, with auth on)."""
        await self.tenant_of(request)
        client_id = request.headers.get("x-metal-client-id")
        return json_response(self.wrap({"client_id": client_id, "active": True}))

    def routes(self, prefix: str = "") -> list[BaseRoute]:
        memory = prefix + "/sessions/{session_id:path}/memory"
        return [
            Route(prefix + "/sessions", self.list_sessions, methods=["GET"]),
            Route(memory, self.get_memory, methods=["GET"]),
            Route(memory, self.post_memory, methods=["POST"]),
            Route(memory, self.delete_memory, methods=["DELETE"]),
            Route(
                prefix + "/sessions/{session_id:path}/retrieval", self.retrieval, methods=["POST"]
            ),
        ]


def motorhead_routes(
    service: MemoryService,
    search: SearchService,
    tenant_of: TenantResolver,
    *,
    long_term_memory: bool,
) -> list[BaseRoute]:
    """Both shapes: self-hosted at ``/`` and hosted at ``/v1/motorhead`` (+ ``/v1/keys``)."""
    plain = MotorheadEndpoints(
        service, search, tenant_of, long_term_memory=long_term_memory, wrap=_plain
    )
    hosted = MotorheadEndpoints(
        service, search, tenant_of, long_term_memory=long_term_memory, wrap=_enveloped
    )
    return [
        Route("/", plain.now, methods=["GET"]),
        *plain.routes(),
        *hosted.routes("/v1/motorhead"),
        Route("/v1/keys/current", hosted.current_key, methods=["GET"]),
    ]
