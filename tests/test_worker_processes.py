"""Workers as real processes sharing one SQLite file, crashes included; the LangChain client
reading summaries written in the background."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from langchain_community.memory.motorhead_memory import MotorheadMemory

from memhead.models import NewMessage, Session, SessionKey
from memhead.stores.sqlite import SqliteStore
from tests.fake_openai import FakeOpenAI
from tests.servers import MemheadProcess

W = 12
MARK = re.compile(r"<<m(\d+)>>")


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def env_for(db: Path, fake: FakeOpenAI, **extra: str) -> dict[str, str]:
    return {
        "MEMHEAD_STORE_URL": f"sqlite:///{db}",
        "MEMHEAD_LLM_BASE_URL": fake.base_url,
        "MEMHEAD_LLM_MAX_RETRIES": "0",
        "MEMHEAD_WORKER_POLL": "0.05",
        "MOTORHEAD_MAX_WINDOW_SIZE": str(W),
        **extra,
    }


def fill(db: Path, sessions: int, messages: int) -> list[SessionKey]:
    async def run() -> list[SessionKey]:
        store = SqliteStore(str(db))
        await store.setup()
        keys = [SessionKey("default", f"s{i}") for i in range(sessions)]
        for key in keys:
            batch = [NewMessage("Human", f"<<m{n}>>") for n in range(1, messages + 1)]
            await store.append(key, batch, now=1, window=W)
        await store.close()
        return keys

    return asyncio.run(run())


def sessions(db: Path, keys: list[SessionKey]) -> list[Session]:
    async def run() -> list[Session]:
        store = SqliteStore(str(db))
        found = [await store.get_session(k) for k in keys]
        await store.close()
        return [s for s in found if s is not None]

    return asyncio.run(run())


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def test_two_worker_processes_compact_each_overflow_once(tmp_path: Path, fake: FakeOpenAI) -> None:
    db = tmp_path / "shared.db"
    keys = fill(db, sessions=12, messages=W + 2)
    fake.delay_s = 0.2
    env = env_for(db, fake)
    with (
        MemheadProcess(env, cwd=tmp_path, command=("worker",)),
        MemheadProcess(env, cwd=tmp_path, command=("worker",)),
    ):
        wait_for(lambda: all(s.upto_seq > 0 for s in sessions(db, keys)))
        time.sleep(0.5)  # a duplicate compaction would land in this time
    assert len(fake.calls) == len(keys)
    for s in sessions(db, keys):
        assert s.upto_seq == W + 2 - W // 2
        assert s.tokens == fake.tokens_per_call
        assert {int(n) for n in MARK.findall(s.summary or "")} == set(range(1, s.upto_seq + 1))


def test_worker_killed_mid_compaction_is_taken_over(tmp_path: Path, fake: FakeOpenAI) -> None:
    db = tmp_path / "crash.db"
    keys = fill(db, sessions=1, messages=W + 4)
    fake.delay_s = 30
    env = env_for(db, fake, MEMHEAD_LEASE="2")
    doomed = MemheadProcess(env, cwd=tmp_path, command=("worker",))
    try:
        wait_for(lambda: len(fake.calls) == 1)
        doomed.proc.send_signal(signal.SIGKILL)
        doomed.proc.wait(timeout=10)
    finally:
        doomed.stop()
    assert sessions(db, keys)[0].upto_seq == 0
    fake.delay_s = 0
    with MemheadProcess(env, cwd=tmp_path, command=("worker",)):
        wait_for(lambda: sessions(db, keys)[0].upto_seq > 0)
    s = sessions(db, keys)[0]
    assert s.upto_seq == W + 4 - W // 2
    assert s.tokens == fake.tokens_per_call  # the killed call was never counted
    assert {int(n) for n in MARK.findall(s.summary or "")} == set(range(1, s.upto_seq + 1))


def test_worker_stops_cleanly_on_sigterm_and_releases_its_lease(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    db = tmp_path / "term.db"
    keys = fill(db, sessions=1, messages=W + 4)
    fake.delay_s = 30
    env = env_for(db, fake, MEMHEAD_LEASE="600")
    worker = MemheadProcess(env, cwd=tmp_path, command=("worker",))
    wait_for(lambda: len(fake.calls) == 1)
    started = time.monotonic()
    assert worker.stop() == 0
    assert time.monotonic() - started < 10
    fake.delay_s = 0
    with MemheadProcess(env, cwd=tmp_path, command=("worker",)):
        # The lease (600 s) was released on SIGTERM, so the next worker need not wait for it.
        wait_for(lambda: sessions(db, keys)[0].upto_seq > 0, timeout=15)


def test_langchain_conversation_gets_a_summary_and_a_bounded_window(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    env = env_for(tmp_path / "lc.db", fake)
    with MemheadProcess(env, cwd=tmp_path) as server:
        server.wait_ready()
        memory = MotorheadMemory(url=server.url, session_id="chat", return_messages=True)
        asyncio.run(memory.init())
        for i in range(30):
            memory.save_context(
                {"input": f"question <<m{2 * i + 1}>>"}, {"output": f"a <<m{2 * i + 2}>>"}
            )

        def summarized() -> bool:
            got = httpx.get(f"{server.url}/api/v1/sessions/chat/summary").json()
            return bool(got["unsummarized"] <= W and got["summary"])

        wait_for(summarized)
        fresh = MotorheadMemory(url=server.url, session_id="chat", return_messages=True)
        asyncio.run(fresh.init())
        assert fresh.context and "<<m1>>" in fresh.context
        assert 0 < len(fresh.chat_memory.messages) <= W
        raw = httpx.get(f"{server.url}/sessions/chat/memory").json()
        assert len(raw["messages"]) <= W and raw["tokens"] > 0
        assert "llm=" in server.output() and "llm=none" not in server.output()
