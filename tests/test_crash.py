"""The server SIGKILLed under write load: after a restart every write that had been answered
is there, once, and each session's seqs are contiguous (SQLite, and Redis with appendonly)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.redis_server import RedisServer
from tests.servers import MemheadProcess
from tests.test_shutdown import history


@pytest.fixture(params=["sqlite", "redis"])
def store_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield {"MEMHEAD_STORE_URL": f"sqlite:///{tmp_path / 'crash.db'}"}
        return
    (tmp_path / "redis").mkdir()
    with RedisServer(appendonly=True, dir=tmp_path / "redis") as server:
        yield {"MEMHEAD_STORE_URL": server.url}


def test_acknowledged_writes_survive_a_server_sigkill(
    store_env: dict[str, str], tmp_path: Path
) -> None:
    acknowledged: dict[str, list[str]] = {f"s{n}": [] for n in range(4)}
    stop = threading.Event()

    def writer(url: str, session: str) -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            i = 0
            while not stop.is_set():
                content = f"{session}-{i}"
                body = {"messages": [{"role": "user", "content": content, "id": content}]}
                try:
                    r = client.post(f"/api/v1/sessions/{session}/messages", json=body)
                except httpx.TransportError:
                    return  # killed mid-request: this write was never acknowledged
                if r.status_code == 201:
                    acknowledged[session].append(content)
                i += 1

    server = MemheadProcess(store_env, cwd=tmp_path)
    try:
        server.wait_ready()
        threads = [threading.Thread(target=writer, args=(server.url, s)) for s in acknowledged]
        for t in threads:
            t.start()
        time.sleep(1.5)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=15)
    finally:
        server.stop()
    assert all(acknowledged.values())
    with MemheadProcess(store_env, cwd=tmp_path) as again:
        again.wait_ready()
        for session, acked in acknowledged.items():
            stored = history(again.url, session)
            assert set(acked) <= set(stored)
            assert len(stored) == len(set(stored))  # nothing twice
            seqs = [
                m["seq"]
                for m in httpx.get(
                    f"{again.url}/api/v1/sessions/{session}/messages", params={"limit": 1000}
                ).json()["messages"]
            ]
            assert seqs == list(range(len(stored), 0, -1))[: len(seqs)]  # contiguous, no gaps
    checked = subprocess.run(
        [sys.executable, "-m", "memhead", "check"],
        env={**os.environ, **store_env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout
    assert "store is sound" in checked.stdout
