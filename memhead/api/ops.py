"""Operations endpoints: liveness, readiness, metrics. Open without a key; their responses
are described by the models below (``memhead.api.openapi`` documents them)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from memhead.api import examples
from memhead.api.responses import json_response
from memhead.embedding import EmbeddingWorker
from memhead.metrics import Metrics
from memhead.models import now_ms
from memhead.providers.base import LLM, Embedder
from memhead.stores import Store

BACKLOG_LIMIT = 1000


class Health(BaseModel):
    """Body of ``/healthz``."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.HEALTH]})

    status: Literal["ok"]


class EmbeddingProgress(BaseModel):
    """How this process's embedding worker is doing."""

    embedded: int = Field(description="Messages this process has embedded since it started.")
    last_error: str | None = Field(description="The last embedding failure, until one succeeds.")
    attempts: int = Field(description="Failed attempts since the last success.")
    next_attempt_at: int | None = Field(
        description="No retry before this time (milliseconds since the epoch)."
    )


class Readiness(BaseModel):
    """Body of ``/readyz``; the embedding fields appear only with an embedder."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.READINESS]})

    status: Literal["ok"]
    store: str = Field(description="The backend: `sqlite` or `redis`.")
    llm: bool = Field(description="Whether summaries are configured.")
    embedding_backlog: int | None = Field(
        None, description="With an embedder: messages waiting for a vector, counted up to 1000."
    )
    embedding: EmbeddingProgress | None = Field(
        None, description="This process's embedding worker, when it runs one."
    )


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
