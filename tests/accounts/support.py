"""Helpers for the account tests: a cheap Argon2 hasher, probe routes standing in for the
console and API pages others will add, and a browser-like login."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from bot.accounts import Passwords, Role
from bot.accounts.http import ensure_committee, require_role, require_user

Client = TestClient[web.Request, web.Application]

PASSWORD = "correct horse 1"
HOOK_TOKEN = "hook-secret-token"


def fast_passwords() -> Passwords:
    """Argon2id with tiny parameters: the same code path, milliseconds instead of 50+."""
    return Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def probe_routes() -> tuple[list[web.RouteDef], list[web.RouteDef]]:
    """Routes shaped like the ones other packages will add under /console/ and /api/v1/:
    the console's and the admin API's (paths below their prefixes)."""

    async def committee_data(request: web.Request) -> web.Response:
        principal = await require_user(request)
        committee = request.match_info["committee"]
        ensure_committee(principal, committee)
        return web.json_response({"committee": committee, "seen_by": principal.name})

    async def echo(request: web.Request) -> web.Response:
        principal = await require_user(request)
        return web.json_response({"ok": True, "by": principal.name})

    @require_role(Role.ADMIN, Role.STREET_ADMIN)
    async def admin_only(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def console_committee(request: web.Request) -> web.Response:
        principal = await require_user(request)
        ensure_committee(principal, request.match_info["committee"])
        return web.Response(text="ok")

    async def console_post(request: web.Request) -> web.Response:
        form = await request.post()
        value = form.get("value")
        return web.Response(text=f"saved {value if isinstance(value, str) else ''}")

    console = [
        web.get("/probe/{committee}", console_committee),
        web.post("/probe", console_post),
    ]
    api = [
        web.get("/probe/committees/{committee}", committee_data),
        web.post("/probe/echo", echo),
        web.get("/probe/admin", admin_only),
    ]
    return console, api


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


async def csrf_from(client: Client, path: str = "/console/login") -> str:
    resp = await client.get(path)
    match = CSRF_RE.search(await resp.text())
    assert match, f"no CSRF token on {path}"
    return match.group(1)


async def login(client: Client, username: str, password: str = PASSWORD, **extra: str) -> Any:
    token = await csrf_from(client)
    data = {"username": username, "password": password, "csrf_token": token, **extra}
    return await client.post("/console/login", data=data, allow_redirects=False)


AIOHTTP_SESSION_KEYS = pytest.mark.filterwarnings(
    # aiohttp-session 2.12 keeps its state on the request under str keys, which aiohttp 3.14
    # warns about once per key. Same filter as asked for pyproject.toml.
    "ignore:It is recommended to use web.RequestKey"
    ":aiohttp.web_exceptions.NotAppKeyWarning:aiohttp_session"
)

EMBEDDED_ONLY = pytest.mark.parametrize("backend", ["embedded"], indirect=True)
"""For tests of the HTTP surface only (headers, escaping, redirects): the store back-end plays
no part, and each application start loads the NLU model and FAQ indexes."""
