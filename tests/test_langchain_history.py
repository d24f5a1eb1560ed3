"""``MemheadChatMessageHistory`` under ``RunnableWithMessageHistory``, with a fake chat model
from langchain_core, against a real server whose (fake) LLM summarizes: what the model is
prompted with is memhead's summary, then its window, then the new input."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory

from memhead.client import AsyncMemhead, Memhead
from memhead.integrations.langchain import MemheadChatMessageHistory
from tests.fake_openai import FakeOpenAI
from tests.servers import MemheadProcess

# The issue asks for RunnableWithMessageHistory, which langchain-core 1.x marks deprecated
# (in favour of LangGraph persistence) but still ships and runs.
pytestmark = pytest.mark.filterwarnings("ignore:RunnableWithMessageHistory is deprecated")
W = 4
MARK = re.compile(r"<<m\d+>>")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemheadProcess]:
    """One server (each test has its own sessions) whose fake LLM writes the summaries."""
    tmp_path = tmp_path_factory.mktemp("lc")
    with FakeOpenAI() as fake:
        env = {
            "MEMHEAD_STORE_URL": f"sqlite:///{tmp_path / 'lc.db'}",
            "MEMHEAD_LLM_BASE_URL": fake.base_url,
            "MEMHEAD_LLM_MAX_RETRIES": "0",
            "MEMHEAD_WORKER_POLL": "0.05",
            "MEMHEAD_WINDOW_SIZE": str(W),
        }
        with MemheadProcess(env, cwd=tmp_path) as proc:
            yield proc.wait_ready()


class Prompts(BaseCallbackHandler):
    """Records what each chat model call is given."""

    def __init__(self) -> None:
        self.seen: list[list[BaseMessage]] = []

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        **kw: Any,
    ) -> None:
        self.seen.extend(messages)


def chain_over(histories: Callable[[str], MemheadChatMessageHistory], answers: int) -> Any:
    model = GenericFakeChatModel(
        messages=iter([AIMessage(f"answer <<m{2 * i + 1}>>") for i in range(answers)])
    )
    prompt = ChatPromptTemplate.from_messages(
        [MessagesPlaceholder("history"), ("human", "{input}")]
    )
    return RunnableWithMessageHistory(
        prompt | model, histories, input_messages_key="input", history_messages_key="history"
    )


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_prompt_carries_the_summary_then_the_window(server: MemheadProcess) -> None:
    with Memhead(server.url) as mh:
        check_turns(mh)


def check_turns(mh: Memhead) -> None:
    chain = chain_over(lambda sid: MemheadChatMessageHistory(sid, client=mh), answers=6)
    prompts = Prompts()
    config: Any = {"configurable": {"session_id": "chat"}, "callbacks": [prompts]}
    for i in range(5):
        chain.invoke({"input": f"question <<m{2 * i}>>"}, config=config)

        def settled(turn: int = i) -> bool:
            status = mh.get_summary("chat")
            return status.unsummarized <= W and (status.summary is not None) == (turn >= 2)

        wait_for(settled)

    # The first turn had nothing before it; the second, the first turn verbatim.
    assert [m.content for m in prompts.seen[0]] == ["question <<m0>>"]
    assert [type(m) for m in prompts.seen[1]] == [HumanMessage, AIMessage, HumanMessage]

    memory = mh.get_memory("chat")
    chain.invoke({"input": "last <<m10>>"}, config=config)
    last = prompts.seen[-1]
    assert memory.summary and isinstance(last[0], SystemMessage)
    assert memory.summary in last[0].text
    window = [m.content for m in reversed(memory.messages)]
    assert 0 < len(window) <= W and len(window) % 2 == 0
    assert [m.text for m in last[1:-1]] == window
    assert [m.type for m in last[1:-1]] == ["human", "ai"] * (len(window) // 2)
    assert last[-1].text == "last <<m10>>"
    # Every earlier turn is in the prompt exactly once: in the summary or in the window.
    in_summary = MARK.findall(memory.summary)
    in_window = MARK.findall(" ".join(window))
    assert sorted(in_summary + in_window) == sorted(f"<<m{i}>>" for i in range(10))


def test_full_history_reads_every_message_in_order(server: MemheadProcess) -> None:
    with Memhead(server.url) as mh:
        history = MemheadChatMessageHistory("long", client=mh, window_only=False)
        sent = [HumanMessage(f"q{i}") if i % 2 == 0 else AIMessage(f"a{i}") for i in range(9)]
        history.add_messages(sent)
        got = history.messages
        assert [m.text for m in got] == [m.text for m in sent]
        assert [type(m) for m in got] == [type(m) for m in sent]
        windowed = MemheadChatMessageHistory("long", client=mh)
        assert len([m for m in windowed.messages if not isinstance(m, SystemMessage)]) <= W
        history.clear()
        assert history.messages == [] and windowed.messages == []


def test_tool_calls_and_other_roles_come_back_as_they_went(server: MemheadProcess) -> None:
    history = MemheadChatMessageHistory("tools", base_url=server.url, window_only=False)
    sent: list[BaseMessage] = [
        SystemMessage("be brief"),
        HumanMessage("what is 6 times 7?", id="h-1"),
        AIMessage("", tool_calls=[{"name": "mul", "args": {"a": 6, "b": 7}, "id": "call-1"}]),
        ToolMessage("42", tool_call_id="call-1", name="mul"),
        AIMessage("42"),
        ChatMessage(role="critic", content="correct"),
    ]
    history.add_messages(sent)
    history.add_messages(sent[1:2])  # the same message id again: stored once
    history.add_messages([])
    got = history.messages
    assert [type(m) for m in got] == [type(m) for m in sent]
    assert got[1].id == "h-1"
    assert isinstance(got[2], AIMessage) and got[2].tool_calls[0]["args"] == {"a": 6, "b": 7}
    assert isinstance(got[3], ToolMessage) and got[3].tool_call_id == "call-1"
    assert isinstance(got[5], ChatMessage) and got[5].role == "critic"
    history.client.close()


async def test_async_turns_through_the_async_client(server: MemheadProcess) -> None:
    async with AsyncMemhead(server.url) as amh:
        chain = chain_over(lambda sid: MemheadChatMessageHistory(sid, async_client=amh), answers=2)
        prompts = Prompts()
        config: Any = {"configurable": {"session_id": "async"}, "callbacks": [prompts]}
        await chain.ainvoke({"input": "hello <<m0>>"}, config=config)
        await chain.ainvoke({"input": "again <<m2>>"}, config=config)
        assert [m.text for m in prompts.seen[1]] == [
            "hello <<m0>>",
            "answer <<m1>>",
            "again <<m2>>",
        ]
        history = MemheadChatMessageHistory("async", async_client=amh, window_only=False)
        assert len(await history.aget_messages()) == 4
        await history.aclear()
        assert await history.aget_messages() == []
        assert history.client.base_url == server.url  # a sync client follows the async one
        assert history.messages == []
        history.client.close()
