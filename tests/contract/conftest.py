"""One ``store`` fixture, parametrised over every backend; every contract test runs on each."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from memhead.stores import Store
from memhead.stores.sqlite import SqliteStore

StoreFactory = Callable[[], Store]


def _sqlite_memory(tmp_path: Path) -> StoreFactory:
    return lambda: SqliteStore(":memory:")


def _sqlite_file(tmp_path: Path) -> StoreFactory:
    return lambda: SqliteStore(str(tmp_path / "contract.db"))


BACKENDS: dict[str, Callable[[Path], StoreFactory]] = {
    "sqlite-memory": _sqlite_memory,
    "sqlite-file": _sqlite_file,
}


@pytest.fixture(params=sorted(BACKENDS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    factory = BACKENDS[request.param](tmp_path)
    s = factory()
    await s.setup()
    await s.setup()  # setup is idempotent
    yield s
    await s.close()
