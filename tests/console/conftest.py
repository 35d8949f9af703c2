"""Fixtures of the console page tests: the real application (``bot.app.build_app``) with a
caseworker, an admin and a street admin, and a browser-like login."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from bot import appkeys
from bot.accounts import Passwords
from bot.accounts.http import ACCOUNTS
from bot.app import build_app
from bot.encoders import Encoder
from bot.settings import Settings
from bot.tickets import Tickets

Client = TestClient[web.Request, web.Application]

PASSWORD = "correct horse 1"
HOOK = "hook-secret-token"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')

EMBEDDED_ONLY = pytest.mark.parametrize("backend", ["embedded"], indirect=True)
"""For tests of the HTTP surface only: each application start loads the NLU model and FAQ
indexes, so the store back-ends are both exercised only where they matter."""


@pytest.fixture
async def console(
    backend: dict[str, str],
    settings_factory: Callable[..., Settings],
    aiohttp_client: Callable[..., Any],
    encoder: Encoder,
) -> Client:
    settings = settings_factory(
        **backend,
        handoff_around_the_clock=True,
        channels={"webhook": {"tokens": [HOOK], "committee": "puxiong"}},
    )
    app = await build_app(settings, encoder=encoder)
    accounts = app[ACCOUNTS]
    # Argon2id with tiny parameters: the same code path, milliseconds instead of 50+.
    accounts.passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    client: Client = await aiohttp_client(app)
    await accounts.add_user("wangfang", "caseworker", "puxiong", PASSWORD, "王芳")
    await accounts.add_user("lijun", "caseworker", "puxiong", PASSWORD, "李军")
    await accounts.add_user("street", "street_admin", None, PASSWORD, "街道张主任")
    return client


async def csrf_from(client: Client, path: str) -> str:
    resp = await client.get(path)
    assert resp.status == 200, path
    match = CSRF_RE.search(await resp.text())
    assert match, f"no CSRF token on {path}"
    return match.group(1)


async def login(client: Client, username: str = "wangfang") -> str:
    """Log in like a browser; returns the session's CSRF token."""
    token = await csrf_from(client, "/console/login")
    resp = await client.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    return await csrf_from(client, "/console/")


@dataclass
class Resident:
    """A resident writing to the bot through the generic webhook."""

    client: Client
    sender: str
    name: str = "王阿姨"
    counter: list[int] = field(default_factory=lambda: [0])

    async def say(self, text: str) -> dict[str, Any]:
        self.counter[0] += 1
        body = {
            "message_id": f"{self.sender}-{self.counter[0]}-{time.monotonic_ns()}",
            "chat": {"id": f"p-{self.sender}", "type": "private"},
            "sender": {"id": self.sender, "name": self.name},
            "text": text,
            "mentioned": True,
        }
        resp = await self.client.post(
            "/api/v1/messages", json=body, headers={"Authorization": f"Bearer {HOOK}"}
        )
        assert resp.status == 200, await resp.text()
        data: dict[str, Any] = await resp.json()
        return data

    def key(self) -> str:
        return f"puxiong:webhook:default:p:{self.sender}"


def tickets_of(client: Client) -> Tickets:
    return client.app[appkeys.TICKETS]
