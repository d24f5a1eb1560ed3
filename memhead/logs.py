"""Logging: readable text by default, one JSON object per line with MEMHEAD_LOG_FORMAT=json,
and the request id of the request being served in every line logged while serving it."""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import secrets
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # a worker process logs too, without the web stack
    from starlette.types import Scope

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
"""The id of the request this task serves (a context variable: each request's task has its own)."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(fmt: Literal["text", "json"], level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class RequestIds:
    """A request's id: the client's ``x-request-id`` if sane, else ``<process>-<n>``."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(4)
        self._count = itertools.count(1)

    def of(self, scope: Scope) -> str:
        return _incoming(scope) or f"{self._prefix}-{next(self._count)}"


def _incoming(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and 0 < len(value) <= 128 and value.isascii():
            text = value.decode()
            return text if text.isprintable() else None
    return None
