"""A new platform is one package and one line of wiring: the fake chat channel of
``tests/support/fake_chat`` is added to the real app, a resident's message reaches the
pipeline through it, and a caseworker's reply from the console is pushed back through it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from conversation_helpers import caseworker_token
from fake_chat import FakeChat

from bot import appkeys
from bot.app import build_app
from bot.settings import Settings

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def fake_bot(
    settings_factory: Callable[..., Settings], config: dict[str, Any]
) -> AsyncIterator[Client]:
    app = await build_app(settings_factory(**config), extra_channels=[FakeChat])
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    yield client
    await client.close()


async def test_a_channel_added_in_one_line_reaches_the_pipeline_and_gets_a_caseworkers_reply(
    fake_bot: Client,
) -> None:
    answered = await fake_bot.post(
        "/fake/main", json={"id": "f1", "user": "r1", "name": "李伯伯", "text": "湿垃圾几点可以扔"}
    )
    assert answered.status == 200
    assert (await answered.json())["replies"], "the pipeline answered through the new channel"
    handed = await fake_bot.post(
        "/fake/main", json={"id": "f2", "user": "r1", "text": "我要找社工，转人工"}
    )
    assert "社工" in "".join((await handed.json())["replies"])
    key = "puxiong:fakechat:main:p:r1"
    auth = {"Authorization": f"Bearer {await caseworker_token(fake_bot)}"}
    taken = await fake_bot.post(f"/api/v1/conversations/{key}/takeover", headers=auth)
    assert taken.status == 200, await taken.text()
    sent = await fake_bot.post(
        f"/api/v1/conversations/{key}/reply",
        json={"text": "李伯伯您好，我是社工张敏。"},
        headers=auth,
    )
    assert (await sent.json())["delivery"] == "active"
    channel = fake_bot.app[appkeys.CHANNELS].get("fakechat")
    assert isinstance(channel, FakeChat)
    assert channel.outbox == [("r1", "李伯伯您好，我是社工张敏。", "human")]
