"""The Official Account's customer-service API (客服消息): access token and text messages,
on the shared ``PlatformClient`` (retries, token cache)."""

from __future__ import annotations

import logging

from bot.channels.errors import PermanentOutboundError
from bot.channels.platform import PlatformClient, TokenFetch, as_int
from bot.channels.render import mask

log = logging.getLogger(__name__)


class MpApi:
    def __init__(self, client: PlatformClient) -> None:
        self._client = client
        self._settings = client.settings

    def can_send(self, account: str) -> bool:
        acc = self._settings.channels.wechat_mp.get(account)
        return acc is not None and bool(acc.app_id and acc.app_secret)

    async def access_token(self, account: str, *, stale: str | None = None) -> str:
        """The account's access token from the shared cache, fetched from ``/cgi-bin/token``
        when absent. ``stale``: a token the API just refused."""
        name, fetch = self._token_source(account)
        return await self._client.token(name, fetch, stale=stale)

    async def send_text(self, account: str, openid: str, text: str) -> None:
        """Send ``text`` to ``openid`` through the customer-service API (within 48 h of the
        resident's last interaction). Raises OutboundError/PermanentOutboundError."""
        name, fetch = self._token_source(account)
        await self._client.call_with_token(
            name,
            fetch,
            self._settings.wechat_api_base.rstrip("/") + "/cgi-bin/message/custom/send",
            what="wechat custom send",
            payload={"touser": openid, "msgtype": "text", "text": {"content": text}},
        )
        log.info("wechat custom message sent", extra={"account": account, "to": mask(openid)})

    def _token_source(self, account: str) -> tuple[str, TokenFetch]:
        acc = self._settings.channels.wechat_mp.get(account)
        if acc is None or not acc.app_id or not acc.app_secret:
            raise PermanentOutboundError(
                f"official account {account!r} has no app_id/app_secret configured"
            )
        app_id, app_secret = acc.app_id, acc.app_secret
        url = self._settings.wechat_api_base.rstrip("/") + "/cgi-bin/token"

        async def fetch() -> tuple[str, int]:
            data = await self._client.request(
                "GET",
                url,
                what="wechat access token",
                params={"grant_type": "client_credential", "appid": app_id, "secret": app_secret},
            )
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise PermanentOutboundError("wechat access token: no access_token in answer")
            return token, as_int(data.get("expires_in"), 7200)

        return f"wechat_mp:{app_id}", fetch
