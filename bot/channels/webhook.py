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
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.channels.errors import BadRequestError, UnauthorizedError
from bot.channels.ingress import Ingress, IngressResult
from bot.channels.render import mask
from bot.channels.safe_json import loads
from bot.domain import Chat, ChatType, IncomingMessage, Reply, Sender
from bot.domain.messages import MAX_ID_CHARS, MAX_NAME_CHARS
from bot.settings import Settings

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
    """The webhook response for an ingress result."""
    if result.pending:
        return WebhookResult(202, {"replies": [], "ticket": None, "pending": True})
    replies = [_reply_json(r) for r in result.replies]
    ticket = next((r.ticket for r in result.replies if r.ticket is not None), None)
    body: dict[str, Any] = {
        "replies": replies,
        "ticket": None
        if ticket is None
        else {"number": ticket.number, "status": ticket.status, "priority": ticket.priority},
    }
    if result.duplicate:
        body["duplicate"] = True
    return WebhookResult(200, body)


def _reply_json(reply: Reply) -> dict[str, Any]:
    out = reply.to_json()
    if reply.private:
        out["private"] = True
    return out


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


class WebhookChannel:
    def __init__(self, settings: Settings, ingress: Ingress, *, budget_s: float = DEFAULT_BUDGET_S):
        self._settings = settings
        self._ingress = ingress
        self._budget_s = budget_s

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

    def to_message(self, data: MessageIn, account: str) -> IncomingMessage:
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
        msg = self.to_message(data, account)
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
