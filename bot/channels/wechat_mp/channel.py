"""WeChat Official Account (公众号) callback: ``GET|POST /wechat/mp/{account}``.

- GET: URL verification; the ``echostr`` is returned verbatim when ``signature`` matches.
- POST plain mode: ``signature`` over (token, timestamp, nonce) is required. An account with an
  ``encoding_aes_key`` (safe mode) refuses plain POSTs with 403 unless ``compatible_mode`` is
  set (兼容模式, while switching modes): otherwise a forged or downgraded request would be
  answered in clear text.
- POST safe/compatible mode (``encrypt_type=aes``): ``msg_signature`` over (token, timestamp,
  nonce, Encrypt) is required; the message is decrypted with the account's EncodingAESKey
  (receive id = AppID) and the reply is encrypted with the Tencent XML template.

Messages (text, image, voice, subscribe/unsubscribe/SCAN/CLICK events) become
``IncomingMessage`` objects in a private chat whose id is the resident's openid; other events
(location reports, menu links, template notices, …) are acknowledged and ignored. The
pipeline answers; several replies are joined into one passive text message, because a passive
reply holds one message. A pipeline slower than the reply budget gets "success" at once and
its replies go out through the customer-service API (when the account has app_id/app_secret).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET  # type only; parsing goes through defusedxml
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.channels.base import (
    APPLICATION_XML,
    ChannelResponse,
    caller_of,
    parse_xml,
    read_body,
    text_guard,
    xml_field,
)
from bot.channels.crypto import MessageCrypto, check_timestamp, verify_signature
from bot.channels.errors import BadRequestError, PlainModeRefused, UnknownAccount
from bot.channels.ingress import Caller, LateDelivery
from bot.channels.platform import DELIVERY_ERRORS, failed
from bot.channels.protocol import Capabilities, Channel, ChannelContext
from bot.channels.render import join_replies, mask, xml_text
from bot.channels.wechat_mp.api import MpApi
from bot.domain import Chat, ChatType, IncomingMessage, MessageType, Reply, Sender
from bot.domain.messages import MAX_ID_CHARS
from bot.domain.once import Delivery, DeliveryReport
from bot.settings import WeChatMpAccount
from bot.storage.conversations import Conversation

log = logging.getLogger(__name__)

CHANNEL = "wechat_mp"
SUCCESS = "success"
HANDLED_EVENTS = frozenset({"subscribe", "unsubscribe", "scan", "click"})
MAX_CREATE_TIME_DIGITS = 20


class WeChatMpChannel(Channel):
    name = CHANNEL
    # A passive reply within 5 s; the customer-service API for 48 h after the resident's
    # last message; private chats only.
    capabilities = Capabilities(passive_reply_s=5.0, push_window_s=48 * 3600.0, groups=False)

    def __init__(self, ctx: ChannelContext) -> None:
        self._settings = ctx.settings
        self._ingress = ctx.ingress
        self._api = None if ctx.platform is None else MpApi(ctx.platform)
        self._clock = ctx.clock
        self._cryptos: dict[str, MessageCrypto] = {}

    # --- routes ---------------------------------------------------------------------------
    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return [
            web.get("/wechat/mp/{account}", self.get_verify, allow_head=False),
            web.post("/wechat/mp/{account}", self.post_message),
        ]

    async def get_verify(self, request: web.Request) -> web.Response:
        """``GET /wechat/mp/{account}``: URL verification."""
        return await text_guard(request, self._get(request))

    async def post_message(self, request: web.Request) -> web.Response:
        """``POST /wechat/mp/{account}``: a message or event from the platform."""
        return await text_guard(request, self._post(request))

    async def _get(self, request: web.Request) -> ChannelResponse:
        return self.verify_url(request.match_info["account"], request.query)

    async def _post(self, request: web.Request) -> ChannelResponse:
        caller = caller_of(request)
        name = request.match_info["account"]
        self.account(name)
        body = await read_body(request, self._settings.max_body_bytes)
        return await self.handle(name, request.query, body, caller=caller)

    # --- delivery -------------------------------------------------------------------------
    def late_delivery(self, msg: IncomingMessage, reply_to: str) -> LateDelivery | None:
        """Late replies go out through the customer-service API (needs app_id/app_secret)."""
        if self._api is None or not self._api.can_send(msg.account):
            return None
        return self._deliver_late

    async def _deliver_late(self, msg: IncomingMessage, replies: list[Reply]) -> DeliveryReport:
        text = join_replies(replies)
        if self._api is None:
            return DeliveryReport(Delivery.UNDELIVERABLE)
        if not text:
            return DeliveryReport(Delivery.ACTIVE)
        try:
            await self._api.send_text(msg.account, msg.chat.id, text)
        except DELIVERY_ERRORS as exc:
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
        if self._api is None or not self._api.can_send(to.account):
            return await super().push(to, text, kind)
        await self._api.send_text(to.account, to.sender_id, text)
        return Delivery.ACTIVE

    def account(self, name: str) -> WeChatMpAccount:
        acc = self._settings.channels.wechat_mp.get(name)
        if acc is None:
            raise UnknownAccount(f"unknown official account {name!r}")
        return acc

    def _crypto(self, name: str, acc: WeChatMpAccount) -> MessageCrypto:
        crypto = self._cryptos.get(name)
        if crypto is None:
            if acc.encoding_aes_key is None:
                raise BadRequestError(
                    "encrypted message, but this account has no encoding_aes_key configured"
                )
            crypto = MessageCrypto(acc.token, acc.encoding_aes_key, acc.app_id, clock=self._clock)
            self._cryptos[name] = crypto
        return crypto

    def _check(self, acc: WeChatMpAccount, query: Mapping[str, str]) -> None:
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        verify_signature(query.get("signature"), acc.token, timestamp, nonce)
        check_timestamp(timestamp, self._settings.signature_window_s, self._clock())

    def verify_url(self, name: str, query: Mapping[str, str]) -> ChannelResponse:
        """GET: the echostr, verbatim, when the signature matches."""
        acc = self.account(name)
        self._check(acc, query)
        echostr = query.get("echostr")
        if echostr is None:
            raise BadRequestError("missing echostr")
        return ChannelResponse.text(echostr)

    async def handle(
        self, name: str, query: Mapping[str, str], body: bytes, *, caller: Caller | None = None
    ) -> ChannelResponse:
        """POST: verify, decrypt, convert, run through ingress, render the passive reply.
        Raises ChannelRequestError subclasses (mapped to 4xx) and StoreUnavailable (503)."""
        acc = self.account(name)
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        encrypted = query.get("encrypt_type", "raw").lower() == "aes"
        crypto: MessageCrypto | None = None
        if encrypted:
            crypto = self._crypto(name, acc)
            envelope = parse_xml(body)
            ciphertext = xml_field(envelope, "Encrypt")
            if not ciphertext:
                raise BadRequestError("encrypt_type=aes but the body has no <Encrypt>")
            plain = crypto.verify_and_decrypt(
                query.get("msg_signature"), timestamp, nonce, ciphertext.strip()
            )
            check_timestamp(timestamp, self._settings.signature_window_s, self._clock())
            root = parse_xml(plain, "decrypted message")
        else:
            self._check(acc, query)
            if acc.encoding_aes_key is not None and not acc.compatible_mode:
                raise PlainModeRefused(
                    "this account is in safe mode: unencrypted messages are refused "
                    "(set compatible_mode = true to accept them while switching modes)"
                )
            root = parse_xml(body)
        msg = self.to_message(name, root)
        if msg is None:
            return ChannelResponse.text(SUCCESS)
        late = self.late_delivery(msg, "")
        result = await self._ingress.receive(
            msg, self._settings.reply_budget_s, late, caller=caller
        )
        text = join_replies(result.replies)
        log.info(
            "wechat_mp message",
            extra={
                "account": name,
                "from": mask(msg.sender.id),
                "type": msg.type.value,
                "duplicate": result.duplicate,
                "pending": result.pending,
                "replies": len(result.replies),
            },
        )
        if not text:
            return ChannelResponse.text(SUCCESS)
        gh_id = (xml_field(root, "ToUserName") or "").strip()
        reply = self.render_text(msg.sender.id, gh_id, text)
        if crypto is not None:
            reply = crypto.encrypt_xml(reply, nonce=nonce)
        return ChannelResponse(200, reply, APPLICATION_XML)

    def render_text(self, openid: str, gh_id: str, text: str) -> str:
        """A passive text reply (To/From swapped relative to the request)."""
        return (
            f"<xml><ToUserName><![CDATA[{xml_text(openid)}]]></ToUserName>"
            f"<FromUserName><![CDATA[{xml_text(gh_id)}]]></FromUserName>"
            f"<CreateTime>{int(self._clock())}</CreateTime>"
            "<MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{xml_text(text)}]]></Content></xml>"
        )

    def to_message(self, account: str, payload: Any) -> IncomingMessage | None:
        """The domain message for a parsed (decrypted) callback ``ET.Element``; None for
        events Linli ignores."""
        name, acc = account, self.account(account)
        root: ET.Element = payload
        openid = _bounded(root, "FromUserName")
        _bounded(root, "ToUserName")
        msg_type = (xml_field(root, "MsgType") or "").strip().lower()
        if not openid:
            raise BadRequestError("missing FromUserName")
        if not msg_type:
            raise BadRequestError("missing MsgType")
        created = (xml_field(root, "CreateTime") or "").strip()
        if created and not (created.isascii() and created.isdigit()):
            raise BadRequestError("CreateTime is not a number")
        if len(created) > MAX_CREATE_TIME_DIGITS:
            raise BadRequestError(f"CreateTime longer than {MAX_CREATE_TIME_DIGITS} digits")
        received = _received_at(created)

        def make(
            message_id: str,
            text: str,
            kind: MessageType,
            *,
            event: str | None = None,
            event_key: str | None = None,
            media_id: str | None = None,
        ) -> IncomingMessage:
            return IncomingMessage(
                message_id=message_id,
                channel=CHANNEL,
                account=name,
                committee=acc.committee,
                chat=Chat(openid, ChatType.PRIVATE),
                sender=Sender(openid),
                text=text,
                type=kind,
                mentioned=True,
                event=event,
                event_key=event_key,
                media_id=media_id,
                received_at=received,
            )

        if msg_type == "event":
            event = (xml_field(root, "Event") or "").strip().lower()
            if event not in HANDLED_EVENTS:
                return None
            if not created:
                raise BadRequestError("missing CreateTime")
            key = (xml_field(root, "EventKey") or "").strip() or None
            # Events carry no MsgId: WeChat's dedup key is FromUserName + CreateTime.
            return make(f"{openid}:{created}", "", MessageType.EVENT, event=event, event_key=key)
        msg_id = _bounded(root, "MsgId")
        if not msg_id:
            raise BadRequestError("missing MsgId")
        if msg_type == "text":
            content = xml_field(root, "Content")
            if content is None:
                raise BadRequestError("missing Content")
            return make(msg_id, content, MessageType.TEXT)
        media_id = _bounded(root, "MediaId") or None
        if msg_type == "image":
            return make(msg_id, "", MessageType.IMAGE, media_id=media_id)
        if msg_type == "voice":
            # With speech recognition switched on, WeChat sends the recognised text; the
            # pipeline answers a voice message with text like a text message.
            recognition = (xml_field(root, "Recognition") or "").strip()
            return make(msg_id, recognition, MessageType.VOICE, media_id=media_id)
        return make(msg_id, "", MessageType.OTHER, media_id=media_id)


def _bounded(root: ET.Element, name: str) -> str:
    """An id field, stripped ("" when absent); BadRequestError beyond MAX_ID_CHARS."""
    value = (xml_field(root, name) or "").strip()
    if len(value) > MAX_ID_CHARS:
        raise BadRequestError(f"{name} longer than {MAX_ID_CHARS} characters")
    return value


def _received_at(create_time: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(create_time), UTC)
    except (ValueError, OverflowError, OSError):
        return datetime.now(UTC)
