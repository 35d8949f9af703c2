"""WeChat customer service (微信客服) end to end, against a local server standing in for the
API: a resident's messages are pulled and answered, handed over, a caseworker's reply is
delivered, the session moves between the assistant and a person on the platform, and a
restarted worker continues from the saved cursor."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from kf_platform import CORP_ID, KF_KEY, KF_TOKEN, OPEN_KFID, SECRET, KfPlatform

from bot.accounts.http import ACCOUNTS

Client = TestClient[web.Request, web.Application]
USER = "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw"
KEY = f"puxiong:wechat_kf:residents:p:{USER}"


@pytest.fixture
async def kf() -> AsyncIterator[KfPlatform]:
    platform = KfPlatform()
    server = TestServer(platform.app())
    await server.start_server()
    platform.base_url = str(server.make_url("")).rstrip("/")
    yield platform
    await server.close()


@pytest.fixture
def kf_config(config: dict[str, Any], kf: KfPlatform) -> dict[str, Any]:
    channels = dict(config["channels"])
    channels["wechat_kf"] = {
        "residents": {
            "corp_id": CORP_ID,
            "secret": SECRET,
            "token": KF_TOKEN,
            "encoding_aes_key": KF_KEY,
            "open_kfid": OPEN_KFID,
            "committee": "puxiong",
            "servicers": {"李强": "liqiang"},
        }
    }
    return {**config, "wecom_api_base": kf.base_url, "channels": channels}


async def notify(client: Client, kf: KfPlatform) -> None:
    """The platform's callback: new messages are waiting."""
    query, body = kf.callback(str(int(time.time())))
    resp = await client.post("/wechat/kf/residents", params=query, data=body)
    assert resp.status == 200, await resp.text()
    assert await resp.text() == "success"


async def staff(client: Client, login: str, name: str) -> dict[str, str]:
    accounts = client.app[ACCOUNTS]
    await accounts.add_user(login, "caseworker", "puxiong", "Str0ng-pass-123", name)
    token, _ = await accounts.create_token(login, "tests")
    return {"Authorization": f"Bearer {token}"}


async def test_a_wechat_resident_is_answered_handed_over_and_the_session_follows(
    start: Callable[..., Any], kf_config: dict[str, Any], kf: KfPlatform
) -> None:
    bot: Client = await start(**kf_config)
    kf.say(USER, "湿垃圾几点可以扔", "msg-1")
    await notify(bot, kf)
    await kf.wait_sent(1)
    assert kf.sent[0]["touser"] == USER
    assert kf.sent[0]["open_kfid"] == OPEN_KFID
    assert kf.sent[0]["text"]["content"]
    # The new session was claimed for the assistant on the platform.
    assert kf.transitions[0] == (USER, 0, 1, "")

    kf.say(USER, "我要找社工，转人工", "msg-2")
    await notify(bot, kf)
    await kf.wait_sent(2)
    assert "社工" in kf.sent[1]["text"]["content"]
    assert kf.cursors_asked[-1] == "1", "the second pull starts after the first message"

    # A caseworker without a WeCom identity answers from the console through the API.
    zhang = await staff(bot, "zhangmin", "张敏")
    taken = await bot.post(f"/api/v1/conversations/{KEY}/takeover", headers=zhang)
    assert (await taken.json())["mode"] == "human"
    assert kf.state(USER) == 1
    sent = await bot.post(
        f"/api/v1/conversations/{KEY}/reply", json={"text": "您好，我是社工张敏。"}, headers=zhang
    )
    assert (await sent.json())["delivery"] == "active"
    assert kf.sent[-1]["text"]["content"] == "您好，我是社工张敏。"

    # A caseworker who is also a WeCom 接待人员 takes the session over on the platform too.
    li = await staff(bot, "liqiang", "李强")
    await bot.post(f"/api/v1/conversations/{KEY}/takeover", headers=li)
    assert kf.states[USER] == (3, "liqiang")
    # Giving it back to the bot ends the person's session; the next message opens a new one.
    released = await bot.post(f"/api/v1/conversations/{KEY}/release", headers=li)
    assert (await released.json())["mode"] == "bot"
    assert kf.state(USER) == 4
    answered = len(kf.sent)
    kf.say(USER, "湿垃圾几点可以扔", "msg-3")
    await notify(bot, kf)
    await kf.wait_sent(answered + 1)
    assert kf.state(USER) == 1
    assert [t[1:3] for t in kf.transitions] == [(0, 1), (1, 3), (3, 4), (0, 1)]


async def test_a_restarted_worker_continues_from_the_saved_cursor(
    start: Callable[..., Any], kf_config: dict[str, Any], kf: KfPlatform
) -> None:
    first: Client = await start(**kf_config)
    kf.say(USER, "湿垃圾几点可以扔", "msg-1")
    await notify(first, kf)
    await kf.wait_sent(1)
    await first.close()

    second: Client = await start(**kf_config)
    kf.say(USER, "可回收物怎么投放", "msg-2")
    await notify(second, kf)
    await kf.wait_sent(2)
    assert kf.cursors_asked == ["", "1"]
    assert [m["text"]["content"] for m in kf.sent][1] != kf.sent[0]["text"]["content"]
    history = await second.get(
        f"/api/v1/conversations/{KEY}", headers=await staff(second, "zhangmin", "张敏")
    )
    inbound = [m for m in (await history.json())["messages"] if m["direction"] == "in"]
    assert [m["text"] for m in inbound] == ["湿垃圾几点可以扔", "可回收物怎么投放"]
