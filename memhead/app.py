"""Builds the whole server from one ``Settings`` object; nothing lives at module level."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from memhead import __version__
from memhead.api.body import BodyPolicy
from memhead.api.compat import motorhead_routes
from memhead.api.cors import with_cors
from memhead.api.docs import SwaggerDocs
from memhead.api.edge import EdgeMiddleware, MemheadApp
from memhead.api.lifecycle import lifecycle_router
from memhead.api.native import native_router
from memhead.api.openapi import install_openapi
from memhead.api.ops import OpsEndpoints
from memhead.api.responses import install_error_handlers
from memhead.api.route_metrics import RequestMetrics
from memhead.api.store_items import store_router
from memhead.api.tenancy import TenantResolver, default_tenant
from memhead.auth import KeyTenancy
from memhead.background import background, build_workers
from memhead.banner import announce
from memhead.console import console_routes
from memhead.items.service import ItemService
from memhead.logs import RequestIds
from memhead.memory import Limits, MemoryService
from memhead.metrics import Metrics
from memhead.providers import build_llm, configured_embedder
from memhead.providers.base import LLM, Embedder
from memhead.query_embeddings import QueryEmbeddings
from memhead.search import SearchService
from memhead.settings import Settings
from memhead.stores import Store, store_for
from memhead.stores.instrumented import InstrumentedStore

log = logging.getLogger("memhead")

DESCRIPTION = """Memory for LLM applications: a window of recent messages, a running summary of
everything older, and retrieval. Speaks Motörhead's API at `/` and `/v1/motorhead`; the native
API lives at `/api/v1`; long-term memory items, in LangGraph Platform's store shape, at
`/store`. Also served, outside this document: the MCP tools over Streamable HTTP
at `/mcp` (MCP's own JSON-RPC protocol, which describes its tools itself) and the web console
at `/ui/`."""


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
    store = InstrumentedStore(store if store is not None else store_for(settings), metrics)
    llm = llm if llm is not None else build_llm(settings)
    embedder = embedder if embedder is not None else configured_embedder(settings)
    if tenant_of is None:
        tenant_of = KeyTenancy(store) if settings.auth == "required" else default_tenant
    # Imported here, not at the top: the MCP SDK's types cost about a second of CPU to
    # import, which only a process serving HTTP should pay (not `memhead keys`, `worker`...).
    from memhead.mcp.server import build_mcp
    from memhead.mcp.server import http_routes as mcp_routes
    from memhead.mcp.tenants import http_tenant

    service = memory_service(settings, store)
    queries = QueryEmbeddings(settings.query_cache_size)
    search = SearchService(store, embedder, queries)
    items = ItemService(store, embedder, settings.item_settings(), queries=queries)
    mcp = build_mcp(service, search, items, http_tenant)
    workers = (
        build_workers(settings, store, llm, embedder, metrics) if settings.worker_enabled else []
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await store.setup()
        await announce(settings, store, llm, embedder)
        async with background(*workers), mcp.session_manager.run():
            try:
                yield
            finally:
                await queries.close()
                for provider in (llm, embedder):
                    if provider is not None:
                        await provider.close()
        await store.close()

    def edge(inner: ASGIApp) -> ASGIApp:
        outer: ASGIApp = EdgeMiddleware(
            inner,
            ids=RequestIds(),
            metrics=RequestMetrics(metrics, app.router.routes),
            body=BodyPolicy(settings.max_body_bytes, settings.body_timeout_s),
        )
        # outermost, so the edge's own refusals (413, 415, ...) carry the CORS headers too
        return with_cors(outer, settings.cors_origin_list)

    app = MemheadApp(
        edge=edge,
        title="memhead",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # served by SwaggerDocs, from memhead itself
        redoc_url=None,
    )

    app.router.routes.extend(SwaggerDocs(title=app.title, openapi_url="/openapi.json").routes())
    ops = OpsEndpoints(store, llm, embedder, workers, metrics, window=settings.window_size)
    app.router.routes.extend(ops.routes())
    app.router.routes.extend(
        motorhead_routes(service, search, tenant_of, long_term_memory=settings.long_term_memory)
    )
    app.include_router(native_router(service, search, tenant_of))
    app.include_router(store_router(items, tenant_of))
    app.include_router(lifecycle_router(store, tenant_of))
    app.router.routes.extend(console_routes())
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
