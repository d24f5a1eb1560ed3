"""Which tenant a request acts for. Authentication plugs in here and nowhere else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request

from memhead.models import DEFAULT_TENANT

TenantResolver = Callable[[Request], Awaitable[str]]


async def default_tenant(request: Request) -> str:
    """Authentication off: every request acts for the default tenant."""
    return DEFAULT_TENANT
