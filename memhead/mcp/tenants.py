"""Which tenant an MCP tool call acts for: the one the command line names (stdio), or the one
the HTTP request's API key was resolved to at the ``/mcp`` door (Streamable HTTP)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.mcpserver import Context
from starlette.requests import Request

from memhead.errors import Unauthorized

TenantOf = Callable[[Context[Any, Any]], Awaitable[str]]
"""Which tenant a tool call acts for."""


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
