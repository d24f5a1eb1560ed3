"""The interactive API docs at ``/docs``, working without internet.

FastAPI's own page loads Swagger UI, and its favicon, from the internet, so on a machine
without it ``/docs`` is blank. This page loads everything from memhead itself: Swagger UI's
script and stylesheet come from the ``fastapi-offline`` package, which ships them (a
maintained package rather than a copy of Swagger UI in this repository).
"""

from __future__ import annotations

from importlib.resources import files

from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.staticfiles import StaticFiles

ASSETS = "/docs/static"
# Swagger UI would send the document to an online validator and show its badge.
PARAMETERS = {"validatorUrl": None, "persistAuthorization": True, "displayRequestDuration": True}


class SwaggerDocs:
    """The ``/docs`` page and the Swagger UI files it loads."""

    def __init__(self, *, title: str, openapi_url: str) -> None:
        self.title = title
        self.openapi_url = openapi_url
        self.files = StaticFiles(directory=str(files("fastapi_offline") / "static"))

    async def page(self, request: Request) -> Response:
        """Swagger UI over ``/openapi.json``, every URL relative to where memhead is mounted."""
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + self.openapi_url,
            title=f"{self.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            swagger_ui_parameters=PARAMETERS,
        )

    async def asset(self, request: Request) -> Response:
        """One of the files (with ETag and Last-Modified, as any static file)."""
        return await self.files.get_response(request.path_params["name"], request.scope)

    def routes(self) -> list[BaseRoute]:
        """``/docs`` and ``/docs/static/{name}``, both open without a key."""
        return [
            Route("/docs", self.page, methods=["GET"], include_in_schema=False),
            Route(ASSETS + "/{name}", self.asset, methods=["GET"], include_in_schema=False),
        ]
