"""A resident's message walked through each channel of the real application, on both store
back-ends (SQLite + in-process state; PostgreSQL + Redis)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from channel_helpers import (
    HOOK_TOKEN,
    MP_APPID,
    MP_KEY,
    MP_TOKEN,
    OPENID,
    ROBOT_KEY,
    WECOM_KEY,
    WECOM_TOKEN,
    Platform,
    bot_text,
    mp_text,
    open_safe_reply,
    open_wecom_reply,
    safe_request,
    wecom_request,
)
from sqlalchemy import func, select

from bot import appkeys
from bot.app import build_app
from bot.encoders import Encoder
from bot.settings import Settings
from bot.storage.sql.models import MessageRow

Client = TestClient[web.Request, web.Application]


@pytest.fixture
def make_bot(
    backend: dict[str, str],
    settings_factory: Callable[..., Settings],
    platform: Platform,
    aiohttp_client: Callable[..., Any],
    encoder: Encoder,
) -> Callable[..., Any]:
    async def make(**overrides: Any) -> Client:
        config: dict[str, Any] = {
            **backend,
            "wechat_api_base": platform.base_url,
            "wecom_api_base": platform.base_url,
            "outbound_backoff_s": 0.01,
            "channels": {
                "wechat_mp": {
                    "demo": {
                        "token": MP_TOKEN,
                        "encoding_aes_key": MP_KEY,
                        "app_id": MP_APPID,
                        "app_secret": "secret",
                        "committee": "puxiong",
                    }
                },
                "wecom_bot": {
                    "residents": {
                        "token": WECOM_TOKEN,
                        "encoding_aes_key": WECOM_KEY,
                        "committee": "puxiong",
                    }
                },
                "webhook": {"tokens": [HOOK_TOKEN], "committee": "puxiong"},
            },
            "committees": {"puxiong": {"staff_robot_key": ROBOT_KEY}},
        }
        config.update(overrides)
        client: Client = await aiohttp_client(
            await build_app(settings_factory(**config), encoder=encoder)
        )
        return client

    return make


async def inbound_rows(client: Client) -> list[tuple[str, str]]:
    db = client.app[appkeys.DATABASE]
    async with db.session() as s:
        rows = await s.execute(
            select(MessageRow.direction, MessageRow.text).order_by(MessageRow.id)
        )
        return [(d, t) for d, t in rows.all()]


async def count_inbound(client: Client) -> int:
    async with client.app[appkeys.DATABASE].session() as s:
        n = await s.scalar(
            select(func.count()).select_from(MessageRow).where(MessageRow.direction == "in")
        )
    return int(n or 0)


async def test_webhook_message_is_answered_and_a_duplicate_repeats_the_answer(
    make_bot: Callable[..., Any],
) -> None:
    bot = await make_bot()
    body = {
        "message_id": "m1",
        "chat": {"id": "g-putuoyicun", "type": "group"},
        "sender": {"id": "u1", "name": "王阿姨"},
        "text": "你好",
        "mentioned": True,
    }
    headers = {"Authorization": f"Bearer {HOOK_TOKEN}"}
    first = await bot.post("/api/v1/messages", json=body, headers=headers)
    assert first.status == 200
    data = await first.json()
    assert data["replies"]
    assert all(r["text"] and r["kind"] for r in data["replies"])
    again = await bot.post("/api/v1/messages", json=body, headers=headers)
    assert (await again.json())["replies"] == data["replies"]
    assert await count_inbound(bot) == 1
    rows = await inbound_rows(bot)
    assert rows[0] == ("in", "你好")
    assert [d for d, _ in rows].count("out") == len(data["replies"])


async def test_official_account_safe_mode_retry_is_answered_once(
    make_bot: Callable[..., Any],
) -> None:
    bot = await make_bot()
    query, body = safe_request(mp_text("你好", msg_id="6054768590064713728"))
    first = await bot.post("/wechat/mp/demo", params=query, data=body)
    assert first.status == 200
    reply = open_safe_reply(await first.text())
    assert reply["ToUserName"] == OPENID
    assert reply["MsgType"] == "text"
    assert reply["Content"]
    retry = await bot.post("/wechat/mp/demo", params=query, data=body)
    assert retry.status == 200
    assert await count_inbound(bot) == 1
    outs = [t for d, t in await inbound_rows(bot) if d == "out"]
    assert len(outs) >= 1
    assert all(t in reply["Content"] for t in outs)


async def test_wecom_group_message_reaches_the_bot_without_the_mention(
    make_bot: Callable[..., Any],
) -> None:
    bot = await make_bot()
    query, body = wecom_request(bot_text("@邻里 你好"))
    resp = await bot.post("/wechat/wecom-bot/residents", params=query, data=body)
    assert resp.status == 200
    reply = open_wecom_reply(await resp.text())
    assert reply["msgtype"] == "stream"
    assert reply["stream"]["finish"] is True
    assert reply["stream"]["content"]
    assert ("in", "你好") in await inbound_rows(bot)


async def test_a_slow_reply_arrives_through_the_customer_service_api(
    make_bot: Callable[..., Any], platform: Platform
) -> None:
    # A budget far below what even the fallback needs: the pipeline misses it every time.
    bot = await make_bot(reply_budget_s=0.000001)
    query, body = safe_request(mp_text("你好", msg_id="777"))
    resp = await bot.post("/wechat/mp/demo", params=query, data=body)
    assert resp.status == 200
    assert await resp.text() in {"success", ""}
    await platform.wait_for("/cgi-bin/message/custom/send")
    [(params, sent)] = platform.of("/cgi-bin/message/custom/send")
    assert params["access_token"] == "ACCESS1"
    assert sent["touser"] == OPENID
    assert sent["msgtype"] == "text"
    assert sent["text"]["content"]
    retry = await bot.post("/wechat/mp/demo", params=query, data=body)
    assert await retry.text() in {"success", ""}
    assert len(platform.of("/cgi-bin/message/custom/send")) == 1


async def test_health_and_metrics(make_bot: Callable[..., Any]) -> None:
    bot = await make_bot()
    health = await bot.get("/healthz")
    assert health.status == 200
    assert (await health.json())["status"] == "ok"
    metrics = await bot.get("/metrics")
    assert "linli_http_requests" in await metrics.text()


async def test_the_try_page_talks_through_the_webhook_path(make_bot: Callable[..., Any]) -> None:
    bot = await make_bot()
    page = await bot.get("/try/")
    html = await page.text()
    assert page.status == 200
    for compound in ("燕宁苑", "普雄馨苑", "普陀一村", "西沙洪滨小区"):
        assert compound in html
    resp = await bot.post(
        "/try/messages",
        json={
            "message_id": "t1",
            "chat": {"id": "g-yanningyuan", "type": "group"},
            "sender": {"id": "try-1", "name": "李老师"},
            "text": "<script>alert(1)</script>",
            "mentioned": True,
        },
    )
    assert resp.status == 200
    assert (await resp.json())["replies"]
    assert ("in", "<script>alert(1)</script>") in await inbound_rows(bot)


async def test_production_has_no_try_page(make_bot: Callable[..., Any]) -> None:
    bot = await make_bot(env="production")
    assert (await bot.get("/try/")).status == 404
    assert (await bot.post("/try/messages", json={"text": "你好"})).status in {404, 405}
