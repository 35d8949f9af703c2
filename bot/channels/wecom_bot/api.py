"""Answering a WeCom AI-bot message later, through its ``response_url`` (single use, valid
1 h), on the shared ``PlatformClient``."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from bot.channels.errors import PermanentOutboundError
from bot.channels.platform import PlatformClient
from bot.channels.render import truncate_bytes

log = logging.getLogger(__name__)

MARKDOWN_LIMIT_BYTES = 4096
CUT_MARKER = "……（内容较长，未完全显示）"


async def reply_response_url(client: PlatformClient, response_url: str, text: str) -> None:
    """Answer an AI-bot message through its ``response_url`` with a markdown message."""
    parts = urlsplit(response_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise PermanentOutboundError("response_url is not an http(s) URL")
    payload = {
        "msgtype": "markdown",
        "markdown": {"content": truncate_bytes(text, MARKDOWN_LIMIT_BYTES, CUT_MARKER)},
    }
    await client.request("POST", response_url, what="wecom response_url", payload=payload)
    log.info("wecom late reply sent")
