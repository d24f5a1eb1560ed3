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
from memhead.models import now_ms
from memhead.providers.base import LLM, Embedder
from memhead.stores import Store

BACKLOG_LIMIT = 1000


class OpsEndpoints:
    def __init__(
        self,
        store: Store,
        llm: LLM | None,
        embedder: Embedder | None,
        workers: Sequence[object],
        metrics: Metrics,
        *,
        window: int,
    ) -> None:
        self.store = store
        self.window = window
        self.llm = llm
        self.embedder = embedder
        self.embedding = next((w for w in workers if isinstance(w, EmbeddingWorker)), None)
        self.metrics = metrics

    async def healthz(self, request: Request) -> Response:
        """The process is alive (touches no backend)."""
        return json_response({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        """The store takes writes (else 503); the window size; the LLM and the embedder (model
        names, null when none); with an LLM, how many sessions wait for compaction; with an
        embedder, how many messages wait for a vector and how this process's embedding
        worker is doing. Backlogs are counted up to 1000."""
        await self.store.ping()
        body: dict[str, object] = {
            "status": "ok",
            "store": self.store.backend,
            "llm": self.llm is not None,
            "llm_model": None if self.llm is None else self.llm.model,
            "embedder": None if self.embedder is None else self.embedder.model,
            "window_size": self.window,
        }
        if self.llm is not None:
            due = await self.store.due_sessions(now=now_ms(), limit=BACKLOG_LIMIT)
            body["compaction_backlog"] = len(due)
        if self.embedder is not None:
            backlog = await self.store.embedding_backlog(limit=BACKLOG_LIMIT)
            body["embedding_backlog"] = len(backlog)
        if self.embedding is not None:
            body["embedding"] = dataclasses.asdict(self.embedding.status)
        return json_response(body)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/healthz", self.healthz, methods=["GET"], include_in_schema=False),
            Route("/readyz", self.readyz, methods=["GET"], include_in_schema=False),
            Route("/metrics", self.metrics.endpoint, methods=["GET"], include_in_schema=False),
        ]
