"""Real HTTP servers for tests: an app in a background thread, or ``memhead serve`` itself."""

from __future__ import annotations

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

    def wait_ready(self, timeout: float = 20) -> MemheadProcess:
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
