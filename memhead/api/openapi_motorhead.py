"""The Motörhead routes in the OpenAPI document: what each does and the semantics its
clients rely on (see ``MOTORHEAD.md``), with examples, in both shapes: self-hosted at ``/``
and hosted (every body wrapped as ``{"data": ...}``) at ``/v1/motorhead``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from memhead.api import examples
from memhead.api.openapi_parts import content, operation, ref
from memhead.api.schemas import ErrorBody
from memhead.api.schemas_motorhead import (
    MotorheadHit,
    MotorheadMemory,
    MotorheadPost,
    MotorheadRetrievalQuery,
    Now,
    Status,
)
from memhead.memory import SESSION_ID_PATTERN
from memhead.text import NAME_CHARS, OPTIONAL_NAME_PATTERN

SESSION_ID: dict[str, Any] = {
    "name": "session_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "pattern": SESSION_ID_PATTERN},
    "description": "Any non-empty string without control characters, URL-encoded, matched exactly.",
    "example": examples.SESSION_ID,
}
NAMESPACE: dict[str, Any] = {
    "name": "namespace",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "maxLength": NAME_CHARS, "pattern": OPTIONAL_NAME_PATTERN},
    "description": "File the session under this list (`GET /sessions?namespace=`).",
}
PAGE: list[dict[str, Any]] = [
    {
        "name": "page",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1},
        "description": "Page number, from 1.",
    },
    {
        "name": "size",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
        "description": "Ids per page.",
    },
    {**NAMESPACE, "description": "Which list; without it, sessions posted without one."},
]
CLIENT_ID: dict[str, Any] = {
    "name": "x-metal-client-id",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "The hosted clients' client id; echoed back.",
}

MODELS: tuple[type[BaseModel], ...] = (
    ErrorBody,
    MotorheadHit,
    MotorheadMemory,
    MotorheadPost,
    MotorheadRetrievalQuery,
    Now,
    Status,
)

LIST = """The ids of the sessions in one namespace, least recently written first, one page at
a time (`page` from 1, `size` from 1 to 100; out of range is a 400). A session is filed under
the `namespace` of the last POST that named one; without any, under none."""
GET = """The session's memory: `messages` is the window (the most recent messages not yet
folded into the summary, **newest first**, at most the window size), `context` the running
summary of everything older (null until there is one), `tokens` the provider tokens spent
summarizing this session. Roles come back exactly as posted. An unknown session reads as
`{"messages": [], "context": null, "tokens": 0}`."""
POST = """Append `messages` (stored in the order given) to the session, creating it. The answer
comes as soon as they are stored: summarizing runs in the background once the window is full,
and every message stays either in the window or in the summary. `context` absent or null
keeps the summary; any string, `""` included, replaces it (to seed a conversation with a
summary). Empty `messages` is a 400 and stores nothing; unknown fields are ignored."""
DELETE = """Delete the session and everything of it: messages, summary and vectors. Deleting a
session that does not exist succeeds too."""
RETRIEVAL = """Messages of this session relevant to `text`, best first, at most 10. `dist` is a
distance, lower is closer, as Motörhead's clients read it: the cosine distance between the
query's and the message's vectors when the message has one (an embedder is configured and it
has been embedded), else `1 - 0.5 * score / best score` of this search (0.5 for the best match,
towards 1 for worse ones). By meaning and keyword with an embedder configured, by keyword
without one; a 409 when the store was reindexed with another embedding model under this
server (restart it with the new `MEMHEAD_EMBED_MODEL`). Needs
long-term memory (`MOTORHEAD_LONG_TERM_MEMORY=true`): without it, a 400."""
HOSTED = """

Hosted (Metal) shape: the same as the self-hosted route, with the response body wrapped as
`{"data": ...}`."""


def _wrapped(schema: dict[str, Any], example: Any, wrap: bool) -> dict[str, Any]:
    if not wrap:
        return content(schema, example=example)
    envelope = {"type": "object", "properties": {"data": schema}, "required": ["data"]}
    return content(envelope, example={"data": example})


def _memory_path(tag: str, wrap: bool) -> dict[str, Any]:
    extra = HOSTED if wrap else ""
    status = _wrapped(ref(Status), {"status": "Ok"}, wrap)
    return {
        "get": operation(
            tag=tag,
            summary="Window (newest first), summary and tokens",
            description=GET + extra,
            ok=_wrapped(ref(MotorheadMemory), examples.MOTORHEAD_MEMORY, wrap),
            params=[SESSION_ID],
        ),
        "post": operation(
            tag=tag,
            summary="Append messages; a context replaces the summary",
            description=POST + extra,
            ok=status,
            params=[SESSION_ID, NAMESPACE],
            body=content(ref(MotorheadPost), examples=examples.MOTORHEAD_POSTS),
            errors=(400, 404, 413, 503),
        ),
        "delete": operation(
            tag=tag,
            summary="Delete the session and everything of it",
            description=DELETE + extra,
            ok=status,
            params=[SESSION_ID, {**NAMESPACE, "description": "Accepted, and ignored."}],
        ),
    }


def _paths(prefix: str, tag: str, wrap: bool) -> dict[str, Any]:
    extra = HOSTED if wrap else ""
    hits = {"type": "array", "items": ref(MotorheadHit)}
    return {
        f"{prefix}/sessions": {
            "get": operation(
                tag=tag,
                summary="Session ids, least recently written first",
                description=LIST + extra,
                ok=_wrapped({"type": "array", "items": {"type": "string"}}, ["chat-41"], wrap),
                params=PAGE,
            )
        },
        f"{prefix}/sessions/{{session_id}}/memory": _memory_path(tag, wrap),
        f"{prefix}/sessions/{{session_id}}/retrieval": {
            "post": operation(
                tag=tag,
                summary="Past messages of the session relevant to a text, best first",
                description=RETRIEVAL + extra,
                ok=_wrapped(hits, examples.MOTORHEAD_HITS, wrap),
                params=[SESSION_ID],
                body=content(ref(MotorheadRetrievalQuery), example=examples.MOTORHEAD_QUERY),
                errors=(400, 404, 409, 503),
            )
        },
    }


def _key_check() -> dict[str, Any]:
    answer = {
        "type": "object",
        "properties": {
            "client_id": {"type": ["string", "null"]},
            "active": {"type": "boolean", "const": True},
        },
        "required": ["client_id", "active"],
    }
    return operation(
        tag="motorhead hosted",
        summary="Credential check used by n8n",
        description="n8n's Motörhead node calls this to test its credentials: any 2xx passes. "
        "With authentication on, a valid key answers 200 and anything else 401; with it off, "
        "every request answers 200.",
        ok=_wrapped(answer, {"client_id": "my-app", "active": True}, True),
        params=[CLIENT_ID],
        errors=(),
    )


def motorhead_paths() -> dict[str, Any]:
    """Every Motörhead operation, both shapes, plus the liveness route at ``/``."""
    now = operation(
        tag="motorhead",
        summary="Liveness: the server's clock",
        description='Answers `{"now": <milliseconds since the epoch>}` without touching any '
        "backend; Motörhead's clients and health checks call it.",
        ok=content(ref(Now), example={"now": 1764463200000}),
        errors=(),
    )
    return {
        "/": {"get": now},
        **_paths("", "motorhead", False),
        **_paths("/v1/motorhead", "motorhead hosted", True),
        "/v1/keys/current": {"get": _key_check()},
    }
