"""Transport-neutral message types: what every channel converts to and from."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.domain.errors import InvalidMessage

# Id limits. The channels accept ids of at most MAX_ID_CHARS from a platform or gateway (the
# webhook schema and OpenAPI say so too); IncomingMessage itself refuses anything wider than
# the database columns (bot/storage/sql), so no message can fail to be stored for its size,
# and a message rebuilt from a stored row always passes.
MAX_ID_CHARS = 128
"""Longest chat, sender or message id a channel accepts (WeChat openids have 28 characters,
WeCom user and chat ids at most 64)."""
MAX_NAME_CHARS = 128
"""Longest sender name a channel accepts (display names are far shorter)."""
ID_COLUMN_CHARS = 200
"""Width of the id and name columns (chat_id, sender_id, sender_name, external_id); a composed
id such as an Official Account event's ``openid:CreateTime`` must fit it."""
CONVERSATION_KEY_CHARS = 400
DEDUP_KEY_CHARS = 300
"""Width of ticket source keys (a message's dedup key)."""


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
    CARE = "care"
    """Words of dying the crisis layer judged calm (a joke, an earlier message taken back): a
    caring line with the hotlines instead of a goodbye, a chit-chat line or the menu; no
    alert, no ticket, and no claim that anyone was told."""
    CHECK_IN = "check_in"
    """A message the crisis classifier read as possibly urgent, below its threshold: is someone
    in danger now? The hotlines and 110/119/120; "是" makes it an emergency, "没事" ends it. No
    alert and no ticket until the resident says so."""
    HANDOFF = "handoff"
    LETTER = "letter"
    """A long complaint, suggestion or petition heard: what it is, whose matter, where it goes."""
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
            ("message id", self.message_id, ID_COLUMN_CHARS),
            ("chat id", self.chat.id, ID_COLUMN_CHARS),
            ("sender id", self.sender.id, ID_COLUMN_CHARS),
            ("sender name", self.sender.name, ID_COLUMN_CHARS),
            ("conversation key", self.conversation_key, CONVERSATION_KEY_CHARS),
            ("message key", self.dedup_key, DEDUP_KEY_CHARS),
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

    def to_dict(self) -> dict[str, str]:
        return {"number": self.number, "status": self.status, "priority": self.priority}

    @classmethod
    def from_dict(cls, data: object) -> TicketRef:
        """From ``to_dict``'s form, or the ``[number, status, priority]`` list that
        conversation state held before the one serialisation (still in stored rows)."""
        if isinstance(data, Mapping):
            return cls(str(data["number"]), str(data["status"]), str(data["priority"]))
        if isinstance(data, list | tuple) and len(data) == 3:
            return cls(str(data[0]), str(data[1]), str(data[2]))
        raise ValueError(f"not a ticket reference: {data!r}")


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    kind: ReplyKind
    ticket: TicketRef | None = None
    private: bool = False
    """Meant for the resident alone: a group channel must not post it into the group."""

    def to_dict(self) -> dict[str, object]:
        """The one stored form of a reply (every field; JSON-ready). Stored answers (the
        message log, the state store) and conversation state keep replies in this form;
        ``from_dict`` reads it back unchanged."""
        return {
            "text": self.text,
            "kind": self.kind.value,
            "private": self.private,
            "ticket": None if self.ticket is None else self.ticket.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Reply:
        """A reply from ``to_dict``'s form. Also reads what older versions stored: no
        ``private`` (then False: it was not kept) and a ticket as a three-item list."""
        ticket = data.get("ticket")
        return cls(
            text=str(data["text"]),
            kind=ReplyKind(str(data["kind"])),
            ticket=None if ticket is None else TicketRef.from_dict(ticket),
            private=bool(data.get("private", False)),
        )
