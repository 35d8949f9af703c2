"""``linli user …``: manage console users and API tokens from the command line.

    linli user add NAME --role caseworker|admin|street_admin [--committee ID]
                   [--display-name TEXT] [--password-stdin]
    linli user passwd NAME [--password-stdin]
    linli user disable NAME / linli user enable NAME
    linli user logout NAME                       (ends every console session of NAME)
    linli user list [--committee ID] [--json]
    linli user token NAME [--label TEXT]         (prints the new token once)
    linli user tokens NAME [--json]
    linli user revoke-token TOKEN_ID

Passwords are prompted for (twice, not echoed) unless ``--password-stdin`` reads the first
line of standard input. The database is migrated first, like ``linli serve`` does."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from bot.accounts.passwords import Passwords
from bot.accounts.service import AccountService
from bot.domain import Registry, RegistryError, StoreUnavailable
from bot.domain.accounts import AccountError, ApiToken, Role
from bot.settings import Settings, load_settings
from bot.storage.sql.account_repo import SqlAccountStore
from bot.storage.sql.database import Database

Work = Callable[[AccountService, argparse.Namespace], Awaitable[int]]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``user`` and its sub-commands to the ``linli`` parser's sub-parsers."""
    user = sub.add_parser("user", help="manage console users and API tokens")
    cmds = user.add_subparsers(dest="user_command", required=True)

    add = cmds.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--committee", help="committee id (not for street_admin)")
    add.add_argument("--display-name", default="", help="name shown in the console, e.g. 王芳")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(handler=_handler(_add))

    passwd = cmds.add_parser("passwd", help="set a user's password (ends their sessions)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(handler=_handler(_passwd))

    disable = cmds.add_parser("disable", help="disable a user (sessions and tokens stop)")
    disable.add_argument("name")
    disable.set_defaults(handler=_handler(_disable))

    logout = cmds.add_parser("logout", help="end every console session of a user")
    logout.add_argument("name")
    logout.set_defaults(handler=_handler(_logout))

    enable = cmds.add_parser("enable", help="re-enable a disabled user")
    enable.add_argument("name")
    enable.set_defaults(handler=_handler(_enable))

    listing = cmds.add_parser("list", help="list users")
    listing.add_argument("--committee")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_handler(_list))

    token = cmds.add_parser("token", help="create an API token (printed once)")
    token.add_argument("name")
    token.add_argument("--label", default="", help="what the token is for")
    token.set_defaults(handler=_handler(_token))

    tokens = cmds.add_parser("tokens", help="list a user's API tokens")
    tokens.add_argument("name")
    tokens.add_argument("--json", action="store_true")
    tokens.set_defaults(handler=_handler(_tokens))

    revoke = cmds.add_parser("revoke-token", help="revoke an API token by id")
    revoke.add_argument("token_id", type=int)
    revoke.set_defaults(handler=_handler(_revoke))


def _handler(work: Work) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        settings = load_settings(getattr(args, "config", None))
        try:
            return asyncio.run(_with_service(settings, work, args))
        except AccountError as exc:
            print(f"linli: {exc}", file=sys.stderr)
            return 1
        except (StoreUnavailable, RegistryError) as exc:
            print(f"linli: {exc}", file=sys.stderr)
            return 1

    return run


async def _with_service(settings: Settings, work: Work, args: argparse.Namespace) -> int:
    registry = _load_registry(settings.knowledge_dir / "registry.yaml")
    db = Database.connect(settings.effective_database_url, pgbouncer=settings.db_pgbouncer)
    try:
        await db.migrate()
        return await work(AccountService(SqlAccountStore(db), Passwords(), registry), args)
    finally:
        await db.close()


def _load_registry(path: Path) -> Registry:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegistryError(f"cannot read the committee registry {path}: {exc}") from exc
    return Registry.from_mapping(data)


def read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin, or prompted twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise PasswordMismatch("the passwords do not match")
    return first


class PasswordMismatch(AccountError):
    """The two typed passwords differ."""


async def _add(accounts: AccountService, args: argparse.Namespace) -> int:
    password = read_password(args.password_stdin)
    user = await accounts.add_user(
        args.name, args.role, args.committee, password, display_name=args.display_name
    )
    scope = user.committee or "all committees"
    print(f"created {user.role.value} {user.name!r} (id {user.id}, {scope})")
    return 0


async def _passwd(accounts: AccountService, args: argparse.Namespace) -> int:
    await accounts.get_user(args.name)  # an unknown name fails before the prompt
    user = await accounts.set_password(args.name, read_password(args.password_stdin))
    print(f"password of {user.name!r} changed; their console sessions ended")
    return 0


async def _disable(accounts: AccountService, args: argparse.Namespace) -> int:
    user = await accounts.set_disabled(args.name, True)
    print(f"disabled {user.name!r}: login refused, sessions ended, API tokens stop working")
    return 0


async def _logout(accounts: AccountService, args: argparse.Namespace) -> int:
    ended = await accounts.end_sessions(args.name)
    print(f"ended {ended} console session(s) of {args.name!r}")
    return 0


async def _enable(accounts: AccountService, args: argparse.Namespace) -> int:
    user = await accounts.set_disabled(args.name, False)
    print(f"enabled {user.name!r}")
    return 0


async def _list(accounts: AccountService, args: argparse.Namespace) -> int:
    users = await accounts.list_users(args.committee)
    if args.json:
        print(json.dumps([u.to_dict() for u in users], ensure_ascii=False, indent=2))
        return 0
    for u in users:
        state = "disabled" if u.disabled else "active"
        print(f"{u.id}\t{u.name}\t{u.role.value}\t{u.committee or '*'}\t{state}\t{u.display_name}")
    return 0


async def _token(accounts: AccountService, args: argparse.Namespace) -> int:
    token, record = await accounts.create_token(args.name, args.label)
    print(token)
    print(
        f"API token {record.id} for {args.name!r} created; it is shown only this once. "
        "Send it as 'Authorization: Bearer <token>'.",
        file=sys.stderr,
    )
    return 0


async def _tokens(accounts: AccountService, args: argparse.Namespace) -> int:
    records = await accounts.list_tokens(args.name)
    if args.json:
        print(json.dumps([_token_json(t) for t in records], ensure_ascii=False, indent=2))
        return 0
    for t in records:
        state = "active" if t.active else "revoked"
        print(f"{t.id}\t{t.prefix}…\t{state}\t{t.created_at:%Y-%m-%d %H:%M}\t{t.label}")
    return 0


async def _revoke(accounts: AccountService, args: argparse.Namespace) -> int:
    record = await accounts.revoke_token(args.token_id)
    print(f"API token {record.id} ({record.prefix}…) revoked")
    return 0


def _token_json(t: ApiToken) -> dict[str, Any]:
    return {
        "id": t.id,
        "prefix": t.prefix,
        "label": t.label,
        "created_at": t.created_at.isoformat(),
        "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
        "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
    }
