"""Health, readiness and metrics endpoints."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx

from memhead.stores.sqlite import SqliteStore
from tests.conftest import ClientFactory


def test_healthz_and_readyz(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready == {
        "status": "ok",
        "store": "sqlite",
        "llm": False,
        "llm_model": None,
        "embedder": None,
        "window_size": 12,
    }


def test_readyz_names_the_models_and_counts_sessions_waiting_for_compaction(
    make_client: ClientFactory,
) -> None:
    from tests.fake_openai import FakeOpenAI

    with FakeOpenAI() as fake:
        client = make_client(  # no worker here, so what is due stays due
            llm_base_url=fake.base_url,
            llm_model="summarizer-1",
            embed_model="embedder-1",
            window_size=2,
            worker_enabled=False,
        )
        for sid in ("a", "b", "c"):
            n = 1 if sid == "c" else 4
            body = {"messages": [{"role": "Human", "content": f"m{i}"} for i in range(n)]}
            client.post(f"/sessions/{sid}/memory", json=body)
        ready = client.get("/readyz").json()
    assert ready["llm"] is True and ready["llm_model"] == "summarizer-1"
    assert ready["embedder"] == "embedder-1" and ready["window_size"] == 2
    assert ready["compaction_backlog"] == 2  # a and b hold more than the window; c does not
    assert ready["embedding_backlog"] == 9


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
    client.get("/ui/console.js")
    client.get("/nope")
    text = client.get("/metrics").text
    assert (
        'memhead_http_requests_total{method="POST",route="/sessions/{session_id:path}/memory",'
        'status="200"} 1.0'
    ) in text
    assert 'route="/sessions/{session_id:path}/memory",status="200"} 1.0' in text
    assert "some-id" not in text and "other-id" not in text
    assert 'route="unmatched",status="404"' in text
    # the console's files: one label. A file response is counted once its last chunk is
    # sent, which the client may see before the server gets there: look again briefly.
    console = 'memhead_http_requests_total{method="GET",route="/ui/{path:path}",status="200"} 1.0'
    deadline = time.monotonic() + 5
    while console not in text and time.monotonic() < deadline:
        time.sleep(0.05)
        text = client.get("/metrics").text
    assert console in text
    assert "memhead_http_request_duration_seconds_bucket" in text


def test_metrics_label_every_kind_of_route_by_its_template(client: httpx.Client) -> None:
    client.put("/api/v1/sessions/secret-a", json={"user_id": "u"})  # the native API's router
    client.head("/sessions/secret-b/memory")  # a Motörhead route, through the router
    client.get("/healthz")  # an operations route
    client.get("/api/v1/nowhere/secret-c")
    text = client.get("/metrics").text
    assert 'method="PUT",route="/api/v1/sessions/{session_id:path}",status="200"' in text
    assert 'method="HEAD",route="/sessions/{session_id:path}/memory"' in text
    assert 'method="GET",route="/healthz",status="200"' in text
    assert 'method="GET",route="unmatched",status="404"' in text
    assert "secret" not in text


def test_request_id_is_echoed_or_made(client: httpx.Client) -> None:
    r = client.get("/sessions/x/memory", headers={"x-request-id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    made = {client.get("/sessions/x/memory").headers["x-request-id"] for _ in range(3)}
    assert len(made) == 3 and all(made)  # a fresh id for each request that brings none
    too_long = "x" * 200
    assert client.get("/", headers={"x-request-id": too_long}).headers["x-request-id"] != too_long


def test_json_logs_carry_the_request_id(tmp_path: Path) -> None:
    import json

    from tests.servers import MemheadProcess

    env = {"MEMHEAD_STORE_URL": f"sqlite:///{tmp_path / 'l.db'}", "MEMHEAD_LOG_FORMAT": "json"}
    with MemheadProcess(env, cwd=tmp_path) as proc:
        proc.wait_ready()
        r = httpx.post(
            f"{proc.url}/sessions/s/memory",
            content=b"{}",
            headers={"x-request-id": "rid-7", "content-type": "application/json"},
        )
        assert r.status_code == 400
        lines = [json.loads(line) for line in proc.output().splitlines() if line.startswith("{")]
    assert any("store=sqlite" in e["message"] for e in lines)
    assert all({"time", "level", "logger", "request_id", "message"} <= e.keys() for e in lines)


def test_metrics_count_store_operations_jobs_and_tokens(tmp_path: Path) -> None:
    import time

    from memhead import Settings, create_app
    from tests.fake_openai import FakeOpenAI
    from tests.servers import serve_in_thread

    with FakeOpenAI() as fake:
        settings = Settings(llm_base_url=fake.base_url, worker_poll_s=0.05, window_size=4)
        app = create_app(settings, store=SqliteStore(str(tmp_path / "m.db")))
        with serve_in_thread(app) as url, httpx.Client(base_url=url) as client:
            body = {"messages": [{"role": "Human", "content": f"m{i}"} for i in range(6)]}
            client.post("/sessions/s/memory", json=body)
            deadline = time.monotonic() + 10
            while client.get("/api/v1/sessions/s/summary").json()["upto_seq"] == 0:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            text = client.get("/metrics").text
    assert 'memhead_jobs_total{kind="compaction",result="done"} 1.0' in text
    assert f"memhead_provider_tokens_total {float(fake.tokens_per_call)}" in text
    assert (
        'memhead_store_operation_duration_seconds_count{backend="sqlite",operation="append"}'
        in text
    )
    assert 'memhead_jobs_pending{kind="compaction"}' in text


def test_hot_histogram_buckets_are_cumulative_and_inclusive() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from memhead.metrics import HotHistogram

    histogram = HotHistogram("t_seconds", "test", ("op",))
    registry = CollectorRegistry()
    registry.register(histogram)
    series = histogram.child(("read",))
    for seconds in (0.0005, 0.0006, 0.003, 20.0):
        histogram.observe(series, seconds)
    text = generate_latest(registry).decode()
    assert 't_seconds_bucket{le="0.0005",op="read"} 1.0' in text  # le: at most the bound
    assert 't_seconds_bucket{le="0.001",op="read"} 2.0' in text
    assert 't_seconds_bucket{le="0.005",op="read"} 3.0' in text
    assert 't_seconds_bucket{le="10.0",op="read"} 3.0' in text
    assert 't_seconds_bucket{le="+Inf",op="read"} 4.0' in text
    assert 't_seconds_count{op="read"} 4.0' in text
