"""HTTP request metrics, labelled by the template of the route that served each request
(``/sessions/{session_id:path}/memory``), never by its path (which holds session ids)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Scope

from memhead.metrics import Metrics

UNMATCHED = "unmatched"


class RequestMetrics:
    """Counts and times HTTP requests by route template."""

    def __init__(self, metrics: Metrics, routes: Sequence[BaseRoute]) -> None:
        """``routes``: the app's own route table (read at the first request, once complete)."""
        self.metrics = metrics
        self.routes = routes
        self._by_endpoint: dict[Callable[..., Any], str] | None = None

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = self.route_template(scope)
        method = scope["method"]
        self.metrics.requests.inc((route, method, str(status)))
        self.metrics.latency.observe(self.metrics.latency.child((route, method)), seconds)

    def route_template(self, scope: Scope) -> str:
        """The path template of the route that matched the request.

        A router leaves the matched route in ``scope["route"]`` (FastAPI's routes, included
        routers' too). Plain Starlette routes in a FastAPI router, and the hot routes that
        ``api.edge`` serves directly, leave only their ``endpoint``; each endpoint belongs to
        one route of the app's table. A mount (the console's files) leaves its app as the
        endpoint, and is labelled ``<mount path>/{path:path}``.
        """
        route = scope.get("route")
        if isinstance(route, Route):
            return route.path
        if self._by_endpoint is None:
            self._by_endpoint = dict(_templates(self.routes))
        endpoint = scope.get("endpoint")
        return UNMATCHED if endpoint is None else self._by_endpoint.get(endpoint, UNMATCHED)


def _templates(routes: Sequence[BaseRoute]) -> list[tuple[Callable[..., Any], str]]:
    """``(endpoint, path template)`` of the app's routes and mounts."""
    found: list[tuple[Callable[..., Any], str]] = []
    for route in routes:
        if isinstance(route, Route):
            found.append((route.endpoint, route.path))
        elif isinstance(route, Mount):
            found.append((route.app, route.path + "/{path:path}"))
    return found
