"""Turning auth on later: the server says that earlier data needs a key of the tenant
``default``, and logs every refused request (never the key) so that a client which swallows
its 401s is still visible."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from langchain_community.memory.motorhead_memory import MotorheadMemory

from memhead.auth import create_key
from memhead.banner import default_tenant_warning
from memhead.models import DEFAULT_TENANT, NewMessage, SessionKey, now_ms
from memhead.stores import Store
from memhead.stores.sqlite import SqliteStore
from tests.servers import NO_PROVIDERS, MemheadProcess

SECRET = "zebra-secret-part-0123456789"
HINT = "memhead keys create --tenant default"


async def write(store: Store, tenant: str) -> None:
    key = SessionKey(tenant, "earlier")
    await store.append(key, [NewMessage("user", "written before auth")], now=now_ms(), window=12)


async def warning_for(store: Store, *, data: list[str], keys: list[str]) -> str | None:
    await store.setup()
    try:
        for tenant in data:
            await write(store, tenant)
        for tenant in keys:
            await create_key(store, tenant, "")
        return await default_tenant_warning(store)
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("data", "keys", "warned"),
    [
        ([], [], False),  # a new deployment: nothing to keep
        (["acme"], [], False),  # data of other tenants is reachable with their keys
        ([DEFAULT_TENANT], [], True),
        ([DEFAULT_TENANT], ["acme"], True),
        ([DEFAULT_TENANT], [DEFAULT_TENANT], False),  # the advice was followed
    ],
)
def test_warning_only_while_default_data_has_no_key(
    tmp_path: Path, data: list[str], keys: list[str], warned: bool
) -> None:
    store = SqliteStore(str(tmp_path / "w.db"))
    warning = asyncio.run(warning_for(store, data=data, keys=keys))
    assert (warning is not None) == warned
    assert warning is None or HINT in warning


def test_server_warns_at_startup_and_logs_each_refused_key(tmp_path: Path) -> None:
    db = tmp_path / "earlier.db"
    asyncio.run(warning_for(SqliteStore(str(db)), data=[DEFAULT_TENANT], keys=[]))
    env = {**NO_PROVIDERS, "MEMHEAD_STORE_URL": f"sqlite:///{db}", "MEMHEAD_AUTH": "required"}
    with MemheadProcess(env, cwd=tmp_path) as server:
        server.wait_ready(timeout=60)
        startup = [line for line in server.output().splitlines() if HINT in line]
        assert len(startup) == 1 and " WARNING " in startup[0]

        wrong = f"mh_0123456789ab_{SECRET}"
        refused = [
            httpx.get(f"{server.url}/sessions/earlier/memory", headers=h)
            for h in ({}, {"Authorization": f"Bearer {wrong}"}, {"x-metal-api-key": SECRET})
        ]
        assert [r.status_code for r in refused] == [401, 401, 401]
        # LangChain's client sees an empty memory: only the server's log tells why.
        memory = MotorheadMemory(url=server.url, session_id="earlier", return_messages=True)
        asyncio.run(memory.init())
        assert memory.chat_memory.messages == []
        server.stop()

    lines = [line for line in server.output().splitlines() if "memhead.auth" in line]
    assert all(" WARNING " in line and "from 127.0.0.1" in line for line in lines), lines
    assert len(lines) == 4, lines
    assert "GET /sessions/earlier/memory" in lines[0] and "no API key" in lines[0]
    assert "key mh_0123456789ab_..." in lines[1]
    assert "not a memhead key" in lines[2]
    assert SECRET not in server.output()
