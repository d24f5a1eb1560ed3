"""Unit tests of the ranking functions, the LoCoMo recall computation and the local embedder."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sqlite3
import sys
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from memhead import retrieval as R
from memhead.errors import ProviderFailure
from memhead.providers.local import LocalEmbedder

HOSTILE = [
    'say "hello',
    "well-known -negated",
    "col:value content: x",
    "star* *",
    "cats NEAR dogs NEAR(a b)",
    "a AND b OR NOT c",
    "(unbalanced ( paren",
    "{content} : x",
    "^start $end ' '' \\",
    "naïve café Straße 日本語 ﬁle",
    "emoji 🎉 mixed",
    "under_score a_b",
]


def run_match(expression: str) -> list[int]:
    db = sqlite3.connect(":memory:")
    columns = ", ".join(R.FTS_COLUMNS)
    db.execute(f"CREATE VIRTUAL TABLE m USING fts5({columns}, tokenize='{R.FTS_TOKENIZER}')")
    rows = [
        ("Caroline: I joined a gym last week", "", "Monday 8 May 2023"),
        ("Melanie: cats and dogs are well known", "Caroline: pets?", "Monday 8 May 2023"),
        ("Jon: a naive cafe in Strasse, file 日本語", "", "Friday 2 June 2023"),
    ]
    db.executemany("INSERT INTO m VALUES (?, ?, ?)", rows)
    sql = f"SELECT rowid FROM m WHERE m MATCH ? ORDER BY {R.bm25_call('m')}"
    return [r[0] for r in db.execute(sql, (expression,))]


# ---------------------------------------------------------------- keyword query


def test_query_terms_drop_stopwords_and_duplicates() -> None:
    assert R.query_terms("When did Caroline join the gym? Caroline's gym!") == [
        "caroline",
        "join",
        "gym",
    ]


@pytest.mark.parametrize("text", ["", "   ", "the and of", "?!-*:", "What did you do?"])
def test_fts_query_none_when_nothing_is_left(text: str) -> None:
    assert R.fts_query(text) is None


@pytest.mark.parametrize("text", HOSTILE)
def test_fts_query_is_valid_fts5_for_hostile_input(text: str) -> None:
    expression = R.fts_query(text)
    assert expression is not None
    run_match(expression)  # must not raise sqlite3.OperationalError


def test_fts_query_quotes_every_term_and_ors_them() -> None:
    assert R.fts_query("NEAR cats -dogs") == '"near" OR "cats" OR "dogs"'


def test_fts_query_operators_are_plain_words() -> None:
    expression = R.fts_query("cats NEAR dogs")
    assert expression is not None
    assert run_match(expression) == [2]


def test_fts_query_matches_stems_accents_and_unicode() -> None:
    joined = R.fts_query("who joins gyms")
    assert joined is not None and run_match(joined) == [1]
    accented = R.fts_query("naïve café Straße")
    assert accented is not None and 3 in run_match(accented)
    cjk = R.fts_query("日本語")
    assert cjk is not None and run_match(cjk) == [3]


def test_context_column_weighs_less_than_content() -> None:
    expression = R.fts_query("caroline")
    assert expression is not None
    assert run_match(expression) == [1, 2]


def test_keyword_fields_and_day_text() -> None:
    created = datetime(2023, 5, 8, 13, 56)
    assert R.day_text(created) == "Monday 8 May 2023"
    assert R.keyword_fields("B: hi", None, created) == ("B: hi", "", "Monday 8 May 2023")
    assert R.keyword_fields("B: hi", "A: yo", created)[1] == "A: yo"
    assert R.embedding_text("A: hello") == "A: hello"


# ---------------------------------------------------------------- fusion


def positions(scored: R.Scored) -> list[R.Position]:
    return [p for p, _ in scored]


def test_rrf_rewards_agreement_and_rank() -> None:
    keyword = [(("s", 1), 9.0), (("s", 2), 5.0)]
    vector = [(("s", 2), 0.9), (("s", 3), 0.8)]
    fused = R.rrf([keyword, vector], k=5)
    assert fused[("s", 2)] == pytest.approx(1 / 7 + 1 / 6)
    assert positions(R.best(fused, 10)) == [("s", 2), ("s", 1), ("s", 3)]


def test_rrf_ignores_raw_scores() -> None:
    a = R.rrf([[(("s", 1), 1000.0), (("s", 2), 0.001)]])
    b = R.rrf([[(("s", 1), 1.0), (("s", 2), 0.9)]])
    assert a == b


def test_spread_gives_neighbours_decayed_shares() -> None:
    out = R.spread({("s", 5): 1.0, ("t", 0): 1.0}, decay=0.5, reach=2)
    assert out[("s", 5)] == 1.0
    assert out[("s", 4)] == out[("s", 6)] == 0.5
    assert out[("s", 3)] == out[("s", 7)] == 0.25
    assert ("s", 2) not in out
    assert ("t", -1) not in out and out[("t", 1)] == 0.5
    assert ("s", 0) not in out  # sessions never mix


def test_spread_lets_a_turn_between_two_hits_win() -> None:
    out = R.spread({("s", 1): 1.0, ("s", 3): 1.0}, decay=0.6, reach=1)
    assert R.best(out, 1)[0][0] == ("s", 2)


def test_spread_with_zero_decay_changes_nothing() -> None:
    scores = {("s", 3): 1.0}
    assert R.spread(scores, decay=0.0) == scores
    assert R.spread(scores, reach=0) == scores


def test_best_is_stable_and_bounded() -> None:
    scores = {("s", 3): 1.0, ("s", 1): 1.0, ("s", 2): 2.0}
    assert positions(R.best(scores, 2)) == [("s", 2), ("s", 1)]


def test_hybrid_candidates_order() -> None:
    keyword = [(("s", 10), 3.0), (("s", 20), 2.0)]
    vector = [(("s", 20), 0.9), (("s", 30), 0.5)]
    got = positions(R.hybrid_candidates(keyword, vector, decay=0.0))
    assert got == [("s", 20), ("s", 10), ("s", 30)]
    spread = R.hybrid_candidates(keyword, vector, n=5)
    assert len(spread) == 5 and spread[0][0] == ("s", 20)


def test_fuse_and_helpers() -> None:
    keyword = [(("s", 1), 9.0), (("s", 2), 5.0)]
    vector = [(("s", 2), 0.9)]
    assert positions(R.fuse(keyword, vector)) == [("s", 2), ("s", 1)]
    assert R.fuse([], []) == []
    assert R.match_expression(["a", 'b"c']) == '"a" OR "b""c"'
    assert R.match_expression([]) is None
    assert R.query_text("  hi there ") == "hi there"
    assert R.candidate_depth(10) == max(R.KEYWORD_CANDIDATES, R.VECTOR_CANDIDATES)
    assert R.candidate_depth(1000) == 1000


def test_hybrid_candidates_of_empty_lists() -> None:
    assert R.hybrid_candidates([], []) == []


# ---------------------------------------------------------------- speakers


def test_speaker_of() -> None:
    assert R.speaker_of("Caroline: hi: there") == "Caroline"
    assert R.speaker_of("no speaker here") is None
    assert R.speaker_of(": empty") is None


def test_named_speakers_whole_words_and_possessive() -> None:
    speakers = {"Caroline", "Mel", "Jon Snow"}
    assert R.named_speakers("What is Caroline's job?", speakers) == {"Caroline"}
    assert R.named_speakers("Did Melanie go?", speakers) == set()
    assert R.named_speakers("jon snow and MEL", speakers) == {"Jon Snow", "Mel"}


def test_rerank_boosts_the_single_named_speaker() -> None:
    candidates = [(("s", 1), 1.0), (("s", 2), 0.9), (("s", 3), 0.5)]
    speakers: dict[R.Position, str | None] = {("s", 1): "A", ("s", 2): "Bo", ("s", 3): None}
    assert positions(R.rerank(candidates, "what did Bo say", speakers, 1.25)) == [
        ("s", 2),
        ("s", 1),
        ("s", 3),
    ]
    assert positions(R.rerank(candidates, "did A tell Bo", speakers, 1.25)) == positions(candidates)
    assert positions(R.rerank(candidates, "nobody", speakers, 2.0)) == positions(candidates)


# ---------------------------------------------------------------- recall on LoCoMo-shaped data


def load_bench() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "bench" / "locomo_offline.py"
    spec = importlib.util.spec_from_file_location("locomo_offline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_recall_at_k() -> None:
    assert R.recall_at_k(["D1:1", "D1:2"], ["D1:2", "D9:9", "D1:1"], 2) == 0.5
    assert R.recall_at_k(["D1:1", "D1:2"], ["D1:2", "D9:9", "D1:1"], 3) == 1.0
    assert R.recall_at_k([], ["D1:1"], 1) == 1.0
    assert R.recall_at_k(["D1:1"], [], 10) == 0.0


LOCOMO = [
    {
        "sample_id": "tiny",
        "conversation": {
            "speaker_a": "Ann",
            "speaker_b": "Bob",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Ann", "dia_id": "D1:1", "text": "I adopted a cat named Tom."},
                {"speaker": "Bob", "dia_id": "D1:2", "text": "Nice!", "blip_caption": "a cat"},
            ],
            "session_2_date_time": "10:00 am on 9 May, 2023",
            "session_2": [
                {"speaker": "Bob", "dia_id": "D2:1", "text": "I run marathons now."},
            ],
        },
        "qa": [
            {"question": "Cat name?", "answer": "Tom", "evidence": ["D1:1"], "category": 4},
            {"question": "Who runs?", "evidence": ["D2:01", "D1:2; D9:9", "D"], "category": 1},
            {"question": "Unanswerable", "evidence": [], "category": 5},
        ],
    }
]


def test_locomo_loading_normalises_and_skips_evidence(tmp_path: Path) -> None:
    bench = load_bench()
    data = tmp_path / "tiny.json"
    data.write_text(json.dumps(LOCOMO))
    loaded = bench.load(data)
    (conversation,) = loaded.conversations
    assert [t.content for t in conversation.turns] == [
        "Ann: I adopted a cat named Tom.",
        "Bob: Nice! [shares a photo: a cat]",
        "Bob: I run marathons now.",
    ]
    assert conversation.turns[2].created_at == datetime(2023, 5, 9, 10, 0)
    assert [q.evidence for q in conversation.questions] == [("D1:1",), ("D2:1", "D1:2"), ()]
    assert loaded.skipped_evidence == ["D9:9", "D"]
    assert loaded.normalised_evidence == 1


def test_locomo_recall_table() -> None:
    bench = load_bench()
    rows = [
        (4, ("D1:1",), ["D1:1"] + ["D0:0"] * 60),  # found first
        (1, ("D2:1", "D1:2"), ["D0:0"] * 7 + ["D2:1"] + ["D0:0"] * 20 + ["D1:2"]),
        (5, (), []),  # no evidence counts as 1
    ]
    table = bench.recall_table(rows)
    assert table["@5"] == {
        "1": 0.0,
        "4": 100.0,
        "5": 100.0,
        "all": pytest.approx(200 / 3),
        "no5": 50.0,
    }
    assert table["@10"]["1"] == 50.0
    assert table["@25"]["all"] == pytest.approx(250 / 3)
    assert table["@50"]["1"] == 100.0 and table["@50"]["no5"] == 100.0


# ---------------------------------------------------------------- local embedder


class FakeModel:
    def __init__(self) -> None:
        self.threads: list[str] = []

    def encode(self, texts: Sequence[str], **kwargs: Any) -> list[list[float]]:
        self.threads.append(threading.current_thread().name)
        assert kwargs["normalize_embeddings"] is True
        return [[float(len(t)), 0.0] for t in texts]

    def get_sentence_embedding_dimension(self) -> int:
        return 2


class BrokenModel(FakeModel):
    def encode(self, texts: Sequence[str], **kwargs: Any) -> list[list[float]]:
        raise RuntimeError("boom")


async def test_local_embedder_runs_off_the_event_loop() -> None:
    model = FakeModel()
    embedder = LocalEmbedder(model=model)
    assert embedder.model == "all-MiniLM-L6-v2" and embedder.dimension == 2
    assert await embedder.embed(["ab", "abcd"]) == [[2.0, 0.0], [4.0, 0.0]]
    assert await embedder.embed([]) == []
    assert model.threads and model.threads[0] != threading.current_thread().name
    results = await asyncio.gather(embedder.embed(["a"]), embedder.embed(["abc"]))
    assert results == [[[1.0, 0.0]], [[3.0, 0.0]]]
    await embedder.close()


class BlockedModel(FakeModel):
    """Encodes only once ``release`` is set: a long batch of the background worker."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def encode(self, texts: Sequence[str], **kwargs: Any) -> list[list[float]]:
        assert self.release.wait(10)
        return super().encode(texts, **kwargs)


async def test_a_query_does_not_wait_for_a_batch_in_progress() -> None:
    batches, queries = BlockedModel(), FakeModel()
    embedder = LocalEmbedder(model=batches, query_model=queries)
    batch = asyncio.create_task(embedder.embed(["new message", "another one"]))
    await asyncio.sleep(0.05)  # the batch holds its encoder
    assert await asyncio.wait_for(embedder.embed(["a query"]), 5) == [[7.0, 0.0]]
    assert not batch.done()
    batches.release.set()
    assert await batch == [[11.0, 0.0], [11.0, 0.0]]
    assert queries.threads and not batches.threads[1:]


async def test_local_embedder_failure_is_a_provider_failure() -> None:
    embedder = LocalEmbedder("/some/model-dir", model=BrokenModel())
    assert embedder.model == "model-dir"
    with pytest.raises(ProviderFailure, match="boom"):
        await embedder.embed(["x"])


def test_local_embedder_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ProviderFailure, match="not found"):
        LocalEmbedder(tmp_path / "nope")
