"""One ``store`` fixture, parametrised over every backend; every contract test runs on each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from memhead.stores import Store
from memhead.stores.redis import RedisStore
from memhead.stores.sqlite import SqliteStore
from tests.redis_server import delete_prefix

StoreFactory = Callable[[], Store]


def _sqlite_memory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return lambda: SqliteStore(":memory:")


def _sqlite_file(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return lambda: SqliteStore(str(tmp_path / "contract.db"))


def _redis(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """A shared server (started only when a Redis test runs), isolated by a fresh key prefix."""
    url: str = request.getfixturevalue("redis_url")
    prefix = f"memhead-test-{uuid.uuid4().hex}"
    request.addfinalizer(lambda: delete_prefix(url, prefix))  # runs after the store closes
    return lambda: RedisStore.from_url(url, prefix=prefix)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], StoreFactory]] = {
    "sqlite-memory": _sqlite_memory,
    "sqlite-file": _sqlite_file,
    "redis": _redis,
}


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    factory = BACKENDS[request.param](request, tmp_path)
    s = factory()
    await s.setup()
    await s.setup()  # setup is idempotent
    yield s
    await s.close()
