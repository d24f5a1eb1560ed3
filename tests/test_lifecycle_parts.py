"""The data lifecycle's parts on their own: the TTL setting's forms, the sweep's lease across
sweepers, the session ``ttl`` of the native API, the import's refusals."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from memhead.errors import ConfigError
from memhead.lifecycle.importer import BadLine, import_lines
from memhead.lifecycle.records import iso, ms
from memhead.models import NewMessage, SessionKey
from memhead.retention import JOB, RetentionSweeper
from memhead.settings import load_settings
from memhead.stores import Store
from memhead.stores.sqlite import SqliteStore
from tests.lifecycle_helpers import wait_for
from tests.servers import NO_PROVIDERS


@pytest.mark.parametrize(
    ("given", "ms_"),
    [
        ("30d", 30 * 86_400_000),
        ("12h", 43_200_000),
        ("90m", 5_400_000),
        ("45s", 45_000),
        ("3600", 3_600_000),
        ("P2D", 172_800_000),
        ("PT1H30M", 5_400_000),
        ("", None),
    ],
)
def test_session_ttl_takes_the_usual_duration_forms(given: str, ms_: int | None) -> None:
    assert load_settings(MEMHEAD_SESSION_TTL=given).session_ttl_ms == ms_


@pytest.mark.parametrize("given", ["0s", "-5", "soon", "3 weeks"])
def test_a_bad_session_ttl_is_one_line_naming_the_variable(given: str) -> None:
    with pytest.raises(ConfigError, match="^invalid setting MEMHEAD_SESSION_TTL: "):
        load_settings(MEMHEAD_SESSION_TTL=given)


def test_times_survive_the_export_format_to_the_millisecond() -> None:
    for value in (0, 1, 1_764_475_200_123, 4_102_444_800_999):
        assert ms(iso(value)) == value


async def test_one_sweeper_at_a_time_deletes(store: Store) -> None:
    for i in range(3):
        await store.append(SessionKey("t", f"s{i}"), [NewMessage("user", "x")], now=1, window=4)
    clock = lambda: 10_000  # noqa: E731
    first = RetentionSweeper(store, default_ttl_ms=1_000, clock=clock)
    second = RetentionSweeper(store, default_ttl_ms=1_000, clock=clock)
    assert await store.acquire_job(JOB, owner=first.owner, now=10_000, ttl_ms=60_000)
    assert await second.sweep() == 0  # first holds the lease
    await store.release_job(JOB, owner=first.owner)
    assert await second.sweep() == 3
    assert await first.sweep() == 0  # nothing left
    assert await store.acquire_job(JOB, owner="third", now=10_000, ttl_ms=1)  # released
    assert await store.check() == []


async def lines(*raw: bytes) -> AsyncIterator[bytes]:
    for line in raw:
        yield line


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[1]", "line 2: not a JSON object"),
        (b"{", "line 2: "),
        (
            b'{"kind":"message","tenant":"t","session_id":"s","seq":1,"role":"user",'
            b'"content":"x","created_at":"2026-01-01T00:00:00Z"}',
            "must follow its session",
        ),
        (
            b'{"kind":"session","tenant":"t","id":"s","namespace":"","created_at":5,'
            b'"updated_at":"2026-01-01T00:00:00Z"}',
            "a time must be an ISO 8601 string",
        ),
        (
            b'{"kind":"session","tenant":"","id":"s","namespace":"",'
            b'"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}',
            "'tenant' is missing or invalid",
        ),
        (
            b'{"kind":"item","tenant":"t","namespace":[],"key":"k","value":{},'
            b'"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}',
            "line 2: namespace",
        ),
        (
            b'{"kind":"item","tenant":"t","namespace":["n"],"key":"k","value":[1],'
            b'"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}',
            "'value' is missing or invalid",
        ),
        (
            b'{"kind":"item","tenant":"t","namespace":["n"],"key":"k","value":{},"ttl":-1,'
            b'"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}',
            "ttl must be more than 0",
        ),
    ],
)
async def test_an_import_names_the_first_bad_line(store: Store, raw: bytes, reason: str) -> None:
    with pytest.raises(BadLine, match=reason):
        await import_lines(store, lines(b"", raw), window=4)


def test_a_session_ttl_is_set_kept_and_cleared_through_the_native_api(
    client: httpx.Client,
) -> None:
    url = "/api/v1/sessions/s"
    assert client.put(url, json={"ttl": 3600}).json()["ttl"] == 3600
    assert client.put(url, json={"user_id": "u"}).json()["ttl"] == 3600  # left out: kept
    assert client.put(url, json={"ttl": 0}).json()["ttl"] == 0
    assert client.put(url, json={"ttl": None}).json()["ttl"] is None  # the default again
    bad = client.put(url, json={"ttl": -1})
    assert bad.status_code == 422 and "error" in bad.json()
    assert client.get(url).json()["ttl"] is None


def test_memhead_worker_sweeps_with_only_a_session_ttl_configured(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    env = {
        "MEMHEAD_STORE_URL": f"sqlite:///{db}",
        "MEMHEAD_SESSION_TTL": "1h",
        "MEMHEAD_SWEEP_INTERVAL": "0.1",
    }

    async def fill() -> None:
        store = SqliteStore(str(db))
        await store.setup()
        await store.append(
            SessionKey("default", "zq-9"), [NewMessage("user", "x")], now=1, window=4
        )
        await store.close()

    asyncio.run(fill())
    assert asyncio.run(sessions_in(db)) == 1
    worker = subprocess.Popen(
        [sys.executable, "-m", "memhead", "worker"],
        env={**os.environ, **NO_PROVIDERS, **env},
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: asyncio.run(sessions_in(db)) == 0, what="the worker swept")
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert b"deleted 1 expired session(s)" in err and b"zq-9" not in err  # counts, no ids


async def sessions_in(db: Path) -> int:
    store = SqliteStore(str(db))
    found = await store.list_sessions("default", user_id=None, before=None, limit=5)
    await store.close()
    return len(found)
