"""Fuzzing every text field and number of every route shape (Motörhead self-hosted and hosted,
native) with hostile values: lone surrogates, control characters, overlong strings, NaN,
infinities, huge integers, invalid UTF-8 in the URL. On SQLite and Redis, each request is
either stored exactly as sent (read back equal) or refused with a JSON 4xx that changes
nothing; never a 5xx."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NASTY = ["\ud800", "\udfff", "\x00", "\n", "\r", "\x1b", "\x7f", "\x85", "\u2028", "\ufeff"]

hostile_text = st.one_of(
    st.lists(st.one_of(st.characters(), st.sampled_from(NASTY)), max_size=12).map("".join),
    st.builds(
        lambda c, n: c * n,
        st.sampled_from(["a", "é", "\U0001f600"]),
        st.sampled_from([65, 257, 1100]),
    ),
)
hostile_number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.just("1e400"),  # raw JSON that overflows to infinity
)

PREFIXES = ["", "/v1/motorhead"]
SHAPES = ["motorhead", "native"]


def raw_json(value: Any) -> bytes:
    """JSON as a hostile client writes it: NaN/Infinity tokens, surrogates as ``\\u`` escapes,
    and the marker "1e400" as a bare number."""
    text = json.dumps(value, allow_nan=True)
    return text.replace('"1e400"', "1e400").encode()


def in_url(value: str) -> str:
    """``value`` percent-encoded as its UTF-8 bytes (a lone surrogate: the bytes no UTF-8
    decoder accepts)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def state(client: httpx.Client) -> Any:
    return (
        client.get("/sessions/keep/memory").json(),
        client.get("/api/v1/sessions/keep/messages").json(),
        client.get("/api/v1/sessions/keep").json(),
        client.get("/api/v1/sessions").json(),
        client.get("/sessions").json(),
    )


def post(client: httpx.Client, path: str, body: Any, method: str = "POST") -> httpx.Response:
    return client.request(
        method, path, content=raw_json(body), headers={"content-type": "application/json"}
    )


def check(client: httpx.Client, before: Any, r: httpx.Response) -> bool:
    """True when stored; asserts the refusal contract otherwise."""
    assert r.status_code < 500, r.text[:300]
    if r.status_code >= 400:
        assert isinstance(r.json()["error"], str)
        assert state(client) == before
        return False
    return True


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    field=st.sampled_from(["role", "content", "context", "namespace", "session"]),
    value=hostile_text,
    prefix=st.sampled_from(PREFIXES),
)
def test_motorhead_text_fields(
    backend_client: httpx.Client, field: str, value: str, prefix: str
) -> None:
    client = backend_client
    before = state(client)
    msg = {"role": "Human", "content": "x"}
    body: dict[str, Any] = {"messages": [msg]}
    session, query = "keep", ""
    if field in ("role", "content"):
        msg[field] = value
    elif field == "context":
        body["context"] = value
    elif field == "namespace":
        query = "?namespace=" + in_url(value)
    else:
        session = in_url(value)
    r = post(client, f"{prefix}/sessions/{session}/memory{query}", body)
    if check(client, before, r) and field != "namespace":
        memory = client.get(f"/sessions/{session}/memory").json()
        if field == "context":
            assert memory["context"] == value
        else:
            assert memory["messages"][0][field if field != "session" else "content"] == msg.get(
                field, "x"
            )


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    field=st.sampled_from(
        ["role", "content", "id", "meta_key", "meta_value", "user_id", "session"]
    ),
    value=hostile_text,
)
def test_native_text_fields(backend_client: httpx.Client, field: str, value: str) -> None:
    client = backend_client
    before = state(client)
    if field == "user_id":
        r = post(client, "/api/v1/sessions/keep", {"user_id": value}, method="PUT")
        if check(client, before, r):
            assert client.get("/api/v1/sessions/keep").json()["user_id"] == value
        return
    msg: dict[str, Any] = {"role": "user", "content": "x"}
    session = "keep"
    if field in ("role", "content", "id"):
        msg[field] = value
    elif field == "meta_key":
        msg["metadata"] = {value: 1}
    elif field == "meta_value":
        msg["metadata"] = {"k": value}
    else:
        session = in_url(value)
    r = post(client, f"/api/v1/sessions/{session}/messages", {"messages": [msg]})
    if check(client, before, r):
        stored = client.get(f"/api/v1/sessions/{session}/messages").json()["messages"][0]
        # What the JSON says: the \u escapes of a surrogate pair are one character.
        assert {k: stored[k] for k in msg} == json.loads(raw_json(msg))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(number=hostile_number, where=st.sampled_from(["message", "session"]))
def test_native_metadata_numbers(backend_client: httpx.Client, number: Any, where: str) -> None:
    client = backend_client
    before = state(client)
    meta = {"n": number, "nested": [{"n": number}]}
    if where == "message":
        msg = {"role": "user", "content": "x", "metadata": meta}
        r = post(client, "/api/v1/sessions/keep/messages", {"messages": [msg]})
        if check(client, before, r):
            stored = client.get("/api/v1/sessions/keep/messages").json()["messages"][0]
            assert stored["metadata"] == meta
    else:
        r = post(client, "/api/v1/sessions/keep", {"metadata": meta}, method="PUT")
        if check(client, before, r):
            assert client.get("/api/v1/sessions/keep").json()["metadata"] == meta
