"""Motörhead's routes over real HTTP, self-hosted (``/``) and hosted (``/v1/motorhead``)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from memhead.stores.sqlite import SqliteStore
from tests.conftest import ClientFactory

JSON = {"content-type": "application/json"}


def pair(i: int) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "Human", "content": f"question {i}"},
            {"role": "AI", "content": f"answer {i}"},
        ]
    }


def test_root_reports_the_clock_in_ms(client: httpx.Client) -> None:
    before = int(time.time() * 1000)
    now = client.get("/").json()["now"]
    assert isinstance(now, int) and before - 5 <= now <= int(time.time() * 1000) + 5


def test_unknown_session_reads_empty(client: httpx.Client) -> None:
    r = client.get("/sessions/unknown/memory")
    assert r.status_code == 200
    assert r.json() == {"messages": [], "context": None, "tokens": 0}


def test_post_then_get_returns_newest_first_with_roles_verbatim(client: httpx.Client) -> None:
    assert client.post("/sessions/s1/memory", json=pair(1)).json() == {"status": "Ok"}
    body = {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]}
    client.post("/sessions/s1/memory", json=body)
    got = client.get("/sessions/s1/memory").json()
    assert got["messages"] == [
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "u"},
        {"role": "AI", "content": "answer 1"},
        {"role": "Human", "content": "question 1"},
    ]


def test_get_returns_at_most_window_messages(make_client: ClientFactory) -> None:
    client = make_client(window_size=4)
    for i in range(5):
        client.post("/sessions/s/memory", json=pair(i))
    messages = client.get("/sessions/s/memory").json()["messages"]
    assert [m["content"] for m in messages] == ["answer 4", "question 4", "answer 3", "question 3"]


def test_context_is_kept_when_absent_or_null_and_replaced_by_any_string(
    client: httpx.Client,
) -> None:
    client.post("/sessions/s/memory", json={**pair(1), "context": "seed"})
    client.post("/sessions/s/memory", json={**pair(2), "context": None})
    client.post("/sessions/s/memory", json=pair(3))
    assert client.get("/sessions/s/memory").json()["context"] == "seed"
    client.post("/sessions/s/memory", json={**pair(4), "context": ""})
    assert client.get("/sessions/s/memory").json()["context"] == ""


def test_extra_fields_in_requests_are_ignored(client: httpx.Client) -> None:
    body = {"messages": [{"role": "Human", "content": "x", "extra": 1}], "whatever": True}
    assert client.post("/sessions/s/memory", json=body).status_code == 200


@pytest.mark.parametrize(
    "session_id",
    ["550e8400-e29b-41d4-a716-446655440000", "a:b", "with space", "ünïcødé🎸", "a/b", "x%y", "ABC"],
)
def test_any_session_id_works_in_every_route(client: httpx.Client, session_id: str) -> None:
    path = f"/sessions/{quote(session_id, safe='')}/memory"
    client.post(path, json=pair(1))
    assert len(client.get(path).json()["messages"]) == 2
    assert client.get("/sessions").json() == [session_id]
    assert client.delete(path).json() == {"status": "Ok"}
    assert client.get(path).json()["messages"] == []


def test_ids_differing_only_in_case_are_different_sessions(client: httpx.Client) -> None:
    client.post("/sessions/ABC/memory", json=pair(1))
    assert client.get("/sessions/abc/memory").json()["messages"] == []


def test_delete_empties_the_session_and_succeeds_when_nothing_existed(
    client: httpx.Client,
) -> None:
    client.post("/sessions/s/memory", json={**pair(1), "context": "c"})
    assert client.delete("/sessions/s/memory").json() == {"status": "Ok"}
    assert client.get("/sessions/s/memory").json() == {
        "messages": [],
        "context": None,
        "tokens": 0,
    }
    assert client.delete("/sessions/never/memory").json() == {"status": "Ok"}
    assert client.get("/sessions").json() == []


def test_sessions_listing_pages_and_namespaces(client: httpx.Client) -> None:
    for sid in ["a", "b", "c"]:
        client.post(f"/sessions/{sid}/memory", json=pair(1))
    client.post("/sessions/a/memory", json=pair(2))  # a becomes the most recently written
    client.post("/sessions/n/memory?namespace=team", json=pair(1))
    assert client.get("/sessions").json() == ["b", "c", "a"]
    assert client.get("/sessions?page=2&size=2").json() == ["a"]
    assert client.get("/sessions?namespace=team").json() == ["n"]
    assert client.get("/sessions?namespace=other").json() == []


@pytest.mark.parametrize("query", ["page=0", "size=0", "size=101", "page=-1", "page=x", "size=1.5"])
def test_bad_paging_is_a_400_json_error(client: httpx.Client, query: str) -> None:
    r = client.get(f"/sessions?{query}")
    assert r.status_code == 400
    assert isinstance(r.json()["error"], str)


@pytest.mark.parametrize(
    "body",
    [
        b'{"messages": []}',
        b"{not json",
        b"",
        b'{"messages": "x"}',
        b'{"messages": [{"role": "Human"}]}',
        b'{"messages": [{"role": 1, "content": "x"}]}',
        b'{"messages": [{"role": "Human", "content": "x"}], "context": 5}',
        b"[]",
        b"\xff\xfe",
    ],
)
def test_bad_post_is_a_400_json_error_and_changes_nothing(
    client: httpx.Client, body: bytes
) -> None:
    client.post("/sessions/s/memory", json={**pair(1), "context": "before"})
    r = client.post(
        "/sessions/s/memory", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    assert isinstance(r.json()["error"], str)
    after = client.get("/sessions/s/memory").json()
    assert len(after["messages"]) == 2 and after["context"] == "before"
    assert client.get("/sessions").json() == ["s"]


def test_empty_messages_on_a_new_session_creates_nothing(client: httpx.Client) -> None:
    assert client.post("/sessions/new/memory", json={"messages": []}).status_code == 400
    assert client.get("/sessions").json() == []


def test_body_over_the_limit_is_a_413(make_client: ClientFactory) -> None:
    client = make_client(max_body_bytes=4096)
    big = {"messages": [{"role": "Human", "content": "x" * 5000}]}
    r = client.post("/sessions/s/memory", json=big)
    assert r.status_code == 413 and "error" in r.json()

    def chunks() -> Any:
        for _ in range(10):
            yield b" " * 1000

    r = client.post("/sessions/s/memory", content=chunks(), headers=JSON)  # streamed, no length
    assert r.status_code == 413 and "error" in r.json()
    assert client.get("/sessions").json() == []


def test_default_body_limit_is_two_mib(make_client: ClientFactory) -> None:
    client = make_client(max_content_chars=3 * 1024 * 1024)
    small = {"messages": [{"role": "Human", "content": "x" * (2 * 1024 * 1024 - 100)}]}
    assert client.post("/sessions/s/memory", json=small).status_code == 200
    big = {"messages": [{"role": "Human", "content": "x" * (2 * 1024 * 1024)}]}
    assert client.post("/sessions/s/memory", json=big).status_code == 413


def test_retrieval_is_a_400_while_long_term_memory_is_off(client: httpx.Client) -> None:
    r = client.post("/sessions/s/retrieval", json={"text": "hello"})
    assert r.status_code == 400
    assert "MOTORHEAD_LONG_TERM_MEMORY" in r.json()["error"]


def test_unknown_routes_and_methods_are_json_errors(client: httpx.Client) -> None:
    r = client.get("/nope")
    assert r.status_code == 404 and "error" in r.json()
    r = client.put("/sessions/s/memory", json={})
    assert r.status_code == 405 and "error" in r.json()


def test_store_that_cannot_be_reached_gives_503_and_recovers(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    path = tmp_path / "locked.db"
    client = make_client(store=SqliteStore(str(path), busy_timeout_ms=50))
    client.post("/sessions/s/memory", json=pair(1))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        r = client.post("/sessions/s/memory", json=pair(2))
        assert r.status_code == 503
        assert "unavailable" in r.json()["error"]
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert client.post("/sessions/s/memory", json=pair(3)).status_code == 200
    assert len(client.get("/sessions/s/memory").json()["messages"]) == 4


def test_hosted_shape_wraps_every_response_in_data(client: httpx.Client) -> None:
    headers = {"x-metal-api-key": "k", "x-metal-client-id": "c"}
    base = "/v1/motorhead/sessions/h/memory"
    assert client.post(base, json=pair(1), headers=headers).json() == {"data": {"status": "Ok"}}
    got = client.get(base, headers=headers).json()
    assert got["data"]["messages"][0] == {"role": "AI", "content": "answer 1"}
    assert got["data"]["context"] is None and got["data"]["tokens"] == 0
    assert client.get("/v1/motorhead/sessions", headers=headers).json() == {"data": ["h"]}
    assert client.delete(base, headers=headers).json() == {"data": {"status": "Ok"}}
    r = client.post(base, json={"messages": []}, headers=headers)
    assert r.status_code == 400 and "error" in r.json()


def test_hosted_and_self_hosted_shapes_share_one_memory(client: httpx.Client) -> None:
    client.post("/sessions/same/memory", json=pair(1))
    hosted = client.get("/v1/motorhead/sessions/same/memory").json()["data"]
    assert len(hosted["messages"]) == 2


def test_n8n_credential_probe_passes(client: httpx.Client) -> None:
    r = client.get("/v1/keys/current", headers={"x-metal-api-key": "k", "x-metal-client-id": "c"})
    assert r.status_code == 200
    assert r.json()["data"]["client_id"] == "c"


def test_methods_the_hot_path_does_not_take_get_the_frameworks_json_answers(
    client: httpx.Client,
) -> None:
    """GET/POST/DELETE of the memory route skip FastAPI's stack (``api/edge.py``); any other
    method still reaches the router and is answered the same way as everywhere else."""
    client.post("/sessions/h/memory", json=pair(1)).raise_for_status()
    put = client.put("/sessions/h/memory", json=pair(2))
    assert put.status_code == 405 and put.json() == {"error": "Method Not Allowed"}
    assert put.headers["x-request-id"]  # the edge middleware wraps the framework path too
    head = client.head("/sessions/h/memory")
    assert head.status_code == 200 and head.headers["content-type"] == "application/json"
    assert len(client.get("/sessions/h/memory").json()["messages"]) == 2  # the PUT stored nothing
    # Paths the router's pattern does not match are not taken by the shortcut either.
    missing = client.get("/sessions/memory")
    assert missing.status_code == 404 and "error" in missing.json()
    assert client.get("/sessions//memory").status_code == 400  # an empty id, as routed
