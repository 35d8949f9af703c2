"""The conversation log: every inbound and outbound message, written before it is acknowledged.

Each resident (inbound) message also carries its *outcome*, what the bot did with it:

* ``""`` — not handled yet (or logged before outcomes were recorded);
* the primary ``ReplyKind`` of the bot's replies (``outcome_of``): ``faq`` (answered from the
  FAQ), ``clarify`` (a "did you mean" with choices — low confidence), ``fallback`` (no
  answer), ``handoff`` (handed to a caseworker), ``emergency``, ``ticket``, ``slot`` (a
  question asked back, e.g. the compound before a per-compound answer), ``status``,
  ``feedback``, ``smalltalk``, ``care`` (a caring line with the hotlines), ``check_in`` (is
  someone in danger now?), ``media``, ``welcome``, ``notice``;
* ``human`` — the bot stayed silent because a caseworker has (or is about to take) the
  conversation;
* ``none`` — no reply because the message was not for the bot (group chatter without @).
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Collection, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from bot.domain import IncomingMessage, Reply, ReplyKind
from bot.domain.errors import LinliError
from bot.domain.once import DeliveryReport
from bot.storage.conversations import Conversation
from bot.storage.state import Lease

NOT_FOR_BOT = "none"
"""Outcome: no reply, the message was not addressed to the bot."""

PRECEDENCE: tuple[ReplyKind, ...] = (
    ReplyKind.CRISIS,
    ReplyKind.EMERGENCY,
    ReplyKind.HANDOFF,
    ReplyKind.TICKET,
    ReplyKind.LETTER,
    ReplyKind.FAQ,
    ReplyKind.STATUS,
    ReplyKind.FEEDBACK,
    ReplyKind.SLOT,
    ReplyKind.CLARIFY,
    ReplyKind.CARE,
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


class Superseded(LinliError):
    """A message's answer was refused: a newer claim took the message over (its holder
    answers it, or did). Nothing of this holder's turn was stored."""


class TurnAnswer(Protocol):
    """How the pipeline stores a turn together with the answer to the message being
    processed (``MessageLog.record_answer``), under the conversation lock ``lease``: one
    transaction for the message's outcome, its outbound rows, its stored answer and the
    conversation with its turn journal. False: not this hook's message (the caller saves
    the conversation itself). Raises ``Superseded`` (nothing stored) or ``Fenced``."""

    def known(self, msg: IncomingMessage, lease: Lease) -> Conversation | None:
        """The conversation of ``msg`` read when the message was claimed, if no save was
        noted under the conversation lock since (``lease.previous`` is its version); None:
        the caller reads it. Handed out once."""

    async def __call__(
        self,
        msg: IncomingMessage,
        replies: list[Reply],
        conversation: Conversation,
        lease: Lease,
    ) -> bool: ...


ANSWER_WITH_TURN: ContextVar[TurnAnswer | None] = ContextVar("answer_with_turn", default=None)
"""Set by the intake (``bot.channels.ingress``) while its handler runs for one message."""


class Intake(enum.Enum):
    """What ``claim_inbound`` found."""

    NEW = "new"
    """Stored now: the caller holds the message."""
    TAKEN_OVER = "taken_over"
    """Stored before, unanswered, its lease had run out: the caller holds it now."""
    BUSY = "busy"
    """Stored, unanswered, and another holder's lease is live."""
    DONE = "done"
    """Stored and answered (``result`` is the stored answer, if any was kept)."""


@dataclass(frozen=True, slots=True)
class InboundStatus:
    intake: Intake
    result: str | None = None
    conversation: Conversation | None = None
    """The message's conversation as stored when it was claimed (``read_conversation``)."""

    @property
    def held(self) -> bool:
        """The caller holds the message and must process it."""
        return self.intake in (Intake.NEW, Intake.TAKEN_OVER)


@dataclass(frozen=True, slots=True)
class Unfinished:
    """A stored resident message nobody is processing: what is needed to take it up again."""

    message: IncomingMessage
    reply_to: str
    attempts: int


@dataclass(frozen=True, slots=True)
class PendingLate:
    """A late reply stored as pending (``Delivery.PENDING``) whose sender stopped renewing
    its claim: what is needed to send it again."""

    message: IncomingMessage
    replies: list[Reply]
    """The replies as stored with the message's answer (every field, for the channel)."""
    reply_to: str


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
    """How an outbound message went out (``bot.domain.once.Delivery``; "" inbound)."""
    created_at: datetime
    delivery_code: int | None = None
    """The platform's error code when the send failed."""
    delivery_error: str = ""
    """What went wrong when the send failed."""
    channel: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryCount:
    """How many outbound messages (the bot's and caseworkers') of one committee went out one
    way (``delivery``) on one channel on one local day."""

    committee: str
    day: date
    """Asia/Shanghai calendar day of ``created_at``."""
    channel: str
    delivery: str
    count: int


class MessageLog(abc.ABC):
    """The durable record of every message. An inbound message is stored before it is
    acknowledged and carries a processing lease with a fencing token: the holder renews the
    lease while it works and only the holder of the latest token may answer it; a message
    whose lease ran out unanswered is taken up again (``unfinished``)."""

    async def record_inbound(self, msg: IncomingMessage, *, reply_to: str = "") -> bool:
        """Store a resident's message, unclaimed (anyone may take it up); idempotent per
        channel/account/message id. Returns False when it was already stored (a retry)."""
        status = await self.claim_inbound(msg, fence=0, lease_s=0, reply_to=reply_to)
        return status.intake is Intake.NEW

    @abc.abstractmethod
    async def claim_inbound(
        self,
        msg: IncomingMessage,
        *,
        fence: int,
        lease_s: float,
        reply_to: str = "",
        read_conversation: bool = False,
    ) -> InboundStatus:
        """Store ``msg`` held by ``fence`` for ``lease_s``, or, when it is stored already and
        unanswered with its lease run out, take it over with ``fence`` (a larger token than
        the stored one). Otherwise says whether it is answered (with the stored answer) or
        held by a live lease elsewhere. ``reply_to`` is kept for a late answer. With
        ``read_conversation``, a held message comes with its conversation as stored now
        (read in the same transaction; None if it has none yet)."""

    @abc.abstractmethod
    async def renew_inbound(self, msg: IncomingMessage, fence: int, lease_s: float) -> bool:
        """Extend the lease ``fence`` holds by ``lease_s``; False when a newer claim has
        taken the message over or it is answered."""

    @abc.abstractmethod
    async def release_inbound(self, msg: IncomingMessage, fence: int) -> None:
        """End the lease of ``fence`` now, unanswered: any worker may take the message up."""

    @abc.abstractmethod
    async def inbound_status(self, msg: IncomingMessage) -> InboundStatus | None:
        """Whether ``msg`` is answered, held or free (None: never stored). A free message
        (lease run out) is reported ``BUSY``: nobody answered it yet."""

    @abc.abstractmethod
    async def unfinished(self, limit: int = 50) -> list[Unfinished]:
        """Stored resident messages whose lease ran out unanswered (their worker died, or
        gave them back), oldest first."""

    @abc.abstractmethod
    async def record_outbound(
        self,
        msg: IncomingMessage,
        replies: list[Reply],
        delivery: str,
        *,
        fence: int | None = None,
        result: str | None = None,
    ) -> bool:
        """Store the bot's replies to ``msg`` and how they went out (``Delivery``: passive,
        pending, undeliverable), and set the outcome of ``msg`` (``outcome_of``;
        with no replies, ``none`` unless an outcome such as ``human`` is already set). This
        ends the message's lease and keeps ``result`` (the answer for a retry). Pending
        replies are claimed as of now (``take_late``), and the message keeps its
        ``reply_to`` until their outcome is recorded (``record_late_delivery``).

        With ``fence``: only while that token holds the message unanswered; otherwise
        nothing is stored and False is returned (a newer holder answers it, or did)."""

    @abc.abstractmethod
    async def record_answer(
        self,
        msg: IncomingMessage,
        replies: list[Reply],
        delivery: str,
        *,
        fence: int,
        result: str,
        conversation: Conversation,
        conversation_fence: int,
    ) -> bool:
        """``record_outbound`` (held by ``fence``) and ``ConversationStore.save(conversation,
        fence=conversation_fence)`` in one transaction: both or neither. False, and nothing
        stored, when ``fence`` no longer holds the message; raises ``Fenced`` (nothing
        stored) when the conversation was saved meanwhile under another lock."""

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
        error_code: int | None = None,
        error: str = "",
    ) -> int:
        """Store a message Linli or a caseworker started (``direction`` ``out`` or ``staff``)
        and how it went out (with the platform's error when it failed); returns its id."""

    @abc.abstractmethod
    async def record_late_delivery(self, msg: IncomingMessage, report: DeliveryReport) -> int:
        """How the replies to ``msg`` stored as pending (``Delivery.PENDING``) really went
        (the channel's late sender answered), and forget the message's ``reply_to``;
        returns how many rows changed (0: another sender recorded it first)."""

    @abc.abstractmethod
    async def renew_late(self, msg: IncomingMessage) -> bool:
        """Claim the pending replies to ``msg`` as of now again (their sender is still at
        it); False when none is pending any more."""

    @abc.abstractmethod
    async def take_late(self, lease_s: float, limit: int = 50) -> list[PendingLate]:
        """Pending late replies whose claim is older than ``lease_s`` (their sender died),
        each claimed as of now, atomically: of several workers asking at once, exactly one
        gets a message's replies. Oldest claim first; at most ``limit`` messages."""

    @abc.abstractmethod
    async def message(self, message_id: int) -> LoggedMessage | None:
        """One logged message by id."""

    @abc.abstractmethod
    async def hold_for_retry(self, conversation_key: str, message_id: int) -> bool:
        """Mark a failed caseworker reply of the conversation ``sending`` for this retry.
        False when it is not failed (already retried, sent, or never failed) or another
        retry holds it (for ``RETRY_HOLD_S``): exactly one retry sends it."""

    @abc.abstractmethod
    async def record_delivery(self, message_id: int, report: DeliveryReport) -> None:
        """How a retried message went out."""

    @abc.abstractmethod
    async def delivery_counts(
        self, start: date, end: date, committee: str | None = None
    ) -> list[DeliveryCount]:
        """Outbound messages (bot and caseworker) per committee, local day, channel and
        delivery, for the Asia/Shanghai days ``start``..``end`` inclusive; every committee
        when ``committee`` is None. Only non-zero counts are returned."""

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
