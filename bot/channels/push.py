"""Messages Linli starts itself — a caseworker's reply, ticket news — sent to a resident
through the channel their conversation came from."""

from __future__ import annotations

import logging

from bot.channels.errors import OutboundError
from bot.channels.outbound import OutboundSender
from bot.settings import Settings
from bot.storage.conversations import Conversation

log = logging.getLogger(__name__)

TRY_ACCOUNT = "try"


class ResidentPusher:
    def __init__(self, outbound: OutboundSender, settings: Settings) -> None:
        self._outbound = outbound
        self._settings = settings

    async def push(self, to: Conversation, text: str, kind: str) -> str:
        """Send ``text``; returns how it went: ``active`` (sent), ``pull`` (the /try page
        fetches it from the conversation log) or ``undeliverable``."""
        try:
            if to.channel == "wechat_mp" and self._outbound.mp_can_send(to.account):
                await self._outbound.send_mp_text(to.account, to.sender_id, text)
                return "active"
            if to.channel == "webhook" and to.account == TRY_ACCOUNT:
                return "pull"
            hook = self._settings.channels.webhook
            if to.channel == "webhook" and hook.push_url:
                await self._outbound.push_gateway(
                    hook.push_url,
                    hook.push_token,
                    {
                        "chat": {"id": to.chat_id, "type": to.chat_type},
                        "recipient": {"id": to.sender_id, "name": to.sender_name},
                        "text": text,
                        "kind": kind,
                    },
                )
                return "active"
        except OutboundError as exc:
            log.warning("push failed", extra={"channel": to.channel, "error": str(exc)})
            return "undeliverable"
        # WeCom AI bots can only answer a message (response_url); nothing to push through.
        log.warning("no way to push to this channel", extra={"channel": to.channel})
        return "undeliverable"
