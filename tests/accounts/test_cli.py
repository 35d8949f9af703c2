"""``linli user …`` against the real stores, then the console and API of the real app."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import pytest

from bot.accounts.cli import register

from .conftest import MakeConsole
from .support import AIOHTTP_SESSION_KEYS, Client, login

pytestmark = AIOHTTP_SESSION_KEYS

ROOT = Path(__file__).resolve().parents[2]


class Cli(Protocol):
    async def __call__(self, *argv: str, stdin: str = "") -> tuple[int, str, str]: ...


def parser() -> argparse.ArgumentParser:
    """The shape of ``bot.cli.build_parser`` with only the ``user`` command registered."""
    p = argparse.ArgumentParser(prog="linli")
    p.add_argument("--config")
    sub = p.add_subparsers(dest="command", required=True)
    register(sub)
    return p


@pytest.fixture
def cli(
    backend: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    """Run ``linli ARGS`` in a worker thread (it runs its own event loop), with the back-end's
    database; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("LINLI_DATABASE_URL", backend["database_url"])
    monkeypatch.setenv("LINLI_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("LINLI_KNOWLEDGE_DIR", str(ROOT / "knowledge"))

    async def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = await asyncio.to_thread(_main, argv)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    code: int = args.handler(args)
    return code


async def test_add_login_passwd_disable(cli: Cli, make_console: MakeConsole) -> None:
    code, out, _ = await cli(
        "user",
        "add",
        "WangFang",
        "--role",
        "caseworker",
        "--committee",
        "puxiong",
        "--display-name",
        "王芳",
        "--password-stdin",
        stdin="first password\n",
    )
    assert code == 0
    assert "'wangfang'" in out
    code, out, _ = await cli("user", "list", "--json")
    [listed] = json.loads(out)
    assert listed["name"] == "wangfang"
    assert listed["committee"] == "puxiong"
    assert listed["display_name"] == "王芳"

    client: Client = await make_console()
    assert (await login(client, "wangfang", "first password")).status == 303
    assert (await client.get("/console/", allow_redirects=False)).status == 200

    code, _, _ = await cli(
        "user", "passwd", "wangfang", "--password-stdin", stdin="second password\r\n"
    )
    assert code == 0
    assert (await client.get("/console/", allow_redirects=False)).status == 303
    client.session.cookie_jar.clear()
    assert (await login(client, "wangfang", "first password")).status == 401
    assert (await login(client, "wangfang", "second password")).status == 303

    code, _, _ = await cli("user", "disable", "wangfang")
    assert code == 0
    assert (await client.get("/console/", allow_redirects=False)).status == 303
    client.session.cookie_jar.clear()
    assert (await login(client, "wangfang", "second password")).status == 403

    code, _, _ = await cli("user", "enable", "wangfang")
    assert code == 0
    assert (await login(client, "wangfang", "second password")).status == 303

    code, out, _ = await cli("user", "logout", "wangfang")
    assert code == 0
    assert "ended 1 console session(s) of 'wangfang'" in out
    assert (await client.get("/console/", allow_redirects=False)).status == 303


async def test_token_is_printed_once_and_can_be_revoked(
    cli: Cli, make_console: MakeConsole
) -> None:
    await cli(
        "user",
        "add",
        "street",
        "--role",
        "street_admin",
        "--password-stdin",
        stdin="street password\n",
    )
    code, out, err = await cli("user", "token", "street", "--label", "夜间导出")
    assert code == 0
    token = out.strip()
    assert token.startswith("linli_")
    assert "shown only this once" in err

    client: Client = await make_console()
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 200
    assert (await me.json())["user"]["committee"] is None

    code, out, _ = await cli("user", "tokens", "street", "--json")
    [listed] = json.loads(out)
    assert listed["label"] == "夜间导出"
    assert listed["revoked_at"] is None
    assert token not in out  # listings never show the token

    code, out, _ = await cli("user", "revoke-token", str(listed["id"]))
    assert code == 0
    again = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert again.status == 401
    _, out, _ = await cli("user", "tokens", "street", "--json")
    assert json.loads(out)[0]["revoked_at"] is not None


async def test_password_is_prompted_twice_without_stdin(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter(["typed password", "typed password", "one", "two"])
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    code, _, _ = await cli("user", "add", "lijun", "--role", "admin", "--committee", "puxiong")
    assert code == 0
    assert prompts == ["Password: ", "Repeat password: "]
    code, _, err = await cli("user", "passwd", "lijun")
    assert code == 1
    assert "do not match" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("user", "add", "wang", "--role", "caseworker", "--password-stdin"), "committee"),
        (
            (
                "user",
                "add",
                "wang",
                "--role",
                "street_admin",
                "--committee",
                "puxiong",
                "--password-stdin",
            ),
            "street_admin",
        ),
        (
            ("user", "add", "wang", "--role", "admin", "--committee", "mars", "--password-stdin"),
            "unknown committee",
        ),
        (("user", "passwd", "ghost", "--password-stdin"), "no user"),
        (("user", "disable", "ghost"), "no user"),
        (("user", "logout", "ghost"), "no user"),
        (("user", "token", "ghost"), "no user"),
        (("user", "revoke-token", "4242"), "no API token"),
    ],
)
async def test_errors_are_reported_with_exit_code_1(
    cli: Cli, argv: tuple[str, ...], message: str
) -> None:
    code, _, err = await cli(*argv, stdin="long enough password\n")
    assert code == 1
    assert message in err


async def test_a_taken_name_and_a_short_password_are_refused(cli: Cli) -> None:
    argv = ("user", "add", "wang", "--role", "caseworker", "--committee", "puxiong")
    code, _, err = await cli(*argv, "--password-stdin", stdin="short\n")
    assert (code, "at least 8" in err) == (1, True)
    assert (await cli(*argv, "--password-stdin", stdin="long enough\n"))[0] == 0
    code, _, err = await cli(*argv, "--password-stdin", stdin="long enough\n")
    assert code == 1
    assert "already exists" in err
