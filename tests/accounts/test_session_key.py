"""The session cookie key: from the ``session_secret`` setting, or generated once under the
data directory (mode 0600) so sessions survive a restart."""

from __future__ import annotations

import base64
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.accounts.http import ACCOUNTS
from bot.console.session import (
    KEY_FILE,
    ConsoleConfigError,
    derive_key,
    load_or_create_key,
    session_key,
)
from bot.settings import Settings

from .conftest import MakeConsole
from .support import AIOHTTP_SESSION_KEYS, PASSWORD, login

ROOT = Path(__file__).resolve().parents[2]


def test_generated_key_is_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "var" / KEY_FILE
    key = load_or_create_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert base64.urlsafe_b64decode(path.read_text().strip()) == key
    assert load_or_create_key(path) == key
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE]  # no temporary files left


def test_workers_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    with ThreadPoolExecutor(4) as pool:
        keys = set(pool.map(lambda _: load_or_create_key(path), range(8)))
    assert len(keys) == 1


def test_a_key_file_readable_by_others_is_restricted(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    key = load_or_create_key(path)
    path.chmod(0o644)
    assert load_or_create_key(path) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "content", ["not base64 at all!", base64.urlsafe_b64encode(b"short").decode()]
)
def test_a_damaged_key_file_stops_the_start(tmp_path: Path, content: str) -> None:
    path = tmp_path / KEY_FILE
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(ConsoleConfigError):
        load_or_create_key(path)


def test_a_configured_secret_is_used_instead_of_the_file(tmp_path: Path) -> None:
    secret = "a long random secret for the console session cookie"
    settings = Settings(data_dir=tmp_path, session_secret=secret)
    key = session_key(settings)
    assert key == derive_key(secret)
    assert len(key) == 32
    assert key != derive_key(secret + "!")
    assert not (tmp_path / KEY_FILE).exists()
    with pytest.raises(ConsoleConfigError, match="at least 32"):
        session_key(Settings(data_dir=tmp_path, session_secret="too short"))


def test_without_a_secret_the_key_file_is_used(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_factory()
    key = session_key(settings)
    assert load_or_create_key(settings.data_dir / KEY_FILE) == key


@AIOHTTP_SESSION_KEYS
async def test_sessions_survive_a_restart(
    make_console: MakeConsole,
) -> None:
    first = await make_console()
    await first.app[ACCOUNTS].add_user("wangfang", "caseworker", "puxiong", PASSWORD)
    await login(first, "wangfang")
    cookies = {c.key: c.value for c in first.session.cookie_jar}
    await first.close()

    second = await make_console()
    second.session.cookie_jar.update_cookies(cookies)
    assert (await second.get("/console/", allow_redirects=False)).status == 200
