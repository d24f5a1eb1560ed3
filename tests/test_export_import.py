"""Export and import through the real commands and routes: SQLite -> Redis -> the same
file, idempotent imports, the LangChain client seeing the same memory on both backends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import orjson
import pytest
from langchain_community.memory.motorhead_memory import MotorheadMemory

from memhead.models import NewMessage, SessionKey
from memhead.stores.sqlite import SqliteStore
from tests.lifecycle_helpers import W, assert_sound, memhead, store_env
from tests.servers import MemheadProcess

ITEMS = [  # put in this order; exported by namespace, then key
    (["users", "ada"], "pref", {"text": "likes oolong tea"}, None),
    (["users", "ada", "notes"], "a", {"text": "an aardvark note", "n": 1.5}, 60),
    (["users", "ada"], "diet", {"text": "no peanuts ✓"}, 90.5),
    (["users"], "z", {"text": "zither"}, None),
]
ITEM_ORDER = [(["users"], "z"), (["users", "ada"], "diet"), (["users", "ada"], "pref")]
ITEM_ORDER.append((["users", "ada", "notes"], "a"))


def load(url: str, session_id: str) -> MotorheadMemory:
    memory = MotorheadMemory(url=url, session_id=session_id, return_messages=True)
    asyncio.run(memory.init())
    return memory


def seed(url: str, db: Path) -> None:
    """Sessions of every shape: LangChain's, a summary, a user with metadata and a TTL,
    client ids and message metadata, another tenant, more messages than one page."""
    memory = load(url, "lc")
    for i in range(W + 3):
        memory.save_context({"input": f"question {i} ✓"}, {"output": f"answer {i}"})
    with httpx.Client(base_url=url, timeout=10) as client:
        seeded = {"messages": [{"role": "Human", "content": "hi"}], "context": "likes jazz"}
        client.post("/sessions/summed/memory", json=seeded).raise_for_status()
        put = {"user_id": "ada", "metadata": {"plan": ["pro", 3]}, "ttl": 86_400}
        client.put("/api/v1/sessions/native%2Fone", json=put).raise_for_status()
        messages = [
            {"role": "user", "content": "with id", "id": "c-1", "metadata": {"n": 1}},
            {"role": "assistant", "content": "no id"},
        ]
        client.post("/api/v1/sessions/native%2Fone/messages", json={"messages": messages})
        for namespace, key, value, ttl in ITEMS:
            item = {"namespace": namespace, "key": key, "value": value, "ttl": ttl}
            client.put("/store/items", json=item).raise_for_status()

    async def other_tenant() -> None:
        store = SqliteStore(str(db))
        await store.setup()
        many = [NewMessage("user", f"m{i}") for i in range(1203)]
        await store.append(SessionKey("t2", "long"), many, now=1_000, window=W)
        await store.close()

    asyncio.run(other_tenant())


def export(env: dict[str, str], cwd: Path, *args: str) -> bytes:
    done = memhead(env, "export", *args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""  # no progress bar when stderr is not a terminal
    return done.stdout


def test_sqlite_export_imported_into_redis_exports_the_same_file(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    db = tmp_path / "source.db"
    source = {"MEMHEAD_STORE_URL": f"sqlite:///{db}"}
    target = store_env("redis", request, tmp_path)
    with MemheadProcess(source, cwd=tmp_path) as a:
        seed(a.wait_ready().url, db)
        served = httpx.get(a.url + "/api/v1/export", timeout=30)
        first = export(source, tmp_path)
        ada = httpx.get(a.url + "/api/v1/export?user_id=ada", timeout=30).content
        before = {s: load(a.url, s).chat_memory.messages for s in ("lc", "summed")}
        context = load(a.url, "summed").context
    assert served.headers["content-type"] == "application/x-ndjson"
    records = [orjson.loads(line) for line in first.splitlines()]
    assert {r["kind"] for r in records} == {"session", "message", "summary", "item"}
    items = [r for r in records if r["kind"] == "item"]
    assert [(r["namespace"], r["key"]) for r in items] == ITEM_ORDER
    assert all(r["tenant"] == "default" for r in items)
    kinds = [r["kind"] for r in records if r["tenant"] == "default"]
    assert kinds[-4:] == ["item"] * 4 and "item" not in kinds[:-4]  # after the sessions
    diet = items[1]
    assert diet["ttl"] == 90.5 and diet["value"] == {"text": "no peanuts ✓"}
    assert diet["expires_at"] > diet["updated_at"]  # same format: compared as text
    assert items[0]["ttl"] is None and items[0]["expires_at"] is None
    assert served.content == b"".join(
        line + b"\n" for line in first.splitlines() if b'"tenant":"default"' in line
    )
    assert [orjson.loads(x)["kind"] for x in ada.splitlines()] == ["session", "message", "message"]
    (tmp_path / "dump.jsonl").write_bytes(first)
    done = memhead(target, "import", str(tmp_path / "dump.jsonl"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert b"imported 4 session(s), 1220 new message(s), 4 item(s)" in done.stdout
    assert export(target, tmp_path) == first
    again = memhead(target, "import", str(tmp_path / "dump.jsonl"), cwd=tmp_path)
    assert b"0 new message(s)" in again.stdout  # idempotent
    assert export(target, tmp_path) == first
    assert export(target, tmp_path, "--tenant", "t2", "--user", "nobody") == b""
    assert_sound(target, tmp_path)
    with MemheadProcess(target, cwd=tmp_path) as b:
        b.wait_ready()
        assert {s: load(b.url, s).chat_memory.messages for s in before} == before
        assert load(b.url, "summed").context == context == "likes jazz"
        search = {"namespace_prefix": ["users"], "query": "aardvark"}
        found = httpx.post(b.url + "/store/items/search", json=search).json()["items"]
        assert [(i["namespace"], i["key"]) for i in found] == [(["users", "ada", "notes"], "a")]


def test_a_bad_line_is_named_and_the_lines_before_it_stay(tmp_path: Path) -> None:
    env = {"MEMHEAD_STORE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    session = {
        "kind": "session",
        "tenant": "default",
        "id": "s",
        "namespace": "",
        "created_at": "2026-01-01T00:00:00.000+00:00",
        "updated_at": "2026-01-01T00:00:01.000+00:00",
    }
    gap = {
        "kind": "message",
        "tenant": "default",
        "session_id": "s",
        "seq": 2,
        "role": "user",
        "content": "x",
        "created_at": "2026-01-01T00:00:00.000+00:00",
    }
    file = tmp_path / "bad.jsonl"
    file.write_bytes(orjson.dumps(session) + b"\n" + orjson.dumps(gap) + b"\n")
    done = memhead(env, "import", str(file), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.decode().strip() == (
        f"memhead: {file}: line 2: message seq 2 leaves a gap after 0"
    )
    file.write_bytes(b'{"kind": "nonsense"}\n')
    assert (
        b"line 1: unknown kind 'nonsense'" in memhead(env, "import", str(file), cwd=tmp_path).stderr
    )
    assert b'"id":"s"' in export(env, tmp_path)
    assert_sound(env, tmp_path)
