"""The admin API's request and response bodies, as pydantic models.

Handlers validate what comes in with the ``*In`` models (``bot.api.common.body``) and write
what goes out through the response models (``bot.api.common.ok``), and ``bot.api.openapi``
generates the document from the same classes: a field added here is validated, serialised
and documented at once. Response models forbid unknown keys, so a view that grows a field
the model does not know fails loudly instead of leaving the document behind.

Timestamps are written as ``datetime.isoformat()`` (``+00:00``, not ``Z``) and days as
``YYYY-MM-DD``, as the API always has."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from bot.api.common import MAX_COMMITTEE_CHARS, NO_NUL
from bot.domain.accounts import MAX_PASSWORD_LEN, MIN_PASSWORD_LEN, Role
from bot.domain.tickets import (
    ActorKind,
    EventKind,
    SlaState,
    TicketCategory,
    TicketPriority,
    TicketStatus,
)
from bot.faqs.validation import (
    MAX_ANSWER,
    MAX_ITEM,
    MAX_ITEMS,
    MAX_QUESTION,
    MAX_SOURCE,
    MAX_TOPIC,
)
from bot.storage.alerts import AlertStatus
from bot.storage.conversations import Mode


def _iso(value: datetime) -> str:
    return value.isoformat()


Timestamp = Annotated[
    datetime,
    PlainSerializer(_iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Count = Annotated[int, Field(ge=0)]
Rate = float | None
Strings = list[str]


class Out(BaseModel):
    """A response body: every key listed, none unknown."""

    model_config = ConfigDict(extra="forbid")


# --- requests ----------------------------------------------------------------------------------
Item = Annotated[str, Field(min_length=1, max_length=MAX_ITEM, pattern=NO_NUL)]


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)


class TransferIn(BaseModel):
    """To whom: the user id of an active caseworker or admin of the ticket's committee. The
    name recorded is that account's; ``to_name`` (accepted before) is still accepted for
    existing clients but never believed."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    to_id: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    to_name: str = Field(
        default="",
        max_length=128,
        pattern=NO_NUL,
        description="Deprecated and ignored: the recorded name is the account's.",
    )
    note: str = Field(default="", max_length=2000, pattern=NO_NUL)


class StatusIn(BaseModel):
    status: Literal["in_progress", "waiting_resident", "resolved", "closed", "reopened"]
    note: str = Field(default="", max_length=2000, pattern=NO_NUL)


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)
    public: bool = False


class ResolveIn(BaseModel):
    summary: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)


class VariantIn(BaseModel):
    """One compound's own answer and materials."""

    model_config = ConfigDict(extra="forbid")
    answer: str = Field(min_length=1, max_length=MAX_ANSWER, pattern=NO_NUL)
    materials: list[Item] = Field(default_factory=list, max_length=MAX_ITEMS)


class FaqIn(BaseModel):
    """An entry's content (the id is in the path, or generated when creating without one).
    Compounds may be named by id, name or alias; they are stored by id."""

    model_config = ConfigDict(extra="forbid")
    topic: str = Field(default="", max_length=MAX_TOPIC, pattern=NO_NUL)
    question: str = Field(min_length=1, max_length=MAX_QUESTION, pattern=NO_NUL)
    alternates: list[Item] = Field(default_factory=list, max_length=MAX_ITEMS)
    answer: str = Field(min_length=1, max_length=MAX_ANSWER, pattern=NO_NUL)
    materials: list[Item] = Field(default_factory=list, max_length=MAX_ITEMS)
    tags: list[Item] = Field(default_factory=list, max_length=MAX_ITEMS)
    compounds: list[Item] = Field(default_factory=list, max_length=MAX_ITEMS)
    variants: dict[str, VariantIn] = Field(default_factory=dict)
    valid_from: date | None = None
    valid_until: date | None = None
    source: str = Field(default="", max_length=MAX_SOURCE, pattern=NO_NUL)


class FaqCreateIn(FaqIn):
    id: str = Field(
        default="",
        max_length=80,
        pattern=r"^([A-Za-z0-9][A-Za-z0-9._-]{0,79})?$",
        description="Empty: generated from the topic.",
    )


class RevertIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    revision: int = Field(ge=1, le=2**62, description="Restore the entry to its state after it.")


class ProposalDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["accept", "dismiss"] = Field(
        description="accept: add the phrasing to the entry's alternates (a normal revision); "
        "dismiss: drop it."
    )


class UserIn(BaseModel):
    """A new console/API user. Admins create caseworkers and admins of their own committee
    (``committee`` may be left out); street admins create any user."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=64, pattern=r"^[\w.@-]{2,64}$")
    display_name: str = Field(default="", max_length=100, pattern=NO_NUL)
    role: Literal["caseworker", "admin", "street_admin"] = "caseworker"
    committee: str | None = Field(default=None, max_length=64, pattern=NO_NUL)
    password: str = Field(min_length=MIN_PASSWORD_LEN, max_length=MAX_PASSWORD_LEN, pattern=NO_NUL)


class DismissIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message_ids: list[int] = Field(min_length=1, max_length=10_000)


# --- query strings -----------------------------------------------------------------------------
class Scope(BaseModel):
    """The query every committee-scoped route takes (``bot.api.common.acting``)."""

    committee: str = Field(
        default="",
        max_length=MAX_COMMITTEE_CHARS,
        description="Street admins only: the committee to act in (others act in their own).",
    )


class ConversationQuery(BaseModel):
    mode: Mode | None = None


class FaqQuery(BaseModel):
    q: str = Field(default="", description="Text in the id, question, alternates or answers.")
    topic: str = Field(default="", description="Only this topic.")
    compound: str = Field(
        default="",
        description="Only entries this compound's residents get (general or own answer).",
    )
    state: Literal["all", "active", "expired", "upcoming"] = Field(
        default="all",
        description="Validity today: active, expired (valid_until passed) or upcoming.",
    )


class StatsQuery(BaseModel):
    start: date | None = Field(
        default=None, description="First local day (default: 29 days before end)."
    )
    end: date | None = Field(
        default=None, description="Last local day, inclusive (default: today)."
    )


class AlertQuery(BaseModel):
    status: AlertStatus | None = Field(default=None, description="Only alerts with this status.")


# --- errors ------------------------------------------------------------------------------------
class ErrorDetail(Out):
    code: str
    message: str


class Error(Out):
    """Every admin API error. `message` is Chinese, for people."""

    error: ErrorDetail


# --- conversations -----------------------------------------------------------------------------
class Person(Out):
    id: str
    name: str


class ConversationChat(Out):
    id: str
    type: Literal["group", "private"]


class Conversation(Out):
    key: str
    committee: str
    channel: str
    chat: ConversationChat
    resident: Person
    compound: str | None
    mode: Mode
    handoff_reason: str
    handoff_at: Timestamp | None
    assignee: Person | None
    ticket: str | None
    last_message_at: Timestamp | None


class ConversationList(Out):
    conversations: list[Conversation]


class LoggedMessage(Out):
    id: int
    direction: Literal["in", "out", "staff"]
    sender: str
    text: str
    kind: str
    delivery: str
    """Outbound messages: passive, active (sent), pull, failed, undeliverable, sending (a
    caseworker's retry under way), pending (a late reply being sent)."""
    error_code: int | None = None
    """A failed send: the platform's error code."""
    error: str = ""
    """A failed send: what went wrong."""
    at: Timestamp


class ConversationDetail(Conversation):
    messages: list[LoggedMessage]


class Delivery(Out):
    """How the reply went out: active (sent), failed (with the platform's error), pull or
    undeliverable."""

    delivery: str
    error_code: int | None = None
    error: str = ""


# --- tickets -----------------------------------------------------------------------------------
class Reporter(Out):
    channel: str
    account: str
    chat_id: str
    chat_type: Literal["group", "private"]
    sender_id: str
    name: str
    conversation_key: str
    phone: str | None = Field(description="Masked (138****8000) except in GET /tickets/{number}.")


class Ticket(Out):
    number: str
    committee: str
    category: TicketCategory
    priority: TicketPriority
    status: TicketStatus
    description: str
    compound: str | None
    building: str
    unit: str
    room: str
    reporter: Reporter
    assignee: Person | None
    attachments: Strings
    links: Strings
    created_at: Timestamp
    updated_at: Timestamp
    first_response_due: Timestamp
    resolution_due: Timestamp
    first_response_at: Timestamp | None
    resolved_at: Timestamp | None
    closed_at: Timestamp | None
    reopened_at: Timestamp | None
    rating_pending: bool
    satisfaction: Literal[1, 2, 3] | None
    satisfaction_comment: str
    rated_at: Timestamp | None
    reopen_count: Count


class InboxItem(Ticket):
    sla: SlaState
    due: Timestamp | None


class Inbox(Out):
    tickets: list[InboxItem]


class EventActor(Out):
    kind: ActorKind
    id: str
    name: str


class TicketEvent(Out):
    id: int
    kind: EventKind
    actor: EventActor
    summary: str
    public: bool
    at: Timestamp


class TicketDetail(Ticket):
    sla: SlaState
    events: list[TicketEvent]


# --- the caller ----------------------------------------------------------------------------------
class MeUser(Out):
    id: int
    name: str
    display_name: str
    role: Role
    committee: str | None


class Me(Out):
    user: MeUser
    auth: Literal["token", "session"]


# --- FAQ ---------------------------------------------------------------------------------------
class FaqVariant(Out):
    answer: str
    materials: Strings


class Faq(Out):
    id: str
    topic: str
    question: str
    alternates: Strings
    answer: str
    materials: Strings
    tags: Strings
    compounds: Strings = Field(description="Compound ids; empty: every compound.")
    variants: dict[str, FaqVariant] = Field(
        description="A compound id → that compound's own answer and materials."
    )
    valid_from: date | None
    valid_until: date | None
    source: str
    updated: date | None
    state: Literal["active", "expired", "upcoming"]


class FaqList(Out):
    faqs: list[Faq]
    count: Count


class FieldChange(Out):
    field: str
    before: str
    after: str


class FaqRevision(Out):
    id: int
    action: Literal["create", "update", "delete", "revert"]
    actor: str
    at: Timestamp
    before: dict[str, Any] | None = Field(description="The entry before (null: it did not exist).")
    after: dict[str, Any] | None = Field(description="The entry after (null: it was retired).")
    changes: list[FieldChange]


class FaqHistory(Out):
    revisions: list[FaqRevision]


class FaqProposal(Out):
    id: int
    text: str = Field(description="A resident's phrasing.")
    count: int = Field(ge=1)
    source: Literal["choice", "caseworker"]
    first_at: Timestamp
    last_at: Timestamp


class FaqProposals(Out):
    proposals: list[FaqProposal]


class FaqDeleted(Out):
    id: str
    deleted: Literal[True]
    revision: int


# --- insights and the registry -----------------------------------------------------------------
class MessageTotals(Out):
    received: Count = Field(description="Resident messages received (events excluded).")
    to_bot: Count = Field(description="Messages the bot had to answer.")
    answered: Count = Field(description="Answered by the bot itself.")
    handed_over: Count = Field(description="Handed to a caseworker (handoff, emergency).")
    unanswered: Count = Field(description="No answer, did-you-mean, unreadable media.")
    human: Count = Field(description="Reached a caseworker who had the conversation.")
    answered_rate: Rate = Field(description="answered / to_bot (null: no message).")
    handoff_rate: Rate = Field(description="handed_over / to_bot (null: no message).")


class MessageDay(MessageTotals):
    day: date


class MessageFigures(Out):
    days: list[MessageDay]
    total: MessageTotals
    by_outcome: dict[str, Count] = Field(
        description="Messages per outcome (faq, clarify, fallback, handoff, …)."
    )


class TicketDay(Out):
    day: date
    opened: Count
    resolved: Count


class Ratio(Out):
    good: Count
    total: Count
    rate: Rate


class SlaFigures(Out):
    first_response: Ratio
    resolution: Ratio


class Satisfaction(Ratio):
    ratings: dict[str, Count] = Field(
        description="Ratings per score: 1 满意, 2 基本满意, 3 不满意."
    )


class TicketFigures(Out):
    days: list[TicketDay]
    opened: Count
    resolved: Count
    sla: SlaFigures
    satisfaction: Satisfaction
    open_by_status: dict[str, Count]
    open_by_sla: dict[str, Count]


class Figures(Out):
    committee: str = Field(description="A committee id, or `all` for the street.")
    start: date
    end: date
    messages: MessageFigures
    tickets: TicketFigures


class Stats(Figures):
    scope: Literal["committee", "street"]
    committees: list[Figures] = Field(description="Street scope: each committee (else empty).")


class ClusterMessage(Out):
    id: int
    text: str
    conversation_key: str
    outcome: Literal["fallback", "clarify"]
    at: Timestamp


class UnansweredCluster(Out):
    representative: str
    size: Count
    first_seen: Timestamp
    last_seen: Timestamp
    alternates: Strings
    message_ids: list[int]
    messages: list[ClusterMessage]


class Unanswered(Out):
    committee: str
    clusters: list[UnansweredCluster]


class Dismissed(Out):
    dismissed: Count


class Compound(Out):
    committee: str
    id: str
    name: str
    aliases: Strings
    kind: str
    note: str
    buildings: Strings
    group_chats: Strings


class CompoundList(Out):
    compounds: list[Compound]


class GroupChat(Out):
    chat_id: str
    committee: str
    compound: str
    compound_name: str


class GroupChatList(Out):
    group_chats: list[GroupChat]


class User(Out):
    id: int
    name: str
    display_name: str
    role: Role
    committee: str | None
    disabled: bool
    created_at: Timestamp
    last_login_at: Timestamp | None


class UserList(Out):
    users: list[User]


# --- staff alerts ------------------------------------------------------------------------------
class AlertStep(Out):
    at: str
    step: str
    summary: str


class Alert(Out):
    id: int
    committee: str
    kind: str = Field(description="crisis, emergency, handoff…")
    category: str
    text: str = Field(description="What the staff group was told (masked).")
    conversation_key: str | None
    ticket_number: str | None
    status: AlertStatus
    level: Count = Field(description="0 on duty, 1 next on the rota, 2 street office.")
    recipients: Strings
    attempts: Count
    next_attempt_at: Timestamp | None
    escalate_at: Timestamp | None
    acknowledged_by: Person | None
    acknowledged_at: Timestamp | None
    created_at: Timestamp
    steps: list[AlertStep]


class AlertAck(Alert):
    acknowledged_now: bool


class AlertList(Out):
    alerts: list[Alert]


REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    ReplyIn,
    TransferIn,
    StatusIn,
    NoteIn,
    ResolveIn,
    FaqCreateIn,
    FaqIn,
    RevertIn,
    ProposalDecisionIn,
    UserIn,
    DismissIn,
)
"""The admin API's request bodies (the webhook's ``MessageIn`` is the channel's)."""
