"""LangGraph Platform's store routes at ``/store``: long-term memory items, so that
``langgraph_sdk``'s store client (and ``MemheadStore``) work against memhead unchanged.
Thin adapters over ``ItemService``; the tenant is the request key's, as on the native API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from memhead.api import examples
from memhead.api.native import tenant, tenant_first
from memhead.api.responses import json_response
from memhead.api.schemas import ErrorBody
from memhead.api.store_schemas import (
    ItemOut,
    ItemPut,
    ItemRef,
    ItemSearch,
    NamespaceQuery,
    NamespacesOut,
    SearchItemsOut,
    item_body,
)
from memhead.api.tenancy import TenantResolver
from memhead.errors import NotFound
from memhead.items import checks
from memhead.items.service import ItemService

JSON = "application/json"
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in [
        (400, "Invalid request: a namespace, key, value, path or filter breaks a rule"),
        (413, "Body too large"),
        (422, "Body or parameters do not match the schema"),
        (503, "The store cannot be reached"),
    ]
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {
        "model": ErrorBody,
        "description": "No such item (or it expired)",
        "content": {JSON: {"example": {"error": examples.ITEM_NOT_FOUND}}},
    }
}
MISMATCH: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorBody,
        "description": "The store was reindexed with another embedding model under this server",
    }
}

Namespace = Annotated[
    str,
    Query(
        description="The namespace's labels joined with dots (`users.ada`).",
        json_schema_extra={"pattern": checks.DOTTED_NAMESPACE_PATTERN},
    ),
]
Key = Annotated[
    str,
    Query(
        json_schema_extra={
            "minLength": 1,
            "maxLength": checks.KEY_CHARS,
            "pattern": checks.KEY_PATTERN,
        }
    ),
]


def ok(model: type[Any], description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "description": description}}


def add(
    router: APIRouter,
    path: str,
    endpoint: Callable[..., Awaitable[Response]],
    method: str,
    responses: dict[int | str, dict[str, Any]] | None = None,
    *,
    status: int = 200,
) -> None:
    """A route answering with the ``Response`` its endpoint builds (bodies are written by
    ``item_body``, not re-validated); ``responses`` documents them."""
    router.add_api_route(
        path,
        endpoint,
        methods=[method],
        status_code=status,
        responses=responses,
        response_class=Response,
        response_model=None,
    )


class StoreEndpoints:
    def __init__(self, items: ItemService, tenant_of: TenantResolver) -> None:
        self.items = items
        self.tenant_of = tenant_of

    async def put_item(self, request: Request, body: ItemPut) -> Response:
        """Create or replace an item (`value` null deletes it). Keyword search finds it at
        once; with an embedder, search by meaning once the background worker has embedded
        it."""
        await self.items.put(
            tenant(request), body.namespace, body.key, body.value, index=body.index, ttl=body.ttl
        )
        return Response(status_code=204)

    async def get_item(
        self,
        request: Request,
        namespace: Namespace,
        key: Key,
        refresh_ttl: Annotated[
            bool | None,
            Query(description="Restart the item's TTL; absent: `MEMHEAD_ITEM_REFRESH_TTL`."),
        ] = None,
    ) -> Response:
        """One item; 404 when there is none (or it expired)."""
        labels = checks.dotted(namespace)
        item = await self.items.get(tenant(request), labels, key, refresh_ttl=refresh_ttl)
        if item is None:
            raise NotFound(f"no item {key!r} in namespace {list(labels)!r}")
        return json_response(item_body(item))

    async def delete_item(self, request: Request, body: ItemRef) -> Response:
        """Delete an item. Deleting what does not exist succeeds."""
        await self.items.delete(tenant(request), body.namespace, body.key)
        return Response(status_code=204)

    async def search_items(self, request: Request, body: ItemSearch) -> Response:
        """Items under `namespace_prefix` passing `filter`, a page of them: with a `query`,
        best first (keyword and, with an embedder, by meaning, fused), each with its
        `score`; without one, most recently updated first (`score` null)."""
        found = await self.items.search(
            tenant(request),
            body.namespace_prefix,
            query=body.query,
            filter=body.filter,
            limit=body.limit,
            offset=body.offset,
            refresh_ttl=body.refresh_ttl,
        )
        return json_response({"items": [{**item_body(f.item), "score": f.score} for f in found]})

    async def list_namespaces(self, request: Request, body: NamespaceQuery) -> Response:
        """The namespaces that hold items, sorted, a page of them: those starting with
        `prefix` and ending with `suffix` (`*` matches any one label), cut to `max_depth`
        labels."""
        found = await self.items.list_namespaces(
            tenant(request),
            prefix=body.prefix,
            suffix=body.suffix,
            max_depth=body.max_depth,
            limit=body.limit,
            offset=body.offset,
        )
        return json_response({"namespaces": [list(ns) for ns in found]})

    def router(self) -> APIRouter:
        r = APIRouter(
            prefix="/store",
            tags=["store"],
            responses=ERRORS,
            route_class=tenant_first(self.tenant_of),
        )
        add(r, "/items", self.put_item, "PUT", status=204)
        add(r, "/items", self.get_item, "GET", {**ok(ItemOut, "The item"), **NOT_FOUND})
        add(r, "/items", self.delete_item, "DELETE", status=204)
        found = {**ok(SearchItemsOut, "The items found"), **MISMATCH}
        add(r, "/items/search", self.search_items, "POST", found)
        add(r, "/namespaces", self.list_namespaces, "POST", ok(NamespacesOut, "The namespaces"))
        return r


def store_router(items: ItemService, tenant_of: TenantResolver) -> APIRouter:
    return StoreEndpoints(items, tenant_of).router()
