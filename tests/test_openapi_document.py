"""The OpenAPI document as a reader of ``/docs`` uses it: every route there, every operation
described with examples that work, and the ways to present a key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema
import pytest

from memhead import Settings, create_app
from memhead.api import examples
from memhead.stores.sqlite import SqliteStore
from tests.servers import serve_in_thread
from tests.test_auth import walk

UNDOCUMENTED = {
    *("/openapi.json", "/docs", "/docs/static/{name}"),  # the docs themselves
    "/ui",  # the console's static files (it calls the documented API)
    "/mcp",  # MCP's own protocol (JSON-RPC), self-describing through tools/list: docs/mcp.md
}
OPEN = {"/", "/healthz", "/readyz", "/metrics"}
SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "metalApiKey": {"type": "apiKey", "in": "header", "name": "x-metal-api-key"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    "basic": {"type": "http", "scheme": "basic"},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("doc") / "doc.db"
    app = create_app(Settings(long_term_memory=True), store=SqliteStore(str(db)))
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(scope="module")
def doc(server: str) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{server}/openapi.json").json()
    return document


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield path, method.upper(), op


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def example_values(doc: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    """The examples a reader sees for one media type: its own, else its schema's."""
    if "example" in media:
        return [media["example"]]
    if "examples" in media:
        return [e["value"] for e in media["examples"].values()]
    return list(resolve(doc, media["schema"]).get("examples", []))


def success(op: dict[str, Any]) -> dict[str, Any] | None:
    responses = op["responses"]
    return responses.get("200") or responses.get("201")


def test_every_route_the_app_serves_is_documented(doc: dict[str, Any]) -> None:
    app = create_app(Settings(), store=SqliteStore(":memory:"))
    served = {
        (m, p.replace(":path}", "}")) for m, p in walk(app.routes, "") if p not in UNDOCUMENTED
    }
    documented = {(m, p) for p, m, _ in operations(doc)}
    assert served == documented
    assert {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")} <= documented


def test_every_operation_has_a_description_and_examples(doc: dict[str, Any]) -> None:
    for path, method, op in operations(doc):
        where = f"{method} {path}"
        assert len(op.get("description", "")) > 20, where
        for media in op.get("requestBody", {}).get("content", {}).values():
            assert example_values(doc, media), f"{where}: request body"
        ok = success(op)
        if ok is None:
            assert set(op["responses"]) & {"204"}, f"{where}: no success response"
            assert "content" not in op["responses"]["204"]
            continue
        assert ok["content"], where
        for media in ok["content"].values():
            assert example_values(doc, media), f"{where}: response"


def test_every_example_fits_its_schema(doc: dict[str, Any]) -> None:
    checked = 0
    for path, method, op in operations(doc):
        bodies = [op.get("requestBody", {}), *op["responses"].values()]
        for body in bodies:
            for media in body.get("content", {}).values():
                schema = {**media["schema"], "components": doc["components"]}
                validator = jsonschema.Draft202012Validator(schema)
                for value in example_values(doc, media):
                    errors = [e.message for e in validator.iter_errors(value)]
                    assert errors == [], f"{method} {path}: {value}"
                    checked += 1
    assert checked > 60


def test_security_schemes_and_where_they_apply(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert set(schemes) == set(SCHEMES)
    for name, expected in SCHEMES.items():
        assert expected.items() <= schemes[name].items()
        assert "MEMHEAD_AUTH=required" in schemes[name]["description"]
    for path, method, op in operations(doc):
        offered = {name for requirement in op.get("security", []) for name in requirement}
        if path in OPEN:
            assert "security" not in op, f"{method} {path}"
            continue
        assert offered == set(SCHEMES), f"{method} {path}"
        assert {} in op["security"]  # a key is needed only when the server requires one
        assert "401" in op["responses"], f"{method} {path}"


def concrete(path: str) -> str:
    return path.replace("{session_id}", quote(examples.SESSION_ID, safe=""))


def test_request_examples_are_accepted_by_the_server(server: str, doc: dict[str, Any]) -> None:
    sent = 0
    with httpx.Client(base_url=server, timeout=10) as client:
        for path, method, op in operations(doc):
            for media in op.get("requestBody", {}).get("content", {}).values():
                for value in example_values(doc, media):
                    r = client.request(method, concrete(path), json=value)
                    assert r.status_code in (200, 201, 204), (method, path, r.text)
                    sent += 1
        assert sent >= 13
        memory = client.get(f"/sessions/{examples.SESSION_ID}/memory").json()
        assert memory["context"] == examples.MOTORHEAD_POSTS["seed a summary"]["context"]


def test_operations_routes_answer_as_documented(server: str, doc: dict[str, Any]) -> None:
    components = doc["components"]
    for path in ("/healthz", "/readyz"):
        media = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        schema = {**media["schema"], "components": components}
        r = httpx.get(server + path)
        assert r.status_code == 200
        jsonschema.validate(r.json(), schema, cls=jsonschema.Draft202012Validator)
    metrics = httpx.get(server + "/metrics")
    assert "text/plain" in doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "memhead_http_requests_total" in metrics.text


def test_docs_assets_are_served_by_memhead(server: str, tmp_path: Path) -> None:
    page = httpx.get(f"{server}/docs")
    assert page.status_code == 200
    assert "http://" not in page.text.replace(server, "") and "https://" not in page.text
    for name, kind in [
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui.css", "text/css"),
        ("favicon.png", "image/png"),
    ]:
        asset = httpx.get(f"{server}/docs/static/{name}")
        assert asset.status_code == 200 and kind in asset.headers["content-type"], name
        again = httpx.get(
            f"{server}/docs/static/{name}", headers={"If-None-Match": asset.headers["etag"]}
        )
        assert again.status_code == 304
    missing = httpx.get(f"{server}/docs/static/..%2F..%2F__init__.py")
    assert missing.status_code == 404 and "error" in missing.json()
