"""An open ``/console/events`` stream ends with its session: logout (from another request),
a password change or a disabled user close it within the re-check interval, and no event
published after the session ended is delivered. On both store back-ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientResponse

from bot import appkeys
from bot.accounts.http import ACCOUNTS
from bot.app import build_app
from bot.console import pages
from bot.encoders import Encoder
from bot.settings import Settings

from .conftest import HOOK, PASSWORD, Client, csrf_from, login
from .test_events import next_event, publish_until_read, wait_until_no_stream

WAIT_S = 10.0
MakeClient = Callable[[float], Awaitable[Client]]


@pytest.fixture
def make_client(
    backend: dict[str, str],
    settings_factory: Callable[..., Settings],
    aiohttp_client: Callable[..., Any],
    encoder: Encoder,
) -> MakeClient:
    async def make(check_s: float) -> Client:
        settings = settings_factory(
            **backend,
            console_stream_check_s=check_s,
            channels={"webhook": {"tokens": [HOOK], "committee": "puxiong"}},
        )
        # The event stream serves caseworkers only: no NLU model, no FAQ index.
        app = await build_app(settings, encoder=encoder, load_models=False)
        client: Client = await aiohttp_client(app)
        accounts = app[ACCOUNTS]
        accounts.passwords = _fast_passwords()
        await accounts.add_user("wangfang", "caseworker", "puxiong", PASSWORD, "王芳")
        return client

    return make


def _fast_passwords() -> Any:
    from argon2 import PasswordHasher

    from bot.accounts import Passwords

    return Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


async def open_stream(client: Client) -> ClientResponse:
    await login(client)
    resp = await client.get("/console/events")
    assert resp.status == 200
    assert (await asyncio.wait_for(next_event(resp), WAIT_S))[0] == "ready"
    return resp


async def rest_of(resp: ClientResponse) -> str:
    """Everything the server still sends until it finishes the response (fails the test by
    timing out if it never does)."""
    return (await asyncio.wait_for(resp.content.read(), WAIT_S)).decode("utf-8")


@contextlib.asynccontextmanager
async def publishing(client: Client) -> AsyncIterator[None]:
    """Publish an emergency every 50 ms while the block runs."""
    events = client.app[appkeys.EVENTS]

    async def publish() -> None:
        while True:
            await events.publish("puxiong", "emergency", ticket="PX-9", text="新的紧急求助")
            await asyncio.sleep(0.05)

    task = asyncio.create_task(publish())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_logout_elsewhere_ends_the_stream_before_the_next_event(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A re-check interval far beyond the test: only the check before each event can end it.
    client = await make_client(3600.0)
    monkeypatch.setattr(pages, "SSE_PING_S", 3600.0)
    resp = await open_stream(client)
    name, data = await publish_until_read(client, resp)  # the stream works and is subscribed
    assert (name, data["ticket"]) == ("message", "PX-1")

    token = await csrf_from(client, "/console/")
    out = await client.post("/console/logout", data={"csrf_token": token}, allow_redirects=False)
    assert out.status == 303
    async with publishing(client):
        rest = await rest_of(resp)
    assert "PX-9" not in rest
    assert "data:" not in rest
    await wait_until_no_stream(client)
    # The browser's reconnection is sent to the login page, not to a new stream.
    again = await client.get("/console/events", allow_redirects=False)
    assert again.status == 303
    assert again.headers["Location"].startswith("/console/login")


@pytest.mark.parametrize("end", ["password", "disable", "logout-everywhere"])
async def test_an_idle_stream_ends_within_the_check_interval(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch, end: str
) -> None:
    client = await make_client(0.2)
    monkeypatch.setattr(pages, "SSE_PING_S", 3600.0)
    resp = await open_stream(client)
    accounts = client.app[ACCOUNTS]
    if end == "password":
        await accounts.set_password("wangfang", "a brand new password")
    elif end == "disable":
        await accounts.set_disabled("wangfang")
    else:
        await accounts.end_sessions("wangfang")
    # No event is published: only the periodic re-check can notice.
    assert "data:" not in await rest_of(resp)
    await wait_until_no_stream(client)


async def test_a_live_session_keeps_its_stream_across_re_checks(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await make_client(0.05)
    monkeypatch.setattr(pages, "SSE_PING_S", 3600.0)
    resp = await open_stream(client)
    await asyncio.sleep(0.5)  # ten re-checks of a valid session
    assert len(client.app[pages.STREAMS]) == 1
    name, data = await publish_until_read(client, resp)
    assert (name, data["type"]) == ("message", "emergency")
    resp.close()
