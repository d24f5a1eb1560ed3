"""A configuration or environment problem found before serving stops memhead the way the
README promises: one line on stderr naming the variable and the value memhead resolved
(the absolute SQLite path; Redis host:port, never a password), exit status 2, no traceback,
and nothing created. Each case starts the real ``memhead`` as a user would."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from memhead import __version__
from memhead.redact import redact_url
from tests.redis_server import delete_prefix
from tests.servers import NO_PROVIDERS, free_port

SECRET = "hunter2-zebra"


def memhead(
    cwd: Path, env: dict[str, str], *args: str, port: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m memhead <args>`` in ``cwd`` with no provider but those ``env`` sets."""
    full = {
        **os.environ,
        **NO_PROVIDERS,
        "MEMHEAD_HOST": "127.0.0.1",
        "PORT": str(port or free_port()),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "memhead", *(args or ("serve",))],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def assert_one_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Exit 2, one line on stderr naming what ``expected`` lists, nothing else anywhere."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output and SECRET not in output, output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and result.stdout == "", output
    assert lines[0].startswith("memhead: "), output
    for text in expected:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    return lines[0]


@pytest.fixture
def work(tmp_path: Path) -> Iterator[Path]:
    """An empty working directory; the test fails if a refused start left anything in
    ``tmp_path`` (the working directory and every target directory of these cases)."""
    cwd = tmp_path / "work"
    cwd.mkdir()
    before = files_under(tmp_path)
    yield cwd
    assert files_under(tmp_path) == before


# Each case: the environment (given the working directory) and what the line must name.
Case = Callable[[Path], tuple[dict[str, str], list[str]]]
CASES: dict[str, Case] = {
    "sqlite-three-slashes-for-an-absolute-path": lambda cwd: (
        {"MEMHEAD_STORE_URL": "sqlite:///tmp/memhead-x.db"},
        ["MEMHEAD_STORE_URL=sqlite:///tmp/memhead-x.db", str(cwd / "tmp"), "sqlite:////tmp/"],
    ),
    "sqlite-directory-missing": lambda cwd: (
        {"MEMHEAD_STORE_URL": f"sqlite:///{cwd.parent}/absent/x.db"},
        [f"SQLite file {cwd.parent}/absent/x.db", "does not exist", "mkdir -p"],
    ),
    "sqlite-path-is-a-directory": lambda cwd: (
        {"MEMHEAD_STORE_URL": f"sqlite:///{cwd.parent}"},
        [f"SQLite file {cwd.parent}", "is a directory"],
    ),
    "sqlite-directory-is-a-file": lambda cwd: (
        {"MEMHEAD_STORE_URL": "sqlite:////etc/passwd/memhead.db"},
        ["SQLite file /etc/passwd/memhead.db", "/etc/passwd is not a directory"],
    ),
    "sqlite-two-slashes": lambda cwd: (
        {"MEMHEAD_STORE_URL": "sqlite://memhead.db"},
        ["MEMHEAD_STORE_URL=sqlite://memhead.db", "sqlite:///memhead.db"],
    ),
    "unsupported-backend": lambda cwd: (
        {"MEMHEAD_STORE_URL": f"postgres://memhead:{SECRET}@db.example/memory"},
        ["MEMHEAD_STORE_URL=postgres://memhead:***@db.example/memory", "SQLite", "Redis"],
    ),
    "redis-url-malformed-port": lambda cwd: (
        {"REDIS_URL": "redis://localhost:sixty/0"},
        ["REDIS_URL=redis://localhost:sixty/0", "sixty"],
    ),
    "redis-host-unknown": lambda cwd: (
        {"REDIS_URL": "redis://no-such-host.invalid:6379/0"},
        ["REDIS_URL=redis://no-such-host.invalid:6379/0", "Redis at no-such-host.invalid:6379"],
    ),
    "redis-prefix-invalid": lambda cwd: (
        {"REDIS_URL": "redis://127.0.0.1:1/0", "MEMHEAD_REDIS_PREFIX": "mem{head}"},
        ["MEMHEAD_REDIS_PREFIX", "mem{head}"],
    ),
    "local-embedder-model-directory-missing": lambda cwd: (
        {"MEMHEAD_EMBED_MODEL": "local:/nope/model"},
        ["MEMHEAD_EMBED_MODEL=local:/nope/model", "/nope/model"],
    ),
    "provider-embedding-model-without-a-provider": lambda cwd: (
        {"MEMHEAD_EMBED_MODEL": "nomic-embed-text"},
        ["MEMHEAD_EMBED_MODEL=nomic-embed-text", "OPENAI_API_KEY", "MEMHEAD_LLM_BASE_URL"],
    ),
    "azure-without-its-endpoint": lambda cwd: (
        {"AZURE_API_KEY": SECRET, "AZURE_DEPLOYMENT_ID": "gpt"},
        ["AZURE_API_KEY", "AZURE_API_BASE"],
    ),
    "llm-base-url-not-http": lambda cwd: (
        {"MEMHEAD_LLM_BASE_URL": "ftp://models.example/v1"},
        ["MEMHEAD_LLM_BASE_URL", "ftp://models.example/v1", "http"],
    ),
    "setting-not-a-number": lambda cwd: (
        {"MEMHEAD_PORT": "eighty"},
        ["MEMHEAD_PORT", "'eighty'"],
    ),
    "setting-not-a-choice": lambda cwd: (
        {"MEMHEAD_AUTH": "yes"},
        ["MEMHEAD_AUTH", "'yes'"],
    ),
    "query-cache-size-negative": lambda cwd: (
        {"MEMHEAD_QUERY_CACHE_SIZE": "-1"},
        ["MEMHEAD_QUERY_CACHE_SIZE", "'-1'"],
    ),
    "listen-address-not-of-this-machine": lambda cwd: (
        {"MEMHEAD_HOST": "203.0.113.9"},  # TEST-NET-3: never assigned to a machine
        ["MEMHEAD_HOST=203.0.113.9"],
    ),
    "listen-host-unknown": lambda cwd: (
        {"MEMHEAD_HOST": "no-such-host.invalid"},
        ["MEMHEAD_HOST=no-such-host.invalid", "resolve"],
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_serve_refuses_a_configuration_mistake_in_one_line(case: Case, work: Path) -> None:
    env, expected = case(work)
    assert_one_line(memhead(work, env), *expected)


@pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is not None,
    reason="the [local] extra is installed here, so MEMHEAD_EMBED_MODEL=local works",
)
def test_local_embedder_without_the_extra_says_how_to_install_it(work: Path) -> None:
    result = memhead(work, {"MEMHEAD_EMBED_MODEL": "local"})
    assert_one_line(result, "MEMHEAD_EMBED_MODEL=local", "pip install -e '.[local]'")


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """``directory`` unwritable, even for root (which ignores the mode: ``chattr +i``)."""
    directory.chmod(0o555)
    immutable = False
    if os.geteuid() == 0 and shutil.which("chattr"):
        immutable = subprocess.run(["chattr", "+i", str(directory)]).returncode == 0
    try:
        if os.access(directory, os.W_OK):
            pytest.skip("cannot make a directory read-only for root on this file system")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
        directory.chmod(0o755)


def test_read_only_working_directory_names_the_default_store(work: Path) -> None:
    with read_only(work):
        result = memhead(work, {})
    line = assert_one_line(result, "MEMHEAD_STORE_URL (unset: sqlite:///memhead.db)")
    assert f"SQLite file {work}/memhead.db" in line and "not writable" in line


def test_port_in_use_is_found_before_the_store_is_created(work: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = memhead(work, {}, port=port)
    assert_one_line(result, f"PORT={port}", f"127.0.0.1:{port}", "already in use")


def test_a_file_that_is_no_database_is_named_and_kept(work: Path) -> None:
    (work / "memhead.db").write_text("notes, not a database\n")
    result = memhead(work, {})
    assert_one_line(result, f"cannot open the SQLite database {work}/memhead.db", "not a database")
    assert (work / "memhead.db").read_text() == "notes, not a database\n"
    assert sorted(os.listdir(work)) == ["memhead.db"]
    (work / "memhead.db").unlink()  # what the test made, so that ``work`` sees it unchanged


def test_a_database_file_the_failed_start_created_is_removed(work: Path) -> None:
    """SQLite creates the file, then fails on its write-ahead log (here a directory in the
    way): the one line, and no empty memhead.db left behind."""
    (work / "memhead.db-wal").mkdir()
    result = memhead(work, {})
    assert_one_line(result, f"cannot open the SQLite database {work}/memhead.db")
    assert sorted(os.listdir(work)) == ["memhead.db-wal"]
    (work / "memhead.db-wal").rmdir()  # what the test made, so that ``work`` sees it unchanged


def test_debug_shows_the_traceback_before_the_line(work: Path) -> None:
    result = memhead(work, {"MEMHEAD_STORE_URL": "sqlite:///tmp/x.db", "MEMHEAD_DEBUG": "1"})
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("memhead: MEMHEAD_STORE_URL=")


def unreachable_redis() -> tuple[dict[str, str], list[str]]:
    port = free_port()  # nothing listens there
    env = {"REDIS_URL": f"redis://:{SECRET}@127.0.0.1:{port}/0"}
    shown = redact_url(env["REDIS_URL"])
    return env, [f"REDIS_URL={shown}", f"Redis at 127.0.0.1:{port}", "refused"]


def test_redis_that_does_not_answer(work: Path) -> None:
    env, expected = unreachable_redis()
    assert_one_line(memhead(work, env), *expected)


def test_redis_database_other_than_0(work: Path, redis_url: str) -> None:
    prefix = f"memhead-db3-{work.parent.name[-10:]}"
    url = urlunsplit(urlsplit(redis_url)._replace(path="/3"))
    try:
        result = memhead(work, {"REDIS_URL": url, "MEMHEAD_REDIS_PREFIX": prefix})
    finally:
        delete_prefix(url, prefix)
    assert_one_line(result, f"REDIS_URL={redact_url(url)}", "database 3", "/0")


def test_redis_keys_of_another_layout(work: Path, redis_url: str) -> None:
    prefix = f"memhead-layout-{work.parent.name[-10:]}"
    with redis.Redis.from_url(redis_url) as client:
        client.set(f"{prefix}:schema", "99")
    try:
        result = memhead(work, {"REDIS_URL": redis_url, "MEMHEAD_REDIS_PREFIX": prefix})
    finally:
        delete_prefix(redis_url, prefix)
    assert_one_line(result, f"REDIS_URL={redact_url(redis_url)}", "layout")


COMMANDS = {
    "keys": ("keys", "create", "--tenant", "acme"),
    "check": ("check",),
    "worker": ("worker",),
    "migrate-motorhead": ("migrate-motorhead", "--from", "redis://127.0.0.1:1/0"),
}
# The worker starts only with work to do: an LLM it does not reach before the store opens.
WORKER_LLM = {"MEMHEAD_LLM_BASE_URL": "http://127.0.0.1:1/v1"}


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_commands_on_a_sqlite_store_that_cannot_be_created(
    command: tuple[str, ...], work: Path
) -> None:
    env = {"MEMHEAD_STORE_URL": "sqlite:///tmp/x.db", **WORKER_LLM}
    assert_one_line(memhead(work, env, *command), str(work / "tmp"), "sqlite:////tmp/x.db")


def test_a_command_on_a_redis_that_does_not_answer(work: Path) -> None:
    env, expected = unreachable_redis()
    assert_one_line(memhead(work, env, "keys", "list"), *expected)


def test_worker_with_nothing_to_do(work: Path) -> None:
    assert_one_line(memhead(work, {}, "worker"), "summaries are off", "OPENAI_API_KEY")


def test_a_bad_from_url_stops_migration_before_the_store_is_created(work: Path) -> None:
    result = memhead(work, {}, "migrate-motorhead", "--from", "http://motorhead:8080")
    assert_one_line(result, "--from", "http://motorhead:8080")


def test_version(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "memhead", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, f"memhead {__version__}\n", "")
    assert os.listdir(tmp_path) == []
