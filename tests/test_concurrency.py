"""Concurrent writers over real HTTP lose nothing and leave no gaps in seq."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import ClientFactory


def test_fifty_concurrent_posts_to_one_session(make_client: ClientFactory) -> None:
    base = str(make_client().base_url)

    async def run() -> list[int]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:

            async def post(i: int) -> int:
                body = {"messages": [{"role": "user", "content": f"msg {i}", "id": f"c{i}"}]}
                r = await client.post("/api/v1/sessions/hot/messages", json=body)
                r.raise_for_status()
                seq: int = r.json()["messages"][0]["seq"]
                return seq

            return await asyncio.gather(*(post(i) for i in range(50)))

    seqs = asyncio.run(run())
    assert sorted(seqs) == list(range(1, 51))
    with httpx.Client(base_url=base) as client:
        history = client.get("/api/v1/sessions/hot/messages", params={"limit": 100}).json()
    stored = history["messages"]
    assert [m["seq"] for m in stored] == list(range(50, 0, -1))
    assert sorted(m["content"] for m in stored) == sorted(f"msg {i}" for i in range(50))


def test_fifty_concurrent_motorhead_posts(make_client: ClientFactory) -> None:
    base = str(make_client(window_size=200).base_url)

    async def run() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            posts = [
                client.post(
                    "/sessions/hot/memory",
                    json={"messages": [{"role": "Human", "content": f"q{i}"}]},
                )
                for i in range(50)
            ]
            for r in await asyncio.gather(*posts):
                assert r.status_code == 200

    asyncio.run(run())
    with httpx.Client(base_url=base) as client:
        got = client.get("/sessions/hot/memory").json()["messages"]
    assert sorted(m["content"] for m in got) == sorted(f"q{i}" for i in range(50))
