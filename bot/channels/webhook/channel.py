"""Generic JSON webhook ``POST /api/v1/messages`` (``Authorization: Bearer <token>``), for any
WeChat-style gateway, and the ``/try`` playground that reuses it without a token.

Request: ``{"message_id", "chat": {"id", "type": "group|private"}, "sender": {"id", "name"},
"text", "mentioned"}``. Response: ``{"replies": [{"text", "kind"}], "ticket": {"number",
"status", "priority"} | null}``; a reply meant for the resident alone in a group chat carries
``"private": true``. A duplicate ``message_id`` gets the first answer again. The webhook has no
active sender, so it waits for the pipeline up to a generous budget and then answers 202
``{"replies": [], "ticket": null, "pending": true}``.

``mentioned`` defaults to true in a private chat and false in a group (residents talk among
themselves; Linli answers when addressed). Webhook messages use the account ``default``:
gateways sharing a deployment must use distinct message ids.
"""

from __future__ import annotations

import hmac
import json
import logging
import uuid
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.channels.base import UNAVAILABLE, read_body, refused
from bot.channels.errors import BadRequestError, ChannelRequestError, UnauthorizedError
from bot.channels.ingress import IngressResult
from bot.channels.platform import PlatformClient
from bot.channels.protocol import Capabilities, Channel, ChannelContext
from bot.channels.render import mask
from bot.channels.safe_json import loads
from bot.channels.webhook.models import (
    FieldError,
    TicketRef,
    WebhookError,
    WebhookReply,
    WebhookResponse,
)
from bot.domain import (
    Chat,
    ChatType,
    IncomingMessage,
    InvalidMessage,
    Reply,
    Sender,
    StoreUnavailable,
)
from bot.domain.messages import MAX_ID_CHARS, MAX_NAME_CHARS
from bot.domain.once import Delivery
from bot.settings import Settings
from bot.storage.conversations import Conversation

log = logging.getLogger(__name__)

CHANNEL = "webhook"
ACCOUNT = "default"
TRY_ACCOUNT = "try"
MAX_TEXT_CHARS = 20_000
DEFAULT_BUDGET_S = 30.0

M = TypeVar("M", bound=BaseModel)


class InvalidPayload(BadRequestError):
    """The JSON body does not match the schema; ``details`` names each offending field."""

    def __init__(self, message: str, details: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.details = details


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ChatIn(_Model):
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    type: Literal["group", "private"]


class SenderIn(_Model):
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    name: str = Field(default="", max_length=MAX_NAME_CHARS)


class MessageIn(_Model):
    message_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    chat: ChatIn
    sender: SenderIn
    text: str = Field(max_length=MAX_TEXT_CHARS)
    mentioned: bool | None = None


class TryMessageIn(_Model):
    """The playground's body: only ``text`` is required."""

    text: str = Field(max_length=MAX_TEXT_CHARS)
    message_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_CHARS)
    chat: ChatIn | None = None
    sender: SenderIn = SenderIn(id="try-user", name="体验用户")
    mentioned: bool | None = None


@dataclass(frozen=True, slots=True)
class WebhookResult:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


def render_result(result: IngressResult) -> WebhookResult:
    """The webhook response for an ingress result (``WebhookResponse``)."""
    if result.pending:
        pending = WebhookResponse(replies=[], ticket=None, pending=True)
        return WebhookResult(202, pending.model_dump(mode="json"))
    ticket = next((r.ticket for r in result.replies if r.ticket is not None), None)
    body = WebhookResponse(
        replies=[_reply_out(r) for r in result.replies],
        ticket=None
        if ticket is None
        else TicketRef(number=ticket.number, status=ticket.status, priority=ticket.priority),
        duplicate=True if result.duplicate else None,
    )
    return WebhookResult(200, body.model_dump(mode="json"))


def _reply_out(reply: Reply) -> WebhookReply:
    return WebhookReply.model_validate(
        {"text": reply.text, "kind": reply.kind.value, "private": reply.private or None}
    )


def parse_json(body: bytes | str, settings: Settings) -> Any:
    """The JSON value of a body: size, nesting, UTF-8, numbers and keys checked
    (``bot.channels.safe_json``); raises BadRequestError/BodyTooLarge."""
    return loads(body, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth)


def _validate(model: type[M], data: Any) -> M:
    if not isinstance(data, Mapping):
        raise InvalidPayload(
            "body must be a JSON object", [{"field": "(body)", "message": "not an object"}]
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "message": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        fields = ", ".join(d["field"] for d in details)
        raise InvalidPayload(f"invalid field(s): {fields}", details) from None


class WebhookChannel(Channel):
    name = CHANNEL
    # The gateway waits for the answer up to the budget; pushes go to its push_url (when
    # configured) with no time limit; group and private chats.
    capabilities = Capabilities(
        passive_reply_s=DEFAULT_BUDGET_S,
        push_window_s=float("inf"),
        groups=True,
        private_from_groups=True,  # the gateway sends a "private": true reply privately
    )

    def __init__(self, ctx: ChannelContext, *, budget_s: float = DEFAULT_BUDGET_S) -> None:
        self._settings = ctx.settings
        self._ingress = ctx.ingress
        self._platform = ctx.platform
        self._budget_s = budget_s

    # --- routes ---------------------------------------------------------------------------
    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return [web.post("/api/v1/messages", self.post_message)]

    async def post_message(self, request: web.Request) -> web.Response:
        """``POST /api/v1/messages`` (bearer token)."""
        return await json_guard(request, self._post(request))

    async def post_try(self, request: web.Request) -> web.Response:
        """``POST`` handler of the ``/try`` playground: JSON ``{"text", "message_id"?,
        "chat"?, "sender"?, "mentioned"?}`` in, the webhook's response JSON out; account
        ``try``, no bearer token. Mounted only when ``settings.try_enabled``."""
        return await json_guard(request, self._post_try(request))

    async def _post(self, request: web.Request) -> WebhookResult:
        self.authorize(request.headers.get("Authorization"))
        body = await read_body(request, self._settings.max_body_bytes)
        return await self.handle(body)

    async def _post_try(self, request: web.Request) -> WebhookResult:
        body = await read_body(request, self._settings.max_body_bytes)
        return await self.try_message(parse_json(body, self._settings))

    # --- delivery -------------------------------------------------------------------------
    async def push(self, to: Conversation, text: str, kind: str) -> Delivery:
        """The /try page fetches pushes from the conversation log; a gateway with a
        ``push_url`` gets them POSTed."""
        if to.account == TRY_ACCOUNT:
            return Delivery.PULL
        hook = self._settings.channels.webhook
        if not hook.push_url or self._platform is None:
            return await super().push(to, text, kind)
        await push_gateway(
            self._platform,
            hook.push_url,
            hook.push_token,
            {
                "chat": {"id": to.chat_id, "type": to.chat_type},
                "recipient": {"id": to.sender_id, "name": to.sender_name},
                "text": text,
                "kind": kind,
            },
        )
        return Delivery.ACTIVE

    def posts_into_groups(self, account: str) -> bool:
        """A push to a group conversation goes to the gateway's ``push_url`` with the group
        chat (``/try``: the page fetches it)."""
        return account == TRY_ACCOUNT or bool(self._settings.channels.webhook.push_url)

    def authorize(self, authorization: str | None) -> None:
        """Raise UnauthorizedError unless the header is ``Bearer <one of the tokens>``."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise UnauthorizedError("missing bearer token")
        matched = False
        for candidate in self._settings.channels.webhook.tokens:
            # Compare against every token so the time taken does not reveal which matched.
            matched |= hmac.compare_digest(candidate.encode(), token.encode())
        if not matched:
            raise UnauthorizedError("invalid bearer token")

    async def handle(self, body: bytes) -> WebhookResult:
        """An authorised webhook POST body → the response (raises BadRequestError/
        InvalidPayload for bad input, StoreUnavailable when the store is down)."""
        message = _validate(MessageIn, parse_json(body, self._settings))
        return await self._submit(message, ACCOUNT)

    async def try_message(self, payload: Any) -> WebhookResult:
        """The ``/try`` playground: same conversion and ingress path, account ``try``, no
        token; ``message_id``, ``chat`` and ``sender`` are optional."""
        data = _validate(TryMessageIn, payload)
        chat = data.chat or ChatIn(id=f"try-{data.sender.id}", type="private")
        message = MessageIn(
            message_id=data.message_id or uuid.uuid4().hex,
            chat=chat,
            sender=data.sender,
            text=data.text,
            mentioned=data.mentioned,
        )
        return await self._submit(message, TRY_ACCOUNT)

    def to_message(self, account: str, payload: Any) -> IncomingMessage:
        """The domain message for a validated body (``MessageIn``)."""
        data: MessageIn = payload
        chat_type = ChatType.GROUP if data.chat.type == "group" else ChatType.PRIVATE
        mentioned = data.mentioned if data.mentioned is not None else chat_type is ChatType.PRIVATE
        return IncomingMessage(
            message_id=data.message_id,
            channel=CHANNEL,
            account=account,
            committee=self._settings.channels.webhook.committee,
            chat=Chat(data.chat.id, chat_type),
            sender=Sender(data.sender.id, data.sender.name),
            text=data.text,
            mentioned=mentioned or chat_type is ChatType.PRIVATE,
        )

    async def _submit(self, data: MessageIn, account: str) -> WebhookResult:
        msg = self.to_message(account, data)
        result = await self._ingress.receive(msg, self._budget_s, None)
        log.info(
            "webhook message",
            extra={
                "account": account,
                "from": mask(msg.sender.id),
                "chat_type": data.chat.type,
                "duplicate": result.duplicate,
                "pending": result.pending,
                "replies": len(result.replies),
            },
        )
        return render_result(result)


async def push_gateway(
    client: PlatformClient, url: str, token: str, payload: Mapping[str, Any]
) -> None:
    """POST a message for a resident to a generic gateway's push endpoint (bearer token)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    await client.request("POST", url, what="gateway push", payload=payload, headers=headers)


async def json_guard(request: web.Request, work: Awaitable[WebhookResult]) -> web.Response:
    """Run a JSON handler: refusals as ``{"error", "details"?}`` with their 4xx status, a
    store that is down as 503. Bad input never produces a 500."""
    try:
        result = await work
    except InvalidPayload as exc:
        refused(request, exc)
        details = [FieldError.model_validate(d) for d in exc.details]
        return _error(WebhookError(error=str(exc), details=details), exc.status)
    except ChannelRequestError as exc:
        refused(request, exc)
        return _error(WebhookError(error=str(exc)), exc.status)
    except InvalidMessage as exc:
        refused(request, BadRequestError(str(exc)))
        return _error(WebhookError(error=str(exc)), 400)
    except StoreUnavailable as exc:
        log.error("store unavailable", extra={"path": request.path, "error": str(exc)})
        return _error(WebhookError(error=UNAVAILABLE), 503)
    return web.json_response(result.body, status=result.status, dumps=_dumps)


def _error(error: WebhookError, status: int) -> web.Response:
    return web.json_response(error.model_dump(mode="json"), status=status)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)
