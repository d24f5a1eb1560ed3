"""Several memhead processes on one real Redis: two servers and a standalone worker sharing
one memory (every one of them compacting), and a Redis outage in the middle of traffic.

Each test starts a Redis of its own: ``memhead serve`` takes its store from a URL, which
has no place for a key prefix, so a shared server could not keep tests apart.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import cycle
from pathlib import Path

import httpx
import pytest
from langchain_community.memory.motorhead_memory import MotorheadMemory

from tests.fake_openai import FakeOpenAI
from tests.redis_server import RedisServer
from tests.servers import MemheadProcess

W = 12
MARK = re.compile(r"<<s(\d+)m(\d+)>>")


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def marks(text: str | None) -> list[tuple[int, int]]:
    return [(int(s), int(m)) for s, m in MARK.findall(text or "")]


def load(url: str, session_id: str) -> MotorheadMemory:
    memory = MotorheadMemory(url=url, session_id=session_id, return_messages=True)
    asyncio.run(memory.init())
    return memory


def history(url: str, session_id: str) -> list[str]:
    """Every stored message's content, oldest first, through the native API."""
    page = httpx.get(f"{url}/api/v1/sessions/{session_id}/messages", params={"limit": 1000})
    page.raise_for_status()
    assert page.json()["next_before_seq"] is None
    return [m["content"] for m in reversed(page.json()["messages"])]


def folded_per_call(fake: FakeOpenAI) -> list[list[tuple[int, int]]]:
    """The (session, message) marks each provider call was given as new lines."""
    return [
        marks(call["json"]["messages"][-1]["content"].split("New lines:", 1)[1])
        for call in fake.calls
    ]


def assert_consistent_view(memory: MotorheadMemory, session: int, newest: int) -> None:
    """What one client sees: a summary of messages 1..k and a gap-free window ending at the
    newest message, after k."""
    window = [m for text in memory.chat_memory.messages for m in marks(str(text.content))]
    assert {s for s, _ in window} == {session}
    seqs = [m for _, m in window]
    assert seqs == list(range(seqs[0], newest + 1)) and len(seqs) <= W
    summarized = marks(memory.context)
    assert summarized == [(session, m) for m in range(1, len(summarized) + 1)]
    assert len(summarized) < seqs[0]


def chat_through_both(servers: list[MemheadProcess], turns: int) -> None:
    """The real LangChain client: each turn saved through one server, read through the other."""
    for i in range(turns):
        writer, reader = servers[i % 2], servers[(i + 1) % 2]
        memory = load(writer.url, "chat")
        memory.save_context(
            {"input": f"question <<s0m{2 * i + 1}>>"}, {"output": f"answer <<s0m{2 * i + 2}>>"}
        )
        assert_consistent_view(load(reader.url, "chat"), session=0, newest=2 * i + 2)


def post_turns(urls: list[str], session: int, turns: int) -> None:
    """Motörhead-style Human/AI pairs for one session, spread over the servers."""
    with httpx.Client(timeout=10) as client:
        for i, url in zip(range(turns), cycle(urls), strict=False):
            body = {
                "messages": [
                    {"role": "Human", "content": f"q <<s{session}m{2 * i + 1}>>"},
                    {"role": "AI", "content": f"a <<s{session}m{2 * i + 2}>>"},
                ]
            }
            client.post(f"{url}/sessions/s{session}/memory", json=body).raise_for_status()


def session_ids(sessions: int) -> list[str]:
    return ["chat", *(f"s{k}" for k in range(1, sessions))]


def settled(url: str, ids: list[str]) -> bool:
    for sid in ids:
        summary = httpx.get(f"{url}/api/v1/sessions/{sid}/summary").json()
        if summary["upto_seq"] == 0 or summary["unsummarized"] > W:
            return False
    return True


@pytest.mark.slow
def test_two_servers_and_a_worker_share_one_memory_and_compact_each_overflow_once(
    tmp_path: Path, fake: FakeOpenAI, redis_server: RedisServer
) -> None:
    fake.delay_s = 0.05  # calls overlap with polls of the other workers
    env = {
        "MEMHEAD_STORE_URL": redis_server.url,
        "MEMHEAD_LLM_BASE_URL": fake.base_url,
        "MEMHEAD_LLM_MAX_RETRIES": "0",
        "MEMHEAD_WORKER_POLL": "0.05",
        "MOTORHEAD_MAX_WINDOW_SIZE": str(W),
    }
    sessions, turns = 7, 32  # session 0 is the LangChain "chat"
    # A key per process tells which one made each provider call.
    with (
        MemheadProcess({**env, "MEMHEAD_LLM_API_KEY": "a"}, cwd=tmp_path) as a,
        MemheadProcess({**env, "MEMHEAD_LLM_API_KEY": "b"}, cwd=tmp_path) as b,
        MemheadProcess({**env, "MEMHEAD_LLM_API_KEY": "w"}, cwd=tmp_path, command=("worker",)),
    ):
        servers = [a.wait_ready(), b.wait_ready()]
        urls = [a.url, b.url]
        posters = [
            threading.Thread(target=post_turns, args=(urls[k % 2 :] + urls[: k % 2], k, turns))
            for k in range(1, sessions)
        ]
        for t in posters:
            t.start()
        chat_through_both(servers, turns)
        for t in posters:
            t.join(timeout=60)
        ids = session_ids(sessions)
        wait_for(lambda: settled(a.url, ids))
        time.sleep(1.0)  # a duplicate compaction would land in this time
        for sid in ids:
            assert history(a.url, sid) == history(b.url, sid)
        views = {sid: httpx.get(f"{b.url}/api/v1/sessions/{sid}/summary").json() for sid in ids}

    per_call = folded_per_call(fake)
    assert all(len({s for s, _ in call}) == 1 for call in per_call)  # one session per call
    folded = Counter(pair for call in per_call for pair in call)
    assert max(folded.values()) == 1  # no message given to the provider twice
    calls_of = Counter(call[0][0] for call in per_call)
    for k, sid in enumerate(ids):
        view = views[sid]
        expected = list(range(1, view["upto_seq"] + 1))
        assert sorted(m for s, m in folded if s == k) == expected
        assert [m for _, m in marks(view["summary"])] == expected
        assert view["tokens"] == fake.tokens_per_call * calls_of[k]
    assert sum(v["tokens"] for v in views.values()) == fake.tokens_per_call * len(fake.calls)
    callers = {call["headers"]["authorization"] for call in fake.calls}
    assert len(callers) >= 2, "the compactions were shared out between processes"


def test_redis_outage_answers_503_quickly_and_loses_no_acknowledged_write(
    tmp_path: Path,
) -> None:
    with RedisServer(appendonly=True) as redis_server:
        env = {"MEMHEAD_STORE_URL": redis_server.url}
        with MemheadProcess(env, cwd=tmp_path) as server:
            server.wait_ready()
            traffic = Traffic(server.url)
            traffic.start()
            wait_for(lambda: traffic.count(200) >= 20, timeout=20)
            redis_server.stop(kill=True)  # with appendfsync always, a crash loses no ack
            wait_for(lambda: traffic.count(503) >= 5, timeout=20)
            down = httpx.get(f"{server.url}/sessions/outage/memory", timeout=10)
            assert down.status_code == 503 and "error" in down.json()
            acked_before = traffic.count(200)
            redis_server.start()
            wait_for(lambda: traffic.count(200) >= acked_before + 20, timeout=30)
            traffic.stop()
            stored = history(server.url, "outage")

    assert set(traffic.acked) <= set(stored)
    assert len(stored) == len(set(stored))  # nothing stored twice
    assert set(traffic.statuses) == {200, 503}
    assert all(traffic.error_bodies), "every 503 carries a JSON error"
    assert max(traffic.durations) < 6.0, "no request hangs"


class Traffic(threading.Thread):
    """POSTs one new message after another; notes each status, duration and acked content."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.acked: list[str] = []
        self.statuses: list[int] = []
        self.durations: list[float] = []
        self.error_bodies: list[bool] = []
        self._halt = threading.Event()

    def count(self, status: int) -> int:
        return self.statuses.count(status)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            n = 0
            while not self._halt.is_set():
                n += 1
                content = f"write {n}"
                body = {"messages": [{"role": "Human", "content": content}]}
                started = time.monotonic()
                r = client.post("/sessions/outage/memory", json=body)
                self.durations.append(time.monotonic() - started)
                if r.status_code == 200:
                    self.acked.append(content)
                else:
                    self.error_bodies.append(isinstance(r.json().get("error"), str))
                    time.sleep(0.02)
                self.statuses.append(r.status_code)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)
