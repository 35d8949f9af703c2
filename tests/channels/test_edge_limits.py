"""Edge limits of the channels: the safe JSON loader, id lengths, and safe mode without
compatible mode refusing plain POSTs."""

from __future__ import annotations

import json

import pytest
from channel_helpers import (
    MP_APPID,
    MP_KEY,
    MP_TOKEN,
    Rig,
    RigFactory,
    mp_text,
    mp_xml,
    open_safe_reply,
    plain_query,
    safe_request,
    xml_fields,
)

from bot.channels.errors import BodyTooLarge
from bot.channels.safe_json import JsonRejected, exceeds_depth, loads
from bot.domain import Chat, ChatType, IncomingMessage, InvalidMessage, Sender
from bot.domain.messages import CONVERSATION_KEY_CHARS, ID_COLUMN_CHARS, MAX_ID_CHARS


def _load(raw: bytes | str, depth: int = 32) -> object:
    return loads(raw, max_bytes=1024 * 1024, max_depth=depth)


# --- the safe JSON loader -------------------------------------------------------------------
def test_nesting_up_to_the_limit_parses_and_one_more_level_is_refused() -> None:
    assert _load("[" * 32 + "]" * 32) == _nested(32)
    with pytest.raises(JsonRejected, match="deeper than 32"):
        _load("[" * 33 + "]" * 33)
    with pytest.raises(JsonRejected, match="deeper than 32"):
        _load('{"a":' * 100_000 + "1" + "}" * 100_000)


def _nested(levels: int) -> object:
    value: list[object] = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"text": "[[[[{{{{" * 100, "q": '\\"[[[[', "r": ["]]]]"] * 40})
    assert not exceeds_depth(text.encode(), 2)
    assert _load(text, depth=2) == json.loads(text)
    assert exceeds_depth(b'["' + b"]" * 40 + b'", ' + b"[" * 3 + b"]" * 4, 3)


@pytest.mark.parametrize(
    ("levels", "shape"),
    [
        (33, "{{[{"),  # mixed kinds
        (33, "[[]"),  # an empty sibling at each level
        (40, '[{"a":"]]",'),  # brackets inside strings at each level
    ],
)
def test_every_way_of_nesting_deep_is_seen(levels: int, shape: str) -> None:
    with pytest.raises(JsonRejected, match="deeper than 32"):
        _load(shape * levels + "]" * (levels * 4))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"a": NaN}', "NaN"),
        (b'{"a": -Infinity}', "Infinity"),
        (b'{"a": 1e999}', "out of range"),
        (b'{"encrypt": "a", "encrypt": "b"}', "duplicate key"),
        (b'{"a": "\\ud800"}', "surrogate"),
        (b'{"\\udc00": 1}', "surrogate"),
        (b'{"a": "\xff"}', "UTF-8"),
        ('{"a": 1}'.encode("utf-16"), "UTF-8"),
        (b'{"a": "\x00"}', "malformed"),
        (b'{"a": ' + b"9" * 5000 + b"}", "malformed"),
        (b"", "malformed"),
    ],
)
def test_hostile_json_is_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(JsonRejected, match=reason):
        _load(raw)


def test_size_is_checked_before_anything_else() -> None:
    with pytest.raises(BodyTooLarge):
        loads(b"[" * 2000, max_bytes=1000, max_depth=32)
    assert loads('{"t": "你好\\u0000"}', max_bytes=100, max_depth=2) == {"t": "你好\x00"}


# --- id lengths in the domain -----------------------------------------------------------------
def _msg(
    chat: str = "c",
    sender: str = "u",
    message_id: str = "m",
    name: str = "",
    kind: ChatType = ChatType.GROUP,
) -> IncomingMessage:
    return IncomingMessage(
        message_id, "webhook", "default", "puxiong", Chat(chat, kind), Sender(sender, name), "hi"
    )


def test_a_message_is_refused_unless_it_fits_the_columns() -> None:
    """The channels accept ids of MAX_ID_CHARS; the domain itself guards the columns, so a
    message rebuilt from any stored row is valid."""
    wide = "x" * ID_COLUMN_CHARS
    _msg(chat=wide, sender="u", message_id=wide, name=wide)
    _msg(chat=wide, sender=wide, kind=ChatType.PRIVATE)
    for kwargs in (
        {"chat": wide + "c"},
        {"sender": wide + "u"},
        {"name": wide + "名"},
        {"message_id": wide + "m"},
    ):
        with pytest.raises(InvalidMessage, match="longer than"):
            _msg(**kwargs)  # type: ignore[arg-type]
    # Both ids at the column width do not fit a group conversation key.
    assert len(f"puxiong:webhook:default:g:{wide}:{wide}") > CONVERSATION_KEY_CHARS
    with pytest.raises(InvalidMessage, match="conversation key"):
        _msg(chat=wide, sender=wide)
    # What the channels accept always fits.
    _msg(chat="c" * MAX_ID_CHARS, sender="u" * MAX_ID_CHARS, message_id="m" * MAX_ID_CHARS)


async def test_an_official_account_event_id_fits_with_the_longest_openid(rig: Rig) -> None:
    xml = mp_xml(
        "event",
        "<Event><![CDATA[subscribe]]></Event>",
        msg_id=None,
        created=17000000000000000000,
        openid="o" * MAX_ID_CHARS,
    )
    resp = await rig.client.post("/wechat/mp/plain", params=plain_query(), data=xml.encode())
    assert resp.status == 200, await resp.text()
    [msg] = rig.handler.calls
    assert msg.message_id == f"{'o' * MAX_ID_CHARS}:17000000000000000000"


# --- safe mode and compatible mode ----------------------------------------------------------
async def test_a_plain_post_to_a_safe_mode_account_is_refused(rig: Rig) -> None:
    resp = await rig.client.post(
        "/wechat/mp/demo", params=plain_query(), data=mp_text("你好").encode()
    )
    assert resp.status == 403
    assert "compatible_mode" in await resp.text()
    assert rig.handler.calls == []
    assert await rig.logged() == 0
    # The encrypted message is still answered, encrypted.
    query, body = safe_request(mp_text("你好", msg_id="1002"))
    resp = await rig.client.post("/wechat/mp/demo", params=query, data=body.encode())
    assert resp.status == 200
    assert open_safe_reply(await resp.text())["Content"] == "收到：你好"


async def test_compatible_mode_accepts_plain_posts_too(make_rig: RigFactory) -> None:
    demo = {
        "token": MP_TOKEN,
        "encoding_aes_key": MP_KEY,
        "app_id": MP_APPID,
        "committee": "puxiong",
        "compatible_mode": True,
    }
    rig = await make_rig(channels={"wechat_mp": {"demo": demo}})
    resp = await rig.client.post(
        "/wechat/mp/demo", params=plain_query(), data=mp_text("你好").encode()
    )
    assert resp.status == 200
    assert xml_fields(await resp.text())["Content"] == "收到：你好"
    query, body = safe_request(mp_text("再见", msg_id="1002"))
    resp = await rig.client.post("/wechat/mp/demo", params=query, data=body.encode())
    assert open_safe_reply(await resp.text())["Content"] == "收到：再见"
