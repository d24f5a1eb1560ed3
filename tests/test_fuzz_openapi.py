"""Schemathesis against the app's own OpenAPI document: every operation, no 5xx, every
response conforming to its schema."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from starlette.types import ASGIApp

from memhead import Settings, create_app
from memhead.providers import build_embedder
from memhead.stores import Store
from memhead.stores.redis import RedisStore
from memhead.stores.sqlite import SqliteStore
from tests.fake_openai import FakeOpenAI
from tests.redis_server import delete_prefix
from tests.servers import serve_in_thread


def excluded(case: schemathesis.Case) -> list[object]:
    """Schema-valid requests the server rightly refuses: a session listing cursor is opaque
    (a random string that fits its schema is not a cursor the server made), and metadata may
    not hold integers beyond 64 bits (documented on the field; JSON Schema cannot say it)."""
    if "cursor" in (case.query or {}) or has_huge_int(case.body):
        return [positive_data_acceptance]
    return []


def has_huge_int(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not -(2**63) <= value < 2**64
    if isinstance(value, dict):
        return any(has_huge_int(v) for v in value.values())
    if isinstance(value, list):
        return any(has_huge_int(v) for v in value)
    return False


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_every_operation_conforms_and_never_5xx(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    store: Store = SqliteStore(str(tmp_path / "f.db"))
    if backend == "redis":
        url: str = request.getfixturevalue("redis_url")
        prefix = f"memhead-test-{uuid.uuid4().hex}"
        request.addfinalizer(lambda: delete_prefix(url, prefix))
        store = RedisStore.from_url(url, prefix=prefix)
    with FakeOpenAI() as fake:
        settings = Settings(long_term_memory=True, llm_base_url=fake.base_url, worker_poll_s=0.05)
        embedder = build_embedder(settings, "fake-embedding")
        fuzz(create_app(settings, store=store, embedder=embedder))


def fuzz(app: ASGIApp) -> None:
    with serve_in_thread(app) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 22
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
            def check(case: schemathesis.Case) -> None:
                case.call_and_validate(excluded_checks=excluded(case))

            check()
