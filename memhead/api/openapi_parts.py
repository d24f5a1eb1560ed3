"""Building blocks for the operations memhead describes by hand (the Motörhead and the
operations routes are plain Starlette endpoints, which FastAPI cannot describe)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from memhead.api.schemas import ErrorBody

REF = "#/components/schemas/{model}"
JSON = "application/json"
ERROR_TEXT = {
    400: "Invalid request",
    404: "No such route",
    409: "The store was reindexed with another embedding model under this server",
    413: "Body too large",
    503: "The store cannot be reached",
}


def ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"$ref": REF.format(model=model.__name__)}


def content(
    schema: dict[str, Any],
    *,
    example: Any = None,
    examples: dict[str, Any] | None = None,
    media: str = JSON,
) -> dict[str, Any]:
    """A ``content`` map with one media type; ``examples`` maps a name to a value."""
    body: dict[str, Any] = {"schema": schema}
    if examples:
        body["examples"] = {name: {"value": value} for name, value in examples.items()}
    elif example is not None:
        body["example"] = example
    return {"content": {media: body}}


def operation(
    *,
    tag: str,
    summary: str,
    description: str,
    ok: dict[str, Any],
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    errors: tuple[int, ...] = (400, 404, 503),
) -> dict[str, Any]:
    """An operation answering 200 with ``ok`` (a ``content`` map) or an ``ErrorBody``."""
    op: dict[str, Any] = {
        "tags": [tag],
        "summary": summary,
        "description": description,
        "parameters": params or [],
        "responses": {
            "200": {"description": "OK", **ok},
            **{
                str(code): {"description": ERROR_TEXT[code], **content(ref(ErrorBody))}
                for code in errors
            },
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, **body}
    return op


def component_schemas(models: tuple[type[BaseModel], ...]) -> dict[str, Any]:
    """The JSON schemas of ``models`` (and the models they use), by name."""
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas
