"""Conversations: one per resident per chat. Holds what must survive a worker restart —
the dialogue state (slots being filled, pending choices, remembered compound) and whether a
caseworker has the conversation (human mode) — and feeds the console's inbox."""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain import IncomingMessage


class Mode(enum.StrEnum):
    BOT = "bot"
    WAITING = "waiting"
    """Handed over, no caseworker yet: the bot stays silent, the console shows it waiting."""
    HUMAN = "human"
    """A caseworker has taken the conversation."""


@dataclass(slots=True)
class Conversation:
    key: str
    committee: str
    channel: str
    account: str
    chat_id: str
    chat_type: str
    sender_id: str
    sender_name: str = ""
    compound: str | None = None
    mode: Mode = Mode.BOT
    state: dict[str, Any] = field(default_factory=dict)
    handoff_reason: str = ""
    handoff_at: datetime | None = None
    assignee_id: str | None = None
    assignee_name: str = ""
    ticket_number: str | None = None
    last_message_at: datetime | None = None
    version: int = 0

    @property
    def silent(self) -> bool:
        """The bot must not answer: a person has it or is about to."""
        return self.mode is not Mode.BOT

    @classmethod
    def of(cls, msg: IncomingMessage) -> Conversation:
        """A new conversation for the chat and sender of ``msg``."""
        return cls(
            key=msg.conversation_key,
            committee=msg.committee,
            channel=msg.channel,
            account=msg.account,
            chat_id=msg.chat.id,
            chat_type=msg.chat.type.value,
            sender_id=msg.sender.id,
            sender_name=msg.sender.name,
        )


class ConversationStore(abc.ABC):
    @abc.abstractmethod
    async def get(self, key: str) -> Conversation | None: ...

    @abc.abstractmethod
    async def save(self, conversation: Conversation, *, fence: int | None = None) -> None:
        """Insert or update (callers hold the conversation lock). ``fence``: the token of that
        lock (``Lease.token``); the save is refused with ``Fenced`` when a newer holder has
        saved already, or anyone saved since ``conversation`` was read (its ``version``):
        this caller lost the lock while it worked."""

    @abc.abstractmethod
    async def recent(
        self, committee: str, modes: tuple[Mode, ...] = (), limit: int = 200
    ) -> list[Conversation]:
        """A committee's conversations, most recently active first (``modes`` filters)."""

    @abc.abstractmethod
    async def waiting_since(self, before: datetime, limit: int = 100) -> list[Conversation]:
        """Conversations handed over before ``before`` that no caseworker has taken."""
