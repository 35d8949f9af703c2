"""Active (outbound) delivery: the Official Account customer-service API, WeCom AI-bot
``response_url`` and WeCom group-robot webhooks.

Retries with exponential backoff on network errors, HTTP 5xx and ``errcode -1`` (system
busy) or 45009 (frequency limit); no retry on other errors. Access tokens are cached in the
shared StateStore until five minutes before they expire, and refreshed once on 40001/42001/
40014. Group-robot posts respect the 20-messages-a-minute limit with a shared sliding-window
throttle per key. Secrets (app secrets, access tokens, robot keys, response_url codes) are
never logged; URLs are logged without their query string.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.channels.errors import OutboundError, PermanentOutboundError
from bot.channels.ingress import LateDelivery
from bot.channels.render import join_replies, mask, split_bytes, truncate_bytes
from bot.domain import IncomingMessage, Reply, StoreUnavailable
from bot.settings import Settings
from bot.storage import keys
from bot.storage.state import StateStore

log = logging.getLogger(__name__)

TEXT_LIMIT_BYTES = 2048
MARKDOWN_LIMIT_BYTES = 4096
ROBOT_MAX_PARTS = 5
CUT_MARKER = "……（内容较长，未完全显示）"
TOKEN_EARLY_REFRESH_S = 300
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
RETRYABLE_ERRCODES = frozenset({-1, 45009})

Sleep = Callable[[float], Awaitable[None]]
# What a fire-and-forget delivery (late reply, staff alert) logs instead of raising: the
# platform refused or was unreachable, or the shared store (token cache, throttle) was down.
_DELIVERY_ERRORS = (OutboundError, StoreUnavailable, TimeoutError)


class OutboundSender:
    """One per process, built by the composition root with its aiohttp ClientSession."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        state: StateStore,
        settings: Settings,
        *,
        sleep: Sleep = asyncio.sleep,
        request_timeout_s: float = 10.0,
        robot_window_s: float = 60.0,
    ) -> None:
        self._session = session
        self._state = state
        self._settings = settings
        self._sleep = sleep
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_s)
        self._robot_window_s = robot_window_s

    # --- WeChat Official Account ----------------------------------------------------------
    async def mp_access_token(self, account: str, *, stale: str | None = None) -> str:
        """The account's access token from the shared cache, fetched from ``/cgi-bin/token``
        when absent. ``stale``: a token the API just refused; it is replaced unless another
        worker has done so already."""
        app_id, app_secret = self._mp_credentials(account)
        cache_key = keys.token(f"wechat_mp:{app_id}")
        cached = await self._state.get(cache_key)
        if cached is not None and cached != stale:
            return cached
        async with self._state.lock(keys.lock(f"token:wechat_mp:{app_id}"), 30.0, 15.0):
            cached = await self._state.get(cache_key)
            if cached is not None and cached != stale:
                return cached
            data = await self._request(
                "GET",
                self._settings.wechat_api_base.rstrip("/") + "/cgi-bin/token",
                what="wechat access token",
                params={"grant_type": "client_credential", "appid": app_id, "secret": app_secret},
            )
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise PermanentOutboundError("wechat access token: no access_token in answer")
            expires_in = _int(data.get("expires_in"), 7200)
            ttl = max(expires_in - TOKEN_EARLY_REFRESH_S, 60)
            await self._state.set(cache_key, token, ttl)
            log.info("wechat access token refreshed", extra={"account": account, "ttl_s": ttl})
            return token

    async def send_mp_text(self, account: str, openid: str, text: str) -> None:
        """Send ``text`` to ``openid`` through the customer-service API (within 48 h of the
        resident's last interaction). Raises OutboundError/PermanentOutboundError."""
        payload = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        url = self._settings.wechat_api_base.rstrip("/") + "/cgi-bin/message/custom/send"
        token = await self.mp_access_token(account)
        try:
            await self._request(
                "POST",
                url,
                what="wechat custom send",
                params={"access_token": token},
                payload=payload,
            )
        except PermanentOutboundError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            log.warning("wechat access token refused; refreshing", extra={"account": account})
            token = await self.mp_access_token(account, stale=token)
            await self._request(
                "POST",
                url,
                what="wechat custom send",
                params={"access_token": token},
                payload=payload,
            )
        log.info("wechat custom message sent", extra={"account": account, "to": mask(openid)})

    def mp_can_send(self, account: str) -> bool:
        acc = self._settings.channels.wechat_mp.get(account)
        return acc is not None and bool(acc.app_id and acc.app_secret)

    def mp_late(self, account: str) -> LateDelivery:
        """Late delivery for an Official Account (customer-service API)."""

        async def late(msg: IncomingMessage, replies: list[Reply]) -> None:
            text = join_replies(replies)
            if not text:
                return
            try:
                await self.send_mp_text(account, msg.chat.id, text)
            except _DELIVERY_ERRORS as exc:
                log.error(
                    "late reply not delivered",
                    extra={
                        "channel": "wechat_mp",
                        "account": account,
                        "error": str(exc),
                        "errcode": getattr(exc, "errcode", None),
                    },
                )

        return late

    def _mp_credentials(self, account: str) -> tuple[str, str]:
        acc = self._settings.channels.wechat_mp.get(account)
        if acc is None or not acc.app_id or not acc.app_secret:
            raise PermanentOutboundError(
                f"official account {account!r} has no app_id/app_secret configured"
            )
        return acc.app_id, acc.app_secret

    # --- WeCom AI bot ---------------------------------------------------------------------
    async def reply_response_url(self, response_url: str, text: str) -> None:
        """Answer an AI-bot message through its ``response_url`` (single use, valid 1 h) with
        a markdown message."""
        parts = urlsplit(response_url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise PermanentOutboundError("response_url is not an http(s) URL")
        payload = {
            "msgtype": "markdown",
            "markdown": {"content": truncate_bytes(text, MARKDOWN_LIMIT_BYTES, CUT_MARKER)},
        }
        await self._request("POST", response_url, what="wecom response_url", payload=payload)
        log.info("wecom late reply sent")

    def wecom_late(self, response_url: str, *, group: bool) -> LateDelivery:
        """Late delivery for one AI-bot message (its response_url)."""

        async def late(msg: IncomingMessage, replies: list[Reply]) -> None:
            text = join_replies(replies, group=group)
            if not text:
                return
            try:
                await self.reply_response_url(response_url, text)
            except _DELIVERY_ERRORS as exc:
                log.error(
                    "late reply not delivered",
                    extra={
                        "channel": "wecom_bot",
                        "account": msg.account,
                        "error": str(exc),
                        "errcode": getattr(exc, "errcode", None),
                    },
                )

        return late

    # --- WeCom group robot ("消息推送") ----------------------------------------------------
    async def send_group_robot_text(
        self,
        key: str,
        text: str,
        *,
        mentioned_list: Sequence[str] = (),
        mentioned_mobiles: Sequence[str] = (),
        retries: int | None = None,
    ) -> int:
        """Post ``text`` into the group of robot ``key``; split into up to five messages of
        at most 2048 bytes (cut beyond that). The first message @-mentions
        ``mentioned_list`` (WeCom user ids, or ``@all``) and ``mentioned_mobiles``.
        ``retries`` overrides ``outbound_retries`` (0: a single attempt). Returns how many
        messages were posted; raises OutboundError unless the API answered errcode 0."""
        chunks = split_bytes(text, TEXT_LIMIT_BYTES, ROBOT_MAX_PARTS, CUT_MARKER)
        for i, chunk in enumerate(chunks):
            body: dict[str, Any] = {"content": chunk}
            if mentioned_list and i == 0:
                body["mentioned_list"] = list(mentioned_list)
            if mentioned_mobiles and i == 0:
                body["mentioned_mobile_list"] = list(mentioned_mobiles)
            await self._robot_post(key, {"msgtype": "text", "text": body}, retries=retries)
        return len(chunks)

    async def push_gateway(self, url: str, token: str, payload: Mapping[str, Any]) -> None:
        """POST a message for a resident to a generic gateway's push endpoint (bearer token)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        await self._request("POST", url, what="gateway push", payload=payload, headers=headers)

    async def send_group_robot_markdown(self, key: str, content: str) -> None:
        """Post markdown (at most 4096 bytes; cut beyond) into the group of robot ``key``."""
        payload = {
            "msgtype": "markdown",
            "markdown": {"content": truncate_bytes(content, MARKDOWN_LIMIT_BYTES, CUT_MARKER)},
        }
        await self._robot_post(key, payload)

    async def alert_staff(self, committee: str, text: str) -> bool:
        """Push ``text`` into the committee's staff group (``committees.<id>.staff_robot_key``).
        False when no staff robot is configured or the push failed (logged)."""
        conf = self._settings.committees.get(committee)
        if conf is None or not conf.staff_robot_key:
            log.warning("no staff robot configured", extra={"committee": committee})
            return False
        try:
            await self.send_group_robot_text(conf.staff_robot_key, text)
        except _DELIVERY_ERRORS as exc:
            log.error(
                "staff alert not delivered",
                extra={
                    "committee": committee,
                    "error": str(exc),
                    "errcode": getattr(exc, "errcode", None),
                },
            )
            return False
        return True

    async def _robot_post(
        self, key: str, payload: Mapping[str, Any], *, retries: int | None = None
    ) -> None:
        await self._robot_throttle(key)
        await self._request(
            "POST",
            self._settings.wecom_api_base.rstrip("/") + "/cgi-bin/webhook/send",
            what="wecom group robot",
            params={"key": key},
            payload=payload,
            retries=retries,
        )

    async def _robot_throttle(self, key: str) -> None:
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        name = keys.throttle(f"wecom_robot:{digest}")
        limit = max(self._settings.group_robot_per_minute, 1)
        while True:
            wait = await self._state.reserve(name, limit, self._robot_window_s)
            if wait <= 0:
                return
            log.info("group robot throttled", extra={"robot": digest, "wait_s": round(wait, 3)})
            await self._sleep(wait)

    # --- HTTP with retries ----------------------------------------------------------------
    async def _request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: Mapping[str, str] | None = None,
        payload: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        retries: int | None = None,
    ) -> dict[str, Any]:
        """One API call with retries; the platform's JSON answer when errcode is 0/absent."""
        retries = self._settings.outbound_retries if retries is None else retries
        attempts = max(retries, 0) + 1
        where = _safe_url(url)
        for attempt in range(attempts):
            try:
                data = await self._once(method, url, what, params, payload, headers)
            except OutboundError as exc:
                if not exc.retryable or attempt + 1 >= attempts:
                    log.warning(
                        "outbound call failed",
                        extra={
                            "what": what,
                            "url": where,
                            "error": str(exc),
                            "errcode": exc.errcode,
                            "attempts": attempt + 1,
                        },
                    )
                    raise
                delay = self._settings.outbound_backoff_s * (2**attempt)
                log.info(
                    "outbound call retried",
                    extra={"what": what, "url": where, "error": str(exc), "delay_s": delay},
                )
                await self._sleep(delay)
            else:
                return data
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(
        self,
        method: str,
        url: str,
        what: str,
        params: Mapping[str, str] | None,
        payload: Mapping[str, Any] | None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        body = None if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"} if body else {}
        headers.update(extra_headers or {})
        try:
            async with self._session.request(
                method, url, params=params, data=body, headers=headers, timeout=self._timeout
            ) as resp:
                if resp.status >= 500:
                    raise OutboundError(f"{what}: HTTP {resp.status}", retryable=True)
                if resp.status >= 400:
                    raise PermanentOutboundError(f"{what}: HTTP {resp.status}")
                raw = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise OutboundError(f"{what}: {type(exc).__name__}", retryable=True) from None
        try:
            data = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise PermanentOutboundError(f"{what}: answer is not JSON") from None
        if not isinstance(data, dict):
            raise PermanentOutboundError(f"{what}: answer is not a JSON object")
        errcode = _int(data.get("errcode"), 0)
        if errcode == 0:
            return data
        errmsg = str(data.get("errmsg", ""))[:200]
        if errcode in RETRYABLE_ERRCODES:
            raise OutboundError(
                f"{what}: errcode {errcode} {errmsg}", errcode=errcode, retryable=True
            )
        raise PermanentOutboundError(f"{what}: errcode {errcode} {errmsg}", errcode=errcode)


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _int(value: object, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return default
    return default
