"""HTTP at the edges: CORS, 413 reaching an ordinary client, trailing slashes, content types,
slow and vanishing clients, authentication order, duplicate credentials."""

from __future__ import annotations

import json
import select
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from memhead.auth import create_key
from memhead.errors import ConfigError
from memhead.settings import load_settings
from memhead.stores.sqlite import SqliteStore
from tests.conftest import ClientFactory
from tests.servers import NO_PROVIDERS, MemheadProcess

ONE = {"messages": [{"role": "Human", "content": "hi"}]}
APP = "https://app.example.com"
PREFLIGHT = {
    "origin": APP,
    "access-control-request-method": "POST",
    "access-control-request-headers": "content-type, authorization",
}


def test_cors_preflight_and_responses_for_configured_origins(make_client: ClientFactory) -> None:
    client = make_client(cors_origins=f"{APP}, https://other.example")
    for path in ("/sessions/s/memory", "/v1/motorhead/sessions/s/memory", "/api/v1/sessions/s"):
        r = client.options(path, headers=PREFLIGHT)
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == APP
        assert "POST" in r.headers["access-control-allow-methods"]
        assert "authorization" in r.headers["access-control-allow-headers"].lower()
    r = client.post("/sessions/s/memory", json=ONE, headers={"origin": APP})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == APP
    assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
    refused = client.options("/sessions/s/memory", headers={**PREFLIGHT, "origin": "https://evil"})
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    # the edge's own refusals are readable by the page too
    r = client.post("/sessions/s/memory", content=b"x", headers={"origin": APP})
    assert r.status_code == 415 and r.headers["access-control-allow-origin"] == APP


def test_cors_is_off_by_default(client: httpx.Client) -> None:
    r = client.options("/sessions/s/memory", headers=PREFLIGHT)
    assert r.status_code == 405 and "error" in r.json()
    r = client.get("/sessions/s/memory", headers={"origin": APP})
    assert "access-control-allow-origin" not in r.headers


def test_cors_star_allowed_with_auth_off_only(
    make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(cors_origins="*")
    assert client.options("/sessions/s/memory", headers=PREFLIGHT).status_code == 200
    monkeypatch.setenv("MEMHEAD_CORS_ORIGINS", "*")
    monkeypatch.setenv("MEMHEAD_AUTH", "required")
    with pytest.raises(ConfigError, match="MEMHEAD_CORS_ORIGINS.*MEMHEAD_AUTH=required"):
        load_settings()
    monkeypatch.setenv("MEMHEAD_CORS_ORIGINS", APP)
    assert load_settings().cors_origin_list == [APP]


@pytest.mark.parametrize("mib", [3, 5, 12])
def test_413_reaches_urllib_as_json(client: httpx.Client, mib: int) -> None:
    """urllib sends the whole body before it reads: the answer must wait for it."""
    request = urllib.request.Request(
        str(client.base_url).rstrip("/") + "/sessions/s/memory",
        data=b" " * (mib * 1024 * 1024),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 413
    assert "larger than" in json.loads(caught.value.read())["error"]


def test_trailing_slashes_route_to_the_same_handler(client: httpx.Client) -> None:
    assert client.post("/sessions/s/memory/", json=ONE).json() == {"status": "Ok"}
    assert client.post("/v1/motorhead/sessions/s/memory/", json=ONE).status_code == 200
    assert client.get("/sessions/").json() == client.get("/sessions").json() == ["s"]
    assert len(client.get("/sessions/s/memory/").json()["messages"]) == 2
    assert client.get("/api/v1/sessions/s/").json()["id"] == "s"
    assert client.get("/api/v1/sessions/").json()["sessions"][0]["id"] == "s"
    assert client.get("/readyz/").json()["status"] == "ok"
    # an id that really ends in a slash is sent encoded
    r = client.post("/api/v1/sessions/x%2F/messages", json={"messages": [ONE["messages"][0]]})
    assert r.status_code == 201
    assert client.get("/api/v1/sessions/x%2F").json()["id"] == "x/"
    for r in (client.get("/nope/"), client.delete("/sessions/")):
        assert r.status_code in (404, 405) and "error" in r.json()


def test_real_client_content_types_are_accepted(client: httpx.Client) -> None:
    for content_type in ("application/json", "application/json; charset=utf-8", "Application/JSON"):
        r = client.post(
            "/sessions/s/memory", content=json.dumps(ONE), headers={"content-type": content_type}
        )
        assert r.status_code == 200, content_type
    r = client.put(
        "/api/v1/sessions/s", content=b"{}", headers={"content-type": "application/merge+json"}
    )
    assert r.status_code == 200


def raw_request(url: str, head: bytes, body: bytes) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "", parts.port or 80))
    sock.sendall(head + b"\r\n\r\n" + body)
    return sock


def read_all(sock: socket.socket, timeout: float = 10) -> bytes:
    """Everything the server sends until it closes the connection."""
    with sock:
        sock.settimeout(timeout)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data


def test_a_chunked_body_over_the_limit_that_arrives_at_once_is_a_413(
    make_client: ClientFactory,
) -> None:
    """The whole chunked body (no length declared) lands in one read: the answer comes at
    once, not after the server waited for more of a body that has ended."""
    client = make_client(max_body_bytes=4096, body_timeout_s=30)
    head = (
        b"POST /sessions/s/memory HTTP/1.1\r\nhost: x\r\nconnection: close\r\n"
        b"content-type: application/json\r\ntransfer-encoding: chunked"
    )
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (5000, b" " * 5000)
    started = time.monotonic()
    answer = read_all(raw_request(str(client.base_url), head, body))
    assert answer.startswith(b"HTTP/1.1 413 ") and b'"error"' in answer
    assert time.monotonic() - started < 5
    assert client.get("/sessions").json() == []


def test_slow_body_is_a_408_and_the_connection_closes(make_client: ClientFactory) -> None:
    client = make_client(body_timeout_s=0.5)
    head = (
        b"POST /api/v1/sessions/s/messages HTTP/1.1\r\nhost: x\r\n"
        b"content-type: application/json\r\ncontent-length: 100000"
    )
    socks = [raw_request(str(client.base_url), head, b'{"me') for _ in range(20)]
    started = time.monotonic()
    answers = [read_all(s) for s in socks]  # read_all returns when the server closes
    assert time.monotonic() - started < 8
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b'"error"' in answer and b"connection: close" in answer.lower()
    assert client.get("/api/v1/sessions/s").status_code == 404


def test_a_trickling_body_gets_the_whole_body_timeout_not_one_per_chunk(
    make_client: ClientFactory,
) -> None:
    client = make_client(body_timeout_s=1)
    head = (
        b"POST /sessions/s/memory HTTP/1.1\r\nhost: x\r\n"
        b"content-type: application/json\r\ncontent-length: 1000"
    )
    sock = raw_request(str(client.base_url), head, b"{")
    started = time.monotonic()
    with sock:
        while not select.select([sock], [], [], 0.2)[0]:  # one byte every 0.2 s, forever
            sock.sendall(b" ")
            assert time.monotonic() - started < 5, "no answer within 5 s"
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408 ") and time.monotonic() - started < 3


def test_client_gone_mid_body_is_no_error_and_no_5xx(tmp_path: Path) -> None:
    env = {**NO_PROVIDERS, "MEMHEAD_STORE_URL": f"sqlite:///{tmp_path / 'd.db'}"}
    with MemheadProcess(env, cwd=tmp_path) as proc:
        proc.wait_ready(timeout=90)
        for path in (b"/sessions/s/memory", b"/api/v1/sessions/s/messages"):
            for _ in range(10):
                head = (
                    b"POST " + path + b" HTTP/1.1\r\nhost: x\r\n"
                    b"content-type: application/json\r\ncontent-length: 100000"
                )
                sock = raw_request(proc.url, head, b'{"messages"')
                time.sleep(0.05)
                sock.close()
        time.sleep(0.5)
        metrics = httpx.get(proc.url + "/metrics").text
        output = proc.output()
    counted = [line for line in metrics.splitlines() if line.startswith("memhead_http_requests")]
    assert sum(float(line.split()[-1]) for line in counted if 'status="499"' in line) == 20
    assert not any('status="5' in line for line in counted)
    assert "ERROR" not in output and "Traceback" not in output


async def test_native_routes_authenticate_before_reading_the_body(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    store = SqliteStore(str(tmp_path / "auth.db"))
    await store.setup()
    _, key = await create_key(store, "t1", "test")
    await store.close()
    client = make_client(store=SqliteStore(str(tmp_path / "auth.db")), auth="required")
    bad_bodies = [b"{not json", b'{"messages": []}', b'{"messages":[{"role":"\\udfff"}]}']
    for path in ("/api/v1/sessions/s/messages", "/api/v1/search"):
        for body in bad_bodies:
            r = client.post(path, content=body, headers={"content-type": "application/json"})
            assert r.status_code == 401, (path, body, r.text)
    r = client.put(
        "/api/v1/sessions/s", content=b"{bad", headers={"content-type": "application/json"}
    )
    assert r.status_code == 401
    authed = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    r = client.post("/api/v1/sessions/s/messages", content=b"{not json", headers=authed)
    assert r.status_code == 422
    # two Authorization headers: which one is meant is anyone's guess
    twice = [("authorization", f"Bearer {key}"), ("authorization", "Bearer mh_other_x")]
    for path in ("/api/v1/sessions", "/sessions", "/v1/motorhead/sessions"):
        r = client.get(path, headers=twice)
        assert r.status_code == 400 and "one authorization header" in r.json()["error"]
    twice_metal = [("x-metal-api-key", key), ("x-metal-api-key", key)]
    assert client.get("/sessions", headers=twice_metal).status_code == 400
    assert client.get("/sessions", headers={"authorization": f"Bearer {key}"}).status_code == 200
