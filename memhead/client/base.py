"""What ``Memhead`` and ``AsyncMemhead`` share: configuration, building each request, and
deciding what an answer (or a failure to get one) means: a result, an error, or a retry."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from memhead import __version__
from memhead.client.calls import Call
from memhead.client.errors import connection_error, error_for

T = TypeVar("T")

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
DEFAULT_MAX_RETRIES = 2
RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""Answers worth another try: overloaded or restarting servers, proxies, the store away."""
MAX_DELAY_S = 8.0


@dataclass(frozen=True, slots=True)
class Retry:
    """Send the call again after ``delay`` seconds."""

    delay: float


class BaseClient:
    """Configuration and the decisions the sync and async clients share."""

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        timeout: float | httpx.Timeout,
        max_retries: int,
        backoff_s: float,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = base_url or os.environ.get("MEMHEAD_BASE_URL") or DEFAULT_BASE_URL
        self.api_key = api_key if api_key is not None else os.environ.get("MEMHEAD_API_KEY")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_s = backoff_s

    def _http_options(self) -> dict[str, Any]:
        """What ``httpx.Client`` / ``httpx.AsyncClient`` are built with."""
        headers = {"user-agent": f"memhead-python/{__version__}"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        return {"base_url": self.base_url, "timeout": self.timeout, "headers": headers}

    def _outcome(
        self, call: Call[T], attempt: int, answer: httpx.Response | httpx.TransportError
    ) -> T | Retry:
        """The result of ``call``, or ``Retry``; raises the error it ends with."""
        again = call.idempotent and attempt < self.max_retries
        if isinstance(answer, httpx.TransportError):
            if again:
                return Retry(self._delay(attempt, None))
            raise connection_error(answer) from answer
        if answer.is_success or (call.absent_ok and answer.status_code == 404):
            return call.parse(answer)
        if again and answer.status_code in RETRY_STATUSES:
            return Retry(self._delay(attempt, answer))
        raise error_for(answer)

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        """Exponential backoff with full jitter; a numeric ``Retry-After`` wins (capped)."""
        after = None if response is None else response.headers.get("retry-after", "")
        if after and after.replace(".", "", 1).isdigit():
            return min(float(after), MAX_DELAY_S)
        return random.uniform(0, min(self.backoff_s * 2**attempt, MAX_DELAY_S))
