"""While a caseworker has a conversation the bot stays silent for every message type and
event — images, voice without recognition, video, location, a link, a blank text, a
(re)subscribe — and the caseworker sees each one arrive. Only a crisis breaks the silence."""

from __future__ import annotations

from typing import Any

from channel_helpers import OPENID, mp_text, mp_xml, plain_query, xml_fields
from conversation_helpers import caseworker_token

from bot import appkeys

KEY = f"puxiong:wechat_mp:plain:p:{OPENID}"

NON_TEXT = [
    mp_xml("image", "<PicUrl><![CDATA[http://x.invalid/p.jpg]]></PicUrl><MediaId>M1</MediaId>"),
    mp_xml("voice", "<MediaId>M2</MediaId><Format>amr</Format>"),
    mp_xml("video", "<MediaId>M3</MediaId><ThumbMediaId>T3</ThumbMediaId>"),
    mp_xml("shortvideo", "<MediaId>M4</MediaId><ThumbMediaId>T4</ThumbMediaId>"),
    mp_xml(
        "location",
        "<Location_X>31.24</Location_X><Location_Y>121.43</Location_Y><Scale>15</Scale>"
        "<Label><![CDATA[普陀一村]]></Label>",
    ),
    mp_xml("link", "<Title>t</Title><Description>d</Description><Url>http://x.invalid</Url>"),
    mp_text("   "),
    mp_xml("event", "<Event><![CDATA[subscribe]]></Event>", msg_id=None),
]


async def send(bot: Any, xml: str, msg_id: int) -> str:
    xml = xml.replace("<MsgId>1001</MsgId>", f"<MsgId>{msg_id}</MsgId>")
    resp = await bot.post("/wechat/mp/plain", params=plain_query(), data=xml.encode())
    assert resp.status == 200
    body = await resp.text()
    return xml_fields(body).get("Content", "") if body.startswith("<xml>") else ""


async def test_handoff_holds_for_every_message_type_and_event(bot: Any) -> None:
    token = await caseworker_token(bot)
    auth = {"Authorization": f"Bearer {token}"}
    assert "社工" in await send(bot, mp_text("转人工"), 900)
    taken = await bot.post(f"/api/v1/conversations/{KEY}/takeover", headers=auth)
    assert taken.status == 200
    answered = [i for i, xml in enumerate(NON_TEXT) if await send(bot, xml, 901 + i)]
    assert answered == [], "the bot replied while a caseworker had the conversation"
    crisis = await send(bot, mp_text("我不想活了"), 950)
    assert "12356" in crisis
    conv = await bot.app[appkeys.CONVERSATIONS].get(KEY)
    assert conv is not None
    assert conv.assignee_id is not None


async def test_without_a_caseworker_the_same_messages_get_their_usual_hints(bot: Any) -> None:
    replies = [await send(bot, xml, 1100 + i) for i, xml in enumerate(NON_TEXT)]
    assert replies[0]  # an image gets "please describe it in words"
    assert replies[-1]  # subscribe gets the welcome
