"""Every backend the tests run on, and the fixtures that hand them out (a pytest plugin,
loaded by ``tests/conftest.py``):

- ``store``: one set-up store of each backend; the contract suite (``tests/contract/``) and
  any other test that should hold on every backend takes it.
- ``backend``: a factory of fresh store objects over one backend's data, for tests that need
  several (a server and the CLI, say). Only ``SHARED`` backends keep data between objects;
  such a test narrows itself to them with ``on_shared_backends``.
"""

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
SHARED = ("sqlite-file", "redis")
"""The backends whose data outlives a store object (an in-memory database does not)."""

on_shared_backends = pytest.mark.parametrize("backend", SHARED, indirect=True)
"""Runs a test that takes ``backend`` on each of the ``SHARED`` backends only."""


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    return BACKENDS[request.param](request, tmp_path)


@pytest.fixture
async def store(backend: StoreFactory) -> AsyncIterator[Store]:
    s = backend()
    await s.setup()
    await s.setup()  # setup is idempotent
    yield s
    await s.close()
