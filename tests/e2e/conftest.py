"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from channel_helpers import Platform


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
