"""The ``linli`` command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from bot.settings import Settings, load_settings

Handler = Callable[[argparse.Namespace], int]


def _settings(args: argparse.Namespace, **overrides: object) -> Settings:
    return load_settings(getattr(args, "config", None), **overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot import logs
    from bot.app import build_app
    from bot.edge import server_options
    from bot.storage.sql.guard import DatabaseInUse, hold_sqlite_file

    overrides: dict[str, object] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    settings = _settings(args, **overrides)
    logs.configure(settings.log_level, settings.log_json)
    try:
        # Held (open) until the process exits: one serving process per SQLite file.
        guard = hold_sqlite_file(settings.effective_database_url)
    except DatabaseInUse as exc:
        logging.getLogger("bot.cli").error(
            "refusing to start: the SQLite database is in use", extra={"reason": str(exc)}
        )
        print(f"linli: {exc}", file=sys.stderr, flush=True)
        return 3
    base = f"http://{settings.host}:{settings.port}"
    print(f"Linli is starting on {base}", flush=True)
    if settings.try_enabled:
        print(f"Talk to Linli as a resident: {base}/try", flush=True)
    for line in console_help(base, settings.channels.webhook.committee):
        print(line, flush=True)
    print(f"Health: {base}/healthz   Metrics: {base}/metrics", flush=True)
    web.run_app(
        build_app(settings),
        host=settings.host,
        port=settings.port,
        print=None,
        shutdown_timeout=settings.drain_timeout_s,
        access_log=None,
        **server_options(settings),
    )
    if guard is not None:
        guard.close()
    return 0


def console_help(base: str, committee: str) -> list[str]:
    """Where caseworkers log in, and how to make the first account (the console has none
    until one is created on the command line)."""
    return [
        f"Caseworkers' console: {base}/console/",
        "  No account yet? Create the first one (it asks for a password), then log in:",
        f"  .venv/bin/linli user add admin --role admin --committee {committee}",
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linli", description="Linli (邻里) residents' assistant")
    parser.add_argument("--config", help="TOML settings file (or LINLI_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the bot")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(handler=cmd_serve)

    from bot.accounts.cli import register as register_user
    from bot.kb_admin import extend as kb_admin
    from bot.nlu.cli import register as register_nlu
    from bot.retrieval.cli import register as register_kb

    register_kb(sub, extend=kb_admin)
    register_nlu(sub)
    register_user(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = getattr(args, "handler", None) or args.func
    try:
        return handler(args)
    except FileNotFoundError as exc:
        print(f"linli: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
