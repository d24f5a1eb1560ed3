"""The ``memhead`` command: ``serve`` (and, later, ``worker`` and admin commands)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import uvicorn

from memhead.app import create_app
from memhead.errors import ConfigError
from memhead.settings import Settings, load_settings


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memhead", description="Memory server for LLM apps.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP server (and the background worker)")
    serve.add_argument("--host", help="listen address (default: MEMHEAD_HOST or 0.0.0.0)")
    serve.add_argument("--port", type=int, help="listen port (default: PORT or 8080)")
    serve.set_defaults(run=_serve)
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
