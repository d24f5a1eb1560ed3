"""Where every HTTP request enters: memhead's own middleware first, then the Motörhead memory
routes straight to their endpoints, and everything else through FastAPI.

GET and POST of ``/sessions/{id}/memory`` are what a Motörhead client sends on every chat
turn. FastAPI's per-request stack (telemetry check, its own body limit, error middleware,
exit stack, routing through every route) costs more than memhead's whole store operation
(measured with ``bench/load.py``), so these routes skip it. They are still registered in
the router, which serves them when this shortcut does not apply (``HEAD``, say) and from
which the OpenAPI document and the route tables are built; the endpoint functions are the
same either way, and so are the errors: both paths answer them with ``responses.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI
from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memhead.api.body import BodyPolicy, declared_length
from memhead.api.responses import error_response, response_for
from memhead.api.route_metrics import RequestMetrics
from memhead.console import PREFIX as CONSOLE_PREFIX
from memhead.errors import ClientDisconnected, InvalidRequest, MemheadError
from memhead.logs import RequestIds, request_id

SUFFIX = "/memory"
SESSION = "/sessions/{session_id:path}/memory"

Edge = Callable[[ASGIApp], ASGIApp]


class EdgeMiddleware:
    """Every HTTP request's first stop, in one layer (each layer costs on every request):
    its request id (``logs``), its metrics (``route_metrics``), its target (``target_problem``,
    ``strip_trailing_slash``) and how its body is read (``body``)."""

    def __init__(
        self, app: ASGIApp, *, ids: RequestIds, metrics: RequestMetrics, body: BodyPolicy
    ) -> None:
        self.app = app
        self.ids = ids
        self.metrics = metrics
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = self.ids.of(scope)
        header = (b"x-request-id", rid.encode())
        status = 500

        async def send_stamped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = request_id.set(rid)
        try:
            strip_trailing_slash(scope)
            refusal = target_problem(scope) or self.body.refusal(scope)
            if refusal is None:
                await self.app(scope, self.body.reader(receive), send_stamped)
            else:
                await self._refuse(refusal, scope, receive, send_stamped)
        finally:
            request_id.reset(token)
            self.metrics.observe(scope, status, time.perf_counter() - start)

    async def _refuse(
        self, error: MemheadError, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Answer ``error`` without calling the app, after reading what may be read of the
        body (a client that sends its whole body before reading gets the answer)."""
        whole = False
        try:
            if declared_length(scope) <= self.body.drain_bytes:
                whole = await self.body.drain(receive, self.body.deadline())
        except ClientDisconnected as exc:
            error = exc
        response = error_response(error.status, error.message)
        if not whole:
            response.headers["connection"] = "close"
        await response(scope, receive, send)


KEEP_SLASH = (CONSOLE_PREFIX + "/",)
"""Static pages addressed with their slash: the console's page links its files relatively
(``console.js`` from ``/ui/``), so ``/ui/`` must stay ``/ui/``."""


def strip_trailing_slash(scope: Scope) -> None:
    """``/sessions/`` is ``/sessions``: every API route answers with or without a trailing
    slash (instead of an empty redirect). Only a literal slash counts: a session id that ends
    in ``/`` is sent encoded (``%2F``)."""
    raw: bytes = scope.get("raw_path") or b""
    path: str = scope["path"]
    keep = path.startswith(KEEP_SLASH)
    if len(path) > 1 and path[-1] == "/" and raw[-1:] == b"/" and not keep:
        scope["path"] = path[:-1]
        scope["raw_path"] = raw[:-1]


def target_problem(scope: Scope) -> InvalidRequest | None:
    """Percent-encoded bytes in the path or query that are not UTF-8 would be read as U+FFFD,
    so ``a%FFb`` and ``a%FEb`` would name one session: refused instead."""
    for part in (scope.get("raw_path") or b"", scope.get("query_string") or b""):
        if b"%" in part:
            try:
                unquote_to_bytes(part).decode()
            except UnicodeDecodeError:
                return InvalidRequest("the URL holds percent-encoded bytes that are not UTF-8")
    return None


class HotRoutes:
    """``{prefix}/sessions/{id}/memory`` by method, found in the app's own route table."""

    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.table: list[tuple[str, dict[str, Any]]] = []
        for route in routes:
            if isinstance(route, Route) and route.path.endswith(SESSION):
                prefix = route.path.removesuffix(SESSION) + "/sessions/"
                methods = next((m for p, m in self.table if p == prefix), None)
                if methods is None:
                    methods = {}
                    self.table.append((prefix, methods))
                for method in route.methods or ():
                    methods.setdefault(method, route.endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            if path.endswith(SUFFIX):
                for prefix, methods in self.table:
                    endpoint = methods.get(scope["method"])
                    # as the router's pattern: the prefix, any id (even empty), then /memory
                    fits = len(path) >= len(prefix) + len(SUFFIX) and path.startswith(prefix)
                    if endpoint is not None and fits:
                        session_id = path[len(prefix) : -len(SUFFIX)]
                        await self._serve(endpoint, session_id, scope, receive, send)
                        return
        await self.app(scope, receive, send)

    @staticmethod
    async def _serve(
        endpoint: Any, session_id: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        scope["path_params"] = {"session_id": session_id}
        scope["endpoint"] = endpoint  # as the router leaves it, for the metrics' route label
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except Exception as exc:
            response = await response_for(request, exc)
        await response(scope, receive, send)


class MemheadApp(FastAPI):
    """FastAPI with ``edge`` (memhead's middleware) outermost and the hot routes inside it."""

    def __init__(self, *, edge: Edge, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._edge = edge
        self._entry: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if self._entry is None:  # the routes are all in place by the first request
            self._entry = self._edge(HotRoutes(super().__call__, self.router.routes))
        await self._entry(scope, receive, send)
