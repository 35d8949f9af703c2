"""The process's platform sender: the shared ``PlatformClient`` (retries, token cache,
throttle) plus what is not a resident channel — WeCom group robots ("消息推送"), through
which staff alerts reach a committee's group. Resident channels deliver through their own
packages (``wechat_mp.api``, ``wecom_bot.api``, ``wechat_kf.api``); ``send_mp_text``,
``mp_access_token`` and ``reply_response_url`` here are shortcuts to those.

Group-robot posts respect the 20-messages-a-minute limit with a shared sliding-window
throttle per key. Robot keys are never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from bot.channels.platform import DELIVERY_ERRORS, PlatformClient, Sleep
from bot.channels.render import split_bytes, truncate_bytes
from bot.channels.wechat_mp.api import MpApi
from bot.channels.wecom_bot.api import CUT_MARKER, MARKDOWN_LIMIT_BYTES
from bot.channels.wecom_bot.api import reply_response_url as _reply_response_url
from bot.settings import Settings
from bot.storage.state import StateStore

log = logging.getLogger(__name__)

TEXT_LIMIT_BYTES = 2048
ROBOT_MAX_PARTS = 5


class OutboundSender(PlatformClient):
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
        super().__init__(session, state, settings, sleep=sleep, request_timeout_s=request_timeout_s)
        self._robot_window_s = robot_window_s
        self._mp = MpApi(self)

    # --- shortcuts to the resident channels' APIs -------------------------------------------
    async def mp_access_token(self, account: str, *, stale: str | None = None) -> str:
        return await self._mp.access_token(account, stale=stale)

    async def send_mp_text(self, account: str, openid: str, text: str) -> None:
        await self._mp.send_text(account, openid, text)

    async def reply_response_url(self, response_url: str, text: str) -> None:
        await _reply_response_url(self, response_url, text)

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
        except DELIVERY_ERRORS as exc:
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
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        await self.throttle(
            f"wecom_robot:{digest}", self._settings.group_robot_per_minute, self._robot_window_s
        )
        await self.request(
            "POST",
            self._settings.wecom_api_base.rstrip("/") + "/cgi-bin/webhook/send",
            what="wecom group robot",
            params={"key": key},
            payload=payload,
            retries=retries,
        )
