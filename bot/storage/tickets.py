"""The ticket store: tickets, their history, links, the per-day number counter and the
notification outbox.

Writes go through a :class:`TicketUnit` (one database transaction): whatever a service
operation writes inside ``async with store.unit() as unit`` is committed together or not at
all. Reads outside a unit see committed data only.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from bot.domain.tickets import (
    Actor,
    EventKind,
    Notification,
    NotificationKind,
    ResidentId,
    Ticket,
    TicketCategory,
    TicketError,
    TicketEvent,
    TicketStatus,
)


class TicketConflict(TicketError):
    """The ticket changed since it was read (optimistic lock); the operation may be retried."""


class DuplicateTicket(TicketError):
    """An insert hit a unique key (source message key or number); nothing was written."""


@dataclass(frozen=True, slots=True)
class NewEvent:
    kind: EventKind
    actor: Actor
    summary: str
    created_at: datetime
    public: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)
    status_from: TicketStatus | None = None
    status_to: TicketStatus | None = None


@dataclass(frozen=True, slots=True)
class NewNotification:
    """An outbox row for the ticket's reporter (the unit fills in where to deliver it)."""

    kind: NotificationKind
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TicketQuery:
    """A filtered list of one committee's tickets. Unset filters match everything.

    ``order``: ``created`` (newest first) or ``inbox`` (priority rank, then the next due
    time — first response until responded, then resolution — then oldest first).
    """

    committee: str
    statuses: frozenset[TicketStatus] | None = None
    category: TicketCategory | None = None
    compound: str | None = None
    building_key: str | None = None
    assignee_id: str | None = None
    channel: str | None = None
    account: str | None = None
    sender_id: str | None = None
    conversation_key: str | None = None
    created_from: datetime | None = None
    """Inclusive."""
    created_before: datetime | None = None
    """Exclusive."""
    order: Literal["created", "inbox"] = "created"
    limit: int | None = 100


class TicketUnit(abc.ABC):
    """Writes of one transaction."""

    @abc.abstractmethod
    async def next_sequence(self, committee: str, day: str) -> int:
        """Atomically increment and return the committee's counter for ``day`` (YYYYMMDD);
        the first call of a day returns 1. Concurrent units get distinct values."""

    @abc.abstractmethod
    async def assign_number(
        self, ticket: Ticket, prefix: str, day: date, *, provisional: str, other: Ticket | None
    ) -> str:
        """Give ``ticket`` (inserted in this unit under the placeholder ``provisional``) the
        committee's next number of ``day`` (``format_number(prefix, day, next_sequence)``),
        also where this unit's events of ``ticket`` and ``other`` name the placeholder;
        returns the number. Meant as a creating unit's last write: the day counter, which
        serialises every creation of the committee, is then held only until the commit."""

    @abc.abstractmethod
    async def find_by_source_key(self, source_key: str) -> Ticket | None:
        """The ticket created from this message key, if any."""

    @abc.abstractmethod
    async def insert(self, ticket: Ticket, *, building_key: str) -> Ticket:
        """Store a new ticket (``id`` and ``version`` of the argument are ignored) and return
        it with its id. Raises :class:`DuplicateTicket` on a taken number or source key."""

    @abc.abstractmethod
    async def lock(self, committee: str, number: str) -> Ticket | None:
        """Read a ticket of ``committee`` for update (row lock where the database has one)."""

    @abc.abstractmethod
    async def update(
        self, before: Ticket, after: Ticket, *, building_key: str | None = None
    ) -> Ticket:
        """Write the mutable fields of ``after`` if the row still has ``before.version``;
        returns ``after`` with the next version. Raises :class:`TicketConflict` otherwise.
        ``building_key``: the new comparable building key when the building changed."""

    @abc.abstractmethod
    async def add_event(self, ticket: Ticket, event: NewEvent) -> None:
        """Append to the ticket's history."""

    @abc.abstractmethod
    async def add_link(self, a: Ticket, b: Ticket, created_at: datetime) -> bool:
        """Link two tickets both ways; False (and no change) if they were linked already."""

    @abc.abstractmethod
    async def enqueue(self, ticket: Ticket, notification: NewNotification) -> None:
        """Put a message to the ticket's reporter in the outbox."""


class TicketStore(abc.ABC):
    @abc.abstractmethod
    def unit(self) -> AbstractAsyncContextManager[TicketUnit]:
        """One transaction: committed when the block exits normally, rolled back otherwise.
        Raises ``StoreUnavailable`` when the database cannot be reached."""

    @abc.abstractmethod
    async def get(self, committee: str, number: str) -> Ticket | None:
        """A ticket by number, only if it belongs to ``committee``."""

    @abc.abstractmethod
    async def by_source_key(self, source_key: str) -> Ticket | None:
        """The ticket created from a message (idempotent creation)."""

    async def may_await_rating(self, committee: str, resident: ResidentId) -> bool:
        """False only when no resolved ticket of ``resident`` awaits a satisfaction score
        (a quick check before reading their tickets; True: look)."""
        return True

    @abc.abstractmethod
    async def search(self, query: TicketQuery) -> list[Ticket]:
        """Tickets matching ``query`` in its order."""

    @abc.abstractmethod
    async def history(
        self, committee: str, number: str, *, public_only: bool = False
    ) -> list[TicketEvent]:
        """A ticket's events, oldest first (empty for another committee's ticket)."""

    @abc.abstractmethod
    async def events_between(
        self, committee: str, kinds: frozenset[EventKind], start: datetime, end: datetime
    ) -> list[TicketEvent]:
        """A committee's events of ``kinds`` with ``start <= created_at < end``, oldest first."""

    @abc.abstractmethod
    async def awaiting_rating(
        self, requested_before: datetime, committee: str | None = None, limit: int = 500
    ) -> list[Ticket]:
        """Resolved tickets whose satisfaction question was asked before ``requested_before``
        and not answered, oldest first; every committee when ``committee`` is None."""

    @abc.abstractmethod
    async def lease_notifications(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[Notification]:
        """Up to ``limit`` undelivered outbox rows not leased at ``now``, oldest first; they are
        leased until ``lease_until`` so that concurrent drainers do not send them twice."""

    @abc.abstractmethod
    async def mark_delivered(self, notification_id: int, at: datetime) -> bool:
        """Record delivery; False if unknown or already delivered."""

    @abc.abstractmethod
    async def mark_failed(
        self, notification_id: int, error: str, retry_at: datetime | None, at: datetime
    ) -> bool:
        """Record a failed attempt: retried after ``retry_at``, or given up when None.
        False if unknown or already delivered."""
