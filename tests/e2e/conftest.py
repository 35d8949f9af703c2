"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from channel_helpers import MP_TOKEN, ROBOT_KEY, Platform
from conversation_helpers import HOOK, PUSH_PATH

from bot.app import build_app
from bot.encoders import Encoder
from bot.settings import Settings


@pytest.fixture
async def platform() -> AsyncIterator[Platform]:
    """A local HTTP server standing in for api.weixin.qq.com, qyapi.weixin.qq.com and a
    gateway's push endpoint; it records what the bot sends."""
    p = Platform()
    server = TestServer(p.app())
    await server.start_server()
    p.base_url = str(server.make_url("")).rstrip("/")
    yield p
    await server.close()


@pytest.fixture
def config(backend: dict[str, str], platform: Platform) -> dict[str, Any]:
    return {
        **backend,
        "wecom_api_base": platform.base_url,
        "wechat_api_base": platform.base_url,
        "outbound_backoff_s": 0.01,
        # The passive-reply window is WeChat's 5 s in production; tests that are about it set
        # their own. Here it is wide so a busy machine does not turn a reply into a late push.
        "reply_budget_s": 30.0,
        "handoff_around_the_clock": True,
        "outbox_interval_s": 0.05,
        "sweep_interval_s": 0.05,
        "channels": {
            "wechat_mp": {"plain": {"token": MP_TOKEN, "committee": "puxiong"}},
            "webhook": {
                "tokens": [HOOK],
                "committee": "puxiong",
                "push_url": platform.base_url + PUSH_PATH,
                "push_token": "gateway-secret",
            },
        },
        "committees": {"puxiong": {"staff_robot_key": ROBOT_KEY}},
    }


@pytest.fixture
async def start(
    settings_factory: Callable[..., Settings], config: dict[str, Any], encoder: Encoder
) -> AsyncIterator[Callable[..., Any]]:
    """Start a bot (a worker) on the test's stores; every one started is closed at the end."""
    started: list[TestClient[web.Request, web.Application]] = []

    async def make(**overrides: Any) -> TestClient[web.Request, web.Application]:
        app = await build_app(settings_factory(**{**config, **overrides}), encoder=encoder)
        client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
        await client.start_server()
        started.append(client)
        return client

    yield make
    for client in started:
        await client.close()


@pytest.fixture
async def bot(start: Callable[..., Any]) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = await start()
    return client
