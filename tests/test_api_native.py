"""The native API at /api/v1 over real HTTP."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from tests.conftest import ClientFactory


def append(client: httpx.Client, sid: str, *messages: dict[str, object]) -> httpx.Response:
    return client.post(
        f"/api/v1/sessions/{quote(sid, safe='')}/messages", json={"messages": messages}
    )


def test_append_returns_stored_messages_with_seq_metadata_and_times(
    client: httpx.Client,
) -> None:
    r = append(
        client,
        "s",
        {"role": "user", "content": "hi", "metadata": {"lang": "en"}},
        {"role": "assistant", "content": "yo", "created_at": "2024-01-02T03:04:05Z"},
    )
    assert r.status_code == 201
    stored = r.json()["messages"]
    assert [m["seq"] for m in stored] == [1, 2]
    assert stored[0]["metadata"] == {"lang": "en"}
    assert stored[1]["created_at"].startswith("2024-01-02T03:04:05")


def test_retried_post_with_same_ids_stores_nothing_twice(client: httpx.Client) -> None:
    batch = [
        {"role": "user", "content": "x", "id": "m1"},
        {"role": "user", "content": "y", "id": "m2"},
    ]
    first = append(client, "s", *batch).json()["messages"]
    again = append(client, "s", *batch).json()["messages"]
    assert first == again
    assert len(client.get("/api/v1/sessions/s/messages").json()["messages"]) == 2


def test_history_pages_newest_first_to_the_end(client: httpx.Client) -> None:
    append(client, "s", *[{"role": "user", "content": f"m{i}"} for i in range(1, 8)])
    seen: list[int] = []
    before = None
    while True:
        params = {"limit": 3} | ({"before_seq": before} if before else {})
        page = client.get("/api/v1/sessions/s/messages", params=params).json()
        seen += [m["seq"] for m in page["messages"]]
        before = page["next_before_seq"]
        if before is None:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1]


def test_memory_reports_window_summary_and_counts(make_client: ClientFactory) -> None:
    client = make_client(window_size=3)
    append(client, "s", *[{"role": "user", "content": f"m{i}"} for i in range(1, 6)])
    mem = client.get("/api/v1/sessions/s/memory").json()
    assert [m["content"] for m in mem["messages"]] == ["m5", "m4", "m3"]
    assert mem["summary"] is None and mem["tokens"] == 0 and mem["upto_seq"] == 0
    assert mem["message_count"] == 5 and mem["unsummarized"] == 5
    assert len(client.get("/api/v1/sessions/s/memory?lastn=2").json()["messages"]) == 2
    empty = client.get("/api/v1/sessions/none/memory").json()
    assert empty["messages"] == [] and empty["message_count"] == 0


def test_session_put_get_delete(client: httpx.Client) -> None:
    assert client.get("/api/v1/sessions/s").status_code == 404
    r = client.put("/api/v1/sessions/s", json={"user_id": "u1", "metadata": {"a": 1}})
    assert r.status_code == 200 and r.json()["user_id"] == "u1"
    r = client.put("/api/v1/sessions/s", json={"metadata": {"b": 2}})
    assert r.json()["user_id"] == "u1" and r.json()["metadata"] == {"b": 2}
    got = client.get("/api/v1/sessions/s").json()
    assert got["id"] == "s" and got["message_count"] == 0
    assert client.delete("/api/v1/sessions/s").status_code == 204
    assert client.get("/api/v1/sessions/s").status_code == 404
    assert client.delete("/api/v1/sessions/s").status_code == 204


def test_session_ids_with_slashes_and_unicode(client: httpx.Client) -> None:
    sid = "org/team:ünï 1"
    append(client, sid, {"role": "user", "content": "x"})
    assert client.get(f"/api/v1/sessions/{quote(sid, safe='')}").json()["id"] == sid
    mem = client.get(f"/api/v1/sessions/{quote(sid, safe='')}/memory").json()
    assert mem["message_count"] == 1


def test_session_listing_most_recent_first_with_cursor_and_user(client: httpx.Client) -> None:
    for i in range(5):
        client.put(f"/api/v1/sessions/s{i}", json={"user_id": "u1" if i % 2 == 0 else "u2"})
    page = client.get("/api/v1/sessions", params={"limit": 2}).json()
    assert [s["id"] for s in page["sessions"]] == ["s4", "s3"]
    rest = client.get("/api/v1/sessions", params={"limit": 10, "cursor": page["next_cursor"]})
    assert [s["id"] for s in rest.json()["sessions"]] == ["s2", "s1", "s0"]
    assert rest.json()["next_cursor"] is None
    mine = client.get("/api/v1/sessions", params={"user_id": "u2"}).json()
    assert [s["id"] for s in mine["sessions"]] == ["s3", "s1"]


def test_session_listing_by_namespace_and_summary_state(client: httpx.Client) -> None:
    for sid, namespace in [("a", "team"), ("b", ""), ("c", "team")]:
        body = {"messages": [{"role": "Human", "content": sid}]}
        client.post(f"/sessions/{sid}/memory", params={"namespace": namespace}, json=body)
    client.put("/api/v1/sessions/a", json={"user_id": "u1"})
    team = client.get("/api/v1/sessions", params={"namespace": "team"}).json()["sessions"]
    assert [s["id"] for s in team] == ["a", "c"]
    assert team[1]["message_count"] == 1 and team[1]["namespace"] == "team"
    assert team[1]["upto_seq"] == 0 and team[1]["last_error"] is None
    default = client.get("/api/v1/sessions", params={"namespace": ""}).json()["sessions"]
    assert [s["id"] for s in default] == ["b"]
    mine = client.get("/api/v1/sessions", params={"namespace": "team", "user_id": "u1"}).json()
    assert [s["id"] for s in mine["sessions"]] == ["a"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/api/v1/sessions/s/messages", {"messages": []}, 422),
        ("POST", "/api/v1/sessions/s/messages", {"messages": [{"role": "user"}]}, 422),
        ("POST", "/api/v1/sessions/s/messages", {"messages": [{"role": "", "content": "x"}]}, 422),
        ("POST", "/api/v1/sessions/s/messages", {"messages": "x"}, 422),
        ("GET", "/api/v1/sessions/s/messages?limit=0", None, 422),
        ("GET", "/api/v1/sessions/s/messages?before_seq=-1", None, 422),
        ("GET", "/api/v1/sessions/s/memory?lastn=0", None, 422),
        ("GET", "/api/v1/sessions?cursor=garbage", None, 400),
        ("GET", "/api/v1/sessions?limit=100000", None, 422),
        ("PUT", "/api/v1/sessions/s", {"metadata": "not an object"}, 422),
    ],
)
def test_bad_input_is_a_json_4xx(
    client: httpx.Client, method: str, path: str, body: object, status: int
) -> None:
    r = client.request(method, path, json=body)
    assert r.status_code == status
    assert isinstance(r.json()["error"], str)
    assert client.get("/api/v1/sessions").json()["sessions"] == []


def test_too_long_session_id_is_a_400(client: httpx.Client) -> None:
    r = append(client, "x" * 2000, {"role": "user", "content": "x"})
    assert r.status_code == 400 and "session id" in r.json()["error"]


def test_openapi_documents_every_route_the_app_serves(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    documented = {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops}
    expected = {
        ("/", "GET"),
        ("/sessions", "GET"),
        ("/sessions/{session_id}/memory", "GET"),
        ("/sessions/{session_id}/memory", "POST"),
        ("/sessions/{session_id}/memory", "DELETE"),
        ("/sessions/{session_id}/retrieval", "POST"),
        ("/v1/motorhead/sessions", "GET"),
        ("/v1/motorhead/sessions/{session_id}/memory", "GET"),
        ("/v1/motorhead/sessions/{session_id}/memory", "POST"),
        ("/v1/motorhead/sessions/{session_id}/memory", "DELETE"),
        ("/v1/motorhead/sessions/{session_id}/retrieval", "POST"),
        ("/v1/keys/current", "GET"),
        ("/api/v1/sessions/{session_id}/messages", "POST"),
        ("/api/v1/sessions/{session_id}/messages", "GET"),
        ("/api/v1/sessions/{session_id}/memory", "GET"),
        ("/api/v1/sessions/{session_id}", "GET"),
        ("/api/v1/sessions/{session_id}", "PUT"),
        ("/api/v1/sessions/{session_id}", "DELETE"),
        ("/api/v1/sessions", "GET"),
    }
    assert expected <= documented
    assert client.get("/docs").status_code == 200
    for name in ("MotorheadPost", "MotorheadMemory", "AppendRequest", "ErrorBody"):
        assert name in doc["components"]["schemas"]
