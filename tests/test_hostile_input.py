"""Hostile input on every write and read route: a 4xx JSON error each, stored data unchanged."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ClientFactory

CT = {"content-type": "application/json"}
BIG = "x" * (1024 * 1024)
MANY = {"messages": [{"role": "user", "content": "m"}] * 10_000}
LONG_ID = "s" * 10_000

CASES: list[tuple[str, str, Any]] = [
    # (method, path, body: bytes, or JSON-able)
    ("POST", "/sessions/keep/memory", b"{not json"),
    ("POST", "/sessions/keep/memory", b'{"messages": [{"role": "Human", "content": 5}]}'),
    ("POST", "/sessions/keep/memory", b'{"messages": [{"content": "no role"}]}'),
    ("POST", "/sessions/keep/memory", b'{"messages": [{"role": "Human", "content": "\xff\xfe"}]}'),
    ("POST", "/sessions/keep/memory", MANY),
    ("POST", "/sessions/keep/memory", {"messages": [{"role": "Human", "content": BIG}]}),
    ("POST", "/sessions/keep/memory", b"[" + b" " * (5 * 1024 * 1024) + b"]"),
    ("POST", f"/sessions/{LONG_ID}/memory", {"messages": [{"role": "Human", "content": "x"}]}),
    ("POST", "/sessions/a%01b/memory", {"messages": [{"role": "Human", "content": "x"}]}),
    ("POST", "/sessions/a%0Ab/memory", {"messages": [{"role": "Human", "content": "x"}]}),
    ("POST", "/sessions/keep/retrieval", b'{"text": 1}'),
    ("GET", "/sessions?page=-1", None),
    ("GET", "/sessions?size=99999999999999999999", None),
    ("GET", "/sessions?page=99999999999999999999", None),
    ("POST", "/api/v1/sessions/keep/messages", b"{not json"),
    ("POST", "/api/v1/sessions/keep/messages", {"messages": [{"role": 1, "content": "x"}]}),
    ("POST", "/api/v1/sessions/keep/messages", {"messages": [{"role": "user"}]}),
    ("POST", "/api/v1/sessions/keep/messages", MANY),
    ("POST", "/api/v1/sessions/keep/messages", {"messages": [{"role": "user", "content": BIG}]}),
    ("POST", f"/api/v1/sessions/{LONG_ID}/messages", {"messages": [{"role": "u", "content": "x"}]}),
    ("GET", "/api/v1/sessions/keep/messages?limit=-5", None),
    ("GET", "/api/v1/sessions/keep/messages?before_seq=99999999999999999999", None),
    ("PUT", "/api/v1/sessions/keep", {"metadata": {"n": 2**70}}),
    ("PUT", "/api/v1/sessions/keep", b'{"user_id": "\x00"'),
    ("POST", "/api/v1/search", {"query": "x", "limit": -1}),
    ("POST", "/api/v1/search", b"\x00\x01\x02"),
]


def snapshot(client: httpx.Client) -> Any:
    return (
        client.get("/sessions/keep/memory").json(),
        client.get("/api/v1/sessions/keep/messages").json(),
        client.get("/api/v1/sessions/keep").json(),
        client.get("/sessions").json(),
    )


@pytest.mark.parametrize(
    ("method", "path", "body"),
    CASES,
    ids=[f"{m} {p[:40]} #{i}" for i, (m, p, _) in enumerate(CASES)],
)
def test_hostile_input_is_a_json_4xx_and_changes_nothing(
    make_client: ClientFactory, method: str, path: str, body: Any
) -> None:
    client = make_client(max_body_bytes=8 * 1024 * 1024)
    seed = {"messages": [{"role": "Human", "content": "kept \x00 nul"}], "context": "ctx"}
    assert client.post("/sessions/keep/memory", json=seed).status_code == 200
    before = snapshot(client)
    if isinstance(body, bytes) or body is None:
        r = client.request(method, path, content=body, headers=CT)
    else:
        r = client.request(method, path, json=body)
    assert 400 <= r.status_code < 500, r.text[:200]
    assert isinstance(r.json()["error"], str)
    assert snapshot(client) == before


def test_default_body_limit_refuses_five_mib(client: httpx.Client) -> None:
    r = client.post("/sessions/keep/memory", content=b" " * (5 * 1024 * 1024), headers=CT)
    assert r.status_code == 413 and "error" in r.json()
