"""Mounting channels without the whole application (the channel test rig, tools): the
built-in channels over one ``ChannelDeps``. The application itself builds its registry in
the composition root (``bot.app``).

Errors: every refused request gets a clear text (WeChat routes) or JSON (webhook) body with
the status of its ChannelRequestError (400/401/403/404/413); a store that is down gives 503 so
the platform retries later. Bad input never produces a 500.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from bot.channels.base import read_body
from bot.channels.ingress import Ingress
from bot.channels.platform import PlatformClient
from bot.channels.protocol import ChannelContext
from bot.channels.registry import ChannelRegistry
from bot.channels.webhook import DEFAULT_BUDGET_S, WebhookChannel
from bot.channels.wechat_mp import WeChatMpChannel
from bot.channels.wecom_bot import WeComBotChannel
from bot.settings import Settings

__all__ = ["ChannelDeps", "add_channel_routes", "builtin_channels", "make_try_handler", "read_body"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class ChannelDeps:
    settings: Settings
    ingress: Ingress
    outbound: PlatformClient | None
    """None: no active delivery (late replies are logged as undeliverable)."""
    clock: Callable[[], float] = time.time
    """Wall clock (seconds) for the signature timestamp window and reply timestamps."""
    webhook_budget_s: float = DEFAULT_BUDGET_S
    """How long the generic webhook waits for the pipeline before answering 202 pending."""

    def context(self) -> ChannelContext:
        return ChannelContext(self.settings, self.ingress, self.outbound, clock=self.clock)


def builtin_channels(deps: ChannelDeps) -> ChannelRegistry:
    """The Official Account, WeCom AI-bot and generic webhook channels in one registry
    (``attach`` it to an ingress for recovery's late deliveries)."""
    ctx = deps.context()
    channels = ChannelRegistry()
    channels.add(WeChatMpChannel(ctx))
    channels.add(WeComBotChannel(ctx))
    channels.add(WebhookChannel(ctx, budget_s=deps.webhook_budget_s))
    return channels


def add_channel_routes(app: web.Application, deps: ChannelDeps) -> ChannelRegistry:
    """Mount ``GET|POST /wechat/mp/{account}``, ``GET|POST /wechat/wecom-bot/{bot}`` and
    ``POST /api/v1/messages`` on ``app``; returns their registry."""
    channels = builtin_channels(deps)
    channels.mount(app)
    return channels


def make_try_handler(deps: ChannelDeps) -> Handler:
    """``POST`` handler for the ``/try`` playground (see ``WebhookChannel.post_try``)."""
    return WebhookChannel(deps.context(), budget_s=deps.webhook_budget_s).post_try
