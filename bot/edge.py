"""The HTTP edge: read timeouts for slow clients and who may read ``/metrics``.

Slow clients (slowloris) cannot hold a connection open:

- headers: aiohttp closes a connection whose request is not complete ``keepalive_timeout``
  after it opened (or after the previous response), however slowly the bytes trickle in;
  :func:`server_options` sets it from ``request_header_timeout_s``, and ``linli serve`` passes
  them to the server;
- bodies: :func:`body_deadline` fails every read of a body that has not fully arrived
  ``request_body_timeout_s`` after its headers and answers 408 on a closed connection, for
  every route (channels, console forms and uploads, the admin API).

``/metrics`` (:func:`check_metrics_access`) needs ``Authorization: Bearer <metrics_token>``;
without a token it is served only to a loopback peer that is not a proxy forwarding someone
else (no ``Forwarded``/``X-Forwarded-For``/``X-Real-IP``). The shipped nginx does not proxy it.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


class BodyTimeout(TimeoutError):
    """The request body did not arrive in time. A TimeoutError, so aiohttp's lingering read
    of an unread body stops at once instead of logging it as an unhandled error."""


def server_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``web.run_app``/``web.AppRunner``: the header read timeout."""
    return {"keepalive_timeout": settings.request_header_timeout_s}


def body_deadline(timeout_s: float) -> Middleware:
    """Middleware: a request whose body is still incomplete ``timeout_s`` after its headers
    is answered 408 and its connection closed; reads of the body fail from then on."""

    @web.middleware
    async def deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.body_exists:
            return await handler(request)
        content = request.content
        expired = False

        def expire() -> None:
            nonlocal expired
            if not content.is_eof():
                expired = True
                content.set_exception(BodyTimeout())

        timer = asyncio.get_running_loop().call_later(timeout_s, expire)
        try:
            return await handler(request)
        except Exception:
            if not expired:
                raise
            log.warning(
                "request body too slow", extra={"path": request.path, "timeout_s": timeout_s}
            )
            response = web.Response(
                status=408, text=f"request body not received within {timeout_s:g} s"
            )
            response.force_close()
            return response
        finally:
            timer.cancel()

    return deadline


def _peer_is_loopback(request: web.Request) -> bool:
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    if isinstance(peer, str) and peer:
        return True  # a Unix socket: only local processes can connect
    if not isinstance(peer, tuple) or not peer:
        return False
    try:
        address = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def check_metrics_access(request: web.Request, token: str) -> None:
    """Raise 401/403 unless the caller may read ``/metrics`` (see the module docstring)."""
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise web.HTTPUnauthorized(
                text="metrics need Authorization: Bearer <metrics_token>",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return
    if not _peer_is_loopback(request) or any(h in request.headers for h in PROXY_HEADERS):
        raise web.HTTPForbidden(
            text="metrics are served to loopback clients only (or set metrics_token)"
        )
