"""Token counting: the offline estimate, tiktoken when cached, budgets per model."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tiktoken

from memhead.tokens import (
    DEFAULT_BUDGET,
    TokenCounter,
    build_token_counter,
    cached_encoding,
    default_budget,
)

TEXTS = ["", "a", "hello world", "héllo wörld ✓", "数据库连接失败", "x = [1, 2, 3]\n" * 40]


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """tiktoken's cache points at an empty directory; counters are rebuilt for the test."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    build_token_counter.cache_clear()
    yield tmp_path
    build_token_counter.cache_clear()


def byte_encoding() -> tiktoken.Encoding:
    """A tiny real tiktoken encoding (every byte a token, a few merges), built offline."""
    ranks = {bytes([b]): b for b in range(256)}
    for i, merge in enumerate([b"he", b"ll", b"hell", b"hello", b" w", b"or"]):
        ranks[merge] = 256 + i
    return tiktoken.Encoding(
        "bytes-test", pat_str=r"\S+|\s+", mergeable_ranks=ranks, special_tokens={}
    )


def test_estimate_is_utf8_bytes_over_three_rounded_up():
    counter = TokenCounter()

    assert [counter.count(t) for t in ["", "a", "abc", "abcd", "é", "数据"]] == [0, 1, 1, 2, 1, 2]


def test_count_grows_with_text():
    for counter in (TokenCounter(), TokenCounter(byte_encoding())):
        counts = [counter.count("hello world " * n) for n in range(6)]
        assert counts == sorted(counts) and counts[0] == 0 < counts[1]


@pytest.mark.parametrize("counter", [TokenCounter(), TokenCounter(byte_encoding())])
@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("budget", [0, 1, 2, 5, 50])
def test_truncate_respects_the_budget_and_keeps_the_start(counter, text, budget):
    head = counter.truncate(text, budget)

    assert counter.count(head) <= budget
    assert text.startswith(head)


def test_truncate_leaves_text_within_budget_alone():
    for counter in (TokenCounter(), TokenCounter(byte_encoding())):
        assert counter.truncate("hello world", 100) == "hello world"


def test_estimate_truncates_at_a_character_boundary():
    assert TokenCounter().truncate("数据库", 2) == "数据"  # 6 bytes fit, the 3rd char would not


def test_no_cached_encoding_means_the_estimate_quickly(empty_cache, caplog):
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="memhead.tokens"):
        counter = build_token_counter("gpt-4o-mini")
        again = build_token_counter("gpt-4o-mini")

    assert time.monotonic() - started < 1
    assert counter is again and counter.encoding is None
    assert [r.getMessage() for r in caplog.records if r.name == "memhead.tokens"] == [
        "token counting for gpt-4o-mini: estimate (utf-8 bytes / 3)"
    ]


def test_a_corrupt_cached_file_is_not_used(empty_cache):
    # tiktoken names cache files by the sha1 of the download URL; a wrong checksum would make
    # it download again, so such a file must be passed over.
    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    (empty_cache / hashlib.sha1(url.encode()).hexdigest()).write_bytes(b"not an encoding")

    assert cached_encoding("cl100k_base") is None


def test_disabled_cache_or_unknown_encoding_means_none(monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")

    assert cached_encoding("cl100k_base") is None
    assert cached_encoding("no-such-encoding") is None


@pytest.mark.parametrize(
    ("model", "budget"),
    [
        ("gpt-3.5-turbo", 3000),
        ("gpt-4o-mini", 12000),
        ("gpt-4.1-nano", 12000),
        ("gpt-4-turbo-2024-04-09", 12000),
        ("openai/gpt-4o", 12000),
        ("llama3", DEFAULT_BUDGET),
    ],
)
def test_default_budget_follows_the_model(model, budget):
    assert default_budget(model) == budget
