"""Cross-origin requests from browsers (``MEMHEAD_CORS_ORIGINS``), off unless configured.

Starlette's ``CORSMiddleware`` answers preflights and stamps responses; it is added only when
origins are configured, so a server without CORS pays nothing for it on each request.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

METHODS = ("GET", "POST", "PUT", "DELETE")
HEADERS = (
    "authorization",
    "content-type",
    "x-metal-api-key",
    "x-metal-client-id",
    "x-request-id",
)
"""What memhead reads from a request: credentials, the JSON content type, the request id."""


def with_cors(app: ASGIApp, origins: list[str]) -> ASGIApp:
    """``app`` answering browsers from ``origins`` (``["*"]``: any); unchanged when empty.
    Credentials mode stays off: keys travel in headers a page sets, never in cookies."""
    if not origins:
        return app
    return CORSMiddleware(
        app,
        allow_origins=origins,
        allow_methods=METHODS,
        allow_headers=HEADERS,
        expose_headers=("x-request-id",),
        max_age=600,
    )
