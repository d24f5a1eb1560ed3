"""A small OpenAI-compatible HTTP server for tests, with deterministic, input-revealing answers.

    with FakeOpenAI() as fake:
        client = openai.AsyncOpenAI(base_url=fake.base_url, api_key="k")  # or azure_endpoint
        fake.fail_next(2, status=429)   # scripted failures, then normal answers
        ...
        assert fake.calls[-1]["headers"]["authorization"] == "Bearer k"

Chat answers default to ``"SUMMARY:"`` followed by every ``<<marker>>`` found in the request's
messages, in order of first appearance, each once: put ``<<m17>>`` in message contents and the
summary shows which ones an LLM call was given (and a summary fed back in carries them on).
Replace ``chat_responder`` for other answers. Embeddings are bag-of-words hash vectors (see
``fake_embedding``), so texts sharing words are close.

Served by uvicorn on a free loopback port in a background thread; ``stop`` (or leaving the
``with``) first cuts short every delayed or hanging call, so shutdown never waits for them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import re
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Json = dict[str, Any]

MARKER = re.compile(r"<<[^<>]*>>")
_HEADERS_OF_INTEREST = ("authorization", "api-key")
_ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_api_key", 429: "rate_limit_exceeded"}


def marker_summary(body: Json) -> str:
    """The default chat answer: ``SUMMARY:`` and the request's distinct markers, in order."""
    found: dict[str, None] = {}
    for message in body.get("messages", []):
        for marker in MARKER.findall(_text_of(message.get("content"))):
            found.setdefault(marker)
    return " ".join(["SUMMARY:", *found])


def _text_of(content: object) -> str:
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def fake_embedding(text: str, dim: int = 16) -> list[float]:
    """Unit vector of hashed lowercase words (signed counts); ``e0`` for text without words."""
    vector = [0.0] * dim
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        vector[int.from_bytes(digest[:4], "big") % dim] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0:
        return [1.0] + [0.0] * (dim - 1)
    return [x / norm for x in vector]


@dataclass(frozen=True)
class _Action:
    kind: str  # "fail" or "hang"
    status: int = 0
    message: str = ""


class FakeOpenAI:
    """OpenAI-compatible chat completions and embeddings on a real loopback HTTP port.

    Settable from the test at any time: ``chat_responder`` (request JSON -> answer text),
    ``tokens_per_call`` (``usage.total_tokens``), ``embedding_dim``, ``delay_s`` (latency of
    every answer), ``hang_s`` (how long a hanging call hangs), ``reverse_embeddings`` (list
    embedding items in reverse order, with their correct ``index``).
    """

    def __init__(self, *, embedding_dim: int = 16, tokens_per_call: int = 100) -> None:
        self.chat_responder: Callable[[Json], str] = marker_summary
        self.tokens_per_call = tokens_per_call
        self.embedding_dim = embedding_dim
        self.delay_s = 0.0
        self.hang_s = 30.0
        self.reverse_embeddings = False
        self._lock = threading.Lock()
        self._calls: list[Json] = []
        self._script: deque[_Action] = deque()
        self._answers: deque[str] = deque()
        self._released = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- the test's side -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL, for ``AsyncOpenAI(base_url=...)`` or ``llm_base_url``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def azure_endpoint(self) -> str:
        """Azure-style endpoint, for ``AsyncAzureOpenAI(azure_endpoint=...)``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def calls(self) -> list[Json]:
        """Every request so far: ``path``, ``query``, ``json`` and ``headers`` (auth only)."""
        with self._lock:
            return list(self._calls)

    def fail_next(self, n: int = 1, status: int = 429, message: str | None = None) -> None:
        """The next ``n`` calls (chat or embeddings) answer ``status`` with an error body."""
        text = message or f"fake error {status}"
        with self._lock:
            self._script.extend(_Action("fail", status, text) for _ in range(n))

    def hang_next(self, n: int = 1) -> None:
        """The next ``n`` calls answer only after ``hang_s`` (or when the server stops)."""
        with self._lock:
            self._script.extend(_Action("hang") for _ in range(n))

    def answer_next(self, *texts: str) -> None:
        """The next chat calls answer these texts, one each, instead of ``chat_responder``."""
        with self._lock:
            self._answers.extend(texts)

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        """Serve on a free loopback port; returns once it accepts connections."""
        config = uvicorn.Config(
            self._app(),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-openai", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fake OpenAI server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Release hanging calls, shut the server down and join its thread."""
        self._released.set()
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            if self._thread.is_alive():
                raise RuntimeError("fake OpenAI server did not stop")
        self._server = self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the server's side --------------------------------------------------------------

    def _app(self) -> Starlette:
        routes = []
        for prefix in ("/v1", "/openai/deployments/{deployment}"):
            routes.append(Route(prefix + "/chat/completions", self._chat, methods=["POST"]))
            routes.append(Route(prefix + "/embeddings", self._embeddings, methods=["POST"]))
        return Starlette(routes=routes)

    async def _chat(self, request: Request) -> JSONResponse:
        body, scripted = await self._receive(request)
        if scripted is not None:
            return scripted
        with self._lock:
            answer = self._answers.popleft() if self._answers else None
        text = answer if answer is not None else self.chat_responder(body)
        total = self.tokens_per_call
        return JSONResponse(
            {
                "id": f"chatcmpl-fake-{len(self.calls)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", ""),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": total - total // 10,
                    "completion_tokens": total // 10,
                    "total_tokens": total,
                },
            }
        )

    async def _embeddings(self, request: Request) -> JSONResponse:
        body, scripted = await self._receive(request)
        if scripted is not None:
            return scripted
        texts = body.get("input", [])
        texts = [texts] if isinstance(texts, str) else texts
        dim = int(body.get("dimensions") or self.embedding_dim)
        items = [
            {"object": "embedding", "index": i, "embedding": self._encode(text, dim, body)}
            for i, text in enumerate(texts)
        ]
        if self.reverse_embeddings:
            items.reverse()
        used = sum(len(str(text).split()) for text in texts)
        return JSONResponse(
            {
                "object": "list",
                "data": items,
                "model": body.get("model", ""),
                "usage": {"prompt_tokens": used, "total_tokens": used},
            }
        )

    @staticmethod
    def _encode(text: object, dim: int, body: Json) -> list[float] | str:
        vector = fake_embedding(str(text), dim)
        if body.get("encoding_format") == "base64":
            return base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode()
        return vector

    async def _receive(self, request: Request) -> tuple[Json, JSONResponse | None]:
        """Record the call, then play latency and any scripted failure or hang."""
        body = await request.json()
        headers = {k: request.headers[k] for k in _HEADERS_OF_INTEREST if k in request.headers}
        call = {
            "path": request.url.path,
            "query": dict(request.query_params),
            "json": body,
            "headers": headers,
        }
        with self._lock:
            self._calls.append(call)
            action = self._script.popleft() if self._script else None
        if self.delay_s:
            await self._pause(self.delay_s)
        if action is not None and action.kind == "hang":
            await self._pause(self.hang_s)
        if action is not None and action.kind == "fail":
            return body, _error(action.status, action.message)
        return body, None

    async def _pause(self, seconds: float) -> None:
        # Polls instead of blocking on the threading.Event: the event loop keeps serving other
        # calls, and stop() cuts every pause short so shutdown never waits for one.
        deadline = time.monotonic() + seconds
        while not self._released.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(left, 0.02))


def _error(status: int, message: str) -> JSONResponse:
    """An OpenAI-style error body."""
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": kind}},
        status_code=status,
    )
