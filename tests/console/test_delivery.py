"""Delivery status in the console, through the real application: every message to a resident
(the bot's and a caseworker's) shows how it went out next to it in the conversation, a
caseworker's reply the platform refused shows the platform's error and is sent again once
with "重新发送" (however often it is clicked), a reply the channel cannot send is shown as
not delivered with what is needed to phone the resident, and the dashboard counts them per
day and channel. The gateway the webhook channel pushes to is a real local HTTP server."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestServer
from argon2 import PasswordHasher
from channel_helpers import Platform

from bot import appkeys
from bot.accounts import Passwords
from bot.accounts.http import ACCOUNTS
from bot.app import build_app
from bot.domain.clock import SHANGHAI
from bot.domain.tickets import Reporter, TicketCategory, TicketDraft
from bot.encoders import Encoder
from bot.settings import Settings

from .conftest import EMBEDDED_ONLY, HOOK, PASSWORD, Client, Resident, csrf_from, login

PUSH = "/gateway/push"
PHONE = "13800138000"
REFUSED = {"errcode": 40003, "errmsg": "invalid openid"}


@pytest.fixture
async def platform() -> AsyncIterator[Platform]:
    p = Platform()
    server = TestServer(p.app())
    await server.start_server()
    p.base_url = str(server.make_url("")).rstrip("/")
    yield p
    await server.close()


async def start(aiohttp_client: Callable[..., Any], settings: Settings, encoder: Encoder) -> Client:
    app = await build_app(settings, encoder=encoder)
    accounts = app[ACCOUNTS]
    accounts.passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    client: Client = await aiohttp_client(app)
    await accounts.add_user("wangfang", "caseworker", "puxiong", PASSWORD, "王芳")
    return client


@pytest.fixture
async def pushing(
    backend: dict[str, str],
    settings_factory: Callable[..., Settings],
    aiohttp_client: Callable[..., Any],
    encoder: Encoder,
    platform: Platform,
) -> Client:
    """The application whose webhook channel pushes to a gateway (``platform``)."""
    settings = settings_factory(
        **backend,
        handoff_around_the_clock=True,
        outbound_backoff_s=0.01,
        channels={
            "webhook": {
                "tokens": [HOOK],
                "committee": "puxiong",
                "push_url": platform.base_url + PUSH,
                "push_token": "gateway-secret",
            }
        },
    )
    return await start(aiohttp_client, settings, encoder)


def href(key: str) -> str:
    return "/console/conversations/" + quote(key, safe=":@")


def statuses(page: str) -> list[str]:
    """The delivery labels of the conversation's messages, in order."""
    return re.findall(r'data-delivery="[a-z]+">([^<]+)</span>', page)


async def reply(client: Client, key: str, csrf: str, text: str) -> None:
    resp = await client.post(
        href(key) + "/reply", data={"text": text, "csrf_token": csrf}, allow_redirects=False
    )
    assert resp.status == 303, await resp.text()


async def test_a_refused_reply_shows_the_platform_error_and_is_retried_once(
    pushing: Client, platform: Platform
) -> None:
    resident = Resident(pushing, "r-fail")
    assert (await resident.say("我要找社工，转人工"))["replies"][0]["kind"] == "handoff"
    csrf = await login(pushing)
    platform.fail[PUSH] = [(200, REFUSED)]
    await reply(pushing, resident.key(), csrf, "王阿姨您好，明天上午我来您家看看。")

    page = await (await pushing.get(href(resident.key()))).text()
    # The bot's handoff promise went back in the webhook's response; the reply was refused.
    assert statuses(page) == ["被动回复", "发送失败"]
    assert "平台返回：gateway push: errcode 40003 invalid openid（错误码 40003）" in page
    assert page.count("重新发送</button>") == 1
    assert page.count("复制内容，电话告知居民") == 1
    [message_id] = re.findall(r"/messages/(\d+)/retry", page)

    # Two clicks at once (two tabs, a double tap): the gateway gets the reply once more.
    retry = href(resident.key()) + f"/messages/{message_id}/retry"
    clicks = await asyncio.gather(
        *(pushing.post(retry, data={"csrf_token": csrf}, allow_redirects=False) for _ in "ab")
    )
    assert sorted(r.headers["Location"].rsplit("=", 1)[1] for r in clicks) == ["active", "held"]
    texts = [body["text"] for _, body in platform.of(PUSH)]
    assert texts == ["王阿姨您好，明天上午我来您家看看。"] * 2  # refused once, sent once

    page = await (await pushing.get(href(resident.key()) + "?retried=active")).text()
    assert statuses(page) == ["被动回复", "已发送"]
    assert "已重新发送，居民已收到这条回复。" in page
    assert "重新发送</button>" not in page
    assert "平台返回" not in page

    # A later click (a stale page) sends nothing and says so.
    again = await pushing.post(retry, data={"csrf_token": csrf})
    assert "这条回复已经重发过或正在重发，没有再次发送。" in await again.text()
    assert len(platform.of(PUSH)) == 2

    # The admin API shows the same status (and the error while it failed).
    detail = pushing.app[appkeys.MESSAGE_LOG]
    [staff] = [m for m in await detail.conversation(resident.key()) if m.direction == "staff"]
    assert (staff.delivery, staff.delivery_code, staff.delivery_error) == ("active", None, "")


async def test_a_retry_that_fails_again_stays_failed_with_the_new_error(
    pushing: Client, platform: Platform
) -> None:
    resident = Resident(pushing, "r-twice")
    await resident.say("转人工")
    csrf = await login(pushing)
    platform.fail[PUSH] = [(200, REFUSED), (200, {"errcode": 45047, "errmsg": "out of limit"})]
    await reply(pushing, resident.key(), csrf, "您好，我是社工王芳。")
    page = await (await pushing.get(href(resident.key()))).text()
    [message_id] = re.findall(r"/messages/(\d+)/retry", page)
    page = await (
        await pushing.post(
            href(resident.key()) + f"/messages/{message_id}/retry", data={"csrf_token": csrf}
        )
    ).text()
    assert "重新发送仍然失败" in page
    assert statuses(page) == ["被动回复", "发送失败"]
    assert "errcode 45047 out of limit（错误码 45047）" in page
    assert page.count("重新发送</button>") == 1  # it can be tried once more


async def test_another_conversations_message_is_not_retried(
    pushing: Client, platform: Platform
) -> None:
    first, second = Resident(pushing, "r-one"), Resident(pushing, "r-two")
    await first.say("转人工")
    await second.say("转人工")
    csrf = await login(pushing)
    platform.fail[PUSH] = [(200, REFUSED)]
    await reply(pushing, first.key(), csrf, "您好。")
    page = await (await pushing.get(href(first.key()))).text()
    [message_id] = re.findall(r"/messages/(\d+)/retry", page)
    wrong = href(second.key()) + f"/messages/{message_id}/retry"
    assert (await pushing.post(wrong, data={"csrf_token": csrf})).status == 404
    huge = href(first.key()) + "/messages/" + "9" * 30 + "/retry"
    assert (await pushing.post(huge, data={"csrf_token": csrf})).status == 404
    assert len(platform.of(PUSH)) == 1


@EMBEDDED_ONLY
async def test_a_reply_the_channel_cannot_send_is_undeliverable_with_the_residents_phone(
    console: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    resident = Resident(console, "r-nopush")
    await resident.say("转人工")
    # The resident left a phone number on a ticket earlier.
    reporter = Reporter(
        channel="webhook",
        account="default",
        chat_id="p-r-nopush",
        sender_id="r-nopush",
        conversation_key=resident.key(),
        name="王阿姨",
        phone=PHONE,
    )
    created = await console.app[appkeys.TICKETS].intake.create(
        TicketDraft(
            committee="puxiong",
            category=TicketCategory.REPAIR,
            description="楼道灯不亮",
            reporter=reporter,
        ),
        source_message_key="test:r-nopush",
    )
    csrf = await login(console)
    await reply(console, resident.key(), csrf, "王阿姨，灯明天修好。")
    page = await (await console.get(href(resident.key()))).text()
    assert statuses(page) == ["被动回复", "无法送达"]
    assert "居民没有收到这条回复" in page
    assert "重新发送</button>" not in page  # the channel cannot send it: no retry
    assert 'data-copy="王阿姨，灯明天修好。"' in page
    assert f"居民在工单 {created.ticket.number} 留的电话：" in page
    assert f'href="tel:{PHONE}"' in page
    # Every log line at the level Linli logs (INFO), with its structured fields.
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert PHONE not in logged


@EMBEDDED_ONLY
async def test_a_resident_without_a_phone_gets_a_hint_instead(console: Client) -> None:
    resident = Resident(console, "r-nophone")
    await resident.say("转人工")
    csrf = await login(console)
    await reply(console, resident.key(), csrf, "您好。")
    page = await (await console.get(href(resident.key()))).text()
    assert "居民没有留下电话" in page
    assert "tel:" not in page


def today() -> str:
    return datetime.now(UTC).astimezone(SHANGHAI).date().isoformat()


def delivery_row(page: str, channel: str) -> dict[str, str]:
    """The dashboard's delivery table row of today and ``channel``: label → value."""
    table = page.split('<table class="list cards deliveries">', 1)[1].split("</table>", 1)[0]
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S):
        cells = dict(re.findall(r'<td[^>]*data-label="([^"]+)"[^>]*>([^<]*)</td>', row))
        if cells.get("日期") == today() and cells.get("渠道") == channel:
            return cells
    raise AssertionError(f"no row for {channel} today in {table}")


async def test_the_dashboard_counts_deliveries_per_day_and_channel(
    pushing: Client, platform: Platform
) -> None:
    resident = Resident(pushing, "r-dash")
    await resident.say("小区里能养鸡吗")
    await resident.say("转人工")
    csrf = await login(pushing)
    platform.fail[PUSH] = [(200, REFUSED)]
    await reply(pushing, resident.key(), csrf, "第一条回复")
    await reply(pushing, resident.key(), csrf, "第二条回复")
    page = await (await pushing.get("/console/dashboard?days=7")).text()
    assert "消息送达情况" in page
    row = delivery_row(page, "接入网关")
    assert row == {
        "日期": today(),
        "渠道": "接入网关",
        "被动回复": "2",
        "已发送": "1",
        "发送失败": "1",
        "无法送达": "0",
        "合计": "4",
    }
    # Retried and sent: the counts move from failed to sent.
    conv = await (await pushing.get(href(resident.key()))).text()
    [message_id] = re.findall(r"/messages/(\d+)/retry", conv)
    await pushing.post(
        href(resident.key()) + f"/messages/{message_id}/retry", data={"csrf_token": csrf}
    )
    page = await (await pushing.get("/console/dashboard?days=7")).text()
    row = delivery_row(page, "接入网关")
    assert (row["已发送"], row["发送失败"], row["合计"]) == ("2", "0", "4")


@EMBEDDED_ONLY
async def test_the_reply_api_reports_the_platform_error(
    pushing: Client, platform: Platform
) -> None:
    resident = Resident(pushing, "r-api")
    await resident.say("转人工")
    await login(pushing)
    csrf = await csrf_from(pushing, href(resident.key()))
    platform.fail[PUSH] = [(200, REFUSED)]
    resp = await pushing.post(
        f"/api/v1/conversations/{quote(resident.key(), safe=':@')}/reply",
        json={"text": "您好"},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body == {
        "delivery": "failed",
        "error_code": 40003,
        "error": "gateway push: errcode 40003 invalid openid",
    }
