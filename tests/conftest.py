"""Fixtures shared by every test module."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from memhead import Settings, create_app
from memhead.stores import Store
from memhead.stores.redis import RedisStore
from memhead.stores.sqlite import SqliteStore
from tests.servers import serve_in_thread

pytest_plugins = ["tests.redis_server", "tests.backends"]

CONFIG_PREFIXES = ("MEMHEAD_", "MOTORHEAD_", "OPENAI_", "AZURE_")
CONFIG_NAMES = ("REDIS_URL", "PORT", "HOST")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the configuration they set themselves."""
    for name in list(os.environ):
        if name.startswith(CONFIG_PREFIXES) and name != "MEMHEAD_TEST_REDIS_URL":
            monkeypatch.delenv(name)
        elif name in CONFIG_NAMES:
            monkeypatch.delenv(name)


ClientFactory = Callable[..., httpx.Client]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[ClientFactory]:
    """Start a real server (SQLite file store unless one is given) and return a client."""
    stack: list[tuple[object, httpx.Client]] = []

    def make(store: object | None = None, **settings: object) -> httpx.Client:
        s = Settings(**settings)  # type: ignore[arg-type]
        app = create_app(s, store=store or SqliteStore(str(tmp_path / f"api{len(stack)}.db")))  # type: ignore[arg-type]
        ctx = serve_in_thread(app)
        url = ctx.__enter__()
        client = httpx.Client(base_url=url, timeout=10)
        stack.append((ctx, client))
        return client

    yield make
    for ctx, client in reversed(stack):
        client.close()
        ctx.__exit__(None, None, None)  # type: ignore[attr-defined]


@pytest.fixture
def client(make_client: ClientFactory) -> httpx.Client:
    return make_client()


def _open(backend: str, request: pytest.FixtureRequest, tmp: Path) -> Store:
    if backend == "sqlite":
        return SqliteStore(str(tmp / "backend.db"))
    from tests.redis_server import delete_prefix  # a plugin (pytest_plugins): imported late

    url: str = request.getfixturevalue("redis_url")
    prefix = f"memhead-test-{uuid.uuid4().hex}"
    request.addfinalizer(lambda: delete_prefix(url, prefix))
    return RedisStore.from_url(url, prefix=prefix)


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def backend_client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    """A real server per backend (SQLite file, Redis), shared by a module's tests, with
    session ``keep`` seeded; each test checks its own effect."""
    store = _open(request.param, request, tmp_path_factory.mktemp("backend"))
    settings = Settings(max_body_bytes=8 * 1024 * 1024, long_term_memory=True)
    with serve_in_thread(create_app(settings, store=store)) as url:
        with httpx.Client(base_url=url, timeout=20) as client:
            seed = {"messages": [{"role": "Human", "content": "kept \x00 nul"}], "context": "c"}
            assert client.post("/sessions/keep/memory", json=seed).status_code == 200
            yield client
