"""The WeChat customer-service (微信客服) callback and pull, on a real ingress and a local
server standing in for the API: WeCom's published crypto vectors, refusals, and what a
pull turns into messages."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer
from channel_helpers import EchoHandler
from kf_platform import CORP_ID, KF_KEY, KF_TOKEN, OPEN_KFID, SECRET, KfPlatform

from bot.background import BackgroundTasks
from bot.channels.ingress import Ingress
from bot.channels.platform import PlatformClient
from bot.channels.protocol import ChannelContext
from bot.channels.registry import ChannelRegistry
from bot.channels.wechat_kf import WeChatKfChannel
from bot.settings import load_settings
from bot.storage.sql import Database, SqlCursorStore, SqlMessageLog
from bot.storage.state_memory import MemoryStateStore

Client = TestClient[web.Request, web.Application]

# wechat-protocol.md 3.3 (URL verification) and 3.4 (decrypt), WeCom doc 90968.
VERIFY = {
    "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "timestamp": "1409659589",
    "nonce": "263014780",
    "echostr": (
        "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
    ),
}
POST_QUERY = {
    "msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6",
    "timestamp": "1409659813",
    "nonce": "1372623149",
}
POST_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qczc"
    "dCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLj"
    "vd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMn"
    "vw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k"
    "22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH"
    "2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
USER = "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw"


@dataclass
class KfRig:
    client: Client
    kf: KfPlatform
    handler: EchoHandler
    clock: list[float]
    cursors: SqlCursorStore


@pytest.fixture
async def kf_rig(tmp_path: Path) -> AsyncIterator[KfRig]:
    kf = KfPlatform()
    api = TestServer(kf.app())
    await api.start_server()
    settings = load_settings(
        None,
        data_dir=tmp_path / "var",
        wecom_api_base=str(api.make_url("")).rstrip("/"),
        outbound_backoff_s=0.01,
        channels={
            "wechat_kf": {
                "residents": {
                    "corp_id": CORP_ID,
                    "secret": SECRET,
                    "token": KF_TOKEN,
                    "encoding_aes_key": KF_KEY,
                    "open_kfid": OPEN_KFID,
                    "committee": "puxiong",
                }
            }
        },
    )
    db = Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'kf.db'}")
    await db.migrate()
    state = MemoryStateStore()
    tasks = BackgroundTasks()
    handler = EchoHandler()
    ingress = Ingress(handler, state, SqlMessageLog(db), tasks, lease_s=5, dedup_ttl_s=60)
    session = ClientSession()
    clock = [time.time()]
    ctx = ChannelContext(
        settings, ingress, PlatformClient(session, state, settings), clock=lambda: clock[0]
    )
    cursors = SqlCursorStore(db)
    channels = ChannelRegistry()
    channels.add(WeChatKfChannel(ctx, cursors))
    app = web.Application()
    channels.mount(app)
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    yield KfRig(client, kf, handler, clock, cursors)
    await tasks.drain(5.0)
    await client.close()
    await session.close()
    await api.close()
    await db.close()


async def test_url_verification_answers_the_published_echostr(kf_rig: KfRig) -> None:
    kf_rig.clock[0] = 1409659589
    resp = await kf_rig.client.get("/wechat/kf/residents", params=VERIFY)
    assert resp.status == 200
    assert await resp.text() == "1616140317555161061"
    forged = await kf_rig.client.get("/wechat/kf/residents", params={**VERIFY, "nonce": "1"})
    assert forged.status == 403
    unknown = await kf_rig.client.get("/wechat/kf/other", params=VERIFY)
    assert unknown.status == 404


async def test_a_published_callback_that_is_not_the_kf_event_pulls_nothing(
    kf_rig: KfRig,
) -> None:
    kf_rig.clock[0] = 1409659813
    body = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<Encrypt><![CDATA[{POST_ENCRYPT}]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
    )
    resp = await kf_rig.client.post("/wechat/kf/residents", params=POST_QUERY, data=body)
    assert resp.status == 200
    assert await resp.text() == "success"
    assert kf_rig.kf.cursors_asked == []
    tampered = await kf_rig.client.post(
        "/wechat/kf/residents", params={**POST_QUERY, "timestamp": "1409659814"}, data=body
    )
    assert tampered.status == 403


async def test_a_callback_outside_the_time_window_is_refused(kf_rig: KfRig) -> None:
    query, body = kf_rig.kf.callback(str(int(kf_rig.clock[0]) - 3600))
    resp = await kf_rig.client.post("/wechat/kf/residents", params=query, data=body)
    assert resp.status == 403
    assert kf_rig.kf.cursors_asked == []


async def test_only_customers_messages_become_messages_and_the_cursor_moves_past_the_rest(
    kf_rig: KfRig,
) -> None:
    kf = kf_rig.kf
    kf.say(USER, "湿垃圾几点可以扔", "m1")
    event: dict[str, Any] = {
        "msgid": "e1",
        "open_kfid": OPEN_KFID,
        "external_userid": USER,
        "send_time": int(time.time()),
        "origin": 4,
        "msgtype": "event",
        "event": {"event_type": "enter_session", "welcome_code": "W"},
    }
    servicer = {**kf.messages[0], "msgid": "s1", "origin": 5, "servicer_userid": "liqiang"}
    malformed = {"msgid": "", "origin": 3, "msgtype": "text", "text": {"content": "x"}}
    kf.messages += [event, servicer, malformed]
    kf.say(USER, "图片", "m2")
    kf.messages[-1] = {**kf.messages[-1], "msgtype": "image", "image": {"media_id": "MID"}}
    query, body = kf.callback(str(int(kf_rig.clock[0])))
    resp = await kf_rig.client.post("/wechat/kf/residents", params=query, data=body)
    assert await resp.text() == "success"
    await kf.wait_sent(2)
    assert [(m.message_id, m.type.value, m.text) for m in kf_rig.handler.calls] == [
        ("m1", "text", "湿垃圾几点可以扔"),
        ("m2", "image", ""),
    ]
    assert [s["text"]["content"] for s in kf.sent] == [
        "收到：湿垃圾几点可以扔",
        "已收到图片，请用文字说明需要帮什么忙。",
    ]
    assert await kf_rig.cursors.get("wechat_kf", "residents") == "5"
    # The same callback again: the pull starts after everything already taken in.
    again = await kf_rig.client.post("/wechat/kf/residents", params=query, data=body)
    assert again.status == 200
    assert kf.cursors_asked == ["", "5"]
    assert len(kf_rig.handler.calls) == 2
