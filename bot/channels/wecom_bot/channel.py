"""WeCom AI bot (企业微信智能机器人) JSON callback: ``GET|POST /wechat/wecom-bot/{bot}``.

- GET: URL verification; ``echostr`` is encrypted, verified with ``msg_signature`` and answered
  with its plaintext only.
- POST: body ``{"encrypt": …}``; ``msg_signature`` covers (token, timestamp, nonce, encrypt);
  ReceiveId is "" for an enterprise's own AI bot. The decrypted JSON carries msgid, aibotid,
  chatid, chattype (single|group), from.userid, response_url and msgtype.

text/mixed/voice become text-bearing messages (the leading "@Bot" mention is removed), image
and file become media messages the pipeline answers with a hint to type; the enter_chat event
becomes an EVENT message (welcome). Group messages map to ``ChatType.GROUP`` with the chatid,
single chats to ``ChatType.PRIVATE`` with the userid; the bot only receives messages that
mention it, so ``mentioned`` is always true. The passive reply is an encrypted
``{"msgtype":"stream","stream":{"id","finish":true,"content"}}``; a reply that misses the budget
goes to the message's ``response_url`` as markdown.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.channels.base import (
    APPLICATION_JSON,
    ChannelResponse,
    caller_of,
    read_body,
    text_guard,
)
from bot.channels.crypto import MessageCrypto, check_timestamp, verify_signature
from bot.channels.errors import BadRequestError, UnknownAccount
from bot.channels.ingress import Caller, LateDelivery
from bot.channels.platform import DELIVERY_ERRORS, PlatformClient, failed
from bot.channels.protocol import Capabilities, Channel, ChannelContext
from bot.channels.render import join_replies, mask
from bot.channels.safe_json import loads
from bot.channels.wecom_bot.api import reply_response_url
from bot.domain import Chat, ChatType, IncomingMessage, MessageType, Reply, Sender
from bot.domain.messages import MAX_ID_CHARS
from bot.domain.once import Delivery, DeliveryReport
from bot.settings import Settings, WeComBotAccount

log = logging.getLogger(__name__)

CHANNEL = "wecom_bot"
RECEIVE_ID = ""
_LEADING_MENTIONS = re.compile(r"^\s*(?:@\S+(?:\s+|$))+")
_TRAILING_MENTIONS = re.compile(r"(?:\s+@\S+)+\s*$")


def strip_mentions(text: str) -> str:
    """``text`` without the @mentions at its start and end ("@RobotA 湿垃圾几点扔")."""
    return _TRAILING_MENTIONS.sub("", _LEADING_MENTIONS.sub("", text))


class WeComBotChannel(Channel):
    name = CHANNEL
    # A passive reply within 5 s, or the message's response_url (1 h, once); an AI bot
    # cannot start a message itself. Group chats (when @-mentioned) and private chats.
    capabilities = Capabilities(passive_reply_s=5.0, push_window_s=None, groups=True)

    def __init__(self, ctx: ChannelContext) -> None:
        self._settings = ctx.settings
        self._ingress = ctx.ingress
        self._platform = ctx.platform
        self._clock = ctx.clock
        self._cryptos: dict[str, MessageCrypto] = {}

    # --- routes ---------------------------------------------------------------------------
    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return [
            web.get("/wechat/wecom-bot/{bot}", self.get_verify, allow_head=False),
            web.post("/wechat/wecom-bot/{bot}", self.post_message),
        ]

    async def get_verify(self, request: web.Request) -> web.Response:
        """``GET /wechat/wecom-bot/{bot}``: URL verification."""
        return await text_guard(request, self._get(request))

    async def post_message(self, request: web.Request) -> web.Response:
        """``POST /wechat/wecom-bot/{bot}``: a message or event from the platform."""
        return await text_guard(request, self._post(request))

    async def _get(self, request: web.Request) -> ChannelResponse:
        return self.verify_url(request.match_info["bot"], request.query)

    async def _post(self, request: web.Request) -> ChannelResponse:
        caller = caller_of(request)
        name = request.match_info["bot"]
        self.bot(name)
        body = await read_body(request, self._settings.max_body_bytes)
        return await self.handle(name, request.query, body, caller=caller)

    # --- delivery -------------------------------------------------------------------------
    def late_delivery(self, msg: IncomingMessage, reply_to: str) -> LateDelivery | None:
        """Late replies go to the message's ``response_url`` (``reply_to``)."""
        if self._platform is None or not reply_to:
            return None
        return _ResponseUrl(self._platform, reply_to, group=msg.chat.type is ChatType.GROUP)

    def bot(self, name: str) -> WeComBotAccount:
        acc = self._settings.channels.wecom_bot.get(name)
        if acc is None:
            raise UnknownAccount(f"unknown WeCom bot {name!r}")
        return acc

    def _crypto(self, name: str) -> tuple[WeComBotAccount, MessageCrypto]:
        acc = self.bot(name)
        crypto = self._cryptos.get(name)
        if crypto is None:
            crypto = MessageCrypto(acc.token, acc.encoding_aes_key, RECEIVE_ID, clock=self._clock)
            self._cryptos[name] = crypto
        return acc, crypto

    def verify_url(self, name: str, query: Mapping[str, str]) -> ChannelResponse:
        """GET: the decrypted echostr (plaintext only) when the signature matches."""
        _, crypto = self._crypto(name)
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        echostr = query.get("echostr")
        if echostr is None:
            raise BadRequestError("missing echostr")
        verify_signature(query.get("msg_signature"), crypto.token, timestamp, nonce, echostr)
        check_timestamp(timestamp, self._settings.signature_window_s, self._clock())
        plain = crypto.decrypt(echostr)
        try:
            return ChannelResponse.text(plain.decode())
        except UnicodeDecodeError:
            raise BadRequestError("echostr is not UTF-8") from None

    async def handle(
        self, name: str, query: Mapping[str, str], body: bytes, *, caller: Caller | None = None
    ) -> ChannelResponse:
        """POST: verify, decrypt, convert, run through ingress, render the encrypted reply."""
        _, crypto = self._crypto(name)
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        # Size and depth are bounded before parsing, and before the signature check, which
        # needs the parsed envelope.
        envelope = _json_object(body, "body", self._settings)
        encrypted = envelope.get("encrypt")
        if not isinstance(encrypted, str) or not encrypted:
            raise BadRequestError('body must be {"encrypt": "..."}')
        plain = crypto.verify_and_decrypt(query.get("msg_signature"), timestamp, nonce, encrypted)
        check_timestamp(timestamp, self._settings.signature_window_s, self._clock())
        data = _json_object(plain, "decrypted message", self._settings)
        msg = self.to_message(name, data)
        if msg is None:
            return ChannelResponse.text("")
        group = msg.chat.type is ChatType.GROUP
        response_url = data.get("response_url")
        late = self.late_delivery(msg, response_url if isinstance(response_url, str) else "")
        result = await self._ingress.receive(
            msg,
            self._settings.reply_budget_s,
            late,
            # Kept with the message: a worker taking it up after a crash answers through it.
            reply_to=response_url if late is not None and isinstance(response_url, str) else "",
            caller=caller,
        )
        text = join_replies(result.replies, group=group)
        log.info(
            "wecom_bot message",
            extra={
                "bot": name,
                "from": mask(msg.sender.id),
                "chat_type": msg.chat.type.value,
                "type": msg.type.value,
                "duplicate": result.duplicate,
                "pending": result.pending,
                "replies": len(result.replies),
            },
        )
        if not text:
            return ChannelResponse.text("")
        reply: dict[str, Any]
        if msg.type is MessageType.EVENT:
            # Only the enter_chat event may be answered with a plain text message.
            reply = {"msgtype": "text", "text": {"content": text}}
        else:
            stream_id = hashlib.sha1(msg.dedup_key.encode()).hexdigest()[:20]  # noqa: S324
            reply = {
                "msgtype": "stream",
                "stream": {"id": stream_id, "finish": True, "content": text},
            }
        plaintext = json.dumps(reply, ensure_ascii=False)
        return ChannelResponse(200, crypto.encrypt_json(plaintext, nonce=nonce), APPLICATION_JSON)

    def to_message(self, account: str, payload: Any) -> IncomingMessage | None:
        """The domain message for a decrypted callback (a JSON object); None for callbacks
        Linli does not answer (stream refreshes, card clicks, feedback events)."""
        name, acc = account, self.bot(account)
        data: Mapping[str, Any] = payload
        msgtype = _str(data.get("msgtype")).lower()
        if not msgtype:
            raise BadRequestError("missing msgtype")
        msgid = _id(data.get("msgid"), "msgid")
        sender = data.get("from")
        userid = _id(sender.get("userid") if isinstance(sender, Mapping) else None, "from.userid")
        chattype = _str(data.get("chattype")).lower() or "single"
        if chattype == "group":
            if not _str(data.get("chatid")):
                raise BadRequestError("group message without chatid")
            chatid = _id(data.get("chatid"), "chatid")
            chat = Chat(chatid, ChatType.GROUP)
        elif chattype == "single":
            chat = Chat(userid, ChatType.PRIVATE)
        else:
            raise BadRequestError(f"unknown chattype {chattype[:20]!r}")
        created = data.get("create_time")
        received = (
            datetime.fromtimestamp(created, UTC)
            if isinstance(created, int) and not isinstance(created, bool) and 0 < created < 2**32
            else datetime.now(UTC)
        )

        def make(text: str, kind: MessageType, event: str | None = None) -> IncomingMessage:
            return IncomingMessage(
                message_id=msgid,
                channel=CHANNEL,
                account=name,
                committee=acc.committee,
                chat=chat,
                sender=Sender(userid),
                text=text,
                type=kind,
                mentioned=True,
                event=event,
                received_at=received,
            )

        if msgtype == "text":
            return make(strip_mentions(_content(data, "text")), MessageType.TEXT)
        if msgtype == "mixed":
            mixed = data.get("mixed")
            items = mixed.get("msg_item") if isinstance(mixed, Mapping) else None
            if not isinstance(items, list):
                raise BadRequestError("mixed message without mixed.msg_item")
            texts = [
                _content(item, "text")
                for item in items
                if isinstance(item, Mapping) and _str(item.get("msgtype")) == "text"
            ]
            text = strip_mentions("\n".join(t for t in texts if t))
            if text.strip():
                return make(text, MessageType.TEXT)
            return make("", MessageType.IMAGE)
        if msgtype == "voice":
            # The AI bot sends the speech already transcribed in voice.content.
            return make(_content(data, "voice").strip(), MessageType.VOICE)
        if msgtype == "image":
            return make("", MessageType.IMAGE)
        if msgtype == "file":
            return make("", MessageType.OTHER)
        if msgtype == "event":
            event = data.get("event")
            eventtype = _str(event.get("eventtype")) if isinstance(event, Mapping) else ""
            if eventtype == "enter_chat":
                return make("", MessageType.EVENT, event="enter_chat")
            return None
        if msgtype == "stream":
            # A refresh of a stream we never left unfinished: nothing to add.
            return None
        return make("", MessageType.OTHER)


class _ResponseUrl:
    """The late delivery of one AI-bot message: its response_url."""

    def __init__(self, platform: PlatformClient, response_url: str, *, group: bool) -> None:
        self._platform = platform
        self._url = response_url
        self._group = group

    async def __call__(self, msg: IncomingMessage, replies: list[Reply]) -> DeliveryReport:
        text = join_replies(replies, group=self._group)
        if not text:
            return DeliveryReport(Delivery.ACTIVE)
        try:
            await reply_response_url(self._platform, self._url, text)
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


def _json_object(raw: bytes, what: str, settings: Settings) -> dict[str, Any]:
    data = loads(
        raw, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth, what=what
    )
    if not isinstance(data, dict):
        raise BadRequestError(f"{what}: expected a JSON object")
    return data


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _id(value: object, field: str) -> str:
    """A required id field: a non-empty string of at most MAX_ID_CHARS characters."""
    text = _str(value)
    if not text:
        raise BadRequestError(f"missing {field}")
    if len(text) > MAX_ID_CHARS:
        raise BadRequestError(f"{field} longer than {MAX_ID_CHARS} characters")
    return text


def _content(data: Mapping[str, Any], field: str) -> str:
    part = data.get(field)
    if not isinstance(part, Mapping):
        raise BadRequestError(f"missing {field}.content")
    content = part.get("content")
    if not isinstance(content, str):
        raise BadRequestError(f"missing {field}.content")
    return content
