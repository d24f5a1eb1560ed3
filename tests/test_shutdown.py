"""SIGTERM during traffic: requests in flight complete, no acknowledged write is lost."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from tests.servers import MemheadProcess


def test_sigterm_during_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    env = {"MEMHEAD_STORE_URL": f"sqlite:///{tmp_path / 'term.db'}"}
    acknowledged: list[str] = []
    statuses: list[int] = []
    stop = threading.Event()

    def writer(server: MemheadProcess, n: int) -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            i = 0
            while not stop.is_set():
                content = f"w{n}-{i}"
                body = {"messages": [{"role": "user", "content": content, "id": content}]}
                try:
                    r = client.post("/api/v1/sessions/term/messages", json=body)
                except httpx.TransportError:
                    return  # the server closed: this write was never acknowledged
                statuses.append(r.status_code)
                if r.status_code == 201:
                    acknowledged.append(content)
                i += 1

    with MemheadProcess(env, cwd=tmp_path) as server:
        server.wait_ready()
        threads = [threading.Thread(target=writer, args=(server, n)) for n in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        # SIGTERM: uvicorn drains, then re-raises the signal, so -15 is a clean exit too.
        assert server.stop() in (0, -15)
        assert "Finished server process" in server.output()
        stop.set()
        for t in threads:
            t.join(timeout=15)
    assert acknowledged and all(s == 201 for s in statuses)
    with MemheadProcess(env, cwd=tmp_path) as again:
        again.wait_ready()
        contents = history(again.url, "term")
    assert set(acknowledged) <= set(contents)
    assert len(contents) == len(set(contents))


def history(url: str, session_id: str) -> list[str]:
    contents: list[str] = []
    params: dict[str, int] = {"limit": 1000}
    while True:
        page = httpx.get(f"{url}/api/v1/sessions/{session_id}/messages", params=params).json()
        contents += [m["content"] for m in page["messages"]]
        if page["next_before_seq"] is None:
            return contents
        params["before_seq"] = page["next_before_seq"]
