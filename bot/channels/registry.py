"""The channel registry: the one place that knows which channels exist. Built by the
composition root (``bot.app``); ingress, handoff and the outbox ask it. Its ``push`` is where
a message Linli or a caseworker starts gets its delivery status (``DeliveryReport``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiohttp import web

from bot.channels.errors import OutboundError
from bot.channels.ingress import Ingress
from bot.channels.platform import failed
from bot.channels.protocol import Channel
from bot.domain import StoreUnavailable
from bot.domain.once import Delivery, DeliveryReport
from bot.storage.conversations import Conversation

log = logging.getLogger(__name__)


class ChannelRegistry:
    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}

    def add(self, channel: Channel) -> None:
        if channel.name in self._channels:
            raise ValueError(f"channel {channel.name!r} registered twice")
        self._channels[channel.name] = channel

    def get(self, name: str) -> Channel | None:
        return self._channels.get(name)

    @property
    def names(self) -> list[str]:
        return list(self._channels)

    def mount(self, app: web.Application) -> None:
        """Every channel's routes on ``app``."""
        for channel in self._channels.values():
            app.router.add_routes(channel.routes())

    def attach(self, ingress: Ingress) -> None:
        """Tell ingress how each channel answers a message taken up again by ``recover``."""
        for channel in self._channels.values():
            ingress.register_late(channel.name, channel.late_delivery)

    async def push(self, to: Conversation, text: str, kind: str) -> DeliveryReport:
        """Send ``text`` into the conversation through its channel; how it went: sent
        (``active``) or ``pull``; ``undeliverable`` when the channel cannot send (none, no
        active sender, or its push window is closed); ``failed`` with the platform's error
        when the platform refused it or could not be reached."""
        channel = self._channels.get(to.channel)
        if channel is None:
            log.warning("no such channel", extra={"channel": to.channel})
            return DeliveryReport(Delivery.UNDELIVERABLE)
        window = channel.capabilities.push_window_s
        if window is not None and to.last_message_at is not None:
            elapsed = (datetime.now(UTC) - to.last_message_at).total_seconds()
            if elapsed > window:
                log.warning(
                    "push window closed",
                    extra={"channel": to.channel, "elapsed_s": int(elapsed)},
                )
                return DeliveryReport(Delivery.UNDELIVERABLE)
        try:
            return DeliveryReport(Delivery(await channel.push(to, text, kind)))
        except OutboundError as exc:
            log.warning(
                "push failed",
                extra={
                    "channel": to.channel,
                    "error": str(exc),
                    "errcode": getattr(exc, "errcode", None),
                },
            )
            return failed(exc)

    async def session_moved(self, conv: Conversation) -> None:
        """A conversation changed hands in Linli; its platform follows where it can."""
        channel = self._channels.get(conv.channel)
        if channel is None:
            return
        try:
            await channel.session_moved(conv)
        except (OutboundError, StoreUnavailable, TimeoutError) as exc:
            log.warning(
                "platform session not moved", extra={"channel": conv.channel, "error": str(exc)}
            )
