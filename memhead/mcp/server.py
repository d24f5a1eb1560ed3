"""memhead's MCP server (the official ``mcp`` SDK's ``MCPServer``) and its two transports:
stdio (``memhead mcp``, one process per desktop host) and Streamable HTTP (``/mcp`` in the
app ``create_app`` builds)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from memhead import __version__
from memhead.api.responses import error_response
from memhead.api.tenancy import TenantResolver
from memhead.errors import MemheadError
from memhead.items.service import ItemService
from memhead.mcp.tenants import TENANT_STATE, TenantOf
from memhead.mcp.tools import MemoryTools
from memhead.memory import MemoryService
from memhead.search import SearchService

PATH = "/mcp"
INSTRUCTIONS = """Long-term memory. Save each exchange with add_messages; read a conversation \
back with get_session_memory (a summary of older messages plus the recent ones); save a lasting \
fact or preference with remember (and delete one with forget); recall anything from past \
conversations and saved memories with search."""


def build_mcp(
    service: MemoryService, search: SearchService, items: ItemService, tenant_of: TenantOf
) -> MCPServer[Any]:
    """The MCP server with memhead's tools, acting for the tenant ``tenant_of`` finds."""
    with _logging_left_alone():
        server: MCPServer[Any] = MCPServer(
            "memhead", version=__version__, instructions=INSTRUCTIONS
        )
    for tool, hints in MemoryTools(service, search, items, tenant_of).tools():
        server.add_tool(tool, annotations=hints)
    return server


def http_routes(server: MCPServer[Any], tenant_of: TenantResolver, *, host: str) -> list[BaseRoute]:
    """The ``/mcp`` route (Streamable HTTP) to add to the app; the app's lifespan must run
    ``server.session_manager.run()``. Stateless, with plain JSON answers: any server process
    can answer any call (several share one store) and none keeps per-client state. Behind a
    loopback ``host`` the SDK also checks ``Host``/``Origin`` against DNS rebinding."""
    sdk_app = server.streamable_http_app(
        streamable_http_path=PATH, stateless_http=True, json_response=True, host=host
    )
    (endpoint,) = [r.endpoint for r in sdk_app.routes if isinstance(r, Route) and r.path == PATH]
    gate = TenantGate(endpoint, tenant_of)
    # POST only: stateless JSON answers need neither the GET stream (SSE) nor a DELETE of
    # a session; the spec has a server without them answer 405.
    return [Route(PATH, gate, methods=["POST"], name="mcp")]


class TenantGate:
    """``/mcp`` lets a request in as every data route does: its API key resolved to a
    tenant (401 without a live key when auth is on, the same JSON error as elsewhere). The
    tools act for that tenant."""

    def __init__(self, app: ASGIApp, tenant_of: TenantResolver) -> None:
        self.app = app
        self.tenant_of = tenant_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            tenant = await self.tenant_of(Request(scope))
        except MemheadError as exc:
            await error_response(exc.status, exc.message)(scope, receive, send)
            return
        scope.setdefault("state", {})[TENANT_STATE] = tenant
        await self.app(scope, receive, send)


@contextmanager
def _logging_left_alone() -> Iterator[None]:
    # MCPServer() calls logging.basicConfig, which installs its own handler on a root logger
    # nobody configured yet (an app embedding create_app, say); logging is the caller's.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
