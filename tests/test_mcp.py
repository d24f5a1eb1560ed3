"""The MCP server through the official SDK's client: ``memhead mcp`` on stdio as a
subprocess, and Streamable HTTP at ``/mcp`` on a real ``memhead serve``, auth included."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from memhead.models import Item, ItemKey, SessionKey, now_ms
from memhead.stores.sqlite import SqliteStore
from tests.servers import MemheadProcess
from tests.test_auth import keys_for

TOOLS = {
    "add_messages",
    "get_session_memory",
    "search",
    "remember",
    "forget",
    "list_sessions",
    "delete_session",
}


def text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


def ok(result: CallToolResult) -> Any:
    assert not result.is_error, text(result)
    return result.structured_content


def failed(result: CallToolResult) -> str:
    assert result.is_error
    return text(result)


async def exercise(client: Client) -> str:
    """Every tool, as a model would call them; returns the key of the memory it leaves."""
    listed = (await client.list_tools()).tools
    assert {t.name for t in listed} == TOOLS
    for tool in listed:
        assert tool.description and len(tool.description) > 80, tool.name
        assert tool.input_schema["type"] == "object"
    add = next(t for t in listed if t.name == "add_messages")
    assert add.input_schema["required"] == ["session_id", "messages"]
    assert "ctx" not in add.input_schema["properties"]

    turns = [
        {"role": "user", "content": "My sister Inès lives in Porto."},
        {"role": "assistant", "content": "Noted: Inès, Porto."},
    ]
    added = ok(await client.call_tool("add_messages", {"session_id": "trip", "messages": turns}))
    assert added == {"session_id": "trip", "seqs": [1, 2], "message_count": 2}
    await client.call_tool(
        "add_messages",
        {"session_id": "other", "messages": [{"role": "user", "content": "I like tea"}]},
    )

    memory = text(await client.call_tool("get_session_memory", {"session_id": "trip"}))
    assert memory.endswith(
        "Most recent messages, oldest first:\n"
        "user: My sister Inès lives in Porto.\nassistant: Noted: Inès, Porto."
    )
    empty = await client.call_tool("get_session_memory", {"session_id": "nothing"})
    assert text(empty) == "No memory of session 'nothing' yet."

    found = ok(await client.call_tool("search", {"query": "where does Inès live?"}))
    assert found["mode"] == "keyword"  # no embedder configured
    top = found["hits"][0]
    assert (top["kind"], top["session_id"], top["seq"]) == ("message", "trip", 1)
    scoped = ok(await client.call_tool("search", {"query": "tea", "session_id": "trip"}))
    assert scoped["hits"] == []
    key = await exercise_memories(client)

    listed_sessions = ok(await client.call_tool("list_sessions", {}))["sessions"]
    assert [s["session_id"] for s in listed_sessions] == ["other", "trip"]
    assert listed_sessions[1]["message_count"] == 2

    gone = ok(await client.call_tool("delete_session", {"session_id": "other"}))
    assert gone == {"session_id": "other", "deleted": True}
    again = ok(await client.call_tool("delete_session", {"session_id": "other"}))
    assert again["deleted"] is False
    sessions = ok(await client.call_tool("list_sessions", {"limit": 5}))["sessions"]
    assert [s["session_id"] for s in sessions] == ["trip"]

    # Mistakes come back as tool errors with the API's message; the server carries on.
    empty_id = await client.call_tool("add_messages", {"session_id": "", "messages": turns})
    assert "session id must not be empty" in failed(empty_id)
    no_messages = await client.call_tool("add_messages", {"session_id": "s", "messages": []})
    assert "messages must not be empty" in failed(no_messages)
    bad_role = await client.call_tool(
        "add_messages", {"session_id": "s", "messages": [{"role": "", "content": "x"}]}
    )
    assert "role" in failed(bad_role)
    assert "limit" in failed(await client.call_tool("search", {"query": "x", "limit": 0}))
    # The same text rules as every other surface (memhead.text): a 4xx there, an error here.
    hostile = {"session_id": "s", "messages": [{"role": "us\x00er", "content": "x"}]}
    assert (await client.call_tool("add_messages", hostile)).is_error
    assert failed(await client.call_tool("search", {"query": "x", "user_id": "a\nb"}))
    assert ok(await client.call_tool("list_sessions", {}))["sessions"][0]["session_id"] == "trip"
    return key


async def exercise_memories(client: Client) -> str:
    """remember, forget, and search over messages and memories together."""
    fact = {"content": "Tiago prefers trains to planes", "metadata": {"topic": "travel"}}
    remembered = ok(await client.call_tool("remember", fact))
    assert remembered["namespace"] == ["memories"] and remembered["key"]
    cat = {"content": "Ana's cat is called Tiger", "namespace": ["users", "ana"], "key": "cat"}
    assert ok(await client.call_tool("remember", cat)) == {
        "namespace": ["users", "ana"],
        "key": "cat",
    }

    both = ok(await client.call_tool("search", {"query": "trains to Porto"}))["hits"]
    assert {h["kind"] for h in both} == {"message", "memory"}
    memory = next(h for h in both if h["kind"] == "memory")
    assert (memory["namespace"], memory["key"]) == (["memories"], remembered["key"])
    assert memory["content"] == "Tiago prefers trains to planes"
    assert memory["value"] == {"content": "Tiago prefers trains to planes", "topic": "travel"}
    assert memory["session_id"] is None and memory["score"] > 0
    message = next(h for h in both if h["kind"] == "message")
    assert (message["session_id"], message["namespace"]) == ("trip", None)
    assert message["seq"] in (1, 2)  # both mention Porto

    # Each scope narrows its own kind: a namespace, memories; a session, messages.
    in_users = ok(await client.call_tool("search", {"query": "Tiger", "namespace": ["users"]}))
    assert [(h["kind"], h["key"]) for h in in_users["hits"]] == [("memory", "cat")]
    in_trip = ok(await client.call_tool("search", {"query": "trains", "session_id": "trip"}))
    assert in_trip["hits"] == []

    cat["content"] = "Ana's cat is called Tigrou"  # the same key: an update
    ok(await client.call_tool("remember", cat))
    assert (
        ok(await client.call_tool("search", {"query": "Tiger", "namespace": ["users"]}))["hits"]
        == []
    )
    forgot = {"namespace": ["users", "ana"], "key": "cat"}
    assert ok(await client.call_tool("forget", forgot))["deleted"] is True
    assert ok(await client.call_tool("forget", forgot))["deleted"] is False
    assert ok(await client.call_tool("search", {"query": "Tigrou"}))["hits"] == []

    clash = {"content": "x", "metadata": {"content": "y"}}
    assert "metadata must not have a 'content' field" in failed(
        await client.call_tool("remember", clash)
    )
    dotted = await client.call_tool("remember", {"content": "x", "namespace": ["a.b"]})
    assert "namespace" in failed(dotted)
    assert (await client.call_tool("forget", {"namespace": [], "key": "k"})).is_error
    return str(remembered["key"])


async def stored_memory(db: Path, tenant: str, key: str) -> Item | None:
    store = SqliteStore(str(db))
    await store.setup()
    try:
        return await store.get_item(
            ItemKey(tenant, ("memories",), key), now=now_ms(), refresh=False
        )
    finally:
        await store.close()


async def stored_window(db: Path, tenant: str, session_id: str) -> list[str]:
    store = SqliteStore(str(db))
    await store.setup()
    try:
        memory = await store.memory(SessionKey(tenant, session_id), 10)
        return [m.content for m in memory.window]
    finally:
        await store.close()


def stdio_params(db: Path, *args: str) -> StdioServerParameters:
    env = {**os.environ, "MEMHEAD_STORE_URL": f"sqlite:///{db}", "MEMHEAD_AUTH": "required"}
    return StdioServerParameters(
        command=sys.executable, args=["-m", "memhead", "mcp", *args], env=env, cwd=db.parent
    )


async def test_stdio_serves_every_tool_for_its_tenant(tmp_path: Path) -> None:
    db = tmp_path / "stdio.db"
    async with Client(stdio_params(db, "--tenant", "team-a")) as client:
        key = await exercise(client)
    # What the tools wrote is the tenant's, in the configured store (auth has no say here:
    # whoever can start the command can open the file).
    assert await stored_window(db, "team-a", "trip") == [
        "Noted: Inès, Porto.",
        "My sister Inès lives in Porto.",
    ]
    assert await stored_window(db, "default", "trip") == []
    memory = await stored_memory(db, "team-a", key)
    assert memory is not None and memory.value["content"] == "Tiago prefers trains to planes"
    assert await stored_memory(db, "default", key) is None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemheadProcess]:
    """One server with auth on for the module; each test uses tenants of its own."""
    cwd = tmp_path_factory.mktemp("mcp")
    env = {"MEMHEAD_STORE_URL": f"sqlite:///{cwd / 'http.db'}", "MEMHEAD_AUTH": "required"}
    with MemheadProcess(env, cwd=cwd) as proc:
        yield proc.wait_ready()


async def new_keys(server: MemheadProcess, *tenants: str) -> list[str]:
    store = SqliteStore(str(server.log.parent / "http.db"))
    suffix = uuid.uuid4().hex[:8]
    return await asyncio.to_thread(keys_for, store, *(f"{t}-{suffix}" for t in tenants))


@asynccontextmanager
async def keyed(url: str, headers: dict[str, str]) -> AsyncIterator[Client]:
    """An SDK client sending ``headers`` (the API key) with every request."""
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
            yield client


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def test_streamable_http_serves_every_tool(server: MemheadProcess) -> None:
    (key,) = await new_keys(server, "t")
    async with keyed(server.url, bearer(key)) as client:
        await exercise(client)
    # The tools and the HTTP API are one memory.
    window = httpx.get(f"{server.url}/api/v1/sessions/trip/memory", headers=bearer(key))
    assert [m["content"] for m in window.json()["messages"]] == [
        "Noted: Inès, Porto.",
        "My sister Inès lives in Porto.",
    ]


async def test_tool_errors_carry_the_http_apis_message(server: MemheadProcess) -> None:
    (key,) = await new_keys(server, "t")
    long_id = "s" * 1025
    messages = [{"role": "user", "content": "hi"}]
    answer = httpx.post(
        f"{server.url}/api/v1/sessions/{long_id}/messages",
        json={"messages": messages},
        headers=bearer(key),
    )
    assert answer.status_code == 400
    async with keyed(server.url, bearer(key)) as client:
        result = await client.call_tool(
            "add_messages", {"session_id": long_id, "messages": messages}
        )
    assert answer.json()["error"] == "session id longer than 1024 characters"
    assert answer.json()["error"] in failed(result)


async def test_with_auth_the_key_picks_the_tenant(server: MemheadProcess) -> None:
    key_a, key_b = await new_keys(server, "a", "b")
    secret = {"session_id": "diary", "messages": [{"role": "user", "content": "zebra code"}]}
    note = {"content": "the zebra code is 1234", "namespace": ["vault"], "key": "zebra"}
    async with keyed(server.url, bearer(key_a)) as a:
        ok(await a.call_tool("add_messages", secret))
        ok(await a.call_tool("remember", note))
        kinds = [h["kind"] for h in ok(await a.call_tool("search", {"query": "zebra"}))["hits"]]
        assert sorted(kinds) == ["memory", "message"]

    async with keyed(server.url, {"x-api-key": key_b}) as b:
        assert ok(await b.call_tool("search", {"query": "zebra"}))["hits"] == []
        assert ok(await b.call_tool("list_sessions", {}))["sessions"] == []
        memory = await b.call_tool("get_session_memory", {"session_id": "diary"})
        assert text(memory) == "No memory of session 'diary' yet."
        gone = ok(await b.call_tool("delete_session", {"session_id": "diary"}))
        assert gone["deleted"] is False
        in_vault = {"query": "zebra", "namespace": ["vault"]}
        assert ok(await b.call_tool("search", in_vault))["hits"] == []
        forgot = ok(await b.call_tool("forget", {"namespace": ["vault"], "key": "zebra"}))
        assert forgot["deleted"] is False

    # Without a live key /mcp is shut like every data route: no tool call gets through.
    for headers in ({}, bearer("mh_wrong_key")):
        with pytest.raises(ExceptionGroup) as refused:
            async with keyed(server.url, headers) as stranger:
                await stranger.call_tool("list_sessions", {})
        assert refused.group_contains(MCPError, depth=None)
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    raw = httpx.post(f"{server.url}/mcp", json=ping)
    assert raw.status_code == 401 and "missing API key" in raw.json()["error"]
    wrong = httpx.post(f"{server.url}/mcp", json=ping, headers={"x-api-key": "mh_a_b"})
    assert wrong.status_code == 401 and "invalid or revoked" in wrong.json()["error"]

    # Stateless JSON: no GET stream (SSE) to open, no session to DELETE.
    for method in ("GET", "DELETE"):
        assert httpx.request(method, f"{server.url}/mcp", headers=bearer(key_a)).status_code == 405

    # Nothing above reached tenant a's conversation.
    async with keyed(server.url, bearer(key_a)) as a:
        memory_a = text(await a.call_tool("get_session_memory", {"session_id": "diary"}))
        vault = ok(await a.call_tool("search", {"query": "zebra", "namespace": ["vault"]}))
    assert memory_a.endswith("user: zebra code")
    assert [h["content"] for h in vault["hits"]] == ["the zebra code is 1234"]


async def test_a_lone_surrogate_sent_as_raw_json_rpc_never_reaches_the_store(
    server: MemheadProcess,
) -> None:
    """The SDK's client cannot even send one; a hand-made request can, and the SDK's JSON
    parser refuses it (a 400 parse error) before any tool runs. The tools' own arguments
    follow memhead.text's rules too (a control character in a role: see ``exercise``)."""
    (key,) = await new_keys(server, "t")
    call = (
        '{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "add_messages", '
        '"arguments": {"session_id": "raw", "messages": [{"role": "user", '
        '"content": "a\\udfffb"}]}}}'
    )
    headers = {
        **bearer(key),
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
    }
    answer = httpx.post(f"{server.url}/mcp", content=call.encode(), headers=headers)
    assert answer.status_code == 400, answer.text
    assert "surrogate" in answer.json()["error"]["message"]
    stored = httpx.get(f"{server.url}/api/v1/sessions/raw/messages", headers=bearer(key))
    assert stored.json()["messages"] == []
