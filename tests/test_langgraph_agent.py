"""A LangGraph agent keeps its long-term memory in memhead: LangMem's memory tools over
``MemheadStore``, a chat model that calls them (a fake from ``langchain_core``: the only fake),
a real ``memhead serve``, and a second Python process that finds what the agent wrote. Also
the README's quickstart, run as written (the model swapped for the fake, as it needs a key)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langmem import create_manage_memory_tool, create_search_memory_tool

from memhead.integrations.langgraph import MemheadStore
from tests.item_deployments import ItemDeployment, item_deployment

ROOT = Path(__file__).resolve().parent.parent


class ToolCallingFakeModel(GenericFakeChatModel):
    """Answers with the scripted messages in turn (tool calls included); tools bind as is."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCallingFakeModel:
        return self


def call(tool: str, call_id: str, **args: Any) -> AIMessage:
    return AIMessage("", tool_calls=[{"name": tool, "args": args, "id": call_id}])


def scripted(*messages: BaseMessage) -> ToolCallingFakeModel:
    return ToolCallingFakeModel(messages=iter(messages))


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ItemDeployment]:
    with item_deployment(tmp_path_factory.mktemp("lgagent")) as running:
        yield running


SEARCH_IN_ANOTHER_PROCESS = """
import json, sys
from langmem import create_search_memory_tool
from memhead.integrations.langgraph import MemheadStore

url, key, user, query = sys.argv[1:]
with MemheadStore(url, api_key=key) as store:
    found = store.search(("memories", user), query=query)
    tool = create_search_memory_tool(("memories", "{user_id}"), store=store)
    answer = tool.invoke({"query": query}, {"configurable": {"user_id": user}})
print(json.dumps({"values": [item.value for item in found], "tool": answer}))
"""


def search_elsewhere(deployment: ItemDeployment, key: str, user: str, query: str) -> Any:
    got = subprocess.run(
        [sys.executable, "-c", SEARCH_IN_ANOTHER_PROCESS, deployment.url, key, user, query],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"},
    )
    assert got.returncode == 0, got.stderr
    return json.loads(got.stdout)


@pytest.fixture
def key(deployment: ItemDeployment) -> str:
    return deployment.new_key()


async def test_an_agent_remembers_and_another_process_finds_it(
    deployment: ItemDeployment, key: str
) -> None:
    namespace = ("memories", "{user_id}")
    model = scripted(
        call("manage_memory", "c1", action="create", content="Alice takes her coffee black"),
        call("manage_memory", "c2", action="create", content="Alice lives in Lyon"),
        AIMessage("Noted, black coffee and Lyon."),
    )
    async with MemheadStore(deployment.url, api_key=key) as store:
        agent = create_agent(
            model,
            tools=[create_manage_memory_tool(namespace), create_search_memory_tool(namespace)],
            store=store,
        )
        config = {"configurable": {"user_id": "alice"}}
        said = "I take my coffee black, and I live in Lyon."
        out = await agent.ainvoke({"messages": [{"role": "user", "content": said}]}, config)
        tool_answers = [m.content for m in out["messages"] if isinstance(m, ToolMessage)]
        assert all(str(a).startswith("created memory ") for a in tool_answers), tool_answers
        assert len(tool_answers) == 2 and out["messages"][-1].content.startswith("Noted")

    found = search_elsewhere(deployment, key, "alice", "coffee")
    assert found["values"][0] == {"content": "Alice takes her coffee black"}
    assert "Alice takes her coffee black" in found["tool"]
    assert search_elsewhere(deployment, key, "bob", "coffee") == {"values": [], "tool": "[]"}


def test_an_agent_updates_and_deletes_what_it_remembered(
    deployment: ItemDeployment, key: str
) -> None:
    """LangMem's update and delete actions address the item by the id the create returned."""
    namespace = ("memories", "{user_id}")
    config = {"configurable": {"user_id": "carol"}}
    with MemheadStore(deployment.url, api_key=key) as store:
        tools = [create_manage_memory_tool(namespace), create_search_memory_tool(namespace)]

        def run(*script: BaseMessage) -> list[str]:
            agent = create_agent(scripted(*script, AIMessage("ok")), tools=tools, store=store)
            said = {"messages": [{"role": "user", "content": "..."}]}
            out = agent.invoke(said, config)
            return [str(m.content) for m in out["messages"] if isinstance(m, ToolMessage)]

        created = run(call("manage_memory", "c1", action="create", content="Carol likes tea"))
        memory_id = re.fullmatch(r"created memory (\S+)", created[0]).group(1)  # type: ignore[union-attr]
        run(call("manage_memory", "c2", action="update", id=memory_id, content="Carol likes mate"))
        assert [i.value for i in store.search(("memories", "carol"))] == [
            {"content": "Carol likes mate"}
        ]
        searched = run(call("search_memory", "c3", query="mate"))
        assert "Carol likes mate" in searched[0]
        run(call("manage_memory", "c4", action="delete", id=memory_id))
        assert store.search(("memories", "carol")) == []


def quickstart() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    found = [b for b in blocks if "MemheadStore(" in b]
    assert found, "the README has no LangGraph quickstart (a python block using MemheadStore)"
    return found[0]


def test_the_readme_quickstart_runs_as_written(
    deployment: ItemDeployment, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    snippet = quickstart()
    assert snippet.count('"openai:gpt-4.1-mini"') == 1
    assert snippet.count('"http://localhost:8080"') == 1
    model = scripted(
        call("manage_memory", "c1", action="create", content="Alice takes her coffee black."),
        AIMessage("Noted."),
    )
    monkeypatch.setenv("MEMHEAD_API_KEY", key)  # the client's default key, as the docs say
    code = snippet.replace('"openai:gpt-4.1-mini"', "model").replace(
        '"http://localhost:8080"', repr(deployment.url)
    )
    printed, names = io.StringIO(), {"model": model}
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README quickstart", "exec"), names)
    names["store"].close()  # type: ignore[attr-defined]  # the snippet's process would end here
    assert printed.getvalue() == "Alice takes her coffee black.\n"
