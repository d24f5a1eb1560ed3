"""``memhead mcp``: the MCP server on stdin/stdout, for a desktop host that starts it as a
command. The process is a whole memhead: it opens the configured store and runs the
background workers (summaries, embeddings) while the host keeps it running, so a host
needs no ``memhead serve`` beside it. Logs go to stderr; stdout is the protocol's."""

from __future__ import annotations

import asyncio

from memhead.app import memory_service
from memhead.background import background, build_workers
from memhead.items.service import ItemService
from memhead.mcp.server import build_mcp
from memhead.mcp.tenants import fixed_tenant
from memhead.query_embeddings import QueryEmbeddings
from memhead.search import SearchService
from memhead.settings import Settings
from memhead.startup import build_providers, opened_store


def run_stdio(settings: Settings, tenant: str) -> int:
    """Serve MCP over stdio for ``tenant`` until the host closes stdin."""
    asyncio.run(_serve(settings, tenant))
    return 0


async def _serve(settings: Settings, tenant: str) -> None:
    llm, embedder = build_providers(settings)
    store = await opened_store(settings, embedder)
    queries = QueryEmbeddings(settings.query_cache_size)
    server = build_mcp(
        memory_service(settings, store),
        SearchService(store, embedder, queries),
        ItemService(store, embedder, settings.item_settings(), queries=queries),
        fixed_tenant(tenant),
    )
    workers = build_workers(settings, store, llm, embedder) if settings.worker_enabled else []
    try:
        async with background(*workers):
            await server.run_stdio_async()
    finally:
        await queries.close()
        for provider in (llm, embedder):
            if provider is not None:
                await provider.close()
        await store.close()
