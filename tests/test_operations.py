"""Health, readiness and metrics endpoints."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from memhead.stores.sqlite import SqliteStore
from tests.conftest import ClientFactory


def test_healthz_and_readyz(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready == {"status": "ok", "store": "sqlite", "llm": False}


def test_readyz_is_503_while_the_store_is_unreachable(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    path = tmp_path / "r.db"
    client = make_client(store=SqliteStore(str(path), busy_timeout_ms=50))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert client.get("/readyz").status_code == 200


def test_metrics_count_requests_by_route_template(client: httpx.Client) -> None:
    client.post("/sessions/some-id/memory", json={"messages": [{"role": "Human", "content": "x"}]})
    client.get("/sessions/other-id/memory")
    client.get("/nope")
    text = client.get("/metrics").text
    assert (
        'memhead_http_requests_total{method="POST",route="/sessions/{session_id:path}/memory",'
        'status="200"} 1.0'
    ) in text
    assert 'route="/sessions/{session_id:path}/memory",status="200"} 1.0' in text
    assert "some-id" not in text and "other-id" not in text
    assert 'route="unmatched",status="404"' in text
    assert "memhead_http_request_duration_seconds_bucket" in text
