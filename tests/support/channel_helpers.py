"""Helpers for the channel tests: a real channel stack (Ingress over MemoryStateStore +
SqlMessageLog on a temporary SQLite file, the channel routes on an aiohttp test server) and a
local aiohttp server standing in for api.weixin.qq.com / qyapi.weixin.qq.com / response_url."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer
from defusedxml import ElementTree as ET
from sqlalchemy import func, select
from wechatpy.crypto import PrpCrypto
from wechatpy.crypto import WeChatCrypto as WeChatpyCrypto

from bot.background import BackgroundTasks
from bot.channels.ingress import Ingress
from bot.channels.outbound import OutboundSender
from bot.channels.web import ChannelDeps, add_channel_routes, make_try_handler
from bot.domain import IncomingMessage, MessageType, Reply, ReplyKind
from bot.settings import Settings, load_settings
from bot.storage.sql import Database, SqlMessageLog
from bot.storage.sql.models import MessageRow
from bot.storage.state_memory import MemoryStateStore

MP_TOKEN = "spamtest"
MP_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
MP_APPID = "wx2c2769f8efd9abc2"
WECOM_TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
WECOM_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
HOOK_TOKEN = "hook-secret-token-1"
ROBOT_KEY = "robot-key-123"


def sign(*parts: str) -> str:
    """Independent implementation of WeChat's signature for building test requests."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


@dataclass
class EchoHandler:
    """A small real pipeline stand-in: answers in Chinese, welcomes on subscribe/enter_chat;
    ``delay`` makes it slow."""

    delay: float = 0.0
    calls: list[IncomingMessage] = field(default_factory=list)
    extra: list[Reply] = field(default_factory=list)

    async def __call__(self, msg: IncomingMessage) -> list[Reply]:
        self.calls.append(msg)
        if self.delay:
            await asyncio.sleep(self.delay)
        if msg.type is MessageType.EVENT:
            if msg.event in {"subscribe", "enter_chat"}:
                return [Reply("欢迎关注普雄路居委会！有事直接发消息给我。", ReplyKind.WELCOME)]
            return []
        if msg.type is MessageType.IMAGE:
            return [Reply("已收到图片，请用文字说明需要帮什么忙。", ReplyKind.MEDIA)]
        return [Reply(f"收到：{msg.text}", ReplyKind.FAQ), *self.extra]


@dataclass
class Platform:
    """Records what the bot sends to the platform APIs; ``fail`` queues error answers."""

    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    events: list[tuple[str, Any]] = field(default_factory=list)
    fail: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    tokens_issued: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    base_url: str = ""

    def of(self, path: str) -> list[tuple[dict[str, str], Any]]:
        return [(q, b) for p, q, b in self.requests if p == path]

    async def wait_for(self, path: str, count: int = 1) -> None:
        """Until ``count`` requests to ``path`` arrived (bounded by the test timeout)."""
        async with asyncio.timeout(10):
            while len(self.of(path)) < count:
                self.arrived.clear()
                await self.arrived.wait()

    def app(self) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            body = await request.json() if request.can_read_body else None
            path = request.path
            self.requests.append((path, dict(request.query), body))
            self.events.append(("arrive", body))
            self.arrived.set()
            queued = self.fail.get(path)
            if queued:
                status, answer = queued.pop(0)
                return web.json_response(answer, status=status)
            if path == "/cgi-bin/token":
                self.tokens_issued += 1
                return web.json_response(
                    {"access_token": f"ACCESS{self.tokens_issued}", "expires_in": 7200}
                )
            return web.json_response({"errcode": 0, "errmsg": "ok"})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        return app


@dataclass
class Rig:
    client: TestClient[web.Request, web.Application]
    handler: EchoHandler
    platform: Platform
    db: Database
    state: MemoryStateStore
    tasks: BackgroundTasks
    settings: Settings
    outbound: OutboundSender
    clock: list[float | None]
    sleeps: list[float]

    def now(self) -> float:
        value = self.clock[0]
        return time.time() if value is None else value

    async def logged(self) -> int:
        async with self.db.session() as s:
            return int(await s.scalar(select(func.count()).select_from(MessageRow)) or 0)


RigFactory = Callable[..., Awaitable[Rig]]
Cleanups = list[Callable[[], Awaitable[None]]]


async def build_rig(
    tmp_path: Path,
    cleanups: Cleanups,
    *,
    delay: float = 0.0,
    state: MemoryStateStore | None = None,
    webhook_budget_s: float = 2.0,
    **overrides: Any,
) -> Rig:
    """A rig; keyword overrides go to Settings (e.g. reply_budget_s=0.2). Everything it
    starts is closed by the callables appended to ``cleanups`` (run them in reverse)."""
    platform = Platform()
    platform_server = TestServer(platform.app())
    await platform_server.start_server()
    cleanups.append(platform_server.close)
    base = str(platform_server.make_url("")).rstrip("/")
    platform.base_url = base
    config: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "reply_budget_s": 10.0,  # generous: a loaded machine must not turn answers late
        "signature_window_s": 300,
        "max_body_bytes": 64 * 1024,
        "wechat_api_base": base,
        "wecom_api_base": base,
        "outbound_retries": 3,
        "outbound_backoff_s": 0.01,
        "channels": {
            "wechat_mp": {
                "demo": {
                    "token": MP_TOKEN,
                    "encoding_aes_key": MP_KEY,
                    "app_id": MP_APPID,
                    "app_secret": "app-secret-xyz",
                    "committee": "puxiong",
                },
                "plain": {"token": MP_TOKEN, "committee": "puxiong"},
            },
            "wecom_bot": {
                "residents": {
                    "token": WECOM_TOKEN,
                    "encoding_aes_key": WECOM_KEY,
                    "committee": "puxiong",
                },
            },
            "webhook": {"tokens": ["other-token", HOOK_TOKEN], "committee": "puxiong"},
        },
        "committees": {"puxiong": {"staff_robot_key": ROBOT_KEY}},
    }
    config.update(overrides)
    settings = load_settings(None, **config)
    db = Database.connect(f"sqlite+aiosqlite:///{tmp_path / f'linli-{len(cleanups)}.db'}")
    await db.migrate()
    cleanups.append(db.close)
    state = state if state is not None else MemoryStateStore()
    tasks = BackgroundTasks()
    handler = EchoHandler(delay=delay)
    ingress = Ingress(handler, state, SqlMessageLog(db), tasks, lease_s=5, dedup_ttl_s=60)
    session = ClientSession()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        platform.events.append(("sleep", seconds))
        await asyncio.sleep(seconds)

    outbound = OutboundSender(session, state, settings, sleep=sleep, robot_window_s=0.3)
    clock: list[float | None] = [None]

    def now() -> float:
        value = clock[0]
        return time.time() if value is None else value

    deps = ChannelDeps(settings, ingress, outbound, clock=now, webhook_budget_s=webhook_budget_s)
    app = web.Application()
    add_channel_routes(app, deps)
    app.router.add_post("/try/api/messages", make_try_handler(deps))
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()

    async def close() -> None:
        await tasks.drain(5.0)
        await client.close()
        await session.close()

    cleanups.append(close)
    return Rig(client, handler, platform, db, state, tasks, settings, outbound, clock, sleeps)


def json_body(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


# --- Official Account requests --------------------------------------------------------------
OPENID = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"


def mp_xml(
    msg_type: str,
    fields: str,
    *,
    msg_id: str | None = "1001",
    created: int | None = None,
    openid: str = OPENID,
) -> str:
    created = int(time.time()) if created is None else created
    msg_id_xml = f"<MsgId>{msg_id}</MsgId>" if msg_id is not None else ""
    return (
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{created}</CreateTime>"
        f"<MsgType><![CDATA[{msg_type}]]></MsgType>{fields}{msg_id_xml}</xml>"
    )


def mp_text(content: str, msg_id: str = "1001") -> str:
    return mp_xml("text", f"<Content><![CDATA[{content}]]></Content>", msg_id=msg_id)


def plain_query(
    ts: str | None = None, nonce: str = "4242", token: str = MP_TOKEN
) -> dict[str, str]:
    ts = ts or str(int(time.time()))
    return {"signature": sign(token, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": OPENID}


def safe_request(
    xml: str,
    *,
    ts: str | None = None,
    nonce: str = "4242",
    token: str = MP_TOKEN,
    key: str = MP_KEY,
    appid: str = MP_APPID,
) -> tuple[dict[str, str], str]:
    """Query and body of a safe-mode POST, encrypted by wechatpy (an independent oracle)."""
    ts = ts or str(int(time.time()))
    envelope = WeChatpyCrypto(token, key, appid).encrypt_message(xml, nonce, ts)
    root = ET.fromstring(envelope)
    encrypt = root.findtext("Encrypt") or ""
    body = (
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    )
    query = {
        "signature": sign(token, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "openid": OPENID,
        "encrypt_type": "aes",
        "msg_signature": root.findtext("MsgSignature") or "",
    }
    return query, body


def open_safe_reply(
    reply: str, token: str = MP_TOKEN, key: str = MP_KEY, appid: str = MP_APPID
) -> dict[str, str]:
    """Verify and decrypt an encrypted passive reply with wechatpy; its fields as a dict."""
    root = ET.fromstring(reply)
    plain = WeChatpyCrypto(token, key, appid).decrypt_message(
        reply, root.findtext("MsgSignature"), root.findtext("TimeStamp"), root.findtext("Nonce")
    )
    return xml_fields(plain)


def xml_fields(xml: str) -> dict[str, str]:
    return {child.tag: child.text or "" for child in ET.fromstring(xml)}


# --- WeCom AI bot requests --------------------------------------------------------------------
def _key_bytes(key: str) -> bytes:
    return base64.b64decode(key + "=")


def wecom_encrypt(plaintext: str, key: str = WECOM_KEY, receive_id: str = "") -> str:
    """Encrypt with wechatpy's primitive (an independent oracle)."""
    encrypted = PrpCrypto(_key_bytes(key)).encrypt(plaintext, receive_id)
    return encrypted.decode() if isinstance(encrypted, bytes) else str(encrypted)


def wecom_request(
    payload: dict[str, Any] | str,
    *,
    ts: str | None = None,
    nonce: str = "1597212914",
    token: str = WECOM_TOKEN,
    key: str = WECOM_KEY,
    receive_id: str = "",
) -> tuple[dict[str, str], str]:
    """Query and JSON body of an AI-bot callback."""
    ts = ts or str(int(time.time()))
    plain = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    encrypt = wecom_encrypt(plain, key, receive_id)
    query = {"msg_signature": sign(token, ts, nonce, encrypt), "timestamp": ts, "nonce": nonce}
    return query, json.dumps({"encrypt": encrypt})


def open_wecom_reply(body: str, token: str = WECOM_TOKEN, key: str = WECOM_KEY) -> Any:
    """Check the reply's signature independently and decrypt it with wechatpy."""
    data = json.loads(body)
    assert set(data) == {"encrypt", "msgsignature", "timestamp", "nonce"}
    assert data["msgsignature"] == sign(token, data["timestamp"], data["nonce"], data["encrypt"])
    return json.loads(PrpCrypto(_key_bytes(key)).decrypt(data["encrypt"], ""))


def bot_text(
    content: str,
    *,
    msgid: str = "CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI=",
    chattype: str = "group",
    response_url: str = "",
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "msgid": msgid,
        "aibotid": "AIBOTID",
        "chattype": chattype,
        "from": {"userid": "zhangsan"},
        "response_url": response_url,
        "msgtype": "text",
        "text": {"content": content},
    }
    if chattype == "group":
        payload["chatid"] = "g-putuoyicun"
    return payload
