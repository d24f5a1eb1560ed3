"""One OpenAPI document for the whole API.

FastAPI describes the native routes itself; the Motörhead routes are plain Starlette
endpoints (for speed) and the operations routes are plain too, so their operations are
described by hand (``openapi_motorhead`` and below) from the same pydantic models that
validate or shape their bodies. Every route that acts for a tenant declares the ways a
key can be presented, so Swagger UI offers to send one.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from memhead.api import examples
from memhead.api.openapi_motorhead import MODELS, motorhead_paths
from memhead.api.openapi_parts import JSON, component_schemas, content, operation, ref
from memhead.api.ops import Health, Readiness
from memhead.api.schemas import (
    AppendRequest,
    ErrorBody,
    MemoryOut,
    MessageList,
    SearchRequest,
    SearchResponse,
    SessionIn,
    SessionList,
    SessionOut,
    SummaryOut,
)
from memhead.api.store_schemas import STORE_MODELS

KEY = (
    "Needed only when the server runs with `MEMHEAD_AUTH=required`; make one with "
    "`memhead keys create`."
)
SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": f"`Authorization: Bearer <key>`. {KEY}",
    },
    "metalApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-metal-api-key",
        "description": f"The header Motörhead's hosted (Metal) clients send. {KEY}",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": f"The key in an `x-api-key` header. {KEY}",
    },
    "basic": {
        "type": "http",
        "scheme": "basic",
        "description": "Any user name, the key as the password: a client that only takes a URL "
        f"can carry the key in it (`http://key:<key>@host:8080`). {KEY}",
    },
}
# Any one of the schemes, or none ({}): authentication is off unless the server requires it.
NO_KEY: dict[str, list[str]] = {}
SECURITY = [*({name: []} for name in SECURITY_SCHEMES), NO_KEY]
UNAUTHORIZED = {
    "description": "No key, or not a live one (only with `MEMHEAD_AUTH=required`)",
    **content(ref(ErrorBody)),
}
NATIVE_MODELS = (
    *STORE_MODELS,
    AppendRequest,
    MemoryOut,
    MessageList,
    SearchRequest,
    SearchResponse,
    SessionIn,
    SessionList,
    SessionOut,
    SummaryOut,
)
OPEN_PATHS = {"/", "/healthz", "/readyz", "/metrics"}

TAGS = [
    {"name": "motorhead", "description": "Motörhead's API, for its existing clients."},
    {
        "name": "motorhead hosted",
        "description": "Motörhead's hosted (Metal) API: the same routes, each body wrapped "
        'as `{"data": ...}`.',
    },
    {"name": "native", "description": "memhead's own API: what new clients should call."},
    {
        "name": "store",
        "description": "Long-term memory items (namespaced JSON objects with search and a "
        "TTL) in LangGraph Platform's store shape: `langgraph_sdk`'s store client and "
        "`MemheadStore` speak it.",
    },
    {"name": "operations", "description": "For orchestrators and monitoring; no key needed."},
]


def ops_paths() -> dict[str, Any]:
    """Liveness, readiness and metrics: open without a key, meant for orchestrators."""
    return {
        "/healthz": {
            "get": operation(
                tag="operations",
                summary="Liveness",
                description="The process is alive; touches no backend.",
                ok=content(ref(Health), example=examples.HEALTH),
                errors=(),
            )
        },
        "/readyz": {
            "get": operation(
                tag="operations",
                summary="Readiness",
                description="Ready when the store takes writes (else 503). Also says whether "
                "summaries are configured and, with an embedder, how many messages wait for a "
                "vector (counted up to 1000) and how this process's embedding worker is doing.",
                ok=content(ref(Readiness), example=examples.READINESS),
                errors=(503,),
            )
        },
        "/metrics": {
            "get": operation(
                tag="operations",
                summary="Prometheus metrics",
                description="Requests, latencies, store operations, background work and "
                "provider tokens, in Prometheus' text format.",
                ok=content({"type": "string"}, example=examples.METRICS, media="text/plain"),
                errors=(),
            )
        },
    }


def secure(paths: dict[str, Any]) -> None:
    """Declare the key schemes (and the 401) on every operation that acts for a tenant."""
    for path, operations in paths.items():
        if path in OPEN_PATHS:
            continue
        for op in operations.values():
            op["security"] = SECURITY
            op["responses"].setdefault("401", UNAUTHORIZED)


def error_examples(paths: dict[str, Any]) -> None:
    """An example body for each error status, where the operation gives none."""
    for operations in paths.values():
        for op in operations.values():
            for status, response in op["responses"].items():
                body = response.get("content", {}).get(JSON)
                if status in examples.ERRORS and body is not None:
                    body.setdefault("example", {"error": examples.ERRORS[status]})


def restore_examples(schemas: dict[str, Any]) -> None:
    """FastAPI drops every null from the document it builds, examples included, so an
    example would lack a field its schema requires: put the models' own examples back."""
    for model in NATIVE_MODELS:
        for name in (model.__name__, f"{model.__name__}-Input", f"{model.__name__}-Output"):
            if name in schemas:
                schemas[name]["examples"] = model.model_json_schema()["examples"]


def install_openapi(app: FastAPI) -> None:
    """Serve one document at ``/openapi.json`` covering every route the app serves."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            paths = {**motorhead_paths(), **doc.get("paths", {}), **ops_paths()}
            secure(paths)
            error_examples(paths)
            doc["paths"] = paths
            doc["tags"] = TAGS
            components = doc.setdefault("components", {})
            schemas = component_schemas((*MODELS, Health, Readiness))
            components.setdefault("schemas", {}).update(schemas)
            restore_examples(components["schemas"])
            components["securitySchemes"] = SECURITY_SCHEMES
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
