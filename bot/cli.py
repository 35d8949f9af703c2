"""The ``linli`` command."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from types import FrameType

from bot.settings import Settings, load_settings

Handler = Callable[[argparse.Namespace], int]


def _settings(args: argparse.Namespace, **overrides: object) -> Settings:
    return load_settings(getattr(args, "config", None), **overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot import appkeys, logs
    from bot.app import build_app
    from bot.domain import StoreUnavailable
    from bot.edge import server_options
    from bot.storage.sql.guard import DatabaseInUse, hold_sqlite_file

    overrides: dict[str, object] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    settings = _settings(args, **overrides)
    logs.configure(settings.log_level, settings.log_json)
    if args.workers > 1:
        return _serve_workers(args, settings)
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

    from bot.encoders import pin_blas_threads

    pin_blas_threads()  # one BLAS thread per worker, set once for all its models

    built: list[web.Application] = []

    async def serving_app() -> web.Application:
        # Listening at once: a restarted worker takes messages while its models load.
        app = await build_app(settings, listen_while_loading=True)
        built.append(app)
        return app

    try:
        web.run_app(
            serving_app(),
            host=settings.host,
            port=settings.port,
            print=None,
            shutdown_timeout=settings.drain_timeout_s,
            access_log=None,
            reuse_port=args.reuse_port or None,
            **server_options(settings),
        )
    except StoreUnavailable as exc:
        # The database or Redis cannot be reached at start: say which, plainly, and exit
        # (a supervisor restarts it); never a traceback holding the connection's details.
        logging.getLogger("bot.cli").error(
            "refusing to start: a store is unavailable", extra={"error": type(exc).__name__}
        )
        print(f"linli: refusing to start: {exc}", file=sys.stderr, flush=True)
        return 4
    finally:
        if guard is not None:
            guard.close()
    failure = built[0][appkeys.READINESS].failure if built else None
    if failure is not None:
        print(f"linli: stopped: the models could not be loaded: {failure}", file=sys.stderr)
        return 1
    return 0


def console_help(base: str, committee: str) -> list[str]:
    """Where caseworkers log in, and how to make the first account (the console has none
    until one is created on the command line)."""
    return [
        f"Caseworkers' console: {base}/console/",
        "  No account yet? Create the first one (it asks for a password), then log in:",
        f"  .venv/bin/linli user add admin --role admin --committee {committee}",
    ]


WORKERS_NEED_SHARED_STORES = (
    "linli: --workers > 1 需要 PostgreSQL 和 Redis（database_url、redis_url）；"
    "内置的 SQLite 只能由一个进程使用。\n"
    "linli: --workers > 1 needs PostgreSQL and Redis (database_url and redis_url); the "
    "embedded SQLite database serves one process only."
)


def _serve_workers(args: argparse.Namespace, settings: Settings) -> int:
    """``--workers N``: N ``linli serve`` processes on one port (SO_REUSEPORT: the kernel
    spreads connections over them), sharing PostgreSQL and Redis. The first starts alone (it
    migrates the database and trains or builds the models the others then load); SIGTERM or
    SIGINT stops them all, each draining its requests; one that dies stops the others."""
    if settings.effective_database_url.startswith("sqlite") or not settings.redis_url:
        print(WORKERS_NEED_SHARED_STORES, file=sys.stderr, flush=True)
        return 2
    command = [sys.executable, "-m", "bot.cli"]
    if args.config:
        command += ["--config", args.config]
    command += ["serve", "--host", settings.host, "--port", str(settings.port), "--reuse-port"]
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    health = f"http://{settings.host}:{settings.port}/healthz"
    try:
        for n in range(args.workers):
            if stopping:
                break
            children.append(subprocess.Popen(command, env=os.environ.copy()))  # noqa: S603
            if n == 0:
                _wait_healthy(health, children[0], lambda: stopping)
                if children[0].poll() is not None:
                    break  # it could not start: the loop below reports it
        print(f"Linli: {len(children)} workers on {settings.host}:{settings.port}", flush=True)
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.5)
        if not stopping:  # a worker died: the rest go too (the supervisor restarts us all)
            stop(signal.SIGTERM, None)
        deadline = time.monotonic() + settings.drain_timeout_s + 10
        codes = []
        for child in children:
            try:
                codes.append(child.wait(max(0.1, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                child.kill()
                codes.append(child.wait())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if all(code == 0 for code in codes) else 1


def _wait_healthy(url: str, child: subprocess.Popen[bytes], stopping: Callable[[], bool]) -> None:
    while child.poll() is None and not stopping():
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (our own http URL)
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linli", description="Linli (邻里) residents' assistant")
    parser.add_argument("--config", help="TOML settings file (or LINLI_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the bot")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the port (> 1 needs PostgreSQL and Redis)",
    )
    # Set by --workers for its children: bind the port beside the other workers.
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(handler=cmd_serve)

    from bot.accounts.cli import register as register_user
    from bot.households.cli import register as register_households
    from bot.kb_admin import extend as kb_admin
    from bot.nlu.cli import register as register_nlu
    from bot.retrieval.cli import register as register_kb

    register_kb(sub, extend=kb_admin)
    register_nlu(sub)
    register_user(sub)
    register_households(sub)
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
