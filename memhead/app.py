"""Builds the whole server from one ``Settings`` object; nothing lives at module level."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI
from starlette.types import ASGIApp

from memhead import __version__
from memhead.api.compat import motorhead_routes
from memhead.api.edge import EdgeMiddleware, MemheadApp
from memhead.api.native import native_router
from memhead.api.openapi import install_openapi
from memhead.api.ops import OpsEndpoints
from memhead.api.responses import BodyLimit, install_error_handlers
from memhead.api.tenancy import TenantResolver, default_tenant
from memhead.auth import KeyTenancy
from memhead.embedding import EmbeddingWorker
from memhead.logs import RequestIds
from memhead.memory import Limits, MemoryService
from memhead.metrics import Metrics, RequestMetrics, instrument
from memhead.providers import build_llm, configured_embedder, describe_llm
from memhead.providers.base import LLM, Embedder
from memhead.search import SearchService
from memhead.settings import Settings
from memhead.stores import Store, store_for
from memhead.worker import build_worker

log = logging.getLogger("memhead")

DESCRIPTION = """Memory for LLM applications: a window of recent messages, a running summary of
everything older, and retrieval. Speaks Motörhead's API at `/` and `/v1/motorhead`; the native
API lives at `/api/v1`."""


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    llm: LLM | None = None,
    embedder: Embedder | None = None,
    tenant_of: TenantResolver | None = None,
) -> FastAPI:
    """The ASGI app. Pass ``store`` / ``llm`` / ``embedder`` to use objects you built (they
    are set up and closed here); otherwise they are built from ``settings``."""
    metrics = Metrics()
    if store is None:
        store = store_for(settings)
    store = instrument(store, metrics)
    llm = llm if llm is not None else build_llm(settings)
    embedder = embedder if embedder is not None else configured_embedder(settings)
    if tenant_of is None:
        tenant_of = KeyTenancy(store) if settings.auth == "required" else default_tenant
    # Imported here, not at the top: the MCP SDK's types cost about a second of CPU to
    # import, which only a process serving HTTP should pay (not `memhead keys`, `worker`...).
    from memhead.mcp.server import build_mcp
    from memhead.mcp.server import http_routes as mcp_routes
    from memhead.mcp.tools import http_tenant

    service = memory_service(settings, store)
    search = SearchService(store, embedder)
    mcp = build_mcp(service, search, http_tenant)
    workers = (
        build_workers(settings, store, llm, embedder, metrics) if settings.worker_enabled else []
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await store.setup()
        log.info(describe(settings, store, llm, embedder))
        if llm is None:
            log.info(SUMMARIES_OFF)
        async with background(*workers), mcp.session_manager.run():
            try:
                yield
            finally:
                for provider in (llm, embedder):
                    if provider is not None:
                        await provider.close()
        await store.close()

    def edge(inner: ASGIApp) -> ASGIApp:
        return EdgeMiddleware(
            inner,
            ids=RequestIds(),
            metrics=RequestMetrics(metrics, app.router.routes),
            limit=BodyLimit(settings.max_body_bytes),
        )

    app = MemheadApp(
        edge=edge,
        title="memhead",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )

    app.router.routes.extend(OpsEndpoints(store, llm, embedder, workers, metrics).routes())
    app.router.routes.extend(
        motorhead_routes(service, search, tenant_of, long_term_memory=settings.long_term_memory)
    )
    app.include_router(native_router(service, search, tenant_of))
    app.router.routes.extend(mcp_routes(mcp, tenant_of, host=settings.host))
    install_error_handlers(app)
    install_openapi(app)
    return app


def memory_service(settings: Settings, store: Store) -> MemoryService:
    """The use cases over ``store``, with the window and the limits ``settings`` set."""
    limits = Limits(
        session_id_chars=settings.max_session_id_chars,
        messages_per_append=settings.max_messages,
        content_chars=settings.max_content_chars,
    )
    return MemoryService(store, window=settings.window_size, limits=limits)


SUMMARIES_OFF = (
    "summaries are off: set OPENAI_API_KEY (OpenAI), MEMHEAD_LLM_BASE_URL (Ollama, vLLM, any "
    "OpenAI-compatible server) or AZURE_API_KEY/AZURE_API_BASE/AZURE_DEPLOYMENT_ID to enable them"
)


class Background(Protocol):
    async def run(self) -> None: ...
    async def stop(self, grace_s: float = 5.0) -> None: ...


def build_workers(
    settings: Settings,
    store: Store,
    llm: LLM | None,
    embedder: Embedder | None,
    metrics: Metrics | None = None,
) -> list[Background]:
    """The background workers the configuration calls for: compaction, embedding."""
    workers: list[Background] = []
    if llm is not None:
        workers.append(build_worker(settings, store, llm, metrics))
    if embedder is not None:
        workers.append(
            EmbeddingWorker(
                store,
                embedder,
                batch=settings.embed_batch,
                poll_s=settings.worker_poll_s,
                backoff_ms=int(settings.failure_backoff_s * 1000),
                metrics=metrics,
            )
        )
    return workers


@asynccontextmanager
async def background(*workers: Background) -> AsyncIterator[None]:
    """Run ``workers`` for the duration of the block; stop them cleanly at the end."""
    tasks = [asyncio.create_task(w.run(), name=type(w).__name__) for w in workers]
    try:
        yield
    finally:
        for worker in workers:
            await worker.stop()
        await asyncio.gather(*tasks)


def describe(settings: Settings, store: Store, llm: LLM | None, embedder: Embedder | None) -> str:
    """The startup line: which store, LLM and embedder this server uses."""
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
