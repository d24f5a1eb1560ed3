"""Minimal apps for bench/http_stack.py: the same fixed JSON body on each HTTP layer."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = b'{"messages":[{"role":"AI","content":"hello"}],"context":null,"tokens":0}'


async def endpoint(request: Request) -> Response:
    return Response(BODY, media_type="application/json")


starlette_app = Starlette(routes=[Route("/sessions/{session_id:path}/memory", endpoint)])

fastapi_starlette_route = FastAPI()
fastapi_starlette_route.router.routes.append(Route("/sessions/{session_id:path}/memory", endpoint))

fastapi_route = FastAPI()


@fastapi_route.get("/sessions/{session_id}/memory")
async def fastapi_endpoint(session_id: str) -> dict[str, object]:
    return {"messages": [{"role": "AI", "content": "hello"}], "context": None, "tokens": 0}


async def floor_memory(request: Request) -> Response:
    """bench/load.py's floor: Motörhead's memory route with a fixed answer, body read."""
    if request.method == "POST":
        await request.body()
        return Response(b'{"status":"Ok"}', media_type="application/json")
    return Response(BODY, media_type="application/json")


floor_app = Starlette(
    routes=[Route("/sessions/{session_id:path}/memory", floor_memory, methods=["GET", "POST"])]
)
