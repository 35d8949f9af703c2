"""The conversation log: every inbound and outbound message, written before it is acknowledged."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime

from bot.domain import IncomingMessage, Reply
from bot.storage.conversations import Conversation


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    id: int
    conversation_key: str
    direction: str
    """``in`` (resident), ``out`` (bot), ``staff`` (a caseworker's reply)."""
    sender_name: str
    text: str
    kind: str
    delivery: str
    created_at: datetime


class MessageLog(abc.ABC):
    @abc.abstractmethod
    async def record_inbound(self, msg: IncomingMessage) -> bool:
        """Store a resident's message; idempotent per channel/account/message id.
        Returns False when it was already stored (a retry)."""

    @abc.abstractmethod
    async def record_outbound(
        self, msg: IncomingMessage, replies: list[Reply], delivery: str
    ) -> None:
        """Store the bot's replies to ``msg`` and how they went out (``passive``, ``active``,
        ``undeliverable``, ``suppressed``)."""

    @abc.abstractmethod
    async def record_proactive(
        self,
        to: Conversation,
        text: str,
        *,
        kind: str,
        direction: str,
        sender_name: str,
        delivery: str,
    ) -> int:
        """Store a message Linli or a caseworker started (``direction`` ``out`` or ``staff``);
        returns its id."""

    @abc.abstractmethod
    async def since(self, conversation_key: str, after_id: int) -> list[LoggedMessage]:
        """Messages of a conversation newer than ``after_id``, oldest first."""

    @abc.abstractmethod
    async def conversation(self, conversation_key: str, limit: int = 200) -> list[LoggedMessage]:
        """The latest messages of a conversation, oldest first."""
