"""The data lifecycle's routes under ``/api/v1``: erasing a user and exporting a tenant's
(or a user's) data as JSON lines. Thin adapters over ``memhead.lifecycle``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from memhead.api.native import ERRORS, tenant, tenant_first
from memhead.api.tenancy import TenantResolver
from memhead.items import checks
from memhead.lifecycle.erase import erase_user
from memhead.lifecycle.export import TenantStore, export_lines
from memhead.text import NAME_CHARS, NAME_PATTERN

UserId = Annotated[str, Path(min_length=1, max_length=NAME_CHARS, pattern=NAME_PATTERN)]


EXPORT_EXAMPLE = (
    '{"created_at":"2026-11-30T04:00:00.000+00:00","id":"chat-42","kind":"session",'
    '"metadata":null,"namespace":"","tenant":"default","ttl":null,'
    '"updated_at":"2026-11-30T04:00:05.000+00:00","user_id":"ada"}\n'
    '{"content":"When does my blue kettle ship?","created_at":"2026-11-30T04:00:05.000+00:00",'
    '"id":null,"kind":"message","metadata":null,"role":"user","seq":1,'
    '"session_id":"chat-42","tenant":"default"}\n'
)


class ErasedOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"user_id": "ada", "sessions": 2, "messages": 31, "summaries": 1, "items": 4}
            ]
        }
    )

    user_id: str
    sessions: int = Field(description="Sessions deleted, with everything of them.")
    messages: int = Field(description="Messages deleted with those sessions.")
    summaries: int = Field(description="Summaries deleted with those sessions.")
    items: int = Field(description="Memory items deleted under the namespaces named.")


class LifecycleEndpoints:
    def __init__(self, store: TenantStore, tenant_of: TenantResolver) -> None:
        self.store = store
        self.tenant_of = tenant_of

    async def erase_user(
        self,
        request: Request,
        user_id: UserId,
        namespace: Annotated[
            list[str] | None,
            Query(
                description="A namespace prefix, labels joined by dots (`users.ada`), whose "
                "memory items are deleted too (items have no user); repeat it for several.",
                json_schema_extra={
                    "items": {"type": "string", "pattern": checks.DOTTED_NAMESPACE_PATTERN}
                },
            ),
        ] = None,
    ) -> ErasedOut:
        """Delete every session of a user with everything derived from it (messages,
        summaries, vectors, search entries, listings), and every memory item under the
        namespaces named. Idempotent: erasing again answers zeros."""
        prefixes = [checks.dotted(n) for n in namespace or ()]  # all checked before any delete
        erased = await erase_user(self.store, tenant(request), user_id, prefixes)
        return ErasedOut(
            user_id=user_id,
            sessions=erased.sessions,
            messages=erased.messages,
            summaries=erased.summaries,
            items=erased.items,
        )

    async def export(
        self,
        request: Request,
        user_id: Annotated[
            str | None, Query(min_length=1, max_length=NAME_CHARS, pattern=NAME_PATTERN)
        ] = None,
    ) -> StreamingResponse:
        """The caller's tenant (or one user of it) as JSON lines, streamed: a `session`
        line, its `message` lines by seq, its `summary` line, session after session, then
        the tenant's memory items (`item` lines, by namespace then key; none in a user's
        export, as items have no user): the format of `memhead export`, which `memhead
        import` reads."""
        lines = export_lines(self.store, tenant(request), user_id=user_id)
        return StreamingResponse(lines, media_type="application/x-ndjson")

    def router(self) -> APIRouter:
        r = APIRouter(
            prefix="/api/v1",
            tags=["native"],
            responses=ERRORS,
            route_class=tenant_first(self.tenant_of),
        )
        r.add_api_route("/users/{user_id}", self.erase_user, methods=["DELETE"])
        r.add_api_route(
            "/export",
            self.export,
            methods=["GET"],
            response_class=StreamingResponse,
            responses={
                200: {
                    "content": {
                        "application/x-ndjson": {
                            "schema": {"type": "string"},
                            "example": EXPORT_EXAMPLE,
                        }
                    },
                    "description": "One JSON object per line",
                }
            },
        )
        return r


def lifecycle_router(store: TenantStore, tenant_of: TenantResolver) -> APIRouter:
    return LifecycleEndpoints(store, tenant_of).router()
