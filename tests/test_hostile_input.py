"""Hostile input on every route shape (Motörhead self-hosted and hosted, native), on SQLite and
Redis: a 4xx JSON error each, stored data unchanged."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ClientFactory

CT = {"content-type": "application/json"}
BIG = "x" * (1024 * 1024)
MANY = {"messages": [{"role": "user", "content": "m"}] * 10_000}
LONG_ID = "s" * 10_000
ONE = {"messages": [{"role": "Human", "content": "x"}]}
LONG_NAME = "n" * 50_000


def motorhead_cases(p: str) -> list[tuple[str, str, Any]]:
    """The Motörhead routes under prefix ``p`` ("" self-hosted, "/v1/motorhead" hosted)."""
    mem = f"{p}/sessions/keep/memory"
    return [
        ("POST", mem, b"{not json"),
        ("POST", mem, b'{"messages": [{"role": "Human", "content": 5}]}'),
        ("POST", mem, b'{"messages": [{"content": "no role"}]}'),
        ("POST", mem, b'{"messages": [{"role": "Human", "content": "\xff\xfe"}]}'),
        ("POST", mem, MANY),
        ("POST", mem, {"messages": [{"role": "Human", "content": BIG}]}),
        ("POST", mem, b"[" + b" " * (5 * 1024 * 1024) + b"]"),
        # lone surrogates, in every text field
        ("POST", mem, b'{"messages": [{"role": "Human", "content": "a\\udfffb"}]}'),
        ("POST", mem, b'{"messages": [{"role": "a\\ud800", "content": "x"}]}'),
        ("POST", mem, b'{"messages": [{"role": "Human", "content": "x"}], "context": "\\udfff"}'),
        # roles: empty, unbounded, control characters
        ("POST", mem, {"messages": [{"role": "", "content": "x"}]}),
        ("POST", mem, {"messages": [{"role": "r" * 100_000, "content": "x"}]}),
        ("POST", mem, {"messages": [{"role": "Hu\x00man", "content": "x"}]}),
        ("POST", mem, {"messages": [{"role": "Hu\nman", "content": "x"}]}),
        # namespaces: unbounded, control characters
        ("POST", f"{mem}?namespace={LONG_NAME}", ONE),
        ("POST", f"{mem}?namespace=a%00b", ONE),
        ("GET", f"{p}/sessions?namespace={LONG_NAME}", None),
        ("GET", f"{p}/sessions?namespace=a%0Ab", None),
        # not JSON: what a web page can send cross-origin without a preflight
        ("POST", mem, ("text/plain", b'{"messages": [{"role": "Human", "content": "x"}]}')),
        ("POST", mem, ("", b'{"messages": [{"role": "Human", "content": "x"}]}')),
        ("POST", mem, ("application/x-www-form-urlencoded", b"messages=x")),
        ("POST", f"{p}/sessions/keep/retrieval", ("text/plain", b'{"text": "x"}')),
        # invalid UTF-8 in the path or query: never folded into U+FFFD
        ("POST", f"{p}/sessions/a%FFb/memory", ONE),
        ("GET", f"{p}/sessions/a%FEb/memory", None),
        ("DELETE", f"{p}/sessions/ke%FFep/memory", None),
        ("GET", f"{p}/sessions?namespace=%FF", None),
        ("POST", f"{p}/sessions/{LONG_ID}/memory", ONE),
        ("POST", f"{p}/sessions/a%01b/memory", ONE),
        ("POST", f"{p}/sessions/a%0Ab/memory", ONE),
        ("POST", f"{p}/sessions/keep/retrieval", b'{"text": 1}'),
        ("POST", f"{p}/sessions/keep/retrieval", b'{"text": "\\udfff"}'),
        ("POST", f"{p}/sessions/keep/retrieval", {"text": "q" * 20_000}),
        ("GET", f"{p}/sessions?page=-1", None),
        ("GET", f"{p}/sessions?size=99999999999999999999", None),
        ("GET", f"{p}/sessions?page=99999999999999999999", None),
    ]


def message(**fields: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": "x", **fields}]}


NATIVE = "/api/v1/sessions/keep"
NATIVE_CASES: list[tuple[str, str, Any]] = [
    ("POST", f"{NATIVE}/messages", b"{not json"),
    ("POST", f"{NATIVE}/messages", {"messages": [{"role": 1, "content": "x"}]}),
    ("POST", f"{NATIVE}/messages", {"messages": [{"role": "user"}]}),
    ("POST", f"{NATIVE}/messages", MANY),
    ("POST", f"{NATIVE}/messages", {"messages": [{"role": "user", "content": BIG}]}),
    ("POST", f"/api/v1/sessions/{LONG_ID}/messages", {"messages": [{"role": "u", "content": "x"}]}),
    # lone surrogates, in every text field and in metadata keys and values
    ("POST", f"{NATIVE}/messages", b'{"messages":[{"role":"user","content":"a\\udfffb"}]}'),
    ("POST", f"{NATIVE}/messages", b'{"messages":[{"role":"\\udfff","content":"x"}]}'),
    ("POST", f"{NATIVE}/messages", b'{"messages":[{"role":"u","content":"x","id":"\\ud800"}]}'),
    (
        "POST",
        f"{NATIVE}/messages",
        b'{"messages":[{"role":"u","content":"x","metadata":{"k":"\\udfff"}}]}',
    ),
    (
        "POST",
        f"{NATIVE}/messages",
        b'{"messages":[{"role":"u","content":"x","metadata":{"\\udfff":1}}]}',
    ),
    # numbers JSON cannot hold
    (
        "POST",
        f"{NATIVE}/messages",
        b'{"messages":[{"role":"u","content":"x","metadata":{"n":NaN}}]}',
    ),
    (
        "POST",
        f"{NATIVE}/messages",
        b'{"messages":[{"role":"u","content":"x","metadata":{"n":Infinity}}]}',
    ),
    (
        "POST",
        f"{NATIVE}/messages",
        b'{"messages":[{"role":"u","content":"x","metadata":{"n":[-Infinity]}}]}',
    ),
    (
        "POST",
        f"{NATIVE}/messages",
        b'{"messages":[{"role":"u","content":"x","metadata":{"n":1e400}}]}',
    ),
    ("PUT", NATIVE, b'{"metadata": {"n": NaN}}'),
    ("PUT", NATIVE, b'{"metadata": {"deep": {"n": 1e400}}}'),
    ("PUT", NATIVE, b'{"metadata": {"n": -Infinity}}'),
    # names: control characters, unbounded
    ("POST", f"{NATIVE}/messages", message(role="")),
    ("POST", f"{NATIVE}/messages", message(role="a\x00")),
    ("POST", f"{NATIVE}/messages", message(id="a\nb")),
    ("POST", f"{NATIVE}/messages", message(id="i" * 1000)),
    ("PUT", NATIVE, {"user_id": "a\nb"}),
    ("PUT", NATIVE, {"user_id": "a\x00b"}),
    ("PUT", NATIVE, {"user_id": LONG_NAME}),
    ("PUT", NATIVE, {"metadata": {"n": 2**70}}),
    ("PUT", NATIVE, b'{"user_id": "\x00"'),
    ("GET", "/api/v1/sessions?user_id=a%0Ab", None),
    ("GET", f"/api/v1/sessions?user_id={LONG_NAME}", None),
    ("GET", f"{NATIVE}/messages?limit=-5", None),
    ("GET", f"{NATIVE}/messages?before_seq=99999999999999999999", None),
    ("POST", "/api/v1/search", {"query": "x", "limit": -1}),
    ("POST", "/api/v1/search", b"\x00\x01\x02"),
    ("POST", "/api/v1/search", b'{"query": "\\udfff"}'),
    ("POST", "/api/v1/search", {"query": "x", "session_id": "a\x01"}),
    ("POST", "/api/v1/search", {"query": "x", "session_id": LONG_ID}),
    ("POST", "/api/v1/search", {"query": "x", "user_id": "a\nb"}),
    ("POST", "/api/v1/search", {"query": "x", "roles": ["a\x00"]}),
    # not JSON
    ("POST", f"{NATIVE}/messages", ("text/plain", b'{"messages":[{"role":"u","content":"x"}]}')),
    ("PUT", NATIVE, ("text/plain", b'{"user_id": "u"}')),
    ("PUT", NATIVE, ("", b'{"user_id": "u"}')),
    ("POST", "/api/v1/search", ("multipart/form-data; boundary=x", b'{"query": "x"}')),
    # invalid UTF-8 in the path or query
    ("POST", "/api/v1/sessions/a%FFb/messages", message()),
    ("PUT", "/api/v1/sessions/a%FEb", {"user_id": "u"}),
    ("DELETE", "/api/v1/sessions/ke%FFep", None),
    ("GET", "/api/v1/sessions/a%FFb", None),
    ("GET", "/api/v1/sessions?user_id=%FE", None),
]

CASES = motorhead_cases("") + motorhead_cases("/v1/motorhead") + NATIVE_CASES


def snapshot(client: httpx.Client) -> Any:
    return (
        client.get("/sessions/keep/memory").json(),
        client.get("/v1/motorhead/sessions/keep/memory").json(),
        client.get("/api/v1/sessions/keep/messages").json(),
        client.get("/api/v1/sessions/keep").json(),
        client.get("/api/v1/sessions").json(),
        client.get("/sessions").json(),
    )


def send(client: httpx.Client, method: str, path: str, body: Any) -> httpx.Response:
    """``body``: bytes (sent as JSON), ``(content type, bytes)``, None, or JSON-able."""
    if isinstance(body, tuple):
        content_type, raw = body
        headers = {"content-type": content_type} if content_type else {}
        return client.request(method, path, content=raw, headers=headers)
    if isinstance(body, bytes) or body is None:
        return client.request(method, path, content=body, headers=CT)
    return client.request(method, path, json=body)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    CASES,
    ids=[f"{m} {p[:40]} #{i}" for i, (m, p, _) in enumerate(CASES)],
)
def test_hostile_input_is_a_json_4xx_and_changes_nothing(
    backend_client: httpx.Client, method: str, path: str, body: Any
) -> None:
    before = snapshot(backend_client)
    r = send(backend_client, method, path, body)
    assert 400 <= r.status_code < 500, r.text[:200]
    assert isinstance(r.json()["error"], str)
    assert snapshot(backend_client) == before


def test_default_body_limit_refuses_five_mib(client: httpx.Client) -> None:
    r = client.post("/sessions/keep/memory", content=b" " * (5 * 1024 * 1024), headers=CT)
    assert r.status_code == 413 and "error" in r.json()


def test_user_text_keeps_nul_newlines_and_astral_characters(make_client: ClientFactory) -> None:
    """Free text is stored as sent: the rules refuse only what is not text at all."""
    client = make_client()
    content = "line one\nline\ttwo \x00 \U0001f600 é"
    post = {"messages": [{"role": "user", "content": content}], "context": "ctx\n\U0001f600"}
    assert client.post("/sessions/t/memory", json=post).status_code == 200
    memory = client.get("/sessions/t/memory").json()
    assert memory["messages"][0]["content"] == content and memory["context"] == post["context"]
    meta = {"emoji": "\U0001f600", "n": 1.5e300, "tiny": -1e-300}
    r = client.post("/api/v1/sessions/t/messages", json=message(metadata=meta))
    assert r.status_code == 201 and r.json()["messages"][0]["metadata"] == meta


def test_percent_encoded_utf8_ids_stay_distinct(make_client: ClientFactory) -> None:
    client = make_client()
    for path in ("/sessions/caf%C3%A9/memory", "/sessions/caf%C3%A8/memory"):
        assert client.post(path, json=ONE).status_code == 200
    assert sorted(client.get("/sessions").json()) == sorted(["café", "cafè"])
