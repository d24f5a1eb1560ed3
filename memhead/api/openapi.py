"""One OpenAPI document for the whole API.

FastAPI describes the native routes itself; the Motörhead routes are plain Starlette
endpoints (for speed), so their operations are described here from the same pydantic
models that validate their bodies.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from memhead.api.schemas import (
    ErrorBody,
    MotorheadHit,
    MotorheadMemory,
    MotorheadPost,
    MotorheadRetrievalQuery,
    Now,
    Status,
)
from memhead.memory import SESSION_ID_PATTERN
from memhead.text import NAME_CHARS, OPTIONAL_NAME_PATTERN

REF = "#/components/schemas/{model}"
SESSION_ID = {
    "name": "session_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "pattern": SESSION_ID_PATTERN},
    "description": "Any non-empty string without control characters, URL-encoded, matched exactly.",
}
NAMESPACE = {
    "name": "namespace",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "maxLength": NAME_CHARS, "pattern": OPTIONAL_NAME_PATTERN},
}


def _ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"$ref": REF.format(model=model.__name__)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _operation(
    summary: str,
    ok: dict[str, Any],
    *,
    params: list[dict[str, Any]] | None = None,
    body: type[BaseModel] | None = None,
    errors: tuple[int, ...] = (400, 404, 503),
    tag: str,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "tags": [tag],
        "summary": summary,
        "parameters": params or [],
        "responses": {
            "200": {"description": "OK", **_json(ok)},
            **{str(code): {"description": "Error", **_json(_ref(ErrorBody))} for code in errors},
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, **_json(_ref(body))}
    return op


def _motorhead_paths(prefix: str, wrap: bool, tag: str) -> dict[str, Any]:
    def out(schema: dict[str, Any]) -> dict[str, Any]:
        if not wrap:
            return schema
        return {"type": "object", "properties": {"data": schema}, "required": ["data"]}

    page: list[dict[str, Any]] = [
        {
            "name": "page",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        },
        {
            "name": "size",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
        },
        NAMESPACE,
    ]
    mem = [SESSION_ID, NAMESPACE]
    return {
        f"{prefix}/sessions": {
            "get": _operation(
                "Session ids, least recently written first",
                out({"type": "array", "items": {"type": "string"}}),
                params=page,
                tag=tag,
            )
        },
        f"{prefix}/sessions/{{session_id}}/memory": {
            "get": _operation(
                "Window (newest first), summary and tokens",
                out(_ref(MotorheadMemory)),
                params=[SESSION_ID],
                tag=tag,
            ),
            "post": _operation(
                "Append messages; a context replaces the summary",
                out(_ref(Status)),
                params=mem,
                body=MotorheadPost,
                errors=(400, 404, 413, 503),
                tag=tag,
            ),
            "delete": _operation(
                "Delete the session and everything of it", out(_ref(Status)), params=mem, tag=tag
            ),
        },
        f"{prefix}/sessions/{{session_id}}/retrieval": {
            "post": _operation(
                "Past messages of the session relevant to a text, best first (at most 10)",
                out({"type": "array", "items": _ref(MotorheadHit)}),
                params=[SESSION_ID],
                body=MotorheadRetrievalQuery,
                tag=tag,
            )
        },
    }


COMPAT_MODELS: tuple[type[BaseModel], ...] = (
    ErrorBody,
    MotorheadHit,
    MotorheadMemory,
    MotorheadPost,
    MotorheadRetrievalQuery,
    Now,
    Status,
)


def _compat_document() -> tuple[dict[str, Any], dict[str, Any]]:
    paths: dict[str, Any] = {
        "/": {
            "get": _operation("Liveness: the server's clock", _ref(Now), errors=(), tag="motorhead")
        },
        **_motorhead_paths("", False, "motorhead"),
        **_motorhead_paths("/v1/motorhead", True, "motorhead (hosted shape)"),
        "/v1/keys/current": {
            "get": _operation(
                "Credential check used by n8n",
                {"type": "object"},
                errors=(),
                tag="motorhead (hosted shape)",
            )
        },
    }
    schemas: dict[str, Any] = {}
    for model in COMPAT_MODELS:
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return paths, schemas


def install_openapi(app: FastAPI) -> None:
    """Serve one document at ``/openapi.json`` covering the native and the Motörhead routes."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            paths, schemas = _compat_document()
            doc["paths"] = {**paths, **doc.get("paths", {})}
            doc.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
