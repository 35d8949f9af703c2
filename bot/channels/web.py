"""aiohttp routes of the channel layer. The composition root calls ``add_channel_routes``.

Errors: every refused request gets a clear text (WeChat routes) or JSON (webhook) body with
the status of its ChannelRequestError (400/401/403/404/413); a store that is down gives 503 so
the platform retries later. Bad input never produces a 500.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.channels.base import ChannelResponse
from bot.channels.errors import BadRequestError, BodyTooLarge, ChannelRequestError
from bot.channels.ingress import Ingress
from bot.channels.outbound import OutboundSender
from bot.channels.webhook import (
    DEFAULT_BUDGET_S,
    InvalidPayload,
    WebhookChannel,
    WebhookResult,
    parse_json,
)
from bot.channels.wechat_mp import WeChatMpChannel
from bot.channels.wecom_bot import WeComBotChannel
from bot.domain import InvalidMessage, StoreUnavailable
from bot.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

UNAVAILABLE = "service temporarily unavailable, please retry later"


@dataclass(frozen=True, slots=True)
class ChannelDeps:
    settings: Settings
    ingress: Ingress
    outbound: OutboundSender | None
    """None: no active delivery (late replies are logged as undeliverable)."""
    clock: Callable[[], float] = time.time
    """Wall clock (seconds) for the signature timestamp window and reply timestamps."""
    webhook_budget_s: float = DEFAULT_BUDGET_S
    """How long the generic webhook waits for the pipeline before answering 202 pending."""


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request body, refused with BodyTooLarge beyond ``limit`` bytes (declared or read)."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(f"body larger than {limit} bytes")
    buf = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        buf += chunk
        if len(buf) > limit:
            raise BodyTooLarge(f"body larger than {limit} bytes")
    return bytes(buf)


def _to_http(resp: ChannelResponse) -> web.Response:
    return web.Response(
        status=resp.status,
        body=resp.body.encode(),
        content_type=None,
        headers={"Content-Type": resp.content_type},
    )


def _refused(request: web.Request, exc: ChannelRequestError) -> None:
    log.warning(
        "request refused",
        extra={
            "path": request.path,
            "status": exc.status,
            "error": type(exc).__name__,
            "reason": str(exc),
        },
    )


async def _wechat_guard(request: web.Request, work: Awaitable[ChannelResponse]) -> web.Response:
    try:
        return _to_http(await work)
    except ChannelRequestError as exc:
        _refused(request, exc)
        return web.Response(status=exc.status, text=str(exc))
    except InvalidMessage as exc:
        _refused(request, BadRequestError(str(exc)))
        return web.Response(status=400, text=str(exc))
    except StoreUnavailable as exc:
        log.error("store unavailable", extra={"path": request.path, "error": str(exc)})
        return web.Response(status=503, text=UNAVAILABLE)


async def _json_guard(request: web.Request, work: Awaitable[WebhookResult]) -> web.Response:
    try:
        result = await work
    except InvalidPayload as exc:
        _refused(request, exc)
        return web.json_response({"error": str(exc), "details": exc.details}, status=exc.status)
    except ChannelRequestError as exc:
        _refused(request, exc)
        return web.json_response({"error": str(exc)}, status=exc.status)
    except InvalidMessage as exc:
        _refused(request, BadRequestError(str(exc)))
        return web.json_response({"error": str(exc)}, status=400)
    except StoreUnavailable as exc:
        log.error("store unavailable", extra={"path": request.path, "error": str(exc)})
        return web.json_response({"error": UNAVAILABLE}, status=503)
    return web.json_response(result.body, status=result.status, dumps=_dumps)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def add_channel_routes(app: web.Application, deps: ChannelDeps) -> None:
    """Mount ``GET|POST /wechat/mp/{account}``, ``GET|POST /wechat/wecom-bot/{bot}`` and
    ``POST /api/v1/messages`` on ``app``."""
    limit = deps.settings.max_body_bytes
    mp = WeChatMpChannel(deps.settings, deps.ingress, deps.outbound, clock=deps.clock)
    wecom = WeComBotChannel(deps.settings, deps.ingress, deps.outbound, clock=deps.clock)
    hook = WebhookChannel(deps.settings, deps.ingress, budget_s=deps.webhook_budget_s)

    async def mp_get(request: web.Request) -> web.Response:
        async def work() -> ChannelResponse:
            return mp.verify_url(request.match_info["account"], request.query)

        return await _wechat_guard(request, work())

    async def mp_post(request: web.Request) -> web.Response:
        async def work() -> ChannelResponse:
            name = request.match_info["account"]
            mp.account(name)
            body = await read_body(request, limit)
            return await mp.handle(name, request.query, body)

        return await _wechat_guard(request, work())

    async def wecom_get(request: web.Request) -> web.Response:
        async def work() -> ChannelResponse:
            return wecom.verify_url(request.match_info["bot"], request.query)

        return await _wechat_guard(request, work())

    async def wecom_post(request: web.Request) -> web.Response:
        async def work() -> ChannelResponse:
            name = request.match_info["bot"]
            wecom.bot(name)
            body = await read_body(request, limit)
            return await wecom.handle(name, request.query, body)

        return await _wechat_guard(request, work())

    async def webhook_post(request: web.Request) -> web.Response:
        async def work() -> WebhookResult:
            hook.authorize(request.headers.get("Authorization"))
            body = await read_body(request, limit)
            return await hook.handle(body)

        return await _json_guard(request, work())

    app.router.add_get("/wechat/mp/{account}", mp_get, allow_head=False)
    app.router.add_post("/wechat/mp/{account}", mp_post)
    app.router.add_get("/wechat/wecom-bot/{bot}", wecom_get, allow_head=False)
    app.router.add_post("/wechat/wecom-bot/{bot}", wecom_post)
    app.router.add_post("/api/v1/messages", webhook_post)


async def try_message(deps: ChannelDeps, payload: Any) -> WebhookResult:
    """The playground's entry point without HTTP: ``payload`` is the parsed JSON body
    (``{"text", "message_id"?, "chat"?, "sender"?, "mentioned"?}``). Raises BadRequestError /
    InvalidPayload for bad input and StoreUnavailable when the store is down."""
    hook = WebhookChannel(deps.settings, deps.ingress, budget_s=deps.webhook_budget_s)
    return await hook.try_message(payload)


def make_try_handler(deps: ChannelDeps) -> Handler:
    """``POST`` handler for the ``/try`` playground: JSON ``{"text", "message_id"?, "chat"?,
    "sender"?, "mentioned"?}`` in, the webhook's response JSON out; channel ``webhook``,
    account ``try``, no bearer token. Mount it only when ``settings.try_enabled``."""
    hook = WebhookChannel(deps.settings, deps.ingress, budget_s=deps.webhook_budget_s)
    limit = deps.settings.max_body_bytes

    async def handler(request: web.Request) -> web.StreamResponse:
        async def work() -> WebhookResult:
            body = await read_body(request, limit)
            return await hook.try_message(parse_json(body, deps.settings))

        return await _json_guard(request, work())

    return handler
