"""LLM and embeddings through the official ``openai`` SDK, with memhead's own retries.

One client class serves OpenAI, any OpenAI-compatible server (by base URL) and Azure OpenAI.
The SDK's own retries are off (``max_retries=0``) so that ``RetryPolicy`` is the only policy:
retry 408, 429, 5xx, timeouts and connection errors with exponential backoff plus jitter; fail
at once on anything else; after the last failure raise ``ProviderFailure``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import openai

from memhead.errors import ProviderFailure
from memhead.providers.base import Completion
from memhead.redact import redact_url
from memhead.settings import Settings

logger = logging.getLogger("memhead.providers")

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

PLACEHOLDER_API_KEY = "not-needed"
"""Sent to servers that need no key (Ollama, vLLM...): the SDK refuses to start without one."""
MAX_DELAY_S = 30.0
"""Upper bound of one backoff delay, whatever the retry count."""
JITTER = 0.25
"""Each delay is lengthened by up to this fraction, at random, so clients spread out."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How one provider call is attempted and retried.

    Retry ``n`` (from 0) waits ``backoff_s * 2**n`` seconds (at most ``MAX_DELAY_S``), plus up
    to ``JITTER`` of that at random. ``timeout_s`` is a hard deadline per attempt, on top of
    the SDK's socket timeouts, so a server that trickles bytes cannot hold a call forever.
    ``sleep`` and ``rand`` are injectable so tests need not wait.
    """

    max_retries: int = 3
    backoff_s: float = 0.5
    timeout_s: float | None = None
    sleep: Sleep = asyncio.sleep
    rand: Callable[[], float] = random.random

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        sleep: Sleep | None = None,
        rand: Callable[[], float] | None = None,
    ) -> RetryPolicy:
        """The policy of ``llm_max_retries``, ``llm_backoff_s`` and ``llm_timeout_s``."""
        return cls(
            max_retries=settings.llm_max_retries,
            backoff_s=settings.llm_backoff_s,
            timeout_s=settings.llm_timeout_s,
            sleep=asyncio.sleep if sleep is None else sleep,
            rand=random.random if rand is None else rand,
        )

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first)."""
        base = min(self.backoff_s * 2.0**retry, MAX_DELAY_S)
        return base * (1 + JITTER * self.rand())


async def call_with_retries(policy: RetryPolicy, what: str, call: Callable[[], Awaitable[T]]) -> T:
    """``await call()`` under ``policy``; ``ProviderFailure`` naming ``what`` when it gives up."""
    retry = 0
    while True:
        try:
            async with asyncio.timeout(policy.timeout_s):
                return await call()
        except (openai.APIError, TimeoutError) as exc:
            reason = failure_reason(exc, policy.timeout_s)
            if not is_transient(exc) or retry >= policy.max_retries:
                tries = f" after {retry + 1} attempts" if retry else ""
                raise ProviderFailure(f"{what} failed{tries}: {reason}") from exc
            delay = policy.delay(retry)
            retry += 1
            logger.warning(
                "%s: %s; retry %d of %d in %.2fs", what, reason, retry, policy.max_retries, delay
            )
            await policy.sleep(delay)


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: rate limits, server errors, timeouts, connection failures."""
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 429) or exc.status_code >= 500
    return isinstance(exc, openai.APIConnectionError | TimeoutError)


def failure_reason(exc: BaseException, timeout_s: float | None = None) -> str:
    """A short account of one failed attempt: status and the provider's own message."""
    if isinstance(exc, openai.APITimeoutError | TimeoutError):
        return f"timed out after {timeout_s:g}s" if timeout_s else "timed out"
    if isinstance(exc, openai.APIStatusError):
        # The SDK hands over the "error" object of an OpenAI-style body; its message is the
        # readable part, while exc.message repeats the whole body.
        detail = exc.body.get("message") if isinstance(exc.body, dict) else None
        text = detail if isinstance(detail, str) else exc.message
        return f"HTTP {exc.status_code}: {_short(text)}"
    if isinstance(exc, openai.APIConnectionError):
        return f"connection error: {_short(str(exc.__cause__ or exc))}"
    return _short(str(exc))


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def make_client(settings: Settings, *, azure: bool) -> openai.AsyncOpenAI:
    """The SDK client: Azure OpenAI, or OpenAI / a compatible server at ``llm_base_url``."""
    if azure:
        return openai.AsyncAzureOpenAI(
            azure_endpoint=settings.azure_api_base or "",
            api_key=settings.azure_api_key,
            api_version=settings.azure_api_version,
            timeout=settings.llm_timeout_s,
            max_retries=0,
        )
    return openai.AsyncOpenAI(
        api_key=settings.llm_api_key or PLACEHOLDER_API_KEY,
        base_url=settings.llm_base_url,
        timeout=settings.llm_timeout_s,
        max_retries=0,
    )


def describe_endpoint(settings: Settings, model: str, *, azure: bool) -> str:
    """Where ``model`` is served, for the startup log; never includes a key."""
    if azure:
        return f"azure deployment {model} at {redact_url(settings.azure_api_base or '')}"
    if settings.llm_base_url:
        return f"openai-compatible {model} at {redact_url(settings.llm_base_url)}"
    return f"openai {model}"


class OpenAILLM:
    """The ``LLM`` protocol over chat completions (temperature 0, system + user message)."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        *,
        policy: RetryPolicy | None = None,
        description: str | None = None,
    ) -> None:
        self.model = model
        self._client = client
        self._policy = policy or RetryPolicy()
        self._description = description or f"openai-compatible {model}"

    async def complete(self, system: str, user: str) -> Completion:
        """One chat completion; ``ProviderFailure`` after retries or when it has no text."""
        response = await call_with_retries(
            self._policy,
            f"LLM {self.model}",
            lambda: self._client.chat.completions.create(
                model=self.model,
                temperature=0,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                ],
            ),
        )
        content = response.choices[0].message.content if response.choices else None
        if content is None:
            raise ProviderFailure(f"LLM {self.model} returned no text")
        tokens = response.usage.total_tokens if response.usage else 0
        return Completion(text=content.strip(), total_tokens=tokens or 0)

    def describe(self) -> str:
        """Provider and model for the startup log, without keys."""
        return self._description

    async def close(self) -> None:
        """Release the HTTP client."""
        await self._client.close()


class OpenAIEmbedder:
    """The ``Embedder`` protocol over ``embeddings.create``, ``batch_size`` texts per call."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        *,
        policy: RetryPolicy | None = None,
        batch_size: int = 128,
        description: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.model = model
        self.batch_size = batch_size
        self._client = client
        self._policy = policy or RetryPolicy()
        self._description = description or f"openai-compatible {model}"

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in input order; each batch is retried on its own."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(await self._embed_batch(list(texts[start : start + self.batch_size])))
        return vectors

    async def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        response = await call_with_retries(
            self._policy,
            f"embedder {self.model}",
            # "float" explicitly: the SDK would ask for base64, which some compatible
            # servers do not implement.
            lambda: self._client.embeddings.create(
                model=self.model, input=batch, encoding_format="float"
            ),
        )
        if len(response.data) != len(batch):
            raise ProviderFailure(
                f"embedder {self.model} returned {len(response.data)} vectors "
                f"for {len(batch)} texts"
            )
        return [item.embedding for item in sorted(response.data, key=lambda item: item.index)]

    def describe(self) -> str:
        """Provider and model for the startup log, without keys."""
        return self._description

    async def close(self) -> None:
        """Release the HTTP client."""
        await self._client.close()
