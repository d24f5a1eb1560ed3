"""What every command checks before it starts, and the one place where a startup problem
becomes one line.

The commands find problems in an order that creates nothing on the way: ``serve`` binds its
port first; then the providers are built (a local model is loaded); then the store URL and
the SQLite file's directory are checked without connecting; only then is the store opened.
Each problem raises ``ConfigError`` with a message that names the variable, the value memhead
resolved from it (the absolute SQLite path, Redis host:port; never a password) and, where one
helps, what to do. ``run_reported`` prints that message as one line on stderr and exits 2;
with ``MEMHEAD_DEBUG=1`` the traceback comes first.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import sys
import traceback
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit

from redis.exceptions import RedisError

from memhead.embedding_space import check_embedding_space
from memhead.errors import BackendUnavailable, ConfigError, ProviderFailure
from memhead.providers import build_llm, configured_embedder
from memhead.providers.base import LLM, Embedder
from memhead.redact import redact_url
from memhead.settings import Settings
from memhead.stores import Store, store_for
from memhead.stores.redis.keyspace import Keys
from memhead.stores.sqlite import path_from_url

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
BACKENDS = (
    "memhead stores in SQLite (sqlite:///relative/path.db or sqlite:////absolute/path.db) "
    "or Redis (redis://host:port, rediss://host:port, unix:///path.sock)"
)


def run_reported(settings: Settings, command: Callable[[], int]) -> int:
    """Run ``command``; a ``ConfigError`` becomes one line on stderr and exit status 2, after
    removing any SQLite file this run created."""
    created = _NewFiles(sqlite_files(settings))
    try:
        return command()
    except ConfigError as exc:
        created.remove()
        if settings.debug:
            traceback.print_exc()
        print(f"memhead: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2


# -- the store -------------------------------------------------------------------------


def store_label(settings: Settings) -> str:
    """The variable the store comes from and its value, without a password."""
    if settings.store_url:
        return f"MEMHEAD_STORE_URL={redact_url(settings.store_url)}"
    if settings.redis_url:
        return f"REDIS_URL={redact_url(settings.redis_url)}"
    return f"MEMHEAD_STORE_URL (unset: {settings.resolved_store_url})"


def check_store(settings: Settings) -> None:
    """Problems of the store URL that need no connection: an unknown backend, a malformed
    SQLite URL, a SQLite file memhead could not create or write, an invalid Redis prefix."""
    url = settings.resolved_store_url
    if url.startswith("sqlite:"):
        path = _sqlite_file(settings)
        if path is not None:
            _check_sqlite_file(settings, path)
    elif url.startswith(REDIS_SCHEMES):
        try:
            Keys(settings.redis_prefix)
        except ConfigError as exc:
            raise ConfigError(f"MEMHEAD_REDIS_PREFIX: {exc}") from None
    else:
        raise ConfigError(f"{store_label(settings)}: {BACKENDS}")


async def opened_store(settings: Settings, embedder: Embedder | None = None) -> Store:
    """The configured store, set up (the caller closes it). A store that cannot be opened
    raises ``ConfigError`` (see ``store_problem``); exceptions it does not know propagate.
    With ``embedder``, a store whose vectors are of another model is refused too."""
    check_store(settings)
    try:
        store = store_for(settings)
    except ValueError as exc:  # redis-py's reading of a malformed URL (a port that is no number)
        raise ConfigError(f"{store_label(settings)}: {exc}") from exc
    try:
        await store.setup()
    except Exception as exc:
        await store.close()
        problem = store_problem(exc, settings)
        if problem is None:
            raise
        raise problem from exc
    if embedder is not None:
        try:
            check_embedding_space(await store.embedding_space(), embedder)
        except ConfigError:
            await store.close()
            raise
    return store


def check_store_opens(settings: Settings, embedder: Embedder | None = None) -> None:
    """Open the store once and close it again: ``serve`` opens its own inside uvicorn's event
    loop, where a failure could only be logged with its traceback."""

    async def probe() -> None:
        await (await opened_store(settings, embedder)).close()

    asyncio.run(probe())


def store_problem(exc: Exception, settings: Settings) -> ConfigError | None:
    """The one line for a store that failed to open, or ``None`` for an exception that is
    not about opening a store (a bug, to be shown whole)."""
    label, url = store_label(settings), settings.resolved_store_url
    if isinstance(exc, ConfigError):  # raised by a backend about what it found there
        return ConfigError(f"{label}: {exc}")
    if url.startswith("sqlite:") and isinstance(exc, BackendUnavailable | sqlite3.Error):
        path = _sqlite_file(settings)
        return ConfigError(f"{label}: cannot open the SQLite database {path}: {_reason(exc)}")
    if isinstance(exc, BackendUnavailable | RedisError | OSError):
        return ConfigError(f"{label}: cannot use Redis at {redis_address(url)}: {_reason(exc)}")
    return None


def redis_address(url: str) -> str:
    """``host:port`` (or the socket path) of a Redis URL, never its password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    try:
        port = parts.port or 6379
    except ValueError:
        return parts.netloc.rpartition("@")[2]
    return f"{parts.hostname}:{port}"


def _reason(exc: BaseException) -> str:
    """What went wrong underneath: the system's words when an OS error is at the bottom."""
    chain = [exc]
    while (inner := chain[-1].__cause__ or chain[-1].__context__) is not None and len(chain) < 16:
        chain.append(inner)
    for inner in chain:
        if isinstance(inner, socket.gaierror):
            return str(inner.strerror)
        if isinstance(inner, OSError) and inner.errno:
            return os.strerror(inner.errno)
    return str(chain[-1]).split(" store unavailable: ", 1)[-1]


def sqlite_files(settings: Settings) -> list[Path]:
    """The files of the SQLite database the settings name (none for Redis or ``:memory:``)."""
    try:
        path = _sqlite_file(settings)
    except ConfigError:
        return []
    if path is None:
        return []
    return [path, *(path.with_name(path.name + end) for end in ("-wal", "-shm", "-journal"))]


def _sqlite_file(settings: Settings) -> Path | None:
    url = settings.resolved_store_url
    if not url.startswith("sqlite:"):
        return None
    try:
        path = path_from_url(url)
    except ConfigError:
        rest = url.removeprefix("sqlite:").lstrip("/") or "memhead.db"
        raise ConfigError(
            f"{store_label(settings)}: not a SQLite URL; use sqlite:///{rest} for a path "
            f"relative to the working directory, sqlite:////{rest} for an absolute one"
        ) from None
    return None if path == ":memory:" else Path(os.path.abspath(path))


def _check_sqlite_file(settings: Settings, path: Path) -> None:
    where = f"{store_label(settings)}: SQLite file {path}"
    directory = path.parent
    if not directory.exists():
        raise ConfigError(f"{where}: directory {directory} does not exist; {_hint(settings)}")
    if not directory.is_dir():
        raise ConfigError(f"{where}: {directory} is not a directory")
    if path.is_dir():
        raise ConfigError(f"{where}: that is a directory; name a file in it")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{where}: directory {directory} is not writable (SQLite writes the database and "
            "its -wal and -shm files there); set MEMHEAD_STORE_URL to a file in a writable "
            "directory, e.g. sqlite:////var/lib/memhead/memhead.db"
        )
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise ConfigError(f"{where}: the file is not readable and writable")


def _hint(settings: Settings) -> str:
    """For a missing directory: the four slashes of an absolute path, when that is the likely
    slip (``sqlite:///tmp/x.db`` means ``./tmp/x.db``); else create the directory."""
    given = path_from_url(settings.resolved_store_url)
    absolute = Path("/" + given)
    if not Path(given).is_absolute() and absolute.parent.is_dir():
        return (
            f"the path is relative to the working directory {Path.cwd()}; for an absolute "
            f"path use four slashes: sqlite:///{absolute}"
        )
    return f"create it first (mkdir -p {Path(os.path.abspath(given)).parent})"


class _NewFiles:
    """Files that do not exist yet, so that a failed start can remove those it created."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = [p for p in paths if not os.path.lexists(p)]

    def remove(self) -> None:
        for path in self.paths:
            if path.is_file() and not path.is_symlink():
                with suppress(FileNotFoundError):
                    path.unlink()


# -- the providers ---------------------------------------------------------------------

AZURE = ("AZURE_API_KEY", "AZURE_API_BASE", "AZURE_DEPLOYMENT_ID", "AZURE_DEPLOYMENT_ID_ADA")


def build_providers(settings: Settings) -> tuple[LLM | None, Embedder | None]:
    """The LLM and embedder the settings ask for (a local model is loaded here); settings
    they cannot work with raise ``ConfigError``."""
    _check_azure(settings)
    llm = build_llm(settings)
    try:
        embedder = configured_embedder(settings)
    except (ProviderFailure, OSError) as exc:
        raise ConfigError(f"MEMHEAD_EMBED_MODEL={settings.embed_model}: {exc}") from exc
    if embedder is None and settings.embed_model:
        raise ConfigError(
            f"MEMHEAD_EMBED_MODEL={settings.embed_model} names a provider's model, but no "
            "provider is configured: set OPENAI_API_KEY (OpenAI) or MEMHEAD_LLM_BASE_URL (an "
            "OpenAI-compatible server), or use MEMHEAD_EMBED_MODEL=local"
        )
    return llm, embedder


def _check_azure(settings: Settings) -> None:
    """Some Azure variables without the others would quietly leave Azure unused."""
    values = {name: getattr(settings, name.lower()) for name in AZURE}
    given = [name for name, value in values.items() if value]
    missing = [name for name in AZURE[:2] if not values[name]]
    if not (values["AZURE_DEPLOYMENT_ID"] or values["AZURE_DEPLOYMENT_ID_ADA"]):
        missing.append("AZURE_DEPLOYMENT_ID or AZURE_DEPLOYMENT_ID_ADA")
    if given and missing:
        raise ConfigError(
            f"{', '.join(given)} set, but not {' and '.join(missing)}: Azure OpenAI needs "
            "AZURE_API_KEY, AZURE_API_BASE and a deployment (AZURE_DEPLOYMENT_ID for "
            "summaries, AZURE_DEPLOYMENT_ID_ADA for embeddings)"
        )
