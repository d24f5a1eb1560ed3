"""The plug-in points for model providers: an LLM that writes summaries, an embedder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    total_tokens: int
    """``usage.total_tokens`` as the provider reported it (0 when it reported none)."""


class LLM(Protocol):
    model: str
    """The model (or Azure deployment) name, for logs."""

    async def complete(self, system: str, user: str) -> Completion:
        """One chat completion; retried on transient failures, else ``ProviderFailure``."""

    async def close(self) -> None:
        """Release the HTTP client."""


class Embedder(Protocol):
    model: str

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order; ``ProviderFailure`` after retries."""

    async def close(self) -> None:
        """Release the HTTP client or model."""
