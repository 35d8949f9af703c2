"""A local aiohttp server standing in for the WeChat customer-service (微信客服) API on
qyapi.weixin.qq.com, with the platform's rules: the callback token, the sync_msg cursor,
send_msg only in session states 0/1 (95018 otherwise), and the allowed state changes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from defusedxml import ElementTree as ET
from wechatpy.crypto import WeChatCrypto

KF_TOKEN = "QDG6eK"
KF_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "wx5823bf96d3bd56c7"
OPEN_KFID = "wkAJ2GCAAAZSfhHCt7IFSvLKtMPxyJTw"
SECRET = "kf-app-secret"

# Transitions the platform allows (分配客服会话): from → to.
ALLOWED = {0: {1, 2, 3}, 1: {2, 3}, 2: {3}, 3: {3, 4}, 4: set[int]()}


@dataclass
class KfPlatform:
    messages: list[dict[str, Any]] = field(default_factory=list)
    """Everything sync_msg can return, oldest first; the cursor is an index into it."""
    states: dict[str, tuple[int, str]] = field(default_factory=dict)
    """external_userid → (service_state, servicer_userid)."""
    sent: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    transitions: list[tuple[str, int, int, str]] = field(default_factory=list)
    cursors_asked: list[str] = field(default_factory=list)
    callback_token: str = "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR"
    tokens_issued: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    base_url: str = ""

    def say(self, user: str, text: str, msgid: str) -> None:
        """A customer writes (the platform keeps it for sync_msg; a new session starts)."""
        if self.states.get(user, (4, ""))[0] == 4:
            self.states[user] = (0, "")
        self.messages.append(
            {
                "msgid": msgid,
                "open_kfid": OPEN_KFID,
                "external_userid": user,
                "send_time": int(time.time()),
                "origin": 3,
                "msgtype": "text",
                "text": {"content": text},
            }
        )

    def state(self, user: str) -> int:
        return self.states.get(user, (4, ""))[0]

    async def wait_sent(self, count: int) -> None:
        async with asyncio.timeout(30):
            while len(self.sent) < count:
                self.arrived.clear()
                await self.arrived.wait()

    def callback(self, ts: str, nonce: str = "1372623149") -> tuple[dict[str, str], str]:
        """Query and body of the encrypted ``kf_msg_or_event`` callback (wechatpy encrypts)."""
        xml = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<CreateTime>{ts}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            "<Event><![CDATA[kf_msg_or_event]]></Event>"
            f"<Token><![CDATA[{self.callback_token}]]></Token>"
            f"<OpenKfId><![CDATA[{OPEN_KFID}]]></OpenKfId></xml>"
        )
        envelope = WeChatCrypto(KF_TOKEN, KF_KEY, CORP_ID).encrypt_message(xml, nonce, ts)
        root = ET.fromstring(envelope)
        body = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<Encrypt><![CDATA[{root.findtext('Encrypt')}]]></Encrypt></xml>"
        )
        query = {
            "msg_signature": root.findtext("MsgSignature") or "",
            "timestamp": ts,
            "nonce": nonce,
        }
        return query, body

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self._gettoken)
        app.router.add_post("/cgi-bin/kf/sync_msg", self._sync_msg)
        app.router.add_post("/cgi-bin/kf/send_msg", self._send_msg)
        app.router.add_post("/cgi-bin/kf/service_state/get", self._state_get)
        app.router.add_post("/cgi-bin/kf/service_state/trans", self._state_trans)
        return app

    def _authorised(self, request: web.Request) -> bool:
        return request.query.get("access_token", "") == f"KFTOKEN{self.tokens_issued}"

    async def _gettoken(self, request: web.Request) -> web.Response:
        if request.query.get("corpid") != CORP_ID or request.query.get("corpsecret") != SECRET:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        self.tokens_issued += 1
        return web.json_response(
            {"errcode": 0, "access_token": f"KFTOKEN{self.tokens_issued}", "expires_in": 7200}
        )

    async def _sync_msg(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"errcode": 40014, "errmsg": "invalid access_token"})
        body = await request.json()
        if body.get("token") != self.callback_token or body.get("open_kfid") != OPEN_KFID:
            return web.json_response({"errcode": 95007, "errmsg": "invalid msg token"})
        cursor = str(body.get("cursor", ""))
        self.cursors_asked.append(cursor)
        start = int(cursor) if cursor else 0
        limit = int(body.get("limit", 1000))
        page = self.messages[start : start + limit]
        end = start + len(page)
        return web.json_response(
            {
                "errcode": 0,
                "errmsg": "ok",
                "next_cursor": str(end),
                "has_more": int(end < len(self.messages)),
                "msg_list": page,
            }
        )

    async def _send_msg(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"errcode": 40014, "errmsg": "invalid access_token"})
        body = await request.json()
        if self.state(body["touser"]) not in (0, 1):
            self.refused.append(body)
            return web.json_response(
                {"errcode": 95018, "errmsg": "send msg session status invalid"}
            )
        self.sent.append(body)
        self.arrived.set()
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": f"out{len(self.sent)}"})

    async def _state_get(self, request: web.Request) -> web.Response:
        body = await request.json()
        state, servicer = self.states.get(body["external_userid"], (4, ""))
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "service_state": state, "servicer_userid": servicer}
        )

    async def _state_trans(self, request: web.Request) -> web.Response:
        body = await request.json()
        user, target = body["external_userid"], int(body["service_state"])
        current = self.state(user)
        servicer = str(body.get("servicer_userid", ""))
        if target not in ALLOWED[current] or (target == 3 and not servicer):
            return web.json_response({"errcode": 95016, "errmsg": "invalid service state"})
        self.states[user] = (target, servicer if target == 3 else "")
        self.transitions.append((user, current, target, servicer))
        return web.json_response({"errcode": 0, "errmsg": "ok"})
