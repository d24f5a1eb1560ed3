"""The one place that turns errors into responses, plus the JSON response and body limit."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope

from memhead.errors import MemheadError, PayloadTooLarge

log = logging.getLogger("memhead.api")


def json_response(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type="application/json")


def error_response(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


async def _memhead_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MemheadError)
    if exc.status >= 500:
        log.warning("%s %s -> %d: %s", request.method, request.url.path, exc.status, exc.message)
    return error_response(exc.status, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, describe_validation_errors(exc.errors()))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal server error")


def describe_validation_errors(errors: Any) -> str:
    """One readable line from pydantic's error list: ``where: what; ...``."""
    parts = []
    for err in list(errors)[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else err.get("msg", "invalid"))
    return "; ".join(parts) or "invalid request"


HANDLERS: list[tuple[type[Exception], Callable[[Request, Exception], Awaitable[Response]]]] = [
    (MemheadError, _memhead_error),
    (HTTPException, _http_error),
    (RequestValidationError, _validation_error),
    (Exception, _unexpected),
]


def install_error_handlers(app: Starlette) -> None:
    for kind, handler in HANDLERS:
        app.add_exception_handler(kind, handler)


async def response_for(request: Request, exc: Exception) -> Response:
    """The answer to ``exc``, for a route served outside the framework (``edge.py``)."""
    handler = next(handler for kind, handler in HANDLERS if isinstance(exc, kind))
    return await handler(request, exc)


class BodyLimit:
    """Bodies over ``limit`` bytes are refused with 413, declared or streamed."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.message = f"request body larger than {limit} bytes"

    def declared_too_large(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"content-length":
                return value.isdigit() and int(value) > self.limit
        return False

    def too_large(self) -> Response:
        return error_response(413, self.message)

    def counting(self, receive: Receive) -> Receive:
        """``receive`` that raises ``PayloadTooLarge`` once the body passes the limit."""
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise PayloadTooLarge(self.message)
            return message

        return counted
