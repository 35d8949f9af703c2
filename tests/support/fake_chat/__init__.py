"""A minimal fake chat platform, written as a new channel would be: its own package, one
``Channel`` subclass, no change anywhere else. Residents post JSON to ``/fake/{account}``
and get the replies back; what Linli pushes is kept in ``outbox`` (the platform's side)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from bot.channels.protocol import Capabilities, Channel, ChannelContext, Delivery
from bot.domain import Chat, ChatType, IncomingMessage, Sender
from bot.storage.conversations import Conversation

COMMITTEE = "puxiong"


class FakeChat(Channel):
    name = "fakechat"
    capabilities = Capabilities(passive_reply_s=10.0, push_window_s=float("inf"), groups=False)

    def __init__(self, ctx: ChannelContext) -> None:
        self._ingress = ctx.ingress
        self.outbox: list[tuple[str, str, str]] = []

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return [web.post("/fake/{account}", self.post_message)]

    async def post_message(self, request: web.Request) -> web.Response:
        payload = json.loads(await request.read())
        msg = self.to_message(request.match_info["account"], payload)
        result = await self._ingress.receive(msg, self.capabilities.passive_reply_s or 0, None)
        return web.json_response({"replies": [r.text for r in result.replies]})

    def to_message(self, account: str, payload: Any) -> IncomingMessage:
        return IncomingMessage(
            message_id=str(payload["id"]),
            channel=self.name,
            account=account,
            committee=COMMITTEE,
            chat=Chat(str(payload["user"]), ChatType.PRIVATE),
            sender=Sender(str(payload["user"]), str(payload.get("name", ""))),
            text=str(payload["text"]),
            mentioned=True,
        )

    async def push(self, to: Conversation, text: str, kind: str) -> Delivery:
        self.outbox.append((to.sender_id, text, kind))
        return "active"
