"""What every platform sender shares, once: HTTP calls with retries, the access-token cache
and the sliding-window throttle. Each channel package builds its API calls on
``PlatformClient``; the composition root builds one per process with its ClientSession.

Retries with exponential backoff on network errors, HTTP 5xx and ``errcode -1`` (system
busy) or 45009 (frequency limit); no retry on other errors. Access tokens are cached in the
shared StateStore until five minutes before they expire, and refreshed once when the API
refuses them (40001/42001/40014). Secrets (app secrets, access tokens, keys) are never
logged; URLs are logged without their query string.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.channels.errors import OutboundError, PermanentOutboundError
from bot.domain import StoreUnavailable
from bot.domain.once import Delivery, DeliveryReport
from bot.settings import Settings
from bot.storage import keys
from bot.storage.state import StateStore

log = logging.getLogger(__name__)

TOKEN_EARLY_REFRESH_S = 300
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
RETRYABLE_ERRCODES = frozenset({-1, 45009})

Sleep = Callable[[float], Awaitable[None]]
TokenFetch = Callable[[], Awaitable[tuple[str, int]]]
"""Fetches a fresh access token: (token, expires_in seconds)."""
# What a fire-and-forget delivery (late reply, staff alert) logs instead of raising: the
# platform refused or was unreachable, or the shared store (token cache, throttle) was down.
DELIVERY_ERRORS = (OutboundError, StoreUnavailable, TimeoutError)


def failed(exc: BaseException) -> DeliveryReport:
    """The delivery status of a send that raised ``exc`` (one of ``DELIVERY_ERRORS``): failed,
    with the platform's error code and message when it answered with one."""
    if isinstance(exc, OutboundError):
        return DeliveryReport(Delivery.FAILED, exc.errcode, str(exc)[:300])
    if isinstance(exc, TimeoutError):
        return DeliveryReport(Delivery.FAILED, None, "timed out")
    return DeliveryReport(Delivery.FAILED, None, f"{type(exc).__name__}: {exc}"[:300])


class PlatformClient:
    """HTTP to the platform APIs with retries, token cache and throttle (one per process)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        state: StateStore,
        settings: Settings,
        *,
        sleep: Sleep = asyncio.sleep,
        request_timeout_s: float = 10.0,
    ) -> None:
        self._session = session
        self._state = state
        self._settings = settings
        self._sleep = sleep
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_s)

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def state(self) -> StateStore:
        return self._state

    async def token(self, name: str, fetch: TokenFetch, *, stale: str | None = None) -> str:
        """The access token cached as ``name`` in the shared store, fetched when absent.
        ``stale``: a token the API just refused; it is replaced unless another worker has
        done so already."""
        cache_key = keys.token(name)
        cached = await self._state.get(cache_key)
        if cached is not None and cached != stale:
            return cached
        async with self._state.lock(keys.lock(f"token:{name}"), 30.0, 15.0):
            cached = await self._state.get(cache_key)
            if cached is not None and cached != stale:
                return cached
            token, expires_in = await fetch()
            ttl = max(expires_in - TOKEN_EARLY_REFRESH_S, 60)
            await self._state.set(cache_key, token, ttl)
            log.info("access token refreshed", extra={"token_for": name.split(":")[0]})
            return token

    async def call_with_token(
        self,
        name: str,
        fetch: TokenFetch,
        url: str,
        *,
        what: str,
        payload: Mapping[str, Any],
    ) -> dict[str, Any]:
        """POST ``payload`` with ``?access_token=``; a refused token is refreshed once."""
        token = await self.token(name, fetch)
        try:
            return await self.request(
                "POST", url, what=what, params={"access_token": token}, payload=payload
            )
        except PermanentOutboundError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            log.warning("access token refused; refreshing", extra={"what": what})
            token = await self.token(name, fetch, stale=token)
            return await self.request(
                "POST", url, what=what, params={"access_token": token}, payload=payload
            )

    async def throttle(self, name: str, limit: int, window_s: float) -> None:
        """Wait until ``name`` may send once more (at most ``limit`` per ``window_s``,
        shared by every worker)."""
        key = keys.throttle(name)
        while True:
            wait = await self._state.reserve(key, max(limit, 1), window_s)
            if wait <= 0:
                return
            log.info("throttled", extra={"throttle": name, "wait_s": round(wait, 3)})
            await self._sleep(wait)

    async def request(
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
        where = safe_url(url)
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
        errcode = as_int(data.get("errcode"), 0)
        if errcode == 0:
            return data
        errmsg = str(data.get("errmsg", ""))[:200]
        if errcode in RETRYABLE_ERRCODES:
            raise OutboundError(
                f"{what}: errcode {errcode} {errmsg}", errcode=errcode, retryable=True
            )
        raise PermanentOutboundError(f"{what}: errcode {errcode} {errmsg}", errcode=errcode)


def safe_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def as_int(value: object, default: int) -> int:
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
