"""What the client raises, as a tree users catch (it mirrors ``memhead.errors`` on the server).

    MemheadError
    ├── APIConnectionError          no answer: refused, reset, DNS, ...
    │   └── APITimeoutError         no answer in time
    └── APIError                    the server answered with an error status
        ├── InvalidRequestError     400, 413, 422: the request is wrong; nothing was changed
        ├── AuthenticationError     401: no key, or a revoked one
        │   └── PermissionDeniedError  403
        ├── NotFoundError           404
        ├── ConflictError           409
        ├── ProviderError           502: the server's LLM or embedding provider failed
        ├── UnavailableError        503: the server's store cannot be reached
        └── InternalServerError     any other 5xx

Every ``APIError`` carries the server's message (its ``{"error": ...}`` body), the status and
the request id the server stamped on its answer (``x-request-id``, for its logs).
"""

from __future__ import annotations

import httpx


class MemheadError(Exception):
    """Anything the client raises."""


class APIConnectionError(MemheadError):
    """The server could not be reached, or the connection broke before its answer."""


class APITimeoutError(APIConnectionError):
    """No answer within the client's timeout."""


class APIError(MemheadError):
    """The server answered with an error status."""

    def __init__(self, message: str, *, status_code: int, request_id: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.request_id = request_id


class InvalidRequestError(APIError):
    pass


class AuthenticationError(APIError):
    pass


class PermissionDeniedError(AuthenticationError):
    pass


class NotFoundError(APIError):
    pass


class ConflictError(APIError):
    pass


class ProviderError(APIError):
    pass


class UnavailableError(APIError):
    pass


class InternalServerError(APIError):
    pass


BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    413: InvalidRequestError,
    422: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    502: ProviderError,
    503: UnavailableError,
}


def error_for(response: httpx.Response) -> APIError:
    """The exception for an error answer, with the server's own message."""
    status = response.status_code
    kind = BY_STATUS.get(status, InternalServerError if status >= 500 else APIError)
    return kind(
        _message(response), status_code=status, request_id=response.headers.get("x-request-id")
    )


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return error
    return response.text or f"HTTP {response.status_code}"


def connection_error(exc: httpx.TransportError) -> APIConnectionError:
    kind = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    return kind(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
