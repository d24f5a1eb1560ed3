"""Compaction on every backend (the ``CompactionStore`` roles as the worker uses them), through
the real openai SDK against a fake provider."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator

import pytest

from memhead.compaction import Compactor
from memhead.models import NewMessage, SessionKey
from memhead.providers import build_llm
from memhead.providers.base import LLM
from memhead.settings import Settings
from memhead.stores import Store
from memhead.tokens import build_token_counter
from memhead.worker import Worker
from tests.fake_openai import FakeOpenAI

KEY = SessionKey("t", "conv")
W = 12
MARK = re.compile(r"<<m(\d+)>>")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def llm(fake: FakeOpenAI) -> AsyncIterator[LLM]:
    settings = Settings(
        llm_base_url=fake.base_url, llm_max_retries=0, llm_timeout_s=5, llm_backoff_s=0.01
    )
    built = build_llm(settings)
    assert built is not None
    yield built
    await built.close()


def make_worker(store: Store, llm: LLM, clock: Clock, budget: int = 3000) -> Worker:
    compactor = Compactor(
        store, llm, build_token_counter("gpt-3.5-turbo"), window=W, budget=budget, clock=clock
    )
    return Worker(compactor, concurrency=2, lease_ms=30_000, backoff_ms=5_000, clock=clock)


async def post_turn(store: Store, i: int, clock: Clock) -> None:
    """A LangChain-style Human/AI pair; contents carry markers the fake summary repeats."""
    pair = [
        NewMessage("Human", f"question <<m{2 * i + 1}>>"),
        NewMessage("AI", f"answer <<m{2 * i + 2}>>"),
    ]
    await store.append(KEY, pair, now=clock(), window=W)


def folded_per_call(fake: FakeOpenAI) -> list[list[int]]:
    """The seqs each provider call was given as new lines (not via the previous summary)."""
    per_call = []
    for call in fake.calls:
        user = call["json"]["messages"][-1]["content"]
        new_lines = user.split("New lines:", 1)[1]
        per_call.append([int(n) for n in MARK.findall(new_lines)])
    return per_call


async def assert_partition(store: Store) -> tuple[int, set[int]]:
    """Every message is in the window or covered by the summary, never both, never neither."""
    session = await store.get_session(KEY)
    assert session is not None
    in_summary = {int(n) for n in MARK.findall(session.summary or "")}
    assert in_summary == set(range(1, session.upto_seq + 1))
    window = await store.memory(KEY, 10_000)
    assert {m.seq for m in window.window} == set(range(session.upto_seq + 1, session.last_seq + 1))
    return session.upto_seq, in_summary


async def test_hundred_turns_fold_every_message_exactly_once(
    store: Store, llm: LLM, fake: FakeOpenAI
) -> None:
    clock = Clock()
    worker = make_worker(store, llm, clock)
    for i in range(100):
        await post_turn(store, i, clock)
        clock.now += 1000
        await worker.run_pending()
        await assert_partition(store)
    upto, _ = await assert_partition(store)
    session = await store.get_session(KEY)
    assert session is not None
    assert session.last_seq == 200 and 200 - upto <= W
    memory = await store.memory(KEY, W)
    assert len(memory.window) <= W
    folded = [seq for call in folded_per_call(fake) for seq in call]
    assert sorted(folded) == list(range(1, upto + 1))  # each message given to the LLM once
    assert session.tokens == fake.tokens_per_call * len(fake.calls)


async def test_compaction_keeps_the_newest_half_window(
    store: Store, llm: LLM, fake: FakeOpenAI
) -> None:
    clock = Clock()
    for i in range(7):  # 14 messages > W
        await post_turn(store, i, clock)
    await make_worker(store, llm, clock).run_pending()
    session = await store.get_session(KEY)
    assert session is not None and session.upto_seq == 14 - W // 2
    assert len(fake.calls) == 1


async def test_chunks_are_chronological_and_each_gets_the_previous_summary(
    store: Store, llm: LLM, fake: FakeOpenAI
) -> None:
    clock = Clock()
    for i in range(20):
        await post_turn(store, i, clock)
    await make_worker(store, llm, clock, budget=40).run_pending()
    per_call = folded_per_call(fake)
    assert len(per_call) > 1
    flat = [seq for call in per_call for seq in call]
    assert flat == sorted(flat) == list(range(1, flat[-1] + 1))
    second = fake.calls[1]["json"]["messages"][-1]["content"]
    assert f"<<m{per_call[0][0]}>>" in second.split("New lines:")[0]
    await assert_partition(store)


async def test_oversized_message_is_truncated_for_the_prompt_and_never_blocks(
    store: Store, llm: LLM, fake: FakeOpenAI
) -> None:
    clock = Clock()
    huge = "<<m1>> " + "blah " * 20_000
    await store.append(KEY, [NewMessage("Human", huge)], now=clock(), window=W)
    for i in range(1, 8):
        await post_turn(store, i, clock)
    await make_worker(store, llm, clock, budget=500).run_pending()
    session = await store.get_session(KEY)
    assert session is not None and session.upto_seq >= 1 and session.last_error is None
    assert all(len(c["json"]["messages"][-1]["content"]) < 5000 for c in fake.calls)
    stored = await store.span(KEY, after_seq=0, through_seq=1)
    assert stored[0].content == huge  # the store keeps it whole


async def test_none_answer_keeps_the_previous_summary(
    store: Store, llm: LLM, fake: FakeOpenAI
) -> None:
    clock = Clock()
    await store.append(KEY, [NewMessage("Human", "x")], now=clock(), window=W, context="kept")
    for i in range(7):
        await post_turn(store, i, clock)
    fake.answer_next(" none \n")
    await make_worker(store, llm, clock).run_pending()
    session = await store.get_session(KEY)
    assert session is not None and session.summary == "kept" and session.upto_seq > 0


async def test_none_answer_without_previous_summary_stays_null(
    store: Store, llm: LLM, fake: FakeOpenAI
) -> None:
    clock = Clock()
    for i in range(7):
        await post_turn(store, i, clock)
    fake.answer_next("NONE")
    await make_worker(store, llm, clock).run_pending()
    session = await store.get_session(KEY)
    assert session is not None and session.summary is None and session.upto_seq > 0


async def test_appends_during_a_slow_compaction_are_all_kept(
    store: Store, llm: LLM, fake: FakeOpenAI
) -> None:
    clock = Clock()
    for i in range(7):
        await post_turn(store, i, clock)
    fake.delay_s = 0.5
    running = asyncio.create_task(make_worker(store, llm, clock).run_pending())
    await asyncio.sleep(0.2)
    for i in range(7, 12):
        await post_turn(store, i, clock)
    await running
    await assert_partition(store)
    session = await store.get_session(KEY)
    assert session is not None and session.last_seq == 24 and session.upto_seq > 0


async def test_delete_during_a_compaction_stays_deleted(
    store: Store, llm: LLM, fake: FakeOpenAI
) -> None:
    clock = Clock()
    for i in range(7):
        await post_turn(store, i, clock)
    fake.delay_s = 0.5
    running = asyncio.create_task(make_worker(store, llm, clock).run_pending())
    await asyncio.sleep(0.2)
    assert await store.delete_session(KEY)
    await running
    assert await store.get_session(KEY) is None
    assert await store.history(KEY, before_seq=None, limit=10) == []


async def test_context_posted_during_a_compaction_wins(
    store: Store, llm: LLM, fake: FakeOpenAI
) -> None:
    clock = Clock()
    for i in range(7):
        await post_turn(store, i, clock)
    fake.delay_s = 0.5
    worker = make_worker(store, llm, clock)
    running = asyncio.create_task(worker.compactor.compact(KEY))
    await asyncio.sleep(0.2)
    await store.append(KEY, [NewMessage("Human", "q")], now=clock(), window=W, context="mine")
    outcome = await running
    assert not outcome.committed  # the stale summary was discarded
    session = await store.get_session(KEY)
    assert session is not None and (session.summary, session.upto_seq) == ("mine", 0)
    assert session.tokens == 0
    fake.delay_s = 0
    await worker.run_pending()  # re-examined: the client's context is the base of the next one
    last_prompt = fake.calls[-1]["json"]["messages"][-1]["content"]
    assert last_prompt.startswith("Current summary:\nmine\n")
    await assert_partition(store)


async def test_provider_failures_back_off_are_visible_and_heal(
    store: Store, llm: LLM, fake: FakeOpenAI
) -> None:
    clock = Clock()
    worker = make_worker(store, llm, clock)
    for i in range(7):
        await post_turn(store, i, clock)
    fake.fail_next(2, status=500)
    await worker.run_pending()
    failed = await store.get_session(KEY)
    assert failed is not None
    assert failed.attempts == 1 and failed.last_error and "500" in failed.last_error
    assert failed.next_attempt_at is not None and failed.next_attempt_at >= clock() + 5_000
    calls = len(fake.calls)
    await post_turn(store, 7, clock)  # a POST does not trigger a retry storm
    await worker.run_pending()
    assert len(fake.calls) == calls
    clock.now = failed.next_attempt_at
    await worker.run_pending()
    second = await store.get_session(KEY)
    assert second is not None and second.attempts == 2
    assert second.next_attempt_at is not None
    assert second.next_attempt_at - clock.now >= 10_000  # doubled
    clock.now = second.next_attempt_at
    await worker.run_pending()
    healed = await store.get_session(KEY)
    assert healed is not None and healed.last_error is None and healed.attempts == 0
    assert healed.upto_seq > 0 and healed.last_compacted_at == clock.now
    await assert_partition(store)


async def test_leased_session_is_left_to_its_holder(
    store: Store, llm: LLM, fake: FakeOpenAI
) -> None:
    clock = Clock()
    for i in range(7):
        await post_turn(store, i, clock)
    assert await store.acquire_lease(KEY, owner="other", now=clock(), ttl_ms=10_000)
    worker = make_worker(store, llm, clock)
    await worker.run_pending()
    assert fake.calls == []
    clock.now += 10_001  # the other worker died: its lease expires
    await worker.run_pending()
    session = await store.get_session(KEY)
    assert session is not None and session.upto_seq > 0 and len(fake.calls) == 1
