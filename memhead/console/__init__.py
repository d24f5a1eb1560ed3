"""The web console at ``/ui``: static files (HTML, CSS, one script) served as they are.

The pages hold no data: the script reads everything through the public API (``/api/v1``,
``/readyz``, ``/metrics``) with the caller's API key, exactly as any other client would, so
serving the files needs no authentication and no template.
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
PREFIX = "/ui"


def console_routes() -> list[BaseRoute]:
    """``/ui/`` serves the console's page; ``/ui`` redirects there (the router's slash rule)."""
    return [Mount(PREFIX, StaticFiles(directory=STATIC, html=True), name="console")]
