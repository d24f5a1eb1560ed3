"""The line a server or worker logs at startup, and the hint when summaries are off."""

from __future__ import annotations

from memhead import __version__
from memhead.providers import describe_llm
from memhead.providers.base import LLM, Embedder
from memhead.settings import Settings
from memhead.stores import Store

SUMMARIES_OFF = (
    "summaries are off: set OPENAI_API_KEY (OpenAI), MEMHEAD_LLM_BASE_URL (Ollama, vLLM, any "
    "OpenAI-compatible server) or AZURE_API_KEY/AZURE_API_BASE/AZURE_DEPLOYMENT_ID to enable them"
)


def describe(settings: Settings, store: Store, llm: LLM | None, embedder: Embedder | None) -> str:
    """The startup line: which store, LLM and embedder this process uses."""
    embedding = "none (keyword retrieval only)" if embedder is None else embedder.model
    return (
        f"memhead {__version__}: store={store.backend} ({_redact(settings.resolved_store_url)}), "
        f"llm={'none' if llm is None else describe_llm(llm)}, embedder={embedding}, "
        f"window={settings.window_size}, "
        f"long_term_memory={settings.long_term_memory}, auth={settings.auth}"
    )


def _redact(url: str) -> str:
    """Hide a password in a store URL."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}" if ":" in creds else url
