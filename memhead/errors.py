"""Every error memhead reports, each knowing its HTTP status.

    MemheadError                 500
    ├── InvalidRequest           400
    │   ├── RequestTimeout       408
    │   ├── PayloadTooLarge      413
    │   ├── UnsupportedMediaType 415
    │   └── UnprocessableInput   422
    ├── ClientDisconnected       499 (nobody to answer: counted, not an error of ours)
    ├── Conflict                 409
    │   └── EmbeddingMismatch    409
    ├── Unauthorized             401
    │   └── Forbidden            403
    ├── NotFound                 404
    ├── BackendUnavailable       503
    ├── SearchUnavailable        501
    └── ProviderFailure          502

The HTTP layer turns any of them into ``{"error": message}`` with ``status`` (see
``memhead.api.responses``); nothing else builds error bodies.
"""

from __future__ import annotations


class MemheadError(Exception):
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(MemheadError):
    status = 400


class PayloadTooLarge(InvalidRequest):
    status = 413


class UnprocessableInput(InvalidRequest):
    status = 422


class RequestTimeout(InvalidRequest):
    """The body did not arrive within the body timeout; the connection is closed."""

    status = 408


class UnsupportedMediaType(InvalidRequest):
    """A write without a JSON content type (what keeps a web page's simple, preflight-free
    cross-origin request from writing)."""

    status = 415


class ClientDisconnected(MemheadError):
    """The client went away before sending its whole body. Nobody reads the answer; the
    status (nginx's 499) only tells the metrics to count it apart from server errors."""

    status = 499


class Conflict(MemheadError):
    status = 409


class Unauthorized(MemheadError):
    status = 401


class Forbidden(Unauthorized):
    status = 403


class NotFound(MemheadError):
    status = 404


class BackendUnavailable(MemheadError):
    """The store cannot be reached; the request may be retried."""

    status = 503


class SearchUnavailable(MemheadError):
    """The store cannot search at all (a Redis without the query engine): configuration,
    not an outage, so retrying will not help."""

    status = 501


class ProviderFailure(MemheadError):
    """An LLM or embedding provider failed after its retries."""

    status = 502


class EmbeddingMismatch(Conflict):
    """Vectors of another model or dimension than the store already holds: the store was
    reindexed with another model (``memhead reindex``) under a running process, or the
    process was started with another one. Retrying will not help; a restart with the
    store's model, or a reindex, will."""

    status = 409


class ConfigError(Exception):
    """A setting is invalid; startup stops with this one-line message."""
