"""Settings: Motörhead's variables, memhead's own, precedence and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from memhead.errors import ConfigError
from memhead.settings import load_settings
from memhead.stores import open_store
from memhead.stores.sqlite import SqliteStore, path_from_url


def test_defaults_need_nothing_configured() -> None:
    s = load_settings()
    assert s.port == 8080 and s.host == "0.0.0.0"
    assert s.window_size == 12 and s.long_term_memory is False
    assert s.llm_model == "gpt-3.5-turbo" and not s.llm_configured
    assert s.resolved_store_url == "sqlite:///memhead.db"
    assert s.max_body_bytes == 2 * 1024 * 1024


def test_motorhead_variables_keep_their_meaning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.setenv("MOTORHEAD_MAX_WINDOW_SIZE", "20")
    monkeypatch.setenv("MOTORHEAD_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_API_BASE", "http://localhost:11434/v1")
    monkeypatch.setenv("REDIS_URL", "redis://localhost:6379")
    s = load_settings()
    assert (s.port, s.window_size, s.llm_model) == (9000, 20, "gpt-4o-mini")
    assert s.llm_api_key == "sk-test" and s.llm_base_url == "http://localhost:11434/v1"
    assert s.llm_configured
    assert s.resolved_store_url == "redis://localhost:6379"


@pytest.mark.parametrize("value", ["true", "1", "yes", "on", "TRUE", "Yes", "ON"])
def test_long_term_memory_accepts_usual_truthy_spellings(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MOTORHEAD_LONG_TERM_MEMORY", value)
    assert load_settings().long_term_memory is True


def test_memhead_variables_win_over_motorhead_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTORHEAD_MAX_WINDOW_SIZE", "20")
    monkeypatch.setenv("MEMHEAD_WINDOW_SIZE", "8")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://a/v1")
    monkeypatch.setenv("MEMHEAD_LLM_BASE_URL", "http://b/v1")
    monkeypatch.setenv("REDIS_URL", "redis://r:6379")
    monkeypatch.setenv("MEMHEAD_STORE_URL", "sqlite:///x.db")
    s = load_settings()
    assert s.window_size == 8 and s.llm_base_url == "http://b/v1"
    assert s.resolved_store_url == "sqlite:///x.db"


def test_azure_alone_configures_the_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_API_KEY", "k")
    monkeypatch.setenv("AZURE_API_BASE", "https://x.openai.azure.com")
    monkeypatch.setenv("AZURE_DEPLOYMENT_ID", "gpt")
    assert load_settings().llm_configured


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MOTORHEAD_MAX_WINDOW_SIZE", "1"),
        ("MEMHEAD_WINDOW_SIZE", "many"),
        ("REDIS_URL", "not a url"),
        ("PORT", "70000"),
        ("MOTORHEAD_LONG_TERM_MEMORY", "perhaps"),
        ("OPENAI_API_BASE", "::"),
    ],
)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value).startswith(f"invalid setting {name}:")
    assert "\n" not in str(err.value)


def test_store_urls() -> None:
    assert path_from_url("sqlite://:memory:") == ":memory:"
    assert path_from_url("sqlite:///rel/x.db") == "rel/x.db"
    assert path_from_url("sqlite:////abs/x.db") == "/abs/x.db"
    assert isinstance(open_store("sqlite:///x.db"), SqliteStore)
    for bad in ("sqlite:///", "sqlite://x.db", "postgres://x"):
        with pytest.raises(ConfigError):
            open_store(bad)


async def test_sqlite_options_reach_the_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """MEMHEAD_SQLITE_SYNCHRONOUS=FULL (the deployment checklist's power-loss setting) and the
    vector cache budget must be what the store's connection and cache actually use."""
    monkeypatch.setenv("MEMHEAD_SQLITE_SYNCHRONOUS", "FULL")
    monkeypatch.setenv("MEMHEAD_VECTOR_CACHE_MB", "3")
    settings = load_settings()
    store = open_store(f"sqlite:///{tmp_path / 'o.db'}", **settings.store_options())
    assert isinstance(store, SqliteStore)
    await store.setup()
    try:
        mode = await store._run(lambda conn: conn.execute("PRAGMA synchronous").fetchone()[0])
    finally:
        await store.close()
    assert mode == 2  # FULL
    assert store._vectors.max_bytes == 3 * 1024 * 1024
