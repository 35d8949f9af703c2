"""WeChat customer service (微信客服, run through WeCom): ``GET|POST /wechat/kf/{account}``.

Residents write from plain WeChat (a link or QR code of the customer-service account); no
WeCom needed on their side.

- GET: URL verification like every WeCom callback: ``echostr`` is encrypted, verified with
  ``msg_signature`` and answered with its plaintext (ReceiveId = CorpID).
- POST: an encrypted XML envelope (``msg_signature`` over token, timestamp, nonce, Encrypt).
  The callback carries no message, only the event ``kf_msg_or_event`` with a ``Token`` and
  the ``OpenKfId``: Linli then pulls with ``kf/sync_msg`` from the cursor saved in the
  database, hands every customer message (origin 3) to ingress, which stores it before
  anything is acknowledged, and saves the next cursor. A restarted worker continues from the
  saved cursor; a page pulled twice is recognised by the message ids. Pulls of one account
  are serialised across workers by a shared lock.
- Replies: the callback cannot carry one, so every answer goes out through ``kf/send_msg``.

Session states follow Linli's handoff (see ``api``): a resident's first message claims a new
session for the assistant (0 → 1); a console takeover by a caseworker who is also a WeCom
接待人员 (``servicers``) moves it to that person (→ 3), who may then answer from WeCom too;
giving it back to the bot ends the person's session (3 → 4), and the resident's next message
opens a new one. Caseworkers without a WeCom identity answer from the console through the
API, so the session stays with the assistant on the platform. Platform events (entering
the session, failed sends) and the servicers' own messages are not turned into messages.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.channels.base import ChannelResponse, parse_xml, read_body, text_guard, xml_field
from bot.channels.crypto import MessageCrypto, check_timestamp, verify_signature
from bot.channels.errors import BadRequestError, UnknownAccount
from bot.channels.ingress import LateDelivery
from bot.channels.platform import DELIVERY_ERRORS, PlatformClient, failed
from bot.channels.protocol import Capabilities, Channel, ChannelContext
from bot.channels.render import join_replies, mask
from bot.channels.wechat_kf.api import ASSISTANT, ENDED, NEW, PERSON, KfApi
from bot.domain import Chat, ChatType, IncomingMessage, MessageType, Reply, Sender
from bot.domain.messages import MAX_ID_CHARS
from bot.domain.once import Delivery, DeliveryReport
from bot.settings import WeChatKfAccount
from bot.storage import keys
from bot.storage.conversations import Conversation, Mode
from bot.storage.cursors import CursorStore
from bot.storage.state import LockTimeout

log = logging.getLogger(__name__)

CHANNEL = "wechat_kf"
SUCCESS = "success"
EVENT = "kf_msg_or_event"
FROM_CUSTOMER = 3
PULL_LOCK_LEASE_S = 30.0
PULL_LOCK_WAIT_S = 3.0
MAX_PAGES = 20
_TYPES = {"text": MessageType.TEXT, "image": MessageType.IMAGE, "voice": MessageType.VOICE}


class WeChatKfChannel(Channel):
    name = CHANNEL
    # No passive reply; the API may write for 48 h after the customer's last message;
    # one-to-one sessions only.
    capabilities = Capabilities(passive_reply_s=None, push_window_s=48 * 3600.0, groups=False)

    def __init__(self, ctx: ChannelContext, cursors: CursorStore) -> None:
        if ctx.platform is None:
            raise ValueError("WeChat 客服 pulls its messages: it needs a platform client")
        self._settings = ctx.settings
        self._ingress = ctx.ingress
        self._platform: PlatformClient = ctx.platform
        self._api = KfApi(ctx.platform)
        self._clock = ctx.clock
        self._cursors = cursors
        self._cryptos: dict[str, MessageCrypto] = {}

    def account(self, name: str) -> WeChatKfAccount:
        acc = self._settings.channels.wechat_kf.get(name)
        if acc is None:
            raise UnknownAccount(f"unknown WeChat customer-service account {name!r}")
        return acc

    def _crypto(self, name: str) -> MessageCrypto:
        crypto = self._cryptos.get(name)
        if crypto is None:
            acc = self.account(name)
            crypto = MessageCrypto(acc.token, acc.encoding_aes_key, acc.corp_id, clock=self._clock)
            self._cryptos[name] = crypto
        return crypto

    # --- routes ---------------------------------------------------------------------------
    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return [
            web.get("/wechat/kf/{account}", self.get_verify, allow_head=False),
            web.post("/wechat/kf/{account}", self.post_event),
        ]

    async def get_verify(self, request: web.Request) -> web.Response:
        """``GET /wechat/kf/{account}``: URL verification."""
        return await text_guard(request, self._get(request))

    async def post_event(self, request: web.Request) -> web.Response:
        """``POST /wechat/kf/{account}``: new messages are waiting; pull them."""
        return await text_guard(request, self._post(request))

    async def _get(self, request: web.Request) -> ChannelResponse:
        return self.verify_url(request.match_info["account"], request.query)

    async def _post(self, request: web.Request) -> ChannelResponse:
        name = request.match_info["account"]
        self.account(name)
        body = await read_body(request, self._settings.max_body_bytes)
        return await self.handle(name, request.query, body)

    def verify_url(self, name: str, query: Mapping[str, str]) -> ChannelResponse:
        """GET: the decrypted echostr (plaintext only) when the signature matches."""
        crypto = self._crypto(name)
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        echostr = query.get("echostr")
        if echostr is None:
            raise BadRequestError("missing echostr")
        verify_signature(query.get("msg_signature"), crypto.token, timestamp, nonce, echostr)
        check_timestamp(timestamp, self._settings.signature_window_s, self._clock())
        try:
            return ChannelResponse.text(crypto.decrypt(echostr).decode())
        except UnicodeDecodeError:
            raise BadRequestError("echostr is not UTF-8") from None

    async def handle(self, name: str, query: Mapping[str, str], body: bytes) -> ChannelResponse:
        """POST: verify, decrypt; on ``kf_msg_or_event`` for this account, pull. Answers
        "success" once every pulled message is stored."""
        acc = self.account(name)
        crypto = self._crypto(name)
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        ciphertext = xml_field(parse_xml(body), "Encrypt")
        if not ciphertext:
            raise BadRequestError("the body has no <Encrypt>")
        plain = crypto.verify_and_decrypt(
            query.get("msg_signature"), timestamp, nonce, ciphertext.strip()
        )
        check_timestamp(timestamp, self._settings.signature_window_s, self._clock())
        root = parse_xml(plain, "decrypted message")
        event = (xml_field(root, "Event") or "").strip()
        if (xml_field(root, "MsgType") or "").strip() != "event" or event != EVENT:
            return ChannelResponse.text(SUCCESS)
        kfid = (xml_field(root, "OpenKfId") or "").strip()
        if kfid and kfid != acc.open_kfid:
            log.warning("callback for another customer-service account", extra={"account": name})
            return ChannelResponse.text(SUCCESS)
        await self.pull(name, (xml_field(root, "Token") or "").strip())
        return ChannelResponse.text(SUCCESS)

    # --- pulling --------------------------------------------------------------------------
    async def pull(self, name: str, token: str = "") -> int:
        """Pull every message after the saved cursor into ingress; returns how many customer
        messages were handed over. Raises StoreUnavailable / OutboundError before the cursor
        moves past anything not stored."""
        acc = self.account(name)
        handed = 0
        try:
            async with self._platform.state.lock(
                keys.lock(f"pull:{CHANNEL}:{name}"), PULL_LOCK_LEASE_S, PULL_LOCK_WAIT_S
            ):
                cursor = await self._cursors.get(CHANNEL, name)
                for _ in range(MAX_PAGES):
                    page = await self._api.sync_msg(acc, token, cursor)
                    items = page.get("msg_list")
                    for item in items if isinstance(items, list) else ():
                        msg = self._safe_message(name, item)
                        if msg is None:
                            continue
                        await self._claim_for_assistant(acc, msg.sender.id)
                        # No passive reply: ingress stores it and answers through send_msg.
                        await self._ingress.receive(msg, 0.0, self._deliver_late)
                        handed += 1
                    next_cursor = page.get("next_cursor")
                    if isinstance(next_cursor, str) and next_cursor and next_cursor != cursor:
                        cursor = next_cursor
                        await self._cursors.set(CHANNEL, name, cursor)
                    if not page.get("has_more"):
                        break
        except LockTimeout:
            # Another worker is pulling this account right now; it reads on until the
            # platform has nothing more, so these messages are not left behind.
            log.info("pull already running elsewhere", extra={"account": name})
        log.info("kf messages pulled", extra={"account": name, "messages": handed})
        return handed

    def _safe_message(self, name: str, item: object) -> IncomingMessage | None:
        if not isinstance(item, Mapping):
            return None
        try:
            return self.to_message(name, item)
        except BadRequestError as exc:
            # A malformed entry must not stop the pull (the cursor would never move on).
            log.warning("kf message skipped", extra={"account": name, "reason": str(exc)})
            return None

    async def _claim_for_assistant(self, acc: WeChatKfAccount, user: str) -> None:
        """A new session (state 0) is claimed for the assistant (state 1), so the platform
        does not route it to its own queue while Linli answers."""
        try:
            if (await self._api.state(acc, user)).state == NEW:
                await self._api.trans(acc, user, ASSISTANT)
        except DELIVERY_ERRORS as exc:
            log.warning("kf session not claimed", extra={"to": mask(user), "error": str(exc)})

    def to_message(self, account: str, payload: Any) -> IncomingMessage | None:
        """The domain message for one ``msg_list`` entry; None for what is not a customer's
        message to this account (events, servicers' messages)."""
        acc = self.account(account)
        item: Mapping[str, Any] = payload
        if item.get("origin") != FROM_CUSTOMER:
            return None
        if item.get("open_kfid") not in (None, acc.open_kfid):
            return None
        msgid = _id(item.get("msgid"), "msgid")
        user = _id(item.get("external_userid"), "external_userid")
        msgtype = item.get("msgtype") if isinstance(item.get("msgtype"), str) else ""
        text = ""
        if msgtype == "text":
            part = item.get("text")
            content = part.get("content") if isinstance(part, Mapping) else None
            if not isinstance(content, str):
                raise BadRequestError("text message without text.content")
            text = content
        sent = item.get("send_time")
        received = (
            datetime.fromtimestamp(sent, UTC)
            if isinstance(sent, int) and not isinstance(sent, bool) and 0 < sent < 2**32
            else datetime.now(UTC)
        )
        return IncomingMessage(
            message_id=msgid,
            channel=CHANNEL,
            account=account,
            committee=acc.committee,
            chat=Chat(user, ChatType.PRIVATE),
            sender=Sender(user),
            text=text,
            type=_TYPES.get(str(msgtype), MessageType.OTHER),
            mentioned=True,
            received_at=received,
        )

    # --- delivery -------------------------------------------------------------------------
    def late_delivery(self, msg: IncomingMessage, reply_to: str) -> LateDelivery | None:
        return self._deliver_late

    async def _deliver_late(self, msg: IncomingMessage, replies: list[Reply]) -> DeliveryReport:
        text = join_replies(replies)
        if not text:
            return DeliveryReport(Delivery.ACTIVE)
        try:
            await self._api.send_text(self.account(msg.account), msg.sender.id, text)
        except (*DELIVERY_ERRORS, UnknownAccount) as exc:
            log.error(
                "late reply not delivered",
                extra={
                    "channel": CHANNEL,
                    "account": msg.account,
                    "error": str(exc),
                    "errcode": getattr(exc, "errcode", None),
                },
            )
            return failed(exc)
        return DeliveryReport(Delivery.ACTIVE)

    async def push(self, to: Conversation, text: str, kind: str) -> Delivery:
        """Through ``kf/send_msg``; refused by the platform (undeliverable) while a WeCom
        servicer has the session (state 3)."""
        acc = self._settings.channels.wechat_kf.get(to.account)
        if acc is None:
            return await super().push(to, text, kind)
        await self._api.send_text(acc, to.sender_id, text)
        return Delivery.ACTIVE

    async def session_moved(self, conv: Conversation) -> None:
        acc = self._settings.channels.wechat_kf.get(conv.account)
        if acc is None:
            return
        user = conv.sender_id
        if conv.mode is Mode.HUMAN:
            servicer = acc.servicers.get(conv.assignee_name)
            if servicer:
                await self._api.trans(acc, user, PERSON, servicer)
        elif conv.mode is Mode.BOT and (await self._api.state(acc, user)).state == PERSON:
            await self._api.trans(acc, user, ENDED)


def _id(value: object, field: str) -> str:
    text = value if isinstance(value, str) else ""
    if not text:
        raise BadRequestError(f"missing {field}")
    if len(text) > MAX_ID_CHARS:
        raise BadRequestError(f"{field} longer than {MAX_ID_CHARS} characters")
    return text
