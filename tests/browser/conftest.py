"""Fixtures of the browser tests: Debian's Chromium driven by Playwright (async API) against
the real application (``bot.app.build_app``) served on a TCP port of the test's event loop,
with a local HTTP server standing in for the WeChat API so pushes to residents are really
received.

Chromium is never downloaded: the tests use ``/usr/bin/chromium`` (``apt-get install
chromium``) and fail — never skip — when it is missing."""

from __future__ import annotations

import itertools
import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from argon2 import PasswordHasher
from channel_helpers import (
    MP_APPID,
    MP_KEY,
    MP_TOKEN,
    OPENID,
    ROBOT_KEY,
    Platform,
    mp_text,
    open_safe_reply,
    safe_request,
)
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from bot.accounts import Passwords
from bot.accounts.http import ACCOUNTS
from bot.app import build_app
from bot.encoders import Encoder
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = Path(os.environ.get("LINLI_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse 1"
HOOK = "hook-secret-token"
CUSTOM_SEND = "/cgi-bin/message/custom/send"
STEP_TIMEOUT_MS = 15_000
"""Playwright's wait for one step (a click, a navigation, an element); far below the test's
own timeout so a stuck step fails with Playwright's message."""

_message_ids = itertools.count(int(time.time() * 1000))


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium and a CJK font for readable screenshots; their absence fails the
    test run (``.ci/run`` installs both)."""
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: apt-get install -y chromium")
    fonts = subprocess.run(
        ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, check=False
    )
    if not fonts.stdout.strip():
        pytest.fail("no Chinese font: apt-get install -y fonts-noto-cjk")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """Debian's headless Chromium (no download, no sandbox: CI runs as root)."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (cookies, storage) in Chinese on Shanghai time."""
    ctx = await browser.new_context(
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 1280, "height": 900},
    )
    ctx.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


@pytest.fixture
async def platform() -> AsyncIterator[Platform]:
    """A local HTTP server standing in for api.weixin.qq.com and qyapi.weixin.qq.com; it
    records what the bot sends (customer-service messages, staff-group alerts)."""
    p = Platform()
    server = TestServer(p.app())
    await server.start_server()
    p.base_url = str(server.make_url("")).rstrip("/")
    yield p
    await server.close()


@dataclass
class Site:
    """The running bot: its application, where it listens, and the residents' channels."""

    app: web.Application
    base_url: str
    platform: Platform
    http: ClientSession
    sent: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base_url + path

    async def wechat(self, text: str) -> str:
        """A resident writes to the Official Account (safe mode, encrypted like WeChat does);
        returns the text of the passive reply ("" when the bot answered later or not at
        all)."""
        query, body = safe_request(mp_text(text, msg_id=str(next(_message_ids))))
        async with self.http.post(self.url("/wechat/mp/demo"), params=query, data=body) as resp:
            assert resp.status == 200, await resp.text()
            answer = await resp.text()
        if answer in {"", "success"}:
            return ""
        return open_safe_reply(answer).get("Content", "")

    def pushed_to_resident(self) -> list[str]:
        """Texts the bot sent to the Official Account resident through the customer-service
        API (a caseworker's reply, a release notice, ticket news), oldest first."""
        return [
            body["text"]["content"]
            for _, body in self.platform.of(CUSTOM_SEND)
            if body.get("touser") == OPENID
        ]

    async def webhook(self, sender: str, text: str) -> list[str]:
        """A resident writes through the generic webhook; returns the bot's reply texts."""
        body = {
            "message_id": f"{sender}-{next(_message_ids)}",
            "chat": {"id": f"p-{sender}", "type": "private"},
            "sender": {"id": sender, "name": "王阿姨"},
            "text": text,
            "mentioned": True,
        }
        async with self.http.post(
            self.url("/api/v1/messages"), json=body, headers={"Authorization": f"Bearer {HOOK}"}
        ) as resp:
            assert resp.status == 200, await resp.text()
            data: dict[str, Any] = await resp.json()
        return [r["text"] for r in data["replies"]]


@pytest.fixture
async def site(
    backend: dict[str, str],
    settings_factory: Callable[..., Settings],
    platform: Platform,
    encoder: Encoder,
) -> AsyncIterator[Site]:
    """The whole bot on 127.0.0.1:<free port>: WeChat Official Account (pushes go to the
    ``platform`` server), the webhook, the console; a caseworker and an admin of 普雄路."""
    settings = settings_factory(
        **backend,
        handoff_around_the_clock=True,
        wechat_api_base=platform.base_url,
        wecom_api_base=platform.base_url,
        outbound_backoff_s=0.01,
        outbox_interval_s=0.2,
        channels={
            "wechat_mp": {
                "demo": {
                    "token": MP_TOKEN,
                    "encoding_aes_key": MP_KEY,
                    "app_id": MP_APPID,
                    "app_secret": "app-secret-xyz",
                    "committee": "puxiong",
                }
            },
            "webhook": {"tokens": [HOOK], "committee": "puxiong"},
        },
        committees={"puxiong": {"staff_robot_key": ROBOT_KEY}},
    )
    app = await build_app(settings, encoder=encoder)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    accounts = app[ACCOUNTS]
    # Argon2id with tiny parameters: the same code path, milliseconds instead of 50+.
    accounts.passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    await accounts.add_user("wangfang", "caseworker", "puxiong", PASSWORD, "王芳")
    await accounts.add_user("zhouadmin", "admin", "puxiong", PASSWORD, "周主任")
    http = ClientSession()
    try:
        yield Site(app, str(server.make_url("")).rstrip("/"), platform, http)
    finally:
        await http.close()
        await server.close()


async def log_in(page: Page, site: Site, username: str) -> None:
    """Log in through the login form, as a person would."""
    await page.goto(site.url("/console/login"))
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url(site.url("/console/"))


async def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test-run artifact under ``var/screenshots/``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    await page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, f"{path} is suspiciously small"
    return path
