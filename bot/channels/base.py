"""What every channel shares: the transport-neutral response, untrusted-XML parsing and
the HTTP plumbing of route handlers (bounded body reads, error mapping)."""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET  # only the Element type and ParseError
from collections.abc import Awaitable
from dataclasses import dataclass

from aiohttp import web
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from bot.channels.errors import BadRequestError, BodyTooLarge, ChannelRequestError
from bot.channels.ingress import Caller
from bot.domain import InvalidMessage, StoreUnavailable

log = logging.getLogger(__name__)

TEXT_PLAIN = "text/plain; charset=utf-8"
APPLICATION_XML = "application/xml; charset=utf-8"
APPLICATION_JSON = "application/json; charset=utf-8"


@dataclass(frozen=True, slots=True)
class ChannelResponse:
    """What a channel answers; the web layer turns it into an HTTP response."""

    status: int
    body: str
    content_type: str = TEXT_PLAIN

    @classmethod
    def text(cls, body: str, status: int = 200) -> ChannelResponse:
        return cls(status, body, TEXT_PLAIN)


def parse_xml(data: bytes | str, what: str = "body") -> ET.Element:
    """Parse untrusted XML: DTDs, entity declarations and external references are refused."""
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise BadRequestError(f"{what}: DTDs and entity declarations are not allowed") from None
    except ET.ParseError:
        raise BadRequestError(f"{what}: malformed XML") from None
    if not isinstance(root, ET.Element):  # pragma: no cover - defusedxml returns Element
        raise BadRequestError(f"{what}: malformed XML")
    return root


def xml_field(root: ET.Element, name: str) -> str | None:
    """Text of a direct child element, "" for an empty one, None when absent."""
    child = root.find(name)
    if child is None:
        return None
    return child.text or ""


# --- HTTP plumbing shared by the channels' route handlers --------------------------------
UNAVAILABLE = "service temporarily unavailable, please retry later"


def caller_of(request: web.Request) -> Caller:
    """The intake's view of ``request``: its reply budget counts from now (call this first
    thing in the handler), and it stops waiting once the platform hangs up."""

    def is_open() -> bool:
        transport = request.transport
        return transport is not None and not transport.is_closing()

    return Caller(time.monotonic(), is_open)


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


def to_http(resp: ChannelResponse) -> web.Response:
    return web.Response(
        status=resp.status,
        body=resp.body.encode(),
        content_type=None,
        headers={"Content-Type": resp.content_type},
    )


def refused(request: web.Request, exc: ChannelRequestError) -> None:
    log.warning(
        "request refused",
        extra={
            "path": request.path,
            "status": exc.status,
            "error": type(exc).__name__,
            "reason": str(exc),
        },
    )


async def text_guard(request: web.Request, work: Awaitable[ChannelResponse]) -> web.Response:
    """Run a WeChat-style handler: refusals as plain text with their 4xx status, a store
    that is down as 503 (the platform retries). Bad input never produces a 500."""
    try:
        return to_http(await work)
    except ChannelRequestError as exc:
        refused(request, exc)
        return web.Response(status=exc.status, text=str(exc))
    except InvalidMessage as exc:
        refused(request, BadRequestError(str(exc)))
        return web.Response(status=400, text=str(exc))
    except StoreUnavailable as exc:
        log.error("store unavailable", extra={"path": request.path, "error": str(exc)})
        return web.Response(status=503, text=UNAVAILABLE)
