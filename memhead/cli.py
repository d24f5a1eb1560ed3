"""The ``memhead`` command: ``serve``, ``worker``, ``reindex``, ``migrate-motorhead`` and more.

The web stack (uvicorn, the app, authentication) is imported only by the commands that use
it, so ``memhead worker`` runs without it."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime

from memhead import __version__
from memhead.background import background, build_workers
from memhead.banner import SUMMARIES_OFF, describe
from memhead.errors import ConfigError
from memhead.lifecycle.commands import add_parsers as add_lifecycle_parsers
from memhead.listening import listen
from memhead.logs import configure_logging
from memhead.migrate import open_source
from memhead.migrate import run as run_migration
from memhead.models import DEFAULT_TENANT, now_ms
from memhead.providers.base import LLM, Embedder
from memhead.settings import Settings, load_settings, variable_name
from memhead.startup import build_providers, check_store_opens, opened_store, run_reported

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    sockets = listen(
        host,
        port,
        host_from="--host" if args.host else variable_name("MEMHEAD_HOST"),
        port_from="--port" if args.port is not None else variable_name("MEMHEAD_PORT"),
    )
    llm, embedder = build_providers(settings)
    check_store_opens(settings, embedder)
    if settings.auth == "off" and host not in LOOPBACK:
        logging.getLogger("memhead").warning(
            "AUTHENTICATION IS OFF and memhead listens on %s: anyone who can reach this port "
            "can read and delete every conversation. Set MEMHEAD_AUTH=required and create "
            "keys with 'memhead keys create --tenant <name>'.",
            host,
        )
    # Imported once the checks above passed: a refused start says so without first paying
    # for the web stack's imports.
    import uvicorn

    from memhead.app import create_app

    app = create_app(settings, llm=llm, embedder=embedder)
    # Everything built so far lives as long as the process: keep it out of the cyclic
    # collector's full passes, which otherwise walk it all and stall requests for ~100 ms.
    # Requests make few cycles (reference counting frees the rest), so the young generation
    # is collected every 50,000 allocations instead of 700: 4% more requests/s (bench/load).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        lifespan="on",
        log_config=None,  # uvicorn's lines go through our handler (text or JSON)
    )
    server = uvicorn.Server(config)
    with suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C once it has shut down
        server.run(sockets=sockets)
    return 0 if server.started else 3  # 3: the app failed to start, as with uvicorn.run


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    llm, embedder = build_providers(settings)
    if llm is None and embedder is None and settings.session_ttl is None:
        print(f"memhead: nothing to do: {SUMMARIES_OFF}", file=sys.stderr)
        return 2
    return asyncio.run(_run_worker(settings, llm, embedder))


async def _run_worker(settings: Settings, llm: LLM | None, embedder: Embedder | None) -> int:
    store = await opened_store(settings, embedder)
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
    return asyncio.run(_run_migrate(settings, args))


async def _run_migrate(settings: Settings, args: argparse.Namespace) -> int:
    source = open_source(args.source)  # a bad --from stops the command before the store opens
    try:
        store = await opened_store(settings)
    except ConfigError:
        await source.aclose()
        raise
    return await run_migration(store, source, tenant=args.tenant, window=settings.window_size)


def _reindex(settings: Settings, args: argparse.Namespace) -> int:
    _, embedder = build_providers(settings)
    if embedder is None:
        raise ConfigError(
            "MEMHEAD_EMBED_MODEL is not set: memhead reindex embeds every message with the "
            "model it names (the new one)"
        )
    return asyncio.run(_run_reindex(settings, embedder))


async def _run_reindex(settings: Settings, embedder: Embedder) -> int:
    from memhead.reindex import INTERRUPTED, reindex

    store = await opened_store(settings)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):  # stop between batches, nothing half-done
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    try:
        status = await reindex(store, embedder, sys.stdout, batch=settings.embed_batch, stop=stop)
        if status == INTERRUPTED:
            print("memhead: reindex interrupted; run it again to continue", file=sys.stderr)
        return status
    finally:
        await store.close()
        await embedder.close()


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_run_keys(settings, args))


async def _run_keys(settings: Settings, args: argparse.Namespace) -> int:
    from memhead.auth import create_key

    store = await opened_store(settings)
    try:
        if args.action == "create":
            record, key = await create_key(store, args.tenant, args.name)
            print(f"created key {record.id} for tenant {record.tenant!r}; shown once:")
            print(key)
        elif args.action == "list":
            for k in await store.list_keys():
                state = "live" if k.revoked_at is None else f"revoked {_iso(k.revoked_at)}"
                print(f"{k.id}\t{k.tenant}\t{k.name}\t{_iso(k.created_at)}\t{state}")
        elif not await store.revoke_key(args.key_id, now=now_ms()):
            print(f"memhead: no live key {args.key_id!r}", file=sys.stderr)
            return 1
        else:
            print(f"revoked {args.key_id}")
        return 0
    finally:
        await store.close()


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


def _add_keys_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="manage API keys (MEMHEAD_AUTH=required)")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key for a tenant; printed once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--name", default="")
    actions.add_parser("list", help="list keys (never the keys themselves)")
    revoke = actions.add_parser("revoke", help="revoke a key at once on every server")
    revoke.add_argument("key_id")
    keys.set_defaults(run=_keys)


def _check(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> list[str]:
        store = await opened_store(settings)
        try:
            return await store.check()
        finally:
            await store.close()

    problems = asyncio.run(run())
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s) found" if problems else "store is sound")
    return 1 if problems else 0


def _mcp(settings: Settings, args: argparse.Namespace) -> int:
    from memhead.mcp.stdio import run_stdio  # the MCP SDK costs a second to import

    return run_stdio(settings, args.tenant)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memhead", description="Memory server for LLM apps.")
    parser.add_argument("--version", action="version", version=f"memhead {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP server (and the background worker)")
    serve.add_argument("--host", help="listen address (default: MEMHEAD_HOST or 0.0.0.0)")
    serve.add_argument("--port", type=int, help="listen port (default: PORT or 8080)")
    serve.set_defaults(run=_serve)
    worker = sub.add_parser("worker", help="run only the background worker (summaries)")
    worker.set_defaults(run=_worker)
    _add_keys_parser(sub)
    mcp = sub.add_parser("mcp", help="serve MCP tools on stdio (for desktop MCP hosts)")
    mcp.add_argument(
        "--tenant", default=DEFAULT_TENANT, help=f"tenant to act for (default: {DEFAULT_TENANT})"
    )
    mcp.set_defaults(run=_mcp)
    reindex = sub.add_parser(
        "reindex",
        help="re-embed every message with MEMHEAD_EMBED_MODEL (to switch embedding models)",
    )
    reindex.set_defaults(run=_reindex)
    check = sub.add_parser("check", help="verify the store's invariants; exit 1 on a violation")
    check.set_defaults(run=_check)
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
    add_lifecycle_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"memhead: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format)
    return run_reported(settings, lambda: int(args.run(settings, args)))
