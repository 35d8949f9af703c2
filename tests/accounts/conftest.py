"""Fixtures for the account tests: the real application (``bot.app.build_app``) with the
console auth layer mounted, on both store back-ends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot import appkeys
from bot.accounts import AccountService, Authenticator, LoginThrottle, Passwords
from bot.accounts.http import ACCOUNTS, AUTHENTICATOR
from bot.app import build_app
from bot.encoders import Encoder
from bot.settings import Settings

from .support import HOOK_TOKEN, PASSWORD, Client, fast_passwords, probe_routes

MakeConsole = Callable[..., Awaitable[Client]]


@pytest.fixture
def load_models() -> bool:
    """Whether the app loads the NLU model and the FAQ indexes at start: the account tests
    serve no resident (a module whose tests do overrides this fixture)."""
    return False


@pytest.fixture
def make_console(
    backend: dict[str, str],
    settings_factory: Callable[..., Settings],
    aiohttp_client: Callable[..., Any],
    encoder: Encoder,
    load_models: bool,
) -> MakeConsole:
    """Start the real app (``build_app`` mounts the auth layer); ``passwords`` and
    ``throttle_kwargs`` (a ``LoginThrottle`` built from them instead of the settings) retune
    it before the start, other keywords are settings."""

    async def make(
        *,
        passwords: Passwords | None = None,
        throttle_kwargs: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> Client:
        config: dict[str, Any] = {
            **backend,
            "channels": {"webhook": {"tokens": [HOOK_TOKEN], "committee": "puxiong"}},
        }
        config.update(overrides)
        settings = settings_factory(**config)
        console_probes, api_probes = probe_routes()
        app = await build_app(
            settings,
            extra_console_routes=console_probes,
            extra_api_routes=api_probes,
            encoder=encoder,
            load_models=load_models,
        )
        accounts = app[ACCOUNTS]
        accounts.passwords = passwords or fast_passwords()
        if throttle_kwargs is not None:  # else the throttle the settings configure
            throttle = LoginThrottle(app[appkeys.STATE], **throttle_kwargs)
            app[AUTHENTICATOR] = Authenticator(accounts, throttle)
        client: Client = await aiohttp_client(app)
        return client

    return make


@pytest.fixture
async def console(make_console: MakeConsole) -> Client:
    """The app with three users: a caseworker and an admin of 普雄路 (``puxiong``) and a
    street admin; all with the password ``PASSWORD``."""
    client = await make_console()
    accounts = client.app[ACCOUNTS]
    await accounts.add_user("wangfang", "caseworker", "puxiong", PASSWORD, "王芳")
    await accounts.add_user("lijun", "admin", "puxiong", PASSWORD, "李军")
    await accounts.add_user("street", "street_admin", None, PASSWORD, "街道张主任")
    return client


def accounts_of(client: Client) -> AccountService:
    return client.app[ACCOUNTS]
