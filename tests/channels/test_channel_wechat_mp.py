"""The Official Account callback over real HTTP, end to end through Ingress and SQLite."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from channel_helpers import (
    MP_APPID,
    MP_TOKEN,
    OPENID,
    Rig,
    RigFactory,
    mp_text,
    mp_xml,
    open_safe_reply,
    plain_query,
    safe_request,
    sign,
    xml_fields,
)
from sqlalchemy import select

from bot.domain import ChatType, MessageType, Reply, ReplyKind, StoreUnavailable
from bot.storage.sql.models import MessageRow
from bot.storage.state_memory import MemoryStateStore

V31_BODY = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
    "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>"
    "<CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728</MsgId>"
    "<Encrypt><![CDATA[hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87"
    "wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWN"
    "lZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKS"
    "VCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e"
    "6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=]]></Encrypt>"
    "</xml>"
)


class DownStore(MemoryStateStore):
    async def claim(self, key: str, lease_s: float) -> bool:
        raise StoreUnavailable("redis down")


async def post_plain(rig: Rig, xml: str, account: str = "plain", **query: str) -> tuple[int, str]:
    params = {**plain_query(), **query}
    resp = await rig.client.post(f"/wechat/mp/{account}", params=params, data=xml.encode())
    return resp.status, await resp.text()


async def post_safe(rig: Rig, xml: str, **kwargs: str) -> tuple[int, str]:
    query, body = safe_request(xml, **kwargs)
    resp = await rig.client.post("/wechat/mp/demo", params=query, data=body.encode())
    return resp.status, await resp.text()


# --- URL verification -------------------------------------------------------------------------
async def test_get_returns_echostr_verbatim_for_the_official_vector(rig: Rig) -> None:
    rig.clock[0] = 1409735669
    query = {
        "signature": "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a",
        "timestamp": "1409735669",
        "nonce": "1320562132",
        "echostr": "5837397520665436492",
    }
    resp = await rig.client.get("/wechat/mp/demo", params=query)
    assert resp.status == 200
    assert await resp.text() == "5837397520665436492"

    forged = {**query, "signature": "0" * 40}
    resp = await rig.client.get("/wechat/mp/demo", params=forged)
    assert resp.status == 403
    assert "signature" in await resp.text()


async def test_get_rejects_stale_timestamp_unknown_account_and_missing_echostr(rig: Rig) -> None:
    old = str(int(time.time()) - 3600)
    resp = await rig.client.get("/wechat/mp/demo", params={**plain_query(old), "echostr": "1"})
    assert resp.status == 403
    assert "timestamp" in await resp.text()
    resp = await rig.client.get("/wechat/mp/nope", params={**plain_query(), "echostr": "1"})
    assert resp.status == 404
    resp = await rig.client.get("/wechat/mp/demo", params=plain_query())
    assert resp.status == 400


# --- safe / compatible mode -------------------------------------------------------------------
async def test_official_compatible_mode_vector_is_answered_encrypted(rig: Rig) -> None:
    rig.clock[0] = 1409735669
    query = {
        "signature": sign(MP_TOKEN, "1409735669", "1320562132"),
        "timestamp": "1409735669",
        "nonce": "1320562132",
        "encrypt_type": "aes",
        "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
        "openid": OPENID,
    }
    resp = await rig.client.post("/wechat/mp/demo", params=query, data=V31_BODY.encode())
    assert resp.status == 200
    fields = open_safe_reply(await resp.text())
    assert fields["Content"] == "收到：abcdteT"
    assert fields["ToUserName"] == OPENID
    assert fields["FromUserName"] == "gh_10f6c3c3ac5a"
    assert fields["MsgType"] == "text"
    [msg] = rig.handler.calls
    assert (msg.message_id, msg.text, msg.channel, msg.account) == (
        "6054768590064713728",
        "abcdteT",
        "wechat_mp",
        "demo",
    )
    assert (msg.chat.type, msg.chat.id, msg.sender.id, msg.committee) == (
        ChatType.PRIVATE,
        OPENID,
        OPENID,
        "puxiong",
    )


async def test_wechatpy_encrypted_message_is_accepted_and_reply_verifies(rig: Rig) -> None:
    status, body = await post_safe(rig, mp_text("湿垃圾几点扔？🙂"))
    assert status == 200
    assert open_safe_reply(body)["Content"] == "收到：湿垃圾几点扔？🙂"


async def test_forged_msg_signature_is_refused_and_nothing_processed(rig: Rig) -> None:
    query, body = safe_request(mp_text("你好"))
    query["msg_signature"] = "f" * 40
    resp = await rig.client.post("/wechat/mp/demo", params=query, data=body.encode())
    assert resp.status == 403
    del query["msg_signature"]
    resp = await rig.client.post("/wechat/mp/demo", params=query, data=body.encode())
    assert resp.status == 403
    assert rig.handler.calls == []
    assert await rig.logged() == 0


async def test_wrong_encoding_aes_key_or_appid_is_refused(rig: Rig) -> None:
    status, _ = await post_safe(
        rig, mp_text("你好"), key="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg"
    )
    assert status == 403
    status, _ = await post_safe(rig, mp_text("你好"), appid="wxSOMEONEELSE0000")
    assert status == 403
    status, _ = await post_safe(rig, mp_text("你好"), appid=MP_APPID)
    assert status == 200
    assert len(rig.handler.calls) == 1


async def test_encrypted_xxe_is_refused(rig: Rig) -> None:
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        "<xml><FromUserName>&x;</FromUserName><MsgType>text</MsgType></xml>"
    )
    status, body = await post_safe(rig, xxe)
    assert status == 400
    assert "DTD" in body
    assert rig.handler.calls == []


# --- plain mode -------------------------------------------------------------------------------
async def test_plain_text_message_gets_a_passive_xml_reply(rig: Rig) -> None:
    rig.handler.extra = [Reply("如有急事请拨打 12345。", ReplyKind.NOTICE)]
    status, body = await post_plain(rig, mp_text("垃圾什么时候扔"))
    assert status == 200
    fields = xml_fields(body)
    assert fields["Content"] == "收到：垃圾什么时候扔\n\n如有急事请拨打 12345。"
    assert fields["ToUserName"] == OPENID
    assert fields["FromUserName"] == "gh_10f6c3c3ac5a"
    assert await rig.logged() == 3  # one in, two out


async def test_forged_or_missing_signature_is_refused_and_nothing_logged(rig: Rig) -> None:
    status, _ = await post_plain(rig, mp_text("你好"), signature="0" * 40)
    assert status == 403
    params = plain_query()
    del params["signature"]
    resp = await rig.client.post("/wechat/mp/plain", params=params, data=mp_text("你好").encode())
    assert resp.status == 403
    status, _ = await post_plain(rig, mp_text("你好"), nonce="other")  # signed a different nonce
    assert status == 403
    assert rig.handler.calls == []
    assert await rig.logged() == 0


async def test_timestamp_outside_the_window_is_rejected(rig: Rig) -> None:
    for skew in (-3600, 3600):
        ts = str(int(time.time()) + skew)
        status, body = await post_plain(rig, mp_text("你好"), **plain_query(ts))
        assert status == 403
        assert "timestamp" in body
    assert rig.handler.calls == []


async def test_malformed_xml_and_dtd_are_bad_requests(rig: Rig) -> None:
    bodies = [
        "<xml><MsgType>text</MsgType",
        '{"json": "is not xml"}',
        '<!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>',
        '<?xml version="1.0"?><!DOCTYPE foo SYSTEM "http://example.invalid/x.dtd"><xml/>',
        "<xml><MsgType>text</MsgType><FromUserName>u</FromUserName></xml>",  # no MsgId
        "<xml><MsgType>text</MsgType><MsgId>1</MsgId></xml>",  # no FromUserName
    ]
    for xml in bodies:
        status, body = await post_plain(rig, xml)
        assert status == 400, xml
        assert body
    assert rig.handler.calls == []
    assert await rig.logged() == 0


async def test_body_over_the_limit_is_413(rig: Rig) -> None:
    big = mp_text("长" * 30_000)  # 90 kB > 64 kB
    status, _ = await post_plain(rig, big)
    assert status == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while reading
        for _ in range(20):
            yield b"x" * 8192

    resp = await rig.client.post("/wechat/mp/plain", params=plain_query(), data=chunks())
    assert resp.status == 413
    assert rig.handler.calls == []


async def test_unknown_account_is_404(rig: Rig) -> None:
    status, _ = await post_plain(rig, mp_text("你好"), account="nobody")
    assert status == 404


async def test_edge_texts_reach_the_handler_and_get_replies(rig: Rig) -> None:
    texts = ["", "   \n\t ", "🙂🙂👍", "长" * 10_000, "a]]>b"]
    for i, text in enumerate(texts):
        content = (
            "<Content>a]]&gt;b</Content>"
            if text == "a]]>b"
            else (f"<Content><![CDATA[{text}]]></Content>")
        )
        status, body = await post_plain(rig, mp_xml("text", content, msg_id=str(500 + i)))
        assert status == 200
        assert xml_fields(body)["Content"] == f"收到：{text}"
    assert [m.text for m in rig.handler.calls] == texts


async def test_retried_msgid_is_answered_exactly_once(rig: Rig) -> None:
    xml = mp_text("电梯坏了", msg_id="777")
    first = await post_plain(rig, xml)
    second = await post_plain(rig, xml)
    assert first[0] == second[0] == 200
    assert xml_fields(first[1])["Content"] == xml_fields(second[1])["Content"] == "收到：电梯坏了"
    assert len(rig.handler.calls) == 1
    assert await rig.logged() == 2


async def test_concurrent_retries_are_processed_once(make_rig: RigFactory) -> None:
    rig = await make_rig(delay=0.3)
    xml = mp_text("楼道灯不亮", msg_id="778")
    results = await asyncio.gather(*(post_plain(rig, xml) for _ in range(3)))
    assert len(rig.handler.calls) == 1
    contents = {xml_fields(body)["Content"] for status, body in results if body != "success"}
    assert contents == {"收到：楼道灯不亮"}
    assert all(status == 200 for status, _ in results)


async def test_media_and_events_are_converted(rig: Rig) -> None:
    image = mp_xml(
        "image",
        "<PicUrl><![CDATA[http://x/y.jpg]]></PicUrl><MediaId><![CDATA[media-1]]></MediaId>",
        msg_id="2001",
    )
    status, body = await post_plain(rig, image)
    assert status == 200
    assert xml_fields(body)["Content"].startswith("已收到图片")
    voice = mp_xml(
        "voice",
        "<MediaId><![CDATA[m2]]></MediaId><Format><![CDATA[amr]]></Format>"
        "<Recognition><![CDATA[垃圾几点扔]]></Recognition>",
        msg_id="2002",
    )
    await post_plain(rig, voice)
    mute = mp_xml(
        "voice", "<MediaId><![CDATA[m3]]></MediaId><Format><![CDATA[amr]]></Format>", msg_id="2003"
    )
    await post_plain(rig, mute)
    created = int(time.time())
    subscribe = mp_xml(
        "event", "<Event><![CDATA[subscribe]]></Event>", msg_id=None, created=created
    )
    status, body = await post_plain(rig, subscribe)
    assert xml_fields(body)["Content"].startswith("欢迎关注")
    location = mp_xml(
        "event", "<Event><![CDATA[LOCATION]]></Event><Latitude>31.2</Latitude>", msg_id=None
    )
    status, body = await post_plain(rig, location)
    assert (status, body) == (200, "success")

    img, vc, mt, sub = rig.handler.calls
    assert (img.type, img.media_id, img.text) == (MessageType.IMAGE, "media-1", "")
    assert (vc.type, vc.text) == (MessageType.VOICE, "垃圾几点扔")
    assert (mt.type, mt.text) == (MessageType.VOICE, "")
    assert (sub.type, sub.event, sub.message_id) == (
        MessageType.EVENT,
        "subscribe",
        f"{OPENID}:{created}",
    )


async def test_store_down_gives_503_for_a_retry_later(make_rig: RigFactory) -> None:
    rig = await make_rig(state=DownStore())
    status, body = await post_plain(rig, mp_text("你好"))
    assert status == 503
    assert "retry" in body
    assert rig.handler.calls == []


# --- late replies through the customer-service API -------------------------------------------
async def test_slow_pipeline_answers_success_then_sends_via_customer_service(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig(delay=0.5, reply_budget_s=0.2)
    status, body = await post_safe(rig, mp_text("办居住证要带什么", msg_id="3001"))
    assert (status, body) == (200, "success")
    await rig.platform.wait_for("/cgi-bin/message/custom/send")
    [(query, sent)] = rig.platform.of("/cgi-bin/message/custom/send")
    assert sent == {
        "touser": OPENID,
        "msgtype": "text",
        "text": {"content": "收到：办居住证要带什么"},
    }
    assert query["access_token"] == "ACCESS1"
    [(token_query, _)] = rig.platform.of("/cgi-bin/token")
    assert token_query == {
        "grant_type": "client_credential",
        "appid": MP_APPID,
        "secret": "app-secret-xyz",
    }

    # A second late reply reuses the cached token; a retry of the first gets "success" and
    # nothing is sent twice.
    await post_safe(rig, mp_text("第二个问题", msg_id="3002"))
    status, body = await post_safe(rig, mp_text("办居住证要带什么", msg_id="3001"))
    assert (status, body) == (200, "success")
    await rig.platform.wait_for("/cgi-bin/message/custom/send", 2)
    await rig.tasks.drain(5)
    sends = rig.platform.of("/cgi-bin/message/custom/send")
    assert [b["text"]["content"] for _, b in sends] == [
        "收到：办居住证要带什么",
        "收到：第二个问题",
    ]
    assert [q["access_token"] for q, _ in sends] == ["ACCESS1", "ACCESS1"]
    assert rig.platform.tokens_issued == 1
    assert len(rig.handler.calls) == 2


async def test_expired_token_is_refreshed_once(make_rig: RigFactory) -> None:
    rig = await make_rig(delay=0.4, reply_budget_s=0.1)
    rig.platform.fail["/cgi-bin/message/custom/send"] = [
        (200, {"errcode": 42001, "errmsg": "access_token expired"})
    ]
    await post_safe(rig, mp_text("你好", msg_id="3101"))
    await rig.platform.wait_for("/cgi-bin/message/custom/send", 2)
    await rig.tasks.drain(5)
    sends = rig.platform.of("/cgi-bin/message/custom/send")
    assert [q["access_token"] for q, _ in sends] == ["ACCESS1", "ACCESS2"]
    assert rig.platform.tokens_issued == 2


async def test_account_without_app_secret_cannot_send_late(make_rig: RigFactory) -> None:
    rig = await make_rig(delay=0.4, reply_budget_s=0.1)
    status, body = await post_plain(rig, mp_text("你好", msg_id="3201"))
    assert (status, body) == (200, "success")
    await rig.tasks.drain(5)
    assert rig.platform.requests == []
    assert len(rig.handler.calls) == 1


# --- delivery status of late replies -------------------------------------------------------
async def _replies_delivery(rig: Rig) -> list[tuple[str, str, int | None, str]]:
    async with rig.db.session() as s:
        rows = (
            await s.execute(
                select(
                    MessageRow.text,
                    MessageRow.delivery,
                    MessageRow.delivery_code,
                    MessageRow.delivery_error,
                )
                .where(MessageRow.direction == "out")
                .order_by(MessageRow.id)
            )
        ).all()
    return [(t, d, c, e) for t, d, c, e in rows]


async def test_a_late_reply_the_platform_refuses_is_logged_failed_with_its_error(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig(delay=0.4, reply_budget_s=0.1)
    rig.platform.fail["/cgi-bin/message/custom/send"] = [
        (200, {"errcode": 45015, "errmsg": "response out of time limit"})
    ]
    assert await post_safe(rig, mp_text("办居住证要带什么", msg_id="3301")) == (200, "success")
    await rig.platform.wait_for("/cgi-bin/message/custom/send")
    # The next late reply goes through.
    assert await post_safe(rig, mp_text("第二个问题", msg_id="3302")) == (200, "success")
    await rig.platform.wait_for("/cgi-bin/message/custom/send", 2)
    await rig.tasks.drain(5)
    assert await _replies_delivery(rig) == [
        (
            "收到：办居住证要带什么",
            "failed",
            45015,
            "wechat custom send: errcode 45015 response out of time limit",
        ),
        ("收到：第二个问题", "active", None, ""),
    ]


async def test_a_reply_in_time_is_logged_passive_and_one_without_sender_undeliverable(
    make_rig: RigFactory,
) -> None:
    rig = await make_rig()
    status, _ = await post_safe(rig, mp_text("你好", msg_id="3401"))
    assert status == 200
    slow = await make_rig(delay=0.4, reply_budget_s=0.1)
    assert await post_plain(slow, mp_text("你好", msg_id="3402")) == (200, "success")
    await slow.tasks.drain(5)
    assert [d for _, d, _, _ in await _replies_delivery(rig)] == ["passive"]
    assert [d for _, d, _, _ in await _replies_delivery(slow)] == ["undeliverable"]
