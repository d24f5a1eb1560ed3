"""The real LangChain client against a real ``memhead serve`` process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langchain_community.memory.motorhead_memory import MotorheadMemory

from tests.servers import MemheadProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MemheadProcess]:
    env = {"MEMHEAD_STORE_URL": f"sqlite:///{tmp_path / 'e2e.db'}"}
    with MemheadProcess(env, cwd=tmp_path) as proc:
        yield proc.wait_ready()


def load(url: str, session_id: str) -> MotorheadMemory:
    memory = MotorheadMemory(url=url, session_id=session_id, return_messages=True)
    asyncio.run(memory.init())
    return memory


TURNS = [
    ("Bonjour, je m'appelle Zoë 🎸", "Enchanté, Zoë!"),
    ("key: value, and more: colons", "noted: colons: kept"),
    ("line one\nline two", "ünïcødé ✓"),
]


def test_langchain_client_round_trip(server: MemheadProcess) -> None:
    memory = load(server.url, "lc-1")
    assert memory.chat_memory.messages == [] and memory.context is None

    for human, ai in TURNS:
        memory.save_context({"input": human}, {"output": ai})

    fresh = load(server.url, "lc-1")
    contents = [m.content for m in fresh.chat_memory.messages]
    assert contents == [text for turn in TURNS for text in turn]
    assert [m.type for m in fresh.chat_memory.messages] == ["human", "ai"] * len(TURNS)

    seeded = {"messages": [{"role": "Human", "content": "hi"}], "context": "they like jazz"}
    httpx.post(f"{server.url}/sessions/lc-1/memory", json=seeded).raise_for_status()
    assert load(server.url, "lc-1").context == "they like jazz"

    fresh.delete_session()
    emptied = load(server.url, "lc-1")
    assert emptied.chat_memory.messages == [] and emptied.context is None


def test_startup_log_names_store_llm_and_embedder(server: MemheadProcess) -> None:
    out = server.output()
    assert "store=sqlite" in out and "llm=none" in out and "embedder=none" in out


def test_invalid_setting_stops_startup_with_one_line_naming_it(tmp_path: Path) -> None:
    proc = MemheadProcess({"MOTORHEAD_MAX_WINDOW_SIZE": "1"}, cwd=tmp_path)
    assert proc.proc.wait(timeout=20) == 2
    proc.stop()
    lines = [line for line in proc.output().splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("memhead: invalid setting MOTORHEAD_MAX_WINDOW_SIZE")
