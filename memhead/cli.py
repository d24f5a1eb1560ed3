"""The ``memhead`` command: ``serve``, ``worker`` and ``migrate-motorhead``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

import uvicorn

from memhead.app import SUMMARIES_OFF, background, build_workers, create_app, describe
from memhead.errors import ConfigError
from memhead.migrate import run as run_migration
from memhead.models import DEFAULT_TENANT
from memhead.providers import build_llm, configured_embedder
from memhead.providers.base import LLM, Embedder
from memhead.settings import Settings, load_settings
from memhead.stores import open_store


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    app = create_app(settings)
    uvicorn.run(
        app,
        host=args.host or settings.host,
        port=settings.port if args.port is None else args.port,
        log_level="info",
        access_log=False,
        lifespan="on",
    )
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    llm = build_llm(settings)
    embedder = configured_embedder(settings)
    if llm is None and embedder is None:
        print(f"memhead: nothing to do: {SUMMARIES_OFF}", file=sys.stderr)
        return 2
    return asyncio.run(_run_worker(settings, llm, embedder))


async def _run_worker(settings: Settings, llm: LLM | None, embedder: Embedder | None) -> int:
    store = open_store(settings.resolved_store_url)
    await store.setup()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logging.getLogger("memhead").info(describe(settings, store, llm, embedder))
    async with background(*build_workers(settings, store, llm, embedder)):
        await stop.wait()
    for provider in (llm, embedder):
        if provider is not None:
            await provider.close()
    await store.close()
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    try:
        return asyncio.run(
            run_migration(
                settings.resolved_store_url,
                args.source,
                tenant=args.tenant,
                window=settings.window_size,
            )
        )
    except ConfigError as exc:
        print(f"memhead: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memhead", description="Memory server for LLM apps.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP server (and the background worker)")
    serve.add_argument("--host", help="listen address (default: MEMHEAD_HOST or 0.0.0.0)")
    serve.add_argument("--port", type=int, help="listen port (default: PORT or 8080)")
    serve.set_defaults(run=_serve)
    worker = sub.add_parser("worker", help="run only the background worker (summaries)")
    worker.set_defaults(run=_worker)
    migrate = sub.add_parser(
        "migrate-motorhead",
        help="import a Motörhead Redis into the configured store (reads the source only)",
    )
    migrate.add_argument(
        "--from", dest="source", required=True, metavar="URL", help="Motörhead's redis:// URL"
    )
    migrate.add_argument(
        "--tenant",
        default=DEFAULT_TENANT,
        help=f"tenant to import into (default: {DEFAULT_TENANT})",
    )
    migrate.set_defaults(run=_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"memhead: {exc}", file=sys.stderr)
        return 2
    code: int = args.run(settings, args)
    return code
