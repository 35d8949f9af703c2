"""The WeCom AI-bot JSON callback over real HTTP, end to end through Ingress and SQLite."""

from __future__ import annotations

import time
from typing import Any

import pytest
from channel_helpers import (
    WECOM_TOKEN,
    Rig,
    RigFactory,
    bot_text,
    open_wecom_reply,
    sign,
    wecom_encrypt,
    wecom_request,
)

from bot.channels.wecom_bot import strip_mentions
from bot.domain import ChatType, MessageType, Reply, ReplyKind

URL = "/wechat/wecom-bot/residents"


async def post(rig: Rig, payload: dict[str, Any] | str, **kwargs: Any) -> tuple[int, str]:
    query, body = wecom_request(payload, **kwargs)
    resp = await rig.client.post(URL, params=query, data=body.encode())
    return resp.status, await resp.text()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@RobotA 湿垃圾几点扔", "湿垃圾几点扔"),
        ("@邻里小助手\u2005电梯坏了", "电梯坏了"),
        ("@RobotA @王阿姨 帮我问下", "帮我问下"),
        ("帮我查下工单 @RobotA", "帮我查下工单"),
        ("@RobotA", ""),
        ("邮箱是 a@b.com 对吗", "邮箱是 a@b.com 对吗"),
        ("没有提到", "没有提到"),
    ],
)
def test_strip_mentions(text: str, expected: str) -> None:
    assert strip_mentions(text) == expected


async def test_url_verification_returns_the_decrypted_echostr(rig: Rig) -> None:
    ts, nonce = str(int(time.time())), "263014780"
    echostr = wecom_encrypt("1616140317555161061")
    query = {
        "msg_signature": sign(WECOM_TOKEN, ts, nonce, echostr),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": echostr,
    }
    resp = await rig.client.get(URL, params=query)
    assert resp.status == 200
    assert await resp.read() == b"1616140317555161061"

    resp = await rig.client.get(URL, params={**query, "nonce": "263014781"})
    assert resp.status == 403


async def test_url_verification_refuses_a_corp_app_echostr(rig: Rig) -> None:
    # Vector 3.5 is addressed to a CorpID; an AI bot's ReceiveId is "".
    rig.clock[0] = 1476416373
    query = {
        "msg_signature": "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
        "timestamp": "1476416373",
        "nonce": "47744683",
        "echostr": "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVz"
        "EtpbhnFyq6SVHyA==",
    }
    resp = await rig.client.get(URL, params=query)
    assert resp.status == 403
    resp = await rig.client.get("/wechat/wecom-bot/other", params=query)
    assert resp.status == 404


async def test_group_text_is_answered_with_an_encrypted_stream(rig: Rig) -> None:
    status, body = await post(rig, bot_text("@RobotA 湿垃圾几点扔"))
    assert status == 200
    reply = open_wecom_reply(body)
    assert reply["msgtype"] == "stream"
    assert reply["stream"]["finish"] is True
    assert reply["stream"]["content"] == "收到：湿垃圾几点扔"
    assert reply["stream"]["id"]
    [msg] = rig.handler.calls
    assert (msg.text, msg.chat.type, msg.chat.id, msg.sender.id, msg.mentioned) == (
        "湿垃圾几点扔",
        ChatType.GROUP,
        "g-putuoyicun",
        "zhangsan",
        True,
    )
    assert (msg.channel, msg.account, msg.committee, msg.message_id) == (
        "wecom_bot",
        "residents",
        "puxiong",
        "CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI=",
    )


async def test_single_chat_maps_to_a_private_chat_with_the_userid(rig: Rig) -> None:
    await post(rig, bot_text("居住证怎么办", chattype="single", msgid="s1"))
    [msg] = rig.handler.calls
    assert (msg.chat.type, msg.chat.id) == (ChatType.PRIVATE, "zhangsan")


async def test_private_replies_stay_out_of_the_group(rig: Rig) -> None:
    rig.handler.extra = [Reply("您的手机号已记录。", ReplyKind.SLOT, private=True)]
    _, body = await post(rig, bot_text("@RobotA 报修", msgid="p1"))
    assert open_wecom_reply(body)["stream"]["content"] == "收到：报修"
    _, body = await post(rig, bot_text("报修", chattype="single", msgid="p2"))
    assert open_wecom_reply(body)["stream"]["content"] == "收到：报修\n\n您的手机号已记录。"


async def test_forged_missing_or_stale_signatures_are_refused(rig: Rig) -> None:
    query, body = wecom_request(bot_text("你好"))
    for bad in (
        {**query, "msg_signature": "a" * 40},
        {k: v for k, v in query.items() if k != "msg_signature"},
    ):
        resp = await rig.client.post(URL, params=bad, data=body.encode())
        assert resp.status == 403
    status, _ = await post(rig, bot_text("你好"), ts=str(int(time.time()) - 1000))
    assert status == 403
    assert rig.handler.calls == []
    assert await rig.logged() == 0


async def test_wrong_key_or_receive_id_is_refused(rig: Rig) -> None:
    status, _ = await post(rig, bot_text("你好"), key="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg")
    assert status == 403
    status, _ = await post(rig, bot_text("你好"), receive_id="wwSOMECORP")
    assert status == 403
    assert rig.handler.calls == []


async def test_malformed_bodies_are_400(rig: Rig) -> None:
    ts, nonce = str(int(time.time())), "1"
    for raw in ("not json", "[1, 2]", '{"encrypt": 5}', "{}"):
        resp = await rig.client.post(
            URL, params={"msg_signature": "x", "timestamp": ts, "nonce": nonce}, data=raw.encode()
        )
        assert resp.status == 400, raw
    status, _ = await post(rig, "{not json inside")
    assert status == 400
    bad_payloads: list[dict[str, Any]] = [
        {k: v for k, v in bot_text("hi").items() if k != "msgid"},
        {**bot_text("hi"), "from": {}},
        {**bot_text("hi"), "chattype": "channel"},
        {**bot_text("hi"), "text": {"content": 42}},
        {k: v for k, v in bot_text("hi").items() if k != "chatid"},
    ]
    for payload in bad_payloads:
        status, body = await post(rig, payload)
        assert status == 400, payload
        assert body
    assert rig.handler.calls == []


async def test_body_over_the_limit_is_413(rig: Rig) -> None:
    status, _ = await post(rig, bot_text("长" * 40_000))
    assert status == 413


async def test_edge_texts_reach_the_handler(rig: Rig) -> None:
    texts = ["", "   ", "🙂🙂", "长" * 10_000]
    for i, text in enumerate(texts):
        status, body = await post(rig, bot_text(text, chattype="single", msgid=f"e{i}"))
        assert status == 200
        assert open_wecom_reply(body)["stream"]["content"] == f"收到：{text}"
    assert len(rig.handler.calls) == 4


async def test_retried_msgid_is_answered_once(rig: Rig) -> None:
    payload = bot_text("@RobotA 楼道灯坏了", msgid="dup-1")
    first = await post(rig, payload)
    second = await post(rig, payload)
    assert open_wecom_reply(first[1])["stream"]["content"] == "收到：楼道灯坏了"
    assert open_wecom_reply(second[1])["stream"]["content"] == "收到：楼道灯坏了"
    assert len(rig.handler.calls) == 1


async def test_other_message_types_and_events(rig: Rig) -> None:
    base = {"aibotid": "B", "chattype": "single", "from": {"userid": "lisi"}}
    mixed = {
        **base,
        "msgid": "m1",
        "msgtype": "mixed",
        "mixed": {
            "msg_item": [
                {"msgtype": "text", "text": {"content": "@RobotA 看下这张图"}},
                {"msgtype": "image", "image": {"url": "https://example.invalid/1.png"}},
            ]
        },
    }
    await post(rig, mixed)
    await post(rig, {**base, "msgid": "m2", "msgtype": "voice", "voice": {"content": "垃圾几点扔"}})
    status, body = await post(
        rig,
        {
            **base,
            "msgid": "m3",
            "msgtype": "image",
            "image": {"url": "https://example.invalid/2.png"},
        },
    )
    assert open_wecom_reply(body)["stream"]["content"].startswith("已收到图片")
    await post(rig, {**base, "msgid": "m4", "msgtype": "file", "file": {"url": "u"}})
    status, body = await post(
        rig, {**base, "msgid": "m5", "msgtype": "event", "event": {"eventtype": "enter_chat"}}
    )
    welcome = open_wecom_reply(body)
    assert welcome["msgtype"] == "text"
    assert welcome["text"]["content"].startswith("欢迎")
    status, body = await post(
        rig, {**base, "msgid": "m6", "msgtype": "stream", "stream": {"id": "x"}}
    )
    assert (status, body) == (200, "")
    status, body = await post(
        rig, {**base, "msgid": "m7", "msgtype": "event", "event": {"eventtype": "feedback_event"}}
    )
    assert (status, body) == (200, "")
    kinds = [(m.type, m.text, m.event) for m in rig.handler.calls]
    assert kinds == [
        (MessageType.TEXT, "看下这张图", None),
        (MessageType.VOICE, "垃圾几点扔", None),
        (MessageType.IMAGE, "", None),
        (MessageType.OTHER, "", None),
        (MessageType.EVENT, "", "enter_chat"),
    ]


async def test_slow_pipeline_replies_through_response_url(make_rig: RigFactory) -> None:
    rig = await make_rig(delay=0.5, reply_budget_s=0.2)
    url = f"{rig.platform.base_url}/cgi-bin/aibot/response?response_code=CODE1"
    status, body = await post(
        rig, bot_text("@RobotA 加装电梯进展", msgid="late-1", response_url=url)
    )
    assert (status, body) == (200, "")
    await rig.platform.wait_for("/cgi-bin/aibot/response")
    [(query, sent)] = rig.platform.of("/cgi-bin/aibot/response")
    assert query == {"response_code": "CODE1"}
    assert sent == {"msgtype": "markdown", "markdown": {"content": "收到：加装电梯进展"}}
