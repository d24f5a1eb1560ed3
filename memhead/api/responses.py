"""The one place that turns errors into responses (and the JSON response they use).

It also decides what a client that went away mid-body is: ``ClientDisconnected``, answered
(to nobody) with 499, so the metrics count it apart from server errors, and logged at DEBUG,
not as an error. Starlette's own ``ClientDisconnect`` and FastAPI's wrapping of body-read
errors into a plain 400 both lead here too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from memhead.errors import ClientDisconnected, MemheadError

log = logging.getLogger("memhead.api")


def json_response(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type="application/json")


CLOSE_AFTER = frozenset({408, 413, 499})
"""Statuses after which the connection is closed: part of the body may be left unread."""


def error_response(status: int, message: str) -> Response:
    # a message may quote input (a field name, say) holding a lone surrogate: keep it JSON
    message = message.encode("utf-8", "backslashreplace").decode()
    response = json_response({"error": message}, status)
    if status in CLOSE_AFTER:
        response.headers["connection"] = "close"
    return response


async def _memhead_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MemheadError)
    if isinstance(exc, ClientDisconnected):
        log.debug("%s %s: %s", request.method, request.url.path, exc.message)
    elif exc.status >= 500:
        log.warning("%s %s -> %d: %s", request.method, request.url.path, exc.status, exc.message)
    return error_response(exc.status, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    cause = exc.__cause__
    if isinstance(cause, MemheadError | ClientDisconnect):  # FastAPI's 400 for a body read
        return await response_for(request, cause)
    return error_response(exc.status_code, str(exc.detail))


async def _disconnected(request: Request, exc: Exception) -> Response:
    return await _memhead_error(request, ClientDisconnected(f"the client disconnected: {exc}"))


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
    (ClientDisconnect, _disconnected),
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
