"""The ``Transfer`` role: sessions, messages at their own seqs and summaries written as an
export holds them; every operation idempotent, every invariant kept."""

from __future__ import annotations

import pytest

from memhead.errors import InvalidRequest
from memhead.models import Message, SearchScope, Session, SessionKey
from memhead.retrieval import query_terms
from memhead.stores import Store
from tests.contract.messages import W

RECORD = Session(
    id="s",
    incarnation="ignored",
    namespace="ns",
    user_id="u",
    metadata={"k": [1, "v"]},
    created_at=1_000,
    updated_at=9_000,
    ttl_ms=60_000,
)


def msgs(first: int, last: int) -> list[Message]:
    return [
        Message(
            seq,
            "user" if seq % 2 else "assistant",
            f"word{seq} banana",
            1_000 + seq,
            f"c{seq}",
            {"n": seq} if seq % 3 == 0 else None,
        )
        for seq in range(first, last + 1)
    ]


async def test_an_imported_session_reads_back_as_exported(store: Store) -> None:
    key = SessionKey("t", "s")
    await store.import_session(key, RECORD)
    assert await store.import_messages(key, msgs(1, W + 5), window=W) == W + 5
    await store.import_summary(key, summary="so far", upto_seq=4, tokens=77, window=W)
    s = await store.get_session(key)
    assert s is not None
    assert (s.namespace, s.user_id, s.metadata, s.created_at, s.updated_at, s.ttl_ms) == (
        "ns",
        "u",
        {"k": [1, "v"]},
        1_000,
        9_000,
        60_000,
    )
    assert (s.last_seq, s.summary, s.upto_seq, s.tokens) == (W + 5, "so far", 4, 77)
    assert await store.span(key, after_seq=0, through_seq=100) == msgs(1, W + 5)
    assert await store.due_sessions(now=10**12, limit=5) == [key]  # 13 unsummarized > W
    assert len(await store.embedding_backlog(limit=100)) == W + 5
    listed = await store.list_sessions("t", user_id="u", before=None, limit=5, namespace="ns")
    assert [x.id for x in listed] == ["s"]
    assert await store.tenants() == ["t"]
    assert await store.check() == []


async def test_importing_again_changes_nothing(store: Store) -> None:
    key = SessionKey("t", "s")
    for _ in range(2):
        await store.import_session(key, RECORD)
        await store.import_messages(key, msgs(1, 3), window=W)
        await store.import_messages(key, msgs(1, 5), window=W)  # overlapping chunks
        await store.import_summary(key, summary="x", upto_seq=5, tokens=1, window=W)
    assert await store.import_messages(key, msgs(4, 5), window=W) == 0
    assert await store.span(key, after_seq=0, through_seq=100) == msgs(1, 5)
    assert await store.due_sessions(now=10**12, limit=5) == []
    assert await store.check() == []


async def test_imported_messages_are_found_by_keyword(store: Store) -> None:
    key = SessionKey("t", "s")
    await store.import_session(key, RECORD)
    await store.import_messages(key, msgs(1, 3), window=W)
    hits = await store.keyword_search(SearchScope("t", session_id="s"), query_terms("word2"), 5)
    assert hits[0].message.seq == 2  # (3 may follow: its keyword row holds 2 as context)


async def test_an_import_that_breaks_the_seqs_is_refused_whole(store: Store) -> None:
    key = SessionKey("t", "s")
    with pytest.raises(InvalidRequest):
        await store.import_messages(key, msgs(1, 2), window=W)  # no session yet
    await store.import_session(key, RECORD)
    await store.import_messages(key, msgs(1, 2), window=W)
    with pytest.raises(InvalidRequest):
        await store.import_messages(key, [*msgs(3, 3), *msgs(5, 5)], window=W)
    clash = [Message(3, "user", "x", 1, "c1")]  # c1 is seq 1's client id
    with pytest.raises(InvalidRequest):
        await store.import_messages(key, clash, window=W)
    with pytest.raises(InvalidRequest):
        await store.import_summary(key, summary="x", upto_seq=3, tokens=0, window=W)
    assert (await store.get_session(key)).last_seq == 2  # type: ignore[union-attr]
    assert await store.check() == []


async def test_importing_a_record_moves_its_listings(store: Store) -> None:
    key = SessionKey("t", "s")
    await store.import_session(key, RECORD)
    moved = Session(id="s", incarnation="", namespace="other", created_at=1, updated_at=2)
    await store.import_session(key, moved)
    assert await store.list_sessions("t", user_id="u", before=None, limit=5) == []
    assert await store.list_namespace("t", "ns", offset=0, limit=5) == []
    assert await store.list_namespace("t", "other", offset=0, limit=5) == ["s"]
    s = await store.get_session(key)
    assert s is not None and (s.user_id, s.metadata, s.ttl_ms) == (None, None, None)
    assert await store.expired_sessions(now=12, default_ttl_ms=10, limit=5) == [key]
    assert await store.check() == []
