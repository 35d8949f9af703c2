"""The WeChat customer-service (微信客服) API on WeCom, on the shared ``PlatformClient``
(retries, token cache): ``kf/sync_msg`` (pull), ``kf/send_msg`` (send) and
``kf/service_state/get|trans`` (who receives the session).

Session states (``service_state``): 0 new (未处理), 1 with the assistant (由智能助手接待),
2 queued for a person (待接入池排队中), 3 with a person (由人工接待), 4 ended (已结束/未开始).
The API may send only in states 0 and 1 (errcode 95018 otherwise); from 3 the session can
only go to another person or end.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from bot.channels.errors import PermanentOutboundError
from bot.channels.platform import PlatformClient, TokenFetch, as_int
from bot.channels.render import mask, truncate_bytes
from bot.settings import WeChatKfAccount

log = logging.getLogger(__name__)

NEW, ASSISTANT, QUEUED, PERSON, ENDED = 0, 1, 2, 3, 4
TEXT_LIMIT_BYTES = 2048
CUT_MARKER = "……（内容较长，未完全显示）"
SYNC_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class SessionState:
    state: int
    servicer: str = ""
    """The WeCom userid of the person receiving it (state 3)."""


class KfApi:
    def __init__(self, client: PlatformClient) -> None:
        self._client = client
        self._base = client.settings.wecom_api_base.rstrip("/")

    async def sync_msg(self, acc: WeChatKfAccount, token: str, cursor: str) -> dict[str, Any]:
        """One page of messages after ``cursor`` (``msg_list``, ``next_cursor``,
        ``has_more``). ``token``: the callback's, which lifts the strict rate limit."""
        payload: dict[str, Any] = {
            "cursor": cursor,
            "limit": SYNC_LIMIT,
            "open_kfid": acc.open_kfid,
        }
        if token:
            payload["token"] = token
        return await self._call(acc, "/cgi-bin/kf/sync_msg", "kf sync_msg", payload)

    async def send_text(self, acc: WeChatKfAccount, external_userid: str, text: str) -> None:
        """Send ``text`` to the customer (states 0/1 only, within 48 h of their message)."""
        content = truncate_bytes(text, TEXT_LIMIT_BYTES, CUT_MARKER)
        await self._call(
            acc,
            "/cgi-bin/kf/send_msg",
            "kf send_msg",
            {
                "touser": external_userid,
                "open_kfid": acc.open_kfid,
                "msgtype": "text",
                "text": {"content": content},
            },
        )
        log.info("kf message sent", extra={"to": mask(external_userid)})

    async def state(self, acc: WeChatKfAccount, external_userid: str) -> SessionState:
        data = await self._call(
            acc,
            "/cgi-bin/kf/service_state/get",
            "kf service_state get",
            {"open_kfid": acc.open_kfid, "external_userid": external_userid},
        )
        servicer = data.get("servicer_userid")
        return SessionState(
            as_int(data.get("service_state"), NEW), servicer if isinstance(servicer, str) else ""
        )

    async def trans(
        self, acc: WeChatKfAccount, external_userid: str, state: int, servicer: str = ""
    ) -> None:
        """Move the session to ``state`` (``servicer`` required for 3)."""
        payload: dict[str, Any] = {
            "open_kfid": acc.open_kfid,
            "external_userid": external_userid,
            "service_state": state,
        }
        if servicer:
            payload["servicer_userid"] = servicer
        await self._call(acc, "/cgi-bin/kf/service_state/trans", "kf service_state trans", payload)
        log.info("kf session moved", extra={"to": mask(external_userid), "service_state": state})

    async def _call(
        self, acc: WeChatKfAccount, path: str, what: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        name, fetch = self._token_source(acc)
        return await self._client.call_with_token(
            name, fetch, self._base + path, what=what, payload=payload
        )

    def _token_source(self, acc: WeChatKfAccount) -> tuple[str, TokenFetch]:
        url = self._base + "/cgi-bin/gettoken"
        corp_id, secret = acc.corp_id, acc.secret

        async def fetch() -> tuple[str, int]:
            data = await self._client.request(
                "GET",
                url,
                what="wecom access token",
                params={"corpid": corp_id, "corpsecret": secret},
            )
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise PermanentOutboundError("wecom access token: no access_token in answer")
            return token, as_int(data.get("expires_in"), 7200)

        # One token per (corp, app secret); the secret itself never appears in a key.
        digest = hashlib.sha256(secret.encode()).hexdigest()[:12]
        return f"wecom:{corp_id}:{digest}", fetch
