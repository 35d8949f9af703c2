"""The inbox's live events: ``/console/events`` streams the committee's channel as
server-sent events and ends cleanly when the browser goes away or the server stops."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest
from aiohttp import ClientResponse

from bot import appkeys
from bot.console import pages

from .conftest import EMBEDDED_ONLY, Client, login

WAIT_S = 10.0


async def next_event(resp: ClientResponse) -> tuple[str, dict[str, Any]]:
    """The next event's name and JSON data (pings and blank lines skipped)."""
    name = "message"
    while True:
        line = (await resp.content.readline()).decode("utf-8").rstrip("\r\n")
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data: dict[str, Any] = json.loads(line.removeprefix("data: "))
            return name, data


async def publish_until_read(client: Client, resp: ClientResponse) -> tuple[str, dict[str, Any]]:
    """Publish an emergency until the stream shows it (a Redis SUBSCRIBE is confirmed
    asynchronously, so the first publication may precede it)."""
    events = client.app[appkeys.EVENTS]

    async def publish() -> None:
        while True:
            await events.publish(
                "puxiong", "emergency", ticket="PX-1", conversation="c1", text="<b>着火了</b>"
            )
            await asyncio.sleep(0.2)

    publisher = asyncio.create_task(publish())
    try:
        return await asyncio.wait_for(next_event(resp), WAIT_S)
    finally:
        publisher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await publisher


async def wait_until_no_stream(client: Client) -> None:
    """The handler has ended (it drops its stop event from the registry on the way out)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    # Polling another task's cleanup: nothing to wait on but the registry itself.
    while client.app[pages.STREAMS] and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    assert not client.app[pages.STREAMS], "the event stream handler did not end"


async def test_the_stream_delivers_a_published_event(
    console: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "SSE_PING_S", 0.05)
    await login(console)
    resp = await console.get("/console/events")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    assert await asyncio.wait_for(next_event(resp), WAIT_S) == (
        "ready",
        {"type": "ready", "committee": "puxiong"},
    )
    name, data = await publish_until_read(console, resp)
    assert name == "message"
    assert data["type"] == "emergency"
    assert data["ticket"] == "PX-1"
    assert data["text"] == "<b>着火了</b>"  # the page's script sets it as text, never HTML
    assert len(console.app[pages.STREAMS]) == 1
    resp.close()
    # The browser went away: the next keep-alive ping fails and the handler ends.
    await wait_until_no_stream(console)


@EMBEDDED_ONLY
async def test_the_stream_ends_when_the_server_shuts_down(console: Client) -> None:
    await login(console)
    resp = await console.get("/console/events")
    assert (await asyncio.wait_for(next_event(resp), WAIT_S))[0] == "ready"
    await pages.stop_streams(console.app)
    await wait_until_no_stream(console)
    # The response was finished, not cut: the client reads to its end.
    rest = await asyncio.wait_for(resp.content.read(), WAIT_S)
    assert b"data:" not in rest


@EMBEDDED_ONLY
async def test_a_street_admin_streams_a_chosen_committee_only(console: Client) -> None:
    await login(console, "street")
    assert (await console.get("/console/events", allow_redirects=False)).status == 404
    assert (await console.get("/console/events?committee=nowhere")).status == 404
    resp = await console.get("/console/events?committee=puxiong")
    assert resp.status == 200
    name, data = await publish_until_read(console, resp)
    assert (name, data["type"]) == ("ready", "ready")
    resp.close()
