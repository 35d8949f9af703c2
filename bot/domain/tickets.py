"""Tickets (工单): what residents report and caseworkers work on. Pure types and rules.

A ticket number reads ``PX-20261125-0007``: the committee's ``ticket_prefix``, the local date
(Asia/Shanghai) the ticket was opened, and a per-committee per-day sequence (at least four
digits). Status moves along :data:`ALLOWED_TRANSITIONS`; anything else is refused with
:class:`TransitionNotAllowed`. Every datetime is timezone-aware (UTC when it comes from a store).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any

from bot.domain.errors import LinliError
from bot.domain.messages import ChatType, IncomingMessage, TicketRef

# -- errors ----------------------------------------------------------------------------------


class TicketError(LinliError):
    """Root of every ticket error."""


class TicketNotFound(TicketError, LookupError):
    """No such ticket for the acting committee (another committee's ticket looks the same)."""


class InvalidTicket(TicketError, ValueError):
    """A draft, rating or argument is invalid; the message names the field."""


class ActionNotAllowed(TicketError):
    """The actor may not do this to the ticket in its current state."""


class TransitionNotAllowed(ActionNotAllowed):
    """A status change outside :data:`ALLOWED_TRANSITIONS`."""

    def __init__(self, number: str, current: TicketStatus, target: TicketStatus, hint: str = ""):
        allowed = ", ".join(s.value for s in sorted(ALLOWED_TRANSITIONS[current])) or "none"
        message = (
            f"ticket {number}: cannot go from {current.value} to {target.value} "
            f"(allowed from {current.value}: {allowed})"
        )
        super().__init__(f"{message}; {hint}" if hint else message)
        self.number = number
        self.current = current
        self.target = target


class RatingNotPending(ActionNotAllowed):
    """A satisfaction score for a ticket that is not resolved and awaiting one."""


# -- enumerations ----------------------------------------------------------------------------


class TicketCategory(enum.StrEnum):
    REPAIR = "repair"
    COMPLAINT = "complaint"
    CONSULTATION = "consultation"
    EMERGENCY = "emergency"
    SUGGESTION = "suggestion"

    @property
    def label(self) -> str:
        """The Chinese name residents and caseworkers see."""
        return _CATEGORY_LABELS[self]

    @property
    def default_priority(self) -> TicketPriority:
        return TicketPriority.URGENT if self is TicketCategory.EMERGENCY else TicketPriority.NORMAL


_CATEGORY_LABELS = {
    TicketCategory.REPAIR: "报修",
    TicketCategory.COMPLAINT: "投诉",
    TicketCategory.CONSULTATION: "咨询",
    TicketCategory.EMERGENCY: "紧急求助",
    TicketCategory.SUGGESTION: "建议",
}


class TicketPriority(enum.StrEnum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for the most urgent; inboxes sort ascending."""
        return _PRIORITY_RANK[self]

    @property
    def label(self) -> str:
        return _PRIORITY_LABELS[self]


_PRIORITY_RANK = {
    TicketPriority.URGENT: 0,
    TicketPriority.HIGH: 1,
    TicketPriority.NORMAL: 2,
    TicketPriority.LOW: 3,
}
_PRIORITY_LABELS = {
    TicketPriority.URGENT: "紧急",
    TicketPriority.HIGH: "高",
    TicketPriority.NORMAL: "普通",
    TicketPriority.LOW: "低",
}


class TicketStatus(enum.StrEnum):
    NEW = "new"
    CLAIMED = "claimed"
    IN_PROGRESS = "in_progress"
    WAITING_RESIDENT = "waiting_resident"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]

    @property
    def is_open(self) -> bool:
        """Work remains for a caseworker (not resolved, not closed)."""
        return self not in {TicketStatus.RESOLVED, TicketStatus.CLOSED}


_STATUS_LABELS = {
    TicketStatus.NEW: "待受理",
    TicketStatus.CLAIMED: "已受理",
    TicketStatus.IN_PROGRESS: "处理中",
    TicketStatus.WAITING_RESIDENT: "待居民补充",
    TicketStatus.RESOLVED: "已办结",
    TicketStatus.CLOSED: "已关闭",
    TicketStatus.REOPENED: "重新打开",
}

OPEN_STATUSES: frozenset[TicketStatus] = frozenset(s for s in TicketStatus if s.is_open)

_S = TicketStatus
ALLOWED_TRANSITIONS: Mapping[TicketStatus, frozenset[TicketStatus]] = MappingProxyType(
    {
        _S.NEW: frozenset({_S.CLAIMED, _S.CLOSED}),
        _S.CLAIMED: frozenset({_S.IN_PROGRESS, _S.WAITING_RESIDENT, _S.RESOLVED, _S.CLOSED}),
        _S.IN_PROGRESS: frozenset({_S.WAITING_RESIDENT, _S.RESOLVED, _S.CLOSED}),
        _S.WAITING_RESIDENT: frozenset({_S.IN_PROGRESS, _S.RESOLVED, _S.CLOSED}),
        _S.RESOLVED: frozenset({_S.CLOSED, _S.REOPENED}),
        _S.CLOSED: frozenset({_S.REOPENED}),
        _S.REOPENED: frozenset(
            {_S.CLAIMED, _S.IN_PROGRESS, _S.WAITING_RESIDENT, _S.RESOLVED, _S.CLOSED}
        ),
    }
)
"""Which status may follow which. ``new`` must be claimed (someone owns it) before work starts;
``closed`` from an open status means withdrawn or cancelled; a closed ticket can only be
reopened."""


def check_transition(number: str, current: TicketStatus, target: TicketStatus) -> None:
    """Raise :class:`TransitionNotAllowed` unless ``current → target`` is allowed."""
    if target not in ALLOWED_TRANSITIONS[current]:
        hint = "claim it first" if current is TicketStatus.NEW else ""
        raise TransitionNotAllowed(number, current, target, hint)


class Satisfaction(enum.IntEnum):
    """The resident's answer to the 回访 question after a resolution."""

    SATISFIED = 1
    FAIRLY_SATISFIED = 2
    DISSATISFIED = 3

    @property
    def label(self) -> str:
        return _SATISFACTION_LABELS[self]


_SATISFACTION_LABELS = {
    Satisfaction.SATISFIED: "满意",
    Satisfaction.FAIRLY_SATISFIED: "基本满意",
    Satisfaction.DISSATISFIED: "不满意",
}


class SlaState(enum.StrEnum):
    """``ok``/``due_soon``/``overdue`` for open tickets; ``met``/``breached`` once finished."""

    OK = "ok"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    MET = "met"
    BREACHED = "breached"


class EventKind(enum.StrEnum):
    CREATED = "created"
    CLAIMED = "claimed"
    TRANSFERRED = "transferred"
    STATUS_CHANGED = "status_changed"
    NOTE = "note"
    LINKED = "linked"
    SATISFACTION = "satisfaction"
    REOPENED = "reopened"
    PRIORITY_CHANGED = "priority_changed"
    ATTACHMENT_ADDED = "attachment_added"
    ALERT = "alert"
    """A staff alert step: sent, re-sent, escalated, acknowledged (internal)."""
    LOCATION = "location"
    """The resident told where an urgent ticket's emergency is (after it was opened)."""


class NotificationKind(enum.StrEnum):
    """Why the resident is told something (outbox rows)."""

    CLAIMED = "claimed"
    PROGRESS = "progress"
    WAITING = "waiting"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    CLOSED = "closed"


class ActorKind(enum.StrEnum):
    RESIDENT = "resident"
    CASEWORKER = "caseworker"
    SYSTEM = "system"


# -- people ----------------------------------------------------------------------------------

_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def mask_phone(phone: str | None) -> str:
    """``13800138000`` (also with +86) → ``138****8000``; other numbers keep at most their
    first 3 and last 4 digits; anything shorter than 8 digits is fully hidden. Empty or
    ``None`` → ``""``."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("86") and _MOBILE.match(digits[2:]):
        digits = digits[2:]  # +86 country code
    if _MOBILE.match(digits):
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 8:
        return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
    return "****"


@dataclass(frozen=True, slots=True)
class ResidentId:
    """Who a resident is on one channel: the sender id is unique within channel/account."""

    channel: str
    account: str
    sender_id: str

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.account}:{self.sender_id}"

    @classmethod
    def from_message(cls, msg: IncomingMessage) -> ResidentId:
        return cls(msg.channel, msg.account, msg.sender.id)


@dataclass(frozen=True, slots=True)
class Reporter:
    """The resident who opened a ticket and where to reach them back.

    ``phone`` is stored with the ticket for the caseworker; it never appears in ``repr``,
    logs or event summaries (see :func:`mask_phone`).
    """

    channel: str
    account: str
    chat_id: str
    sender_id: str
    conversation_key: str
    name: str = ""
    chat_type: ChatType = ChatType.PRIVATE
    phone: str | None = field(default=None, repr=False)

    @property
    def resident(self) -> ResidentId:
        return ResidentId(self.channel, self.account, self.sender_id)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @classmethod
    def from_message(cls, msg: IncomingMessage, phone: str | None = None) -> Reporter:
        return cls(
            channel=msg.channel,
            account=msg.account,
            chat_id=msg.chat.id,
            sender_id=msg.sender.id,
            conversation_key=msg.conversation_key,
            name=msg.sender.name,
            chat_type=msg.chat.type,
            phone=phone or None,
        )


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does something to a ticket. A resident actor's ``id`` is ``ResidentId.key``."""

    kind: ActorKind
    id: str
    name: str = ""

    @property
    def display(self) -> str:
        return self.name or self.id

    @classmethod
    def caseworker(cls, user_id: str, name: str = "") -> Actor:
        return cls(ActorKind.CASEWORKER, user_id, name)

    @classmethod
    def resident(cls, reporter: Reporter | ResidentId, name: str = "") -> Actor:
        if isinstance(reporter, Reporter):
            return cls(ActorKind.RESIDENT, reporter.resident.key, name or reporter.name)
        return cls(ActorKind.RESIDENT, reporter.key, name)

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM, "linli", "邻里")


# -- tickets ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketDraft:
    """Everything the dialogue gathered for a new ticket (一次办: what, where, who).

    ``compound`` is a compound id, name or alias of the committee (or None when unknown);
    ``priority`` None means the category's default (emergency → urgent, else normal);
    ``attachments`` are channel media ids.
    """

    committee: str
    category: TicketCategory
    description: str
    reporter: Reporter
    compound: str | None = None
    building: str = ""
    unit: str = ""
    room: str = ""
    priority: TicketPriority | None = None
    attachments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Ticket:
    """One ticket as stored. ``version`` increases with every write (optimistic locking);
    ``links`` are the numbers of the tickets linked to this one (same fault, not merged)."""

    id: int
    number: str
    committee: str
    category: TicketCategory
    priority: TicketPriority
    status: TicketStatus
    description: str
    reporter: Reporter
    compound: str | None
    building: str
    unit: str
    room: str
    assignee: Actor | None
    attachments: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    first_response_due: datetime
    resolution_due: datetime
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    reopened_at: datetime | None = None
    rating_requested_at: datetime | None = None
    """Set when the ticket is resolved: the 回访 question is pending until rated or closed."""
    satisfaction: Satisfaction | None = None
    satisfaction_comment: str = ""
    rated_at: datetime | None = None
    reopen_count: int = 0
    links: tuple[str, ...] = ()
    source_message_key: str | None = None
    version: int = 1

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def rating_pending(self) -> bool:
        return self.status is TicketStatus.RESOLVED and self.rating_requested_at is not None

    @property
    def next_due(self) -> datetime | None:
        """The deadline that matters now: first response until someone responds, then the
        resolution. None once resolved or closed."""
        if not self.is_open:
            return None
        if self.first_response_at is None:
            return min(self.first_response_due, self.resolution_due)
        return self.resolution_due

    @property
    def resolution_clock_from(self) -> datetime:
        """When the current resolution deadline started (the last reopening, else creation)."""
        return self.reopened_at or self.created_at

    def ref(self) -> TicketRef:
        return TicketRef(self.number, self.status.value, self.priority.value)

    def to_dict(self, *, include_phone: bool = False) -> dict[str, Any]:
        """A JSON-safe view for APIs; the phone is masked unless ``include_phone``."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        r = self.reporter
        return {
            "number": self.number,
            "committee": self.committee,
            "category": self.category.value,
            "priority": self.priority.value,
            "status": self.status.value,
            "description": self.description,
            "compound": self.compound,
            "building": self.building,
            "unit": self.unit,
            "room": self.room,
            "reporter": {
                "channel": r.channel,
                "account": r.account,
                "chat_id": r.chat_id,
                "chat_type": r.chat_type.value,
                "sender_id": r.sender_id,
                "name": r.name,
                "conversation_key": r.conversation_key,
                "phone": (r.phone or None) if include_phone else (r.masked_phone or None),
            },
            "assignee": None
            if self.assignee is None
            else {"id": self.assignee.id, "name": self.assignee.name},
            "attachments": list(self.attachments),
            "links": list(self.links),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "first_response_due": iso(self.first_response_due),
            "resolution_due": iso(self.resolution_due),
            "first_response_at": iso(self.first_response_at),
            "resolved_at": iso(self.resolved_at),
            "closed_at": iso(self.closed_at),
            "reopened_at": iso(self.reopened_at),
            "rating_pending": self.rating_pending,
            "satisfaction": None if self.satisfaction is None else int(self.satisfaction),
            "satisfaction_comment": self.satisfaction_comment,
            "rated_at": iso(self.rated_at),
            "reopen_count": self.reopen_count,
        }


@dataclass(frozen=True, slots=True)
class TicketEvent:
    """One entry of a ticket's history. ``public`` events may be shown to the resident;
    ``summary`` is human-readable Chinese with phone numbers masked."""

    id: int
    ticket_number: str
    kind: EventKind
    actor: Actor
    summary: str
    public: bool
    created_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    status_from: TicketStatus | None = None
    status_to: TicketStatus | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    """A message the resident must receive (claim, progress, resolution…), kept in the outbox
    until the channel layer reports it delivered."""

    id: int
    committee: str
    ticket_number: str
    kind: NotificationKind
    text: str
    conversation_key: str
    channel: str
    account: str
    chat_id: str
    chat_type: ChatType
    recipient_id: str
    created_at: datetime
    attempts: int = 0


# -- numbers ---------------------------------------------------------------------------------

_NUMBER_IN_TEXT = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{1,10})\s*-?\s*(\d{8})\s*-?\s*(\d{1,6})(?!\d)"
)


def format_number(prefix: str, day: date, sequence: int) -> str:
    """``format_number("PX", date(2026, 11, 25), 7) == "PX-20261125-0007"``."""
    if sequence < 1:
        raise ValueError("sequence starts at 1")
    return f"{prefix.upper()}-{day:%Y%m%d}-{sequence:04d}"


def find_number(text: str) -> str | None:
    """The first ticket number in a resident's text, canonicalised (``px20261125-7`` →
    ``PX-20261125-0007``), or None."""
    m = _NUMBER_IN_TEXT.search(text)
    if m is None:
        return None
    try:
        day = datetime.strptime(m[2], "%Y%m%d").replace(tzinfo=UTC).date()
    except ValueError:
        return None
    sequence = int(m[3])
    return format_number(m[1], day, sequence) if sequence >= 1 else None
