"""No credential of a URL in any log line or response: the redaction, and a real server on a
Redis that requires a password, given in every URL form."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from memhead.redact import redact_url
from tests.redis_server import RedisServer, delete_prefix
from tests.servers import NO_PROVIDERS, MemheadProcess

SECRET = "s3cr3t-Pa55w0rd"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://default:pw@h:6379/0", "redis://default:***@h:6379/0"),
        ("redis://:pw@h:6379", "redis://:***@h:6379"),
        ("redis://h:6379/0?password=pw&db=1", "redis://h:6379/0?password=***&db=1"),
        ("rediss://u:pw@h:6380/0?ssl_cert_reqs=none", "rediss://u:***@h:6380/0?ssl_cert_reqs=none"),
        (
            "https://pw@h/v1?api-key=pw&X-Amz-Signature=pw",
            "https://***@h/v1?api-key=***&X-Amz-Signature=***",
        ),
        ("unix:///run/r.sock?password=pw", "unix:///run/r.sock?password=***"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("sqlite:///rel.db", "sqlite:///rel.db"),
        ("sqlite://:memory:", "sqlite://:memory:"),
        ("redis://[::1:pw@bad", "redis://***"),
    ],
)
def test_redact_url_masks_every_credential(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.fixture(scope="module")
def locked_redis() -> Iterator[RedisServer]:
    """A Redis of its own that refuses every client without ``SECRET``."""
    server = RedisServer(password=SECRET)
    try:
        server.start()
    except RuntimeError as exc:
        server.close()
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.close()


FORMS = {
    "user:pass@": ("MEMHEAD_STORE_URL", "redis://default:{pw}@127.0.0.1:{port}/0"),
    ":pass@": ("MEMHEAD_STORE_URL", "redis://:{pw}@127.0.0.1:{port}/0"),
    "?password=": ("REDIS_URL", "redis://127.0.0.1:{port}/0?password={pw}"),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_store_password_is_in_no_log_line_and_not_in_readyz(
    form: str, locked_redis: RedisServer, tmp_path: Path
) -> None:
    variable, template = FORMS[form]
    url = template.format(pw=SECRET, port=locked_redis.port)
    prefix = f"memhead-test-{uuid.uuid4().hex}"
    env = {**NO_PROVIDERS, variable: url, "MEMHEAD_REDIS_PREFIX": prefix}
    try:
        with MemheadProcess(env, cwd=tmp_path) as proc:
            proc.wait_ready(timeout=90)  # a loaded machine imports slowly
            post = {"messages": [{"role": "Human", "content": "hi"}]}
            assert httpx.post(f"{proc.url}/sessions/s/memory", json=post).status_code == 200
            ready = httpx.get(f"{proc.url}/readyz")
            assert ready.status_code == 200 and ready.json()["store"] == "redis"
            output = proc.output()
    finally:
        delete_prefix(f"redis://:{SECRET}@127.0.0.1:{locked_redis.port}/0", prefix)
    assert SECRET not in ready.text
    assert SECRET not in output
    assert "***" in output  # the startup line shows the URL, masked


def test_tls_store_url_password_is_in_no_log_line(tmp_path: Path) -> None:
    """``rediss://``: the test Redis has no TLS, so the server cannot start; what it says on
    the way out must not hold the password either."""
    env = {**NO_PROVIDERS, "MEMHEAD_STORE_URL": f"rediss://default:{SECRET}@127.0.0.1:1/0"}
    proc = MemheadProcess(env, cwd=tmp_path)
    deadline = time.monotonic() + 30
    while proc.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.stop()
    output = proc.output()
    assert output and SECRET not in output
