"""Transport-neutral message types: what every channel converts to and from."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.domain.errors import InvalidMessage

# Id limits, shared by every channel's edge checks, the webhook schema (OpenAPI) and the
# database columns (``bot/storage/sql``): chat_id/sender_id/sender_name/external_id are 200
# characters wide, conversation keys 400, ticket source keys and actor ids 300.
MAX_ID_CHARS = 128
"""Longest chat or sender id, and message id as a platform sends it (WeChat openids have 28
characters, WeCom user and chat ids at most 64)."""
MAX_MESSAGE_ID_CHARS = 160
"""Longest message id once composed (an Official Account event is ``openid:CreateTime``)."""
MAX_NAME_CHARS = 128
"""Longest sender name (display names are far shorter)."""
MAX_CONVERSATION_KEY_CHARS = 400
MAX_DEDUP_KEY_CHARS = 300


class ChatType(enum.StrEnum):
    GROUP = "group"
    PRIVATE = "private"


class MessageType(enum.StrEnum):
    TEXT = "text"
    IMAGE = "image"
    VOICE = "voice"
    EVENT = "event"
    OTHER = "other"


class ReplyKind(enum.StrEnum):
    """What a reply is; the generic webhook exposes it as ``kind``."""

    FAQ = "faq"
    CLARIFY = "clarify"
    FALLBACK = "fallback"
    TICKET = "ticket"
    SLOT = "slot"
    STATUS = "status"
    EMERGENCY = "emergency"
    CRISIS = "crisis"
    """A self-harm reply: a caring word, the hotlines, and a person to follow up."""
    HANDOFF = "handoff"
    HUMAN = "human"
    FEEDBACK = "feedback"
    WELCOME = "welcome"
    MEDIA = "media"
    SMALLTALK = "smalltalk"
    NOTICE = "notice"


@dataclass(frozen=True, slots=True)
class Chat:
    id: str
    type: ChatType


@dataclass(frozen=True, slots=True)
class Sender:
    id: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One message from a resident, whatever channel it came through.

    ``message_id`` is unique within ``channel``/``account`` and is the dedup key.
    ``mentioned`` is whether the bot was addressed (always true in a private chat).
    """

    message_id: str
    channel: str
    account: str
    committee: str
    chat: Chat
    sender: Sender
    text: str
    type: MessageType = MessageType.TEXT
    mentioned: bool = True
    event: str | None = None
    event_key: str | None = None
    media_id: str | None = None
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        # NUL characters are valid JSON but no database text column takes them: drop them here,
        # once, so every channel's messages can be stored as received otherwise.
        for name in ("message_id", "text"):
            value = getattr(self, name)
            if "\x00" in value:
                object.__setattr__(self, name, value.replace("\x00", ""))
        if "\x00" in self.chat.id:
            object.__setattr__(self, "chat", Chat(self.chat.id.replace("\x00", ""), self.chat.type))
        if "\x00" in self.sender.id or "\x00" in self.sender.name:
            object.__setattr__(
                self,
                "sender",
                Sender(self.sender.id.replace("\x00", ""), self.sender.name.replace("\x00", "")),
            )
        self._check_lengths()

    def _check_lengths(self) -> None:
        """Raise InvalidMessage for an id the database could not store (never a 500 later)."""
        for what, value, limit in (
            ("message id", self.message_id, MAX_MESSAGE_ID_CHARS),
            ("chat id", self.chat.id, MAX_ID_CHARS),
            ("sender id", self.sender.id, MAX_ID_CHARS),
            ("sender name", self.sender.name, MAX_NAME_CHARS),
            ("conversation key", self.conversation_key, MAX_CONVERSATION_KEY_CHARS),
            ("message key", self.dedup_key, MAX_DEDUP_KEY_CHARS),
        ):
            if len(value) > limit:
                raise InvalidMessage(f"{what} longer than {limit} characters")

    @property
    def dedup_key(self) -> str:
        return f"{self.channel}:{self.account}:{self.message_id}"

    @property
    def conversation_key(self) -> str:
        """One conversation per resident per chat: a group holds many conversations."""
        if self.chat.type is ChatType.PRIVATE:
            return f"{self.committee}:{self.channel}:{self.account}:p:{self.sender.id}"
        return f"{self.committee}:{self.channel}:{self.account}:g:{self.chat.id}:{self.sender.id}"


@dataclass(frozen=True, slots=True)
class TicketRef:
    number: str
    status: str
    priority: str


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    kind: ReplyKind
    ticket: TicketRef | None = None
    private: bool = False
    """Meant for the resident alone: a group channel must not post it into the group."""

    def to_json(self) -> dict[str, object]:
        return {"text": self.text, "kind": self.kind.value}
