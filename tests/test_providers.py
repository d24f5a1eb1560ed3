"""The OpenAI providers against a real OpenAI-compatible HTTP server (tests/fake_openai.py)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from memhead.errors import ProviderFailure
from memhead.providers import build_embedder, build_llm, describe_llm
from memhead.providers.openai import OpenAIEmbedder, OpenAILLM, RetryPolicy
from memhead.settings import Settings
from tests.fake_openai import FakeOpenAI, fake_embedding

BACKOFF = 0.01


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


class Sleeps(list[float]):
    """Records backoff delays instead of waiting them out."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


Built = OpenAILLM | OpenAIEmbedder


@pytest.fixture
async def closing() -> AsyncIterator[Callable[[Built | None], Any]]:
    """Closes every provider a test built, so no HTTP client outlives its test."""
    built: list[Built] = []

    def keep(provider: Built | None) -> Any:
        assert provider is not None
        built.append(provider)
        return provider

    yield keep
    for provider in built:
        await provider.close()


def settings(**values: Any) -> Settings:
    values.setdefault("llm_backoff_s", BACKOFF)
    values.setdefault("llm_timeout_s", 5.0)
    return Settings(**values)


def azure_settings(fake: FakeOpenAI, **values: Any) -> Settings:
    return settings(
        azure_api_key="az-secret-key",
        azure_api_base=fake.azure_endpoint,
        azure_deployment_id="summarizer",
        azure_deployment_id_ada="embedder",
        azure_api_version="2024-06-01",
        **values,
    )


async def test_completion_returns_stripped_text_and_total_tokens(fake, closing):
    fake.answer_next("  a summary \n")
    fake.tokens_per_call = 321
    llm: OpenAILLM = closing(build_llm(settings(llm_base_url=fake.base_url)))

    got = await llm.complete("system text", "user text")

    assert (got.text, got.total_tokens) == ("a summary", 321)


async def test_completion_sends_model_messages_and_temperature_zero(fake, closing):
    llm = closing(build_llm(settings(llm_api_key="sk-test", llm_base_url=fake.base_url)))

    got = await llm.complete("be brief <<s>>", "lines <<m1>> <<m2>> <<s>>")

    assert got.text == "SUMMARY: <<s>> <<m1>> <<m2>>"
    [call] = fake.calls
    assert call["path"] == "/v1/chat/completions"
    assert call["headers"]["authorization"] == "Bearer sk-test"
    assert call["json"]["model"] == "gpt-3.5-turbo"
    assert call["json"]["temperature"] == 0
    assert call["json"]["messages"] == [
        {"role": "system", "content": "be brief <<s>>"},
        {"role": "user", "content": "lines <<m1>> <<m2>> <<s>>"},
    ]


async def test_base_url_without_key_sends_placeholder_key(fake, closing):
    llm = closing(build_llm(settings(llm_base_url=fake.base_url, llm_model="llama3")))

    await llm.complete("s", "u")

    [call] = fake.calls
    assert call["headers"]["authorization"] == "Bearer not-needed"
    assert call["json"]["model"] == "llama3"


async def test_azure_uses_deployment_path_and_api_key_header(fake, closing):
    llm = closing(build_llm(azure_settings(fake, llm_model="ignored-on-azure")))

    await llm.complete("s", "u")

    [call] = fake.calls
    assert llm.model == "summarizer"
    assert call["path"] == "/openai/deployments/summarizer/chat/completions"
    assert call["query"] == {"api-version": "2024-06-01"}
    assert call["headers"] == {"api-key": "az-secret-key"}


async def test_retries_429_and_500_then_succeeds(fake, closing, sleeps, caplog):
    fake.fail_next(1, status=429, message="slow down")
    fake.fail_next(1, status=500)
    s = settings(llm_api_key="sk-secret", llm_base_url=fake.base_url, llm_max_retries=3)
    llm = closing(build_llm(s, sleep=sleeps, rand=lambda: 0.0))

    with caplog.at_level(logging.WARNING, logger="memhead.providers"):
        got = await llm.complete("s", "u <<x>>")

    assert got.text == "SUMMARY: <<x>>"
    assert len(fake.calls) == 3
    assert sleeps == [BACKOFF, 2 * BACKOFF]
    warnings = [r for r in caplog.records if r.name == "memhead.providers"]
    assert [r.levelno for r in warnings] == [logging.WARNING] * 2
    assert "HTTP 429: slow down" in warnings[0].getMessage()
    assert "sk-secret" not in caplog.text


def test_backoff_doubles_with_jitter_and_a_cap():
    low = RetryPolicy(backoff_s=1.0, rand=lambda: 0.0)
    high = RetryPolicy(backoff_s=1.0, rand=lambda: 1.0)

    assert [low.delay(n) for n in range(4)] == [1.0, 2.0, 4.0, 8.0]
    assert high.delay(0) == 1.25
    assert low.delay(20) == 30.0


async def test_gives_up_after_max_retries_with_provider_failure(fake, closing, sleeps):
    fake.fail_next(10, status=503, message="engine overloaded")
    llm = closing(build_llm(settings(llm_base_url=fake.base_url, llm_max_retries=2), sleep=sleeps))

    with pytest.raises(ProviderFailure) as failure:
        await llm.complete("s", "u")

    assert len(fake.calls) == 3 and len(sleeps) == 2
    assert failure.value.status == 502
    assert failure.value.message == (
        "LLM gpt-3.5-turbo failed after 3 attempts: HTTP 503: engine overloaded"
    )


@pytest.mark.parametrize("status", [400, 401, 404])
async def test_client_errors_fail_at_once(fake, closing, sleeps, status):
    fake.fail_next(1, status=status, message="no good")
    llm = closing(build_llm(settings(llm_base_url=fake.base_url), sleep=sleeps))

    with pytest.raises(ProviderFailure, match=f"HTTP {status}: no good"):
        await llm.complete("s", "u")

    assert len(fake.calls) == 1 and sleeps == []


async def test_timeout_is_retried_then_fails(fake, closing, sleeps):
    fake.hang_next(5)
    s = settings(llm_base_url=fake.base_url, llm_timeout_s=0.3, llm_max_retries=1)
    llm = closing(build_llm(s, sleep=sleeps))

    with pytest.raises(ProviderFailure, match=r"after 2 attempts: timed out after 0\.3s"):
        await llm.complete("s", "u")

    assert len(fake.calls) == 2 and len(sleeps) == 1


async def test_timeout_then_success(fake, closing, sleeps):
    fake.hang_next(1)
    s = settings(llm_base_url=fake.base_url, llm_timeout_s=0.3, llm_max_retries=1)
    llm = closing(build_llm(s, sleep=sleeps))

    got = await llm.complete("s", "u <<ok>>")

    assert got.text == "SUMMARY: <<ok>>" and len(fake.calls) == 2


async def test_connection_refused_is_retried_then_fails(closing, sleeps):
    with socket.socket() as s:  # a port nobody listens on once this closes
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    llm = closing(build_llm(settings(llm_base_url=dead, llm_max_retries=2), sleep=sleeps))

    with pytest.raises(ProviderFailure, match="after 3 attempts: connection error"):
        await llm.complete("s", "u")

    assert len(sleeps) == 2


async def test_embeddings_keep_input_order_across_batches(fake, closing):
    fake.reverse_embeddings = True
    texts = ["red apple", "green pear", "red cherry", "blue sky", "apple pie"]
    embedder = closing(
        build_embedder(settings(llm_base_url=fake.base_url), "nomic-embed", batch_size=2)
    )

    vectors = await embedder.embed(texts)

    assert len(vectors) == len(texts)
    for vector, text in zip(vectors, texts, strict=True):
        assert vector == pytest.approx(fake_embedding(text))
    assert [c["json"]["input"] for c in fake.calls] == [texts[0:2], texts[2:4], texts[4:]]
    assert {c["json"]["model"] for c in fake.calls} == {"nomic-embed"}
    assert {c["path"] for c in fake.calls} == {"/v1/embeddings"}


async def test_embedder_retries_a_failed_batch(fake, closing, sleeps):
    fake.fail_next(1, status=429)
    embedder = closing(build_embedder(settings(llm_base_url=fake.base_url), "e", sleep=sleeps))

    vectors = await embedder.embed(["one", "two"])

    assert len(vectors) == 2 and len(fake.calls) == 2 and len(sleeps) == 1


async def test_embedding_nothing_calls_nothing(fake, closing):
    embedder = closing(build_embedder(settings(llm_base_url=fake.base_url), "e"))

    assert await embedder.embed([]) == []
    assert fake.calls == []


async def test_azure_embedder_uses_the_ada_deployment(fake, closing):
    embedder = closing(build_embedder(azure_settings(fake), "text-embedding-3-small"))

    [vector] = await embedder.embed(["hello"])

    assert vector == pytest.approx(fake_embedding("hello"))
    [call] = fake.calls
    assert call["path"] == "/openai/deployments/embedder/embeddings"
    assert call["headers"] == {"api-key": "az-secret-key"}


def test_build_returns_none_without_configuration():
    nothing = settings()

    assert build_llm(nothing) is None
    assert build_embedder(nothing, "text-embedding-3-small") is None
    assert "OPENAI_API_KEY" in describe_llm(None)


async def test_embedding_model_defaults_only_on_openai(closing):
    openai_default = closing(build_embedder(settings(llm_api_key="sk-x")))

    assert openai_default.model == "text-embedding-3-small"
    assert build_embedder(settings(llm_base_url="http://localhost:11434/v1")) is None


async def test_keys_never_appear_in_descriptions(fake, closing):
    url = "http://user:url-secret@localhost:11434/v1?key=query-secret"
    plain = settings(llm_api_key="sk-secret", llm_base_url=url, llm_model="llama3")
    azure = azure_settings(fake)
    llm = closing(build_llm(plain))
    azure_llm = closing(build_llm(azure))
    embedder = closing(build_embedder(azure))

    texts = [describe_llm(llm), describe_llm(azure_llm), embedder.describe()]

    assert (
        llm.describe() == "openai-compatible llama3 at http://user:***@localhost:11434/v1?key=***"
    )
    assert azure_llm.describe() == f"azure deployment summarizer at {fake.azure_endpoint}"
    assert closing(build_llm(settings(llm_api_key="sk-secret"))).describe() == (
        "openai gpt-3.5-turbo"
    )
    for secret in ("sk-secret", "url-secret", "query-secret", "az-secret-key"):
        assert not any(secret in text for text in texts)


def test_describe_llm_names_any_llm_by_class_and_model():
    class StubLLM:
        model = "stub-model"

    assert describe_llm(StubLLM()) == "StubLLM stub-model"  # type: ignore[arg-type]


def test_fake_server_stops_promptly_with_a_delayed_call_in_flight():
    fake = FakeOpenAI().start()
    fake.delay_s = 30
    answers: list[httpx.Response] = []
    url = fake.base_url + "/chat/completions"
    thread = threading.Thread(target=lambda: answers.append(httpx.post(url, json={}, timeout=10)))
    thread.start()
    while not fake.calls:
        time.sleep(0.01)

    started = time.monotonic()
    fake.stop()
    thread.join()

    assert time.monotonic() - started < 2
    assert [a.json()["choices"][0]["message"]["content"] for a in answers] == ["SUMMARY:"]
