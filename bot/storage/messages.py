"""The conversation log: every inbound and outbound message, written before it is acknowledged.

Each resident (inbound) message also carries its *outcome*, what the bot did with it:

* ``""`` — not handled yet (or logged before outcomes were recorded);
* the primary ``ReplyKind`` of the bot's replies (``outcome_of``): ``faq`` (answered from the
  FAQ), ``clarify`` (a "did you mean" with choices — low confidence), ``fallback`` (no
  answer), ``handoff`` (handed to a caseworker), ``emergency``, ``ticket``, ``slot`` (a
  question asked back, e.g. the compound before a per-compound answer), ``status``,
  ``feedback``, ``smalltalk``, ``media``, ``welcome``, ``notice``;
* ``human`` — the bot stayed silent because a caseworker has (or is about to take) the
  conversation;
* ``none`` — no reply because the message was not for the bot (group chatter without @).
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.domain import IncomingMessage, Reply, ReplyKind
from bot.storage.conversations import Conversation

NOT_FOR_BOT = "none"
"""Outcome: no reply, the message was not addressed to the bot."""

PRECEDENCE: tuple[ReplyKind, ...] = (
    ReplyKind.EMERGENCY,
    ReplyKind.HANDOFF,
    ReplyKind.TICKET,
    ReplyKind.FAQ,
    ReplyKind.STATUS,
    ReplyKind.FEEDBACK,
    ReplyKind.SLOT,
    ReplyKind.CLARIFY,
    ReplyKind.SMALLTALK,
    ReplyKind.WELCOME,
    ReplyKind.MEDIA,
    ReplyKind.FALLBACK,
    ReplyKind.HUMAN,
    ReplyKind.NOTICE,
)
"""Which reply kind names the outcome when one message got several replies (e.g. the
too-long notice before an FAQ answer is ``faq``; an apology before a handoff is ``handoff``)."""


def outcome_of(replies: Sequence[Reply]) -> str:
    """The outcome of an inbound message from the replies it got (``none`` for no reply)."""
    kinds = {r.kind for r in replies}
    for kind in PRECEDENCE:
        if kind in kinds:
            return kind.value
    return replies[0].kind.value if replies else NOT_FOR_BOT


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """A resident's message with what the bot did with it."""

    id: int
    conversation_key: str
    text: str
    outcome: str
    created_at: datetime
    reviewed_at: datetime | None


@dataclass(frozen=True, slots=True)
class OutcomeCount:
    """How many resident messages of one committee got one outcome on one local day."""

    committee: str
    day: date
    """Asia/Shanghai calendar day of ``created_at``."""
    outcome: str
    count: int


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
        ``undeliverable``, ``suppressed``), and set the outcome of ``msg`` (``outcome_of``;
        with no replies, ``none`` unless an outcome such as ``human`` is already set)."""

    @abc.abstractmethod
    async def record_outcome(self, msg: IncomingMessage, outcome: str) -> None:
        """Set the outcome of an inbound message (e.g. ``human`` when the bot stays silent)."""

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

    @abc.abstractmethod
    async def recent_inbound(
        self,
        committee: str,
        *,
        limit: int = 500,
        outcomes: Collection[str] | None = None,
        include_reviewed: bool = True,
    ) -> list[InboundRecord]:
        """A committee's latest resident messages (events left out), newest first; only
        those with one of ``outcomes`` when given, only unreviewed ones unless
        ``include_reviewed``."""

    @abc.abstractmethod
    async def mark_reviewed(self, committee: str, message_ids: Sequence[int]) -> int:
        """Mark the committee's resident messages among ``message_ids`` reviewed (others'
        ids are ignored); returns how many were newly marked."""

    @abc.abstractmethod
    async def outcome_counts(
        self, start: date, end: date, committee: str | None = None
    ) -> list[OutcomeCount]:
        """Resident messages (events left out) per committee, local day and outcome, for the
        Asia/Shanghai days ``start``..``end`` inclusive; every committee when ``committee`` is
        None. Only non-zero counts are returned."""
