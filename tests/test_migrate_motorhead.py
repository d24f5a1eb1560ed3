"""``memhead migrate-motorhead``: a Motörhead-shaped Redis, built with plain Redis commands the
way Motörhead wrote it, imported by the real command into SQLite and into Redis, then read
back by the real LangChain client from a real ``memhead serve``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis
from langchain_community.memory.motorhead_memory import MotorheadMemory

from memhead.motorhead_source import looks_like_session, parse
from tests.redis_server import RedisServer, free_port
from tests.servers import MemheadProcess

W = 12
T0 = 1_700_000_000  # Motörhead scores sessions by Unix seconds


@dataclass
class Expected:
    """A session as memhead must show it after the import."""

    messages: list[tuple[str, str]] = field(default_factory=list)  # oldest first
    context: str | None = None
    tokens: int = 0
    namespace: str = ""


def pairs(*turns: tuple[str, str]) -> list[tuple[str, str]]:
    return [m for human, ai in turns for m in (("Human", human), ("AI", ai))]


def post(
    r: redis.Redis,
    sid: str,
    messages: list[tuple[str, str]],
    *,
    at: int,
    namespace: str | None = None,
    context: str | None = None,
) -> None:
    """What Motörhead's POST /sessions/{id}/memory did: SET context, ZADD, LPUSH."""
    if context is not None:
        r.set(f"context:{sid}", context)
    r.zadd("sessions" if namespace is None else f"sessions:{namespace}", {sid: at})
    if messages:  # an empty POST failed here, after the two writes above
        r.lpush(f"session:{sid}", *[f"{role}: {content}" for role, content in messages])


def legacy_post(
    r: redis.Redis, sid: str, messages: list[tuple[str, str]], context: str | None = None
) -> None:
    """What older Motörhead versions did: ``{id}`` list and ``{id}_context``, no listing."""
    if context is not None:
        r.set(f"{sid}_context", context)
    r.lpush(sid, *[f"{role}: {content}" for role, content in messages])


def build_dataset(r: redis.Redis) -> dict[str, Expected]:
    e: dict[str, Expected] = {}
    chat = pairs(
        ("Bonjour, je m'appelle Zoë 🎸", "Enchanté, Zoë!"),
        ("key: value, and more: colons", "noted: colons: kept"),
        ("line one\nline two", "AI: is not a role here"),
    )
    post(r, "user-42", chat[:4], at=T0 + 1, context="they like jazz: and blues")
    post(r, "user-42", chat[4:], at=T0 + 10)
    r.incrby("tokens:user-42", 321)
    e["user-42"] = Expected(chat, "they like jazz: and blues", 321)

    red = pairs(("red team?", "yes"), ("sure", "ok"))
    post(r, "a:b:c", red, at=T0 + 2, namespace="team:red")
    e["a:b:c"] = Expected(red, namespace="team:red")

    uni = pairs(("¿qué tal? 日本語", "très bien ✓"), ("🙂", "🙃"))
    post(r, "with space ü 🎸", uni, at=T0 + 3, namespace="ns ü")
    e["with space ü 🎸"] = Expected(uni, namespace="ns ü")

    long = pairs(*[(f"q{i}", f"a{i}") for i in range(300)])  # more than one append batch
    for i in range(0, len(long), 2):
        post(r, "long-600", long[i : i + 2], at=T0 + 4)
    e["long-600"] = Expected(long)

    post(r, "ctx-only", [], at=T0 + 5, context="seeded summary")
    e["ctx-only"] = Expected(context="seeded summary")

    old = pairs(("from the old days", "indeed: long ago"))
    legacy_post(r, "old-chat", old, context="old summary")
    r.incrby("old-chat_tokens", 7)
    e["old-chat"] = Expected(old, "old summary", 7)
    legacy_post(r, "légacy id ü", [("user", "hi"), ("assistant", "hello")])
    e["légacy id ü"] = Expected([("user", "hi"), ("assistant", "hello")])

    legacy_post(r, "both", [("Human", "before the upgrade")])
    post(r, "both", [("Human", "after the upgrade")], at=T0 + 6, context="new context")
    e["both"] = Expected([("Human", "before the upgrade"), ("Human", "after the upgrade")])
    e["both"].context = "new context"

    # Other programs' keys in the same Redis: none of them is a session.
    r.lpush("celery", '{"body": "abc", "headers": {}}', '{"body": "def"}')
    r.lpush("rq:queue:default", "5f1c0f7e-2b49-4bd4-9d4e-1c5bd1f0a3c1")
    r.hset("some:hash", mapping={"a": "1"})
    r.set("unrelated", "x: y")
    r.zadd("leaderboard", {"user-42": 3})
    return e


def snapshot(url: str) -> dict[bytes, tuple[bytes | None, int]]:
    """Every key's serialized value and expiry: equal snapshots mean an untouched server."""
    with redis.Redis.from_url(url) as r:
        return {key: (r.dump(key), r.pttl(key)) for key in r.scan_iter(count=1000)}


@pytest.fixture(scope="module")
def source() -> Iterator[tuple[str, dict[str, Expected]]]:
    with RedisServer(search=False) as server, redis.Redis.from_url(server.url) as r:
        yield server.url, build_dataset(r)


@pytest.fixture(params=["sqlite", "redis"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    with RedisServer() as server:
        yield server.url


def migrate(store_url: str, source_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEMHEAD_STORE_URL": store_url, "MOTORHEAD_MAX_WINDOW_SIZE": str(W)}
    return subprocess.run(
        [sys.executable, "-m", "memhead", "migrate-motorhead", "--from", source_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def load(url: str, session_id: str) -> MotorheadMemory:
    memory = MotorheadMemory(url=url, session_id=session_id, return_messages=True)
    asyncio.run(memory.init())
    return memory


def history(url: str, session_id: str) -> list[tuple[str, str]]:
    got = httpx.get(f"{url}/api/v1/sessions/{session_id}/messages", params={"limit": 1000})
    got.raise_for_status()
    return [(m["role"], m["content"]) for m in reversed(got.json()["messages"])]


def listing(url: str, namespace: str) -> list[str]:
    got = httpx.get(f"{url}/sessions", params={"namespace": namespace, "size": 100})
    got.raise_for_status()
    ids: list[str] = got.json()
    return ids


def assert_imported(url: str, expected: dict[str, Expected]) -> None:
    for sid, exp in expected.items():
        assert history(url, sid) == exp.messages, sid
        memory = load(url, sid)  # the LangChain client: the window, oldest first
        window = [(m.type, m.content) for m in memory.chat_memory.messages]
        assert window == [("ai" if r == "AI" else "human", c) for r, c in exp.messages[-W:]]
        assert memory.context == exp.context, sid
        raw = httpx.get(f"{url}/sessions/{sid}/memory").json()
        assert raw["tokens"] == exp.tokens, sid
    assert listing(url, "team:red") == ["a:b:c"]
    assert listing(url, "ns ü") == ["with space ü 🎸"]
    default = listing(url, "")
    assert default[:4] == ["long-600", "ctx-only", "both", "user-42"]  # by Motörhead's times
    assert sorted(default[4:]) == sorted(["old-chat", "légacy id ü"])  # never listed: now


@pytest.mark.slow
def test_motorhead_dataset_is_imported_once_and_read_back_by_langchain(
    source: tuple[str, dict[str, Expected]], target: str, tmp_path: Path
) -> None:
    source_url, expected = source
    before = snapshot(source_url)
    first = migrate(target, source_url)
    assert first.returncode == 0, first.stderr
    total = sum(len(e.messages) for e in expected.values())
    contexts = sum(e.context is not None for e in expected.values())
    tokens = sum(e.tokens > 0 for e in expected.values())
    assert first.stdout.strip() == (
        f"migrated {len(expected)} sessions, {total} messages (0 already present), "
        f"{contexts} contexts, {tokens} token counts; skipped 2 other lists"
    )
    assert "migrate-motorhead [" in first.stderr and "100%" in first.stderr

    second = migrate(target, source_url)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == (
        f"migrated {len(expected)} sessions, 0 messages ({total} already present), "
        "0 contexts, 0 token counts; skipped 2 other lists"
    )
    assert snapshot(source_url) == before  # the source was only read

    env = {"MEMHEAD_STORE_URL": target, "MOTORHEAD_MAX_WINDOW_SIZE": str(W)}
    with MemheadProcess(env, cwd=tmp_path) as server:
        assert_imported(server.wait_ready().url, expected)


def test_messages_motorhead_added_between_two_runs_are_imported_once(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'again.db'}"
    with RedisServer(search=False) as server, redis.Redis.from_url(server.url) as r:
        post(r, "live", pairs(("one", "two")), at=T0)
        assert migrate(store_url, server.url).returncode == 0
        post(r, "live", pairs(("three", "four")), at=T0 + 1)  # Motörhead kept serving
        again = migrate(store_url, server.url)
    assert again.stdout.startswith("migrated 1 sessions, 2 messages (2 already present)")
    with MemheadProcess({"MEMHEAD_STORE_URL": store_url}, cwd=tmp_path) as memhead:
        got = [c for _, c in history(memhead.wait_ready().url, "live")]
    assert got == ["one", "two", "three", "four"]


def test_unreachable_source_fails_with_one_line(tmp_path: Path) -> None:
    done = migrate(f"sqlite:///{tmp_path / 'x.db'}", f"redis://127.0.0.1:{free_port()}/0")
    assert done.returncode == 1
    assert done.stderr.strip().startswith("memhead: cannot read the Motörhead Redis")
    assert len(done.stderr.strip().splitlines()) == 1


def test_source_must_be_a_redis_url(tmp_path: Path) -> None:
    done = migrate(f"sqlite:///{tmp_path / 'x.db'}", "http://example.invalid")
    assert done.returncode == 2 and "--from must be a redis://" in done.stderr


def test_an_element_splits_on_its_first_separator_only() -> None:
    assert parse(b"Human: key: value") == ("Human", "key: value")
    assert parse(b"AI: ") == ("AI", "")
    assert parse("user: ünï: ✓".encode()) == ("user", "ünï: ✓")
    assert parse(b"no separator") is None


def test_old_style_lists_are_sessions_only_when_every_element_has_a_role() -> None:
    assert looks_like_session([b"Human: hi", b"AI: hello: there", b"assistant: x"])
    assert not looks_like_session([])
    assert not looks_like_session([b"Human: hi", b"5f1c0f7e-2b49"])
    assert not looks_like_session([b'{"body": "abc"}'])
    assert not looks_like_session([b"a" * 65 + b": too long a role"])
