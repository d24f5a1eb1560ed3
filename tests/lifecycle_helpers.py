"""What the data lifecycle's tests share: a store configuration per backend (as the
environment of a ``memhead`` process), running ``memhead`` commands, waiting."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from tests.fake_openai import FakeOpenAI
from tests.redis_server import delete_prefix
from tests.servers import NO_PROVIDERS

W = 4


def store_env(backend: str, request: pytest.FixtureRequest, tmp: Path) -> dict[str, str]:
    """A fresh store of ``backend`` (``sqlite``: a file; ``redis``: a new key prefix)."""
    if backend == "sqlite":
        return {"MEMHEAD_STORE_URL": f"sqlite:///{tmp / f'{uuid.uuid4().hex}.db'}"}
    url: str = request.getfixturevalue("redis_url")
    prefix = f"memhead-test-{uuid.uuid4().hex}"
    request.addfinalizer(lambda: delete_prefix(url, prefix))
    return {"MEMHEAD_STORE_URL": url, "MEMHEAD_REDIS_PREFIX": prefix}


def with_providers(env: Mapping[str, str], fake: FakeOpenAI, **extra: str) -> dict[str, str]:
    """``env`` with compaction and embedding through the fake provider, polling fast."""
    return {
        **env,
        "MEMHEAD_LLM_BASE_URL": fake.base_url,
        "MEMHEAD_LLM_MAX_RETRIES": "0",
        "MEMHEAD_EMBED_MODEL": "fake-embedder",
        "MEMHEAD_WORKER_POLL": "0.05",
        "MEMHEAD_WINDOW_SIZE": str(W),
        **extra,
    }


def memhead(
    env: Mapping[str, str], *args: str, cwd: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``python -m memhead ARGS`` with ``env`` (and no provider the shell may have set)."""
    return subprocess.run(
        [sys.executable, "-m", "memhead", *args],
        env={**os.environ, **NO_PROVIDERS, **env},
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=300,
    )


def assert_sound(env: Mapping[str, str], cwd: Path) -> None:
    """``memhead check`` finds nothing wrong."""
    done = memhead(env, "check", cwd=cwd)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    assert b"store is sound" in done.stdout


def wait_for(condition: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout}s: {what}")
        time.sleep(0.05)
