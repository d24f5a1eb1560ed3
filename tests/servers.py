"""Real HTTP servers for tests: an app in a background thread, or ``memhead serve`` itself."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from starlette.types import ASGIApp

NO_PROVIDERS = {  # no LLM, no embedder, whatever the shell has set; callers add their own
    name: ""
    for name in (
        "OPENAI_API_KEY",
        "MEMHEAD_LLM_API_KEY",
        "MEMHEAD_LLM_BASE_URL",
        "OPENAI_API_BASE",
        "OPENAI_BASE_URL",
        "AZURE_API_KEY",
        "AZURE_API_BASE",
        "AZURE_DEPLOYMENT_ID",
        "AZURE_DEPLOYMENT_ID_ADA",
        "MEMHEAD_EMBED_MODEL",
    )
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serve_in_thread(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` over real HTTP on a free loopback port; yields the base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class MemheadProcess:
    """``python -m memhead <command>`` as a real child process on a free port."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        cwd: Path,
        command: tuple[str, ...] = ("serve",),
        launcher: tuple[str, ...] = (),
    ) -> None:
        """``launcher`` prefixes the command line, e.g. ``("taskset", "-c", "0")``."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {
            **os.environ,
            "PORT": str(self.port),
            "MEMHEAD_HOST": "127.0.0.1",
            **env,
        }
        self.log = cwd / f"memhead-{self.port}.log"
        self._log_file = self.log.open("wb")
        self.proc = subprocess.Popen(
            [*launcher, sys.executable, "-m", "memhead", *command],
            env=full_env,
            cwd=cwd,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60) -> MemheadProcess:
        """Wait until it answers. A start costs ~4 s of CPU (imports, the MCP SDK's types
        among them); on a CI machine shared with other jobs that can take 20 s and more."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"memhead exited early:\n{self.output()}")
            try:
                if httpx.get(self.url + "/", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"memhead did not answer in {timeout}s:\n{self.output()}")

    def output(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()
        return self.proc.returncode

    def __enter__(self) -> MemheadProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FlakyProxy:
    """A TCP proxy in front of an HTTP server, in a background thread, that misbehaves on
    request: ``drop_next(n)`` passes the next ``n`` requests on but closes the connection
    instead of passing their answers back (the server acted, the client never hears so);
    ``refuse_next(n, status)`` answers the next ``n`` requests itself with ``status`` and
    closes, as a load balancer does while its backend restarts. ``url`` is its base URL."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.drops = 0
        self.refusals: list[int] = []
        self.dropped = 0
        self.refused = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        self.url = f"http://127.0.0.1:{self.port}"

    def drop_next(self, n: int = 1) -> None:
        with self._lock:
            self.drops += n

    def refuse_next(self, n: int = 1, status: int = 503) -> None:
        with self._lock:
            self.refusals += [status] * n

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._server = server
        self._ready.set()
        self._loop.run_forever()
        server.close()
        # Connections still open (keep-alive) end here, their streams closed by _serve.
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    def _take(self, queue: str) -> int | None:
        with self._lock:
            if queue == "refuse" and self.refusals:
                self.refused += 1
                return self.refusals.pop(0)
            if queue == "drop" and self.drops:
                self.drops -= 1
                self.dropped += 1
                return 1
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        halves = [
            asyncio.create_task(self._requests(reader, up_writer, writer)),
            asyncio.create_task(self._answers(up_reader, writer)),
        ]
        try:
            await asyncio.wait(halves, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in halves:
                task.cancel()
            await asyncio.gather(*halves, return_exceptions=True)
            for stream in (writer, up_writer):
                stream.close()

    async def _requests(
        self, reader: asyncio.StreamReader, up: asyncio.StreamWriter, back: asyncio.StreamWriter
    ) -> None:
        while data := await reader.read(65536):
            status = self._take("refuse")
            if status is not None:
                back.write(refusal(status))
                await back.drain()
                return
            up.write(data)
            await up.drain()

    async def _answers(self, up: asyncio.StreamReader, back: asyncio.StreamWriter) -> None:
        while data := await up.read(65536):
            if self._take("drop") is not None:
                return
            back.write(data)
            await back.drain()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> FlakyProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def refusal(status: int) -> bytes:
    body = b'{"error": "upstream restarting"}'
    head = (
        f"HTTP/1.1 {status} Refused\r\ncontent-type: application/json\r\nretry-after: 0\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body
