"""Model providers: which LLM and embedder the settings select, and how to describe them.

Which provider serves what:

- LLM: Azure when ``AZURE_API_KEY``, ``AZURE_API_BASE`` and ``AZURE_DEPLOYMENT_ID`` are all
  set (the model is the deployment); else OpenAI or the compatible server at
  ``llm_base_url`` when a key or a base URL is set; else none.
- Embedder: Azure when its key, base and ``AZURE_DEPLOYMENT_ID_ADA`` are set; else the
  OpenAI connection with the ``model`` asked for (``text-embedding-3-small`` on
  api.openai.com when none is named; a compatible server needs the name); else none.

The ``openai`` SDK is imported only when a provider is built: it is slow to import and
``memhead.providers.base`` should stay cheap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from memhead.providers.base import LLM, Completion, Embedder
from memhead.settings import Settings

if TYPE_CHECKING:
    from memhead.providers.openai import OpenAIEmbedder, OpenAILLM

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "LLM",
    "Completion",
    "Embedder",
    "build_embedder",
    "build_llm",
    "describe_llm",
]

DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"
"""Embedding model on api.openai.com when none is named."""

NO_LLM = (
    "none: compaction is off; set OPENAI_API_KEY, MEMHEAD_LLM_BASE_URL or "
    "AZURE_API_KEY + AZURE_API_BASE + AZURE_DEPLOYMENT_ID to enable it"
)


def _azure_llm(settings: Settings) -> bool:
    return bool(settings.azure_api_key and settings.azure_api_base and settings.azure_deployment_id)


def _azure_embedder(settings: Settings) -> bool:
    return bool(
        settings.azure_api_key and settings.azure_api_base and settings.azure_deployment_id_ada
    )


def _chat_model(settings: Settings) -> str | None:
    if _azure_llm(settings):
        return settings.azure_deployment_id
    return settings.llm_model if settings.llm_api_key or settings.llm_base_url else None


def _embedding_model(settings: Settings, model: str | None) -> str | None:
    if _azure_embedder(settings):
        return settings.azure_deployment_id_ada
    if settings.llm_base_url:
        return model
    return (model or DEFAULT_EMBEDDING_MODEL) if settings.llm_api_key else None


def describe_llm(llm: LLM | None) -> str:
    """One line for the startup log: the LLM in use, or how to enable one; never a key."""
    if llm is None:
        return NO_LLM
    describe = getattr(llm, "describe", None)
    if callable(describe):
        return str(describe())
    return f"{type(llm).__name__} {llm.model}"


def build_llm(
    settings: Settings,
    *,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    rand: Callable[[], float] | None = None,
) -> OpenAILLM | None:
    """The configured LLM, or None (``settings.llm_configured`` is false).

    ``sleep`` and ``rand`` replace the backoff's ``asyncio.sleep`` and jitter, for tests.
    """
    model = _chat_model(settings)
    if model is None or not settings.llm_configured:
        return None
    from memhead.providers.openai import OpenAILLM, RetryPolicy, describe_endpoint, make_client

    azure = _azure_llm(settings)
    return OpenAILLM(
        make_client(settings, azure=azure),
        model,
        policy=RetryPolicy.from_settings(settings, sleep=sleep, rand=rand),
        description=describe_endpoint(settings, model, azure=azure),
    )


def build_embedder(
    settings: Settings,
    model: str | None = None,
    *,
    batch_size: int = 128,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    rand: Callable[[], float] | None = None,
) -> OpenAIEmbedder | None:
    """An embedder over the configured connection (see the module doc), or None."""
    name = _embedding_model(settings, model)
    if name is None:
        return None
    from memhead.providers.openai import OpenAIEmbedder, RetryPolicy, describe_endpoint, make_client

    azure = _azure_embedder(settings)
    return OpenAIEmbedder(
        make_client(settings, azure=azure),
        name,
        policy=RetryPolicy.from_settings(settings, sleep=sleep, rand=rand),
        batch_size=batch_size,
        description=describe_endpoint(settings, name, azure=azure),
    )


LOCAL = "local"


def configured_embedder(settings: Settings) -> Embedder | None:
    """The embedder the settings ask for (see ``Settings.embed_model``), or None."""
    name = settings.embed_model
    if name is not None and (name == LOCAL or name.startswith(LOCAL + ":")):
        from memhead.providers.local import LocalEmbedder

        path = name[len(LOCAL) + 1 :] or None
        return LocalEmbedder(path)
    if name is not None:
        return build_embedder(settings, name, batch_size=settings.embed_batch)
    if settings.azure_deployment_id_ada or (
        settings.long_term_memory and not settings.llm_base_url
    ):
        return build_embedder(settings, batch_size=settings.embed_batch)
    return None
