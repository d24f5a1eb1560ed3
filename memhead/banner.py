"""What a server or worker logs at startup: what it uses, and what it cannot do as configured."""

from __future__ import annotations

import logging

from memhead import __version__
from memhead.models import DEFAULT_TENANT
from memhead.providers import describe_llm
from memhead.providers.base import LLM, Embedder
from memhead.redact import redact_url
from memhead.settings import Settings
from memhead.stores import Store

log = logging.getLogger("memhead")

SUMMARIES_OFF = (
    "summaries are off: set OPENAI_API_KEY (OpenAI), MEMHEAD_LLM_BASE_URL (Ollama, vLLM, any "
    "OpenAI-compatible server) or AZURE_API_KEY/AZURE_API_BASE/AZURE_DEPLOYMENT_ID to enable them"
)


async def announce(
    settings: Settings, store: Store, llm: LLM | None, embedder: Embedder | None
) -> None:
    """The startup log: what this process uses, and what it cannot do as configured."""
    log.info(describe(settings, store, llm, embedder))
    if llm is None:
        log.info(SUMMARIES_OFF)
    if settings.auth == "required" and (warning := await default_tenant_warning(store)):
        log.warning(warning)


def describe(settings: Settings, store: Store, llm: LLM | None, embedder: Embedder | None) -> str:
    """The startup line: which store, LLM and embedder this process uses."""
    embedding = "none (keyword retrieval only)" if embedder is None else embedder.model
    store_url = redact_url(settings.resolved_store_url)
    return (
        f"memhead {__version__}: store={store.backend} ({store_url}), "
        f"llm={'none' if llm is None else describe_llm(llm)}, embedder={embedding}, "
        f"window={settings.window_size}, "
        f"long_term_memory={settings.long_term_memory}, auth={settings.auth}"
    )


async def default_tenant_warning(store: Store) -> str | None:
    """With auth required, data of the tenant ``default`` (where everything written while
    auth was off lives) is reachable only by a key of that tenant: say so when there is any.
    Silent once a live key of that tenant exists. Costs a listing of at most one session
    and of the keys (a handful)."""
    if not await store.list_sessions(DEFAULT_TENANT, user_id=None, before=None, limit=1):
        return None
    if any(k.tenant == DEFAULT_TENANT and k.revoked_at is None for k in await store.list_keys()):
        return None
    return (
        f"MEMHEAD_AUTH=required and the tenant {DEFAULT_TENANT!r} holds sessions written while "
        "auth was off: no request can reach them until a key of that tenant exists; create "
        f"one with 'memhead keys create --tenant {DEFAULT_TENANT}' to keep using them"
    )
