"""Operations endpoints: liveness, readiness, metrics. Not part of the documented API."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from memhead.api.responses import json_response
from memhead.embedding import EmbeddingWorker
from memhead.metrics import Metrics
from memhead.providers.base import LLM, Embedder
from memhead.stores import Store


class OpsEndpoints:
    def __init__(
        self,
        store: Store,
        llm: LLM | None,
        embedder: Embedder | None,
        workers: Sequence[object],
        metrics: Metrics,
    ) -> None:
        self.store = store
        self.llm = llm
        self.embedder = embedder
        self.embedding = next((w for w in workers if isinstance(w, EmbeddingWorker)), None)
        self.metrics = metrics

    async def healthz(self, request: Request) -> Response:
        """The process is alive (touches no backend)."""
        return json_response({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        """The store takes writes (else 503); whether summaries are configured; with an
        embedder, how many messages wait for a vector (counted up to 1000) and how this
        process's embedding worker is doing."""
        await self.store.ping()
        body: dict[str, object] = {
            "status": "ok",
            "store": self.store.backend,
            "llm": self.llm is not None,
        }
        if self.embedder is not None:
            body["embedding_backlog"] = len(await self.store.embedding_backlog(limit=1000))
        if self.embedding is not None:
            body["embedding"] = dataclasses.asdict(self.embedding.status)
        return json_response(body)

    async def metrics_page(self, request: Request) -> Response:
        """Prometheus' text format."""
        body, media_type = self.metrics.exposition()
        return Response(body, media_type=media_type)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/healthz", self.healthz, methods=["GET"], include_in_schema=False),
            Route("/readyz", self.readyz, methods=["GET"], include_in_schema=False),
            Route("/metrics", self.metrics_page, methods=["GET"], include_in_schema=False),
        ]
