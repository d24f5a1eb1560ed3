"""The data lifecycle's commands: ``memhead export``, ``import``, ``erase`` and ``backup``
(``add_parsers`` puts them into ``memhead``'s parser)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import orjson
from tqdm import tqdm

from memhead.errors import ConfigError, InvalidRequest
from memhead.items import checks
from memhead.lifecycle.backup import backup_sqlite
from memhead.lifecycle.erase import erase_user
from memhead.lifecycle.export import export_store
from memhead.lifecycle.importer import BadLine, import_lines
from memhead.settings import Settings
from memhead.startup import opened_store
from memhead.stores.sqlite import path_from_url


def _bar(total: int | None, unit: str) -> tqdm[Any]:
    """A progress bar on stderr, only when stderr is a terminal."""
    return tqdm(total=total, unit=unit, file=sys.stderr, disable=not sys.stderr.isatty())


def _export(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> None:
        store = await opened_store(settings)
        out = sys.stdout.buffer
        try:
            with _bar(None, " lines") as bar:
                async for line in export_store(store, tenant=args.tenant, user_id=args.user):
                    out.write(line)
                    bar.update()
            out.flush()
        finally:
            await store.close()

    asyncio.run(run())
    return 0


async def _lines(file: IO[bytes], bar: tqdm[Any]) -> AsyncIterator[bytes]:
    for raw in file:
        bar.update(len(raw))
        yield raw


def _import(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"memhead: no file {args.file}", file=sys.stderr)
        return 2

    async def run() -> dict[str, int]:
        store = await opened_store(settings)
        try:
            with path.open("rb") as file, _bar(path.stat().st_size, "B") as bar:
                return await import_lines(
                    store,
                    _lines(file, bar),
                    window=settings.window_size,
                    items=settings.item_settings(),
                )
        finally:
            await store.close()

    try:
        counts = asyncio.run(run())
    except BadLine as exc:
        print(f"memhead: {args.file}: {exc}", file=sys.stderr)
        return 1
    print(
        f"imported {counts['session']} session(s), {counts['message']} new message(s), "
        f"{counts['item']} item(s)"
    )
    return 0


def _erase(settings: Settings, args: argparse.Namespace) -> int:
    try:
        prefixes = [checks.dotted(n) for n in args.namespace]
    except InvalidRequest as exc:
        print(f"memhead: --namespace: {exc.message}", file=sys.stderr)
        return 2

    async def run() -> dict[str, object]:
        store = await opened_store(settings)
        try:
            erased = await erase_user(store, args.tenant, args.user, prefixes)
        finally:
            await store.close()
        return {"user_id": args.user, "tenant": args.tenant, **_counts(erased)}

    print(orjson.dumps(asyncio.run(run())).decode())
    return 0


def _counts(erased: object) -> dict[str, int]:
    return {name: getattr(erased, name) for name in ("sessions", "messages", "summaries", "items")}


def _backup(settings: Settings, args: argparse.Namespace) -> int:
    url = settings.resolved_store_url
    if not url.startswith("sqlite:"):
        raise ConfigError(
            f"memhead backup copies SQLite stores; this one is {url.split(':', 1)[0]}: back "
            "up Redis with its own snapshots (BGSAVE / AOF), see docs/data-lifecycle.md"
        )
    size = backup_sqlite(path_from_url(url), Path(args.path))
    print(f"backed up {path_from_url(url)} to {args.path} ({size} bytes)")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``export``, ``import``, ``erase`` and ``backup`` to ``memhead``'s commands."""
    export = sub.add_parser(
        "export", help="write sessions and memory items as JSON lines to stdout"
    )
    export.add_argument("--tenant", help="only this tenant (default: every tenant)")
    export.add_argument(
        "--user", help="only this user's sessions (and no memory items: they have no user)"
    )
    export.set_defaults(run=_export)
    imp = sub.add_parser("import", help="read an export into the store (idempotent)")
    imp.add_argument("file", help="a file written by memhead export")
    imp.set_defaults(run=_import)
    erase = sub.add_parser("erase", help="delete every session of a user, and what derives")
    erase.add_argument("--user", required=True, help="the user id")
    erase.add_argument("--tenant", required=True, help="the user's tenant")
    erase.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="also delete every memory item under this namespace (labels joined by dots, "
        "e.g. users.ada); repeat for several",
    )
    erase.set_defaults(run=_erase)
    backup = sub.add_parser("backup", help="copy a SQLite store while it runs")
    backup.add_argument("path", help="the file to write")
    backup.set_defaults(run=_backup)
