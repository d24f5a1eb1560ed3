"""What a process imports: the data model, the stores and ``memhead worker`` need no web stack
(FastAPI, Starlette, uvicorn), so a worker-only deployment runs without it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from memhead.models import NewMessage, SessionKey
from memhead.stores.sqlite import SqliteStore
from tests.fake_openai import FakeOpenAI
from tests.servers import NO_PROVIDERS

WITHOUT_WEB = """import sys
for name in ("fastapi", "starlette", "uvicorn"):
    sys.modules[name] = None  # from here on, importing it raises ImportError
"""
W = 4


def python(code: str, *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_web_stack_is_really_out_of_reach() -> None:
    """The other tests here mean something only if this fails to import the app."""
    got = python(WITHOUT_WEB + "import memhead.app")
    assert got.returncode != 0 and "import of fastapi halted" in got.stderr


def test_models_stores_and_workers_import_without_the_web_stack() -> None:
    modules = (
        "memhead.models",
        "memhead.stores.sqlite",
        "memhead.stores.redis",
        "memhead.worker",
        "memhead.embedding",
        "memhead.background",
        "memhead.cli",
    )
    got = python(WITHOUT_WEB + f"import {', '.join(modules)}\nimport memhead\n")
    assert got.returncode == 0, got.stderr
    version = python(WITHOUT_WEB + "import memhead\nprint(memhead.__version__)")
    assert version.stdout.strip() == "0.1.0", version.stderr


def test_lazy_names_of_the_package_are_the_real_ones() -> None:
    import memhead
    from memhead.app import create_app
    from memhead.settings import Settings, load_settings

    assert memhead.create_app is create_app
    assert (memhead.Settings, memhead.load_settings) == (Settings, load_settings)
    with pytest.raises(AttributeError):
        memhead.nothing_of_that_name  # noqa: B018


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def overflowing_session(db: Path) -> None:
    async def run() -> None:
        store = SqliteStore(str(db))
        await store.setup()
        messages = [NewMessage("Human", f"message {i}") for i in range(W + 2)]
        await store.append(SessionKey("default", "s"), messages, now=1, window=W)
        await store.close()

    asyncio.run(run())


def upto_seq(db: Path) -> int:
    async def run() -> int:
        store = SqliteStore(str(db))
        session = await store.get_session(SessionKey("default", "s"))
        await store.close()
        assert session is not None
        return session.upto_seq

    return asyncio.run(run())


def test_worker_command_compacts_without_the_web_stack(tmp_path: Path, fake: FakeOpenAI) -> None:
    db = tmp_path / "w.db"
    overflowing_session(db)
    env = {
        **os.environ,
        **NO_PROVIDERS,
        "MEMHEAD_STORE_URL": f"sqlite:///{db}",
        "MEMHEAD_LLM_BASE_URL": fake.base_url,
        "MEMHEAD_WORKER_POLL": "0.05",
        "MOTORHEAD_MAX_WINDOW_SIZE": str(W),
    }
    code = WITHOUT_WEB + "from memhead.cli import main\nsys.exit(main(['worker']))"
    worker = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while upto_seq(db) == 0:
            assert worker.poll() is None, worker.communicate()[0].decode()
            assert time.monotonic() < deadline, "no compaction in 30 s"
            time.sleep(0.05)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=15)[0].decode()
    assert worker.returncode == 0, output
    assert upto_seq(db) == W + 2 - W // 2
    assert "Traceback" not in output
