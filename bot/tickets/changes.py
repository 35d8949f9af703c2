"""How a ticket changes, shared by intake, workflow and satisfaction.

Contracts every writing part keeps through :class:`TicketChanges`:

* **Committee isolation.** A ticket of another committee raises :class:`TicketNotFound`,
  exactly like a number that does not exist. A resident actor may only touch their own
  tickets (same channel, account and sender id); anything else is likewise "not found".
* **Atomic history.** Each operation writes the ticket, its events and the resident's
  notifications in one transaction; when a method returns, all of it is committed.
* **Concurrency.** Concurrent updates of one ticket are serialised (row lock on PostgreSQL,
  optimistic version check and retry everywhere).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from bot.domain.errors import RegistryError
from bot.domain.registry import Committee, Registry
from bot.domain.tickets import (
    ActionNotAllowed,
    Actor,
    ActorKind,
    EventKind,
    InvalidTicket,
    Ticket,
    TicketNotFound,
    TicketStatus,
    check_transition,
)
from bot.storage.tickets import NewEvent, NewNotification, TicketConflict, TicketStore, TicketUnit
from bot.tickets import texts
from bot.tickets.similarity import building_key
from bot.tickets.sla import SlaPolicy

MAX_NOTE = 4000
_UPDATE_ATTEMPTS = 8

Clock = Callable[[], datetime]
"""Returns the current time as an aware datetime."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def checked_now(clock: Clock) -> datetime:
    """``clock()`` in UTC; a naive datetime is a programming error."""
    now = clock()
    if now.tzinfo is None:
        raise ValueError("the clock must return aware datetimes")
    return now.astimezone(UTC)


@dataclass(slots=True)
class Change:
    """What an operation does to one ticket: the new state, history, messages for the
    resident. No events means nothing happened (nothing is written)."""

    ticket: Ticket
    events: list[NewEvent] = field(default_factory=list)
    notifications: list[NewNotification] = field(default_factory=list)


Operation = Callable[[Ticket, datetime], Change]
"""Computes the change of the current ticket at a time; raises to refuse it."""


class TicketChanges:
    """Applies an :data:`Operation` to one ticket in one transaction."""

    def __init__(self, store: TicketStore, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    def now(self) -> datetime:
        return checked_now(self._clock)

    async def apply(
        self,
        committee: str,
        number: str,
        actor: Actor,
        op: Operation,
        now: datetime | None = None,
    ) -> tuple[Ticket, bool]:
        """Apply ``op`` to the current ticket in one transaction, retrying on a concurrent
        update. Returns the ticket after the change and whether anything was written."""
        for attempt in range(_UPDATE_ATTEMPTS):
            try:
                async with self._store.unit() as unit:
                    current = await unit.lock(committee, number)
                    if current is None or not may_see(actor, current):
                        raise TicketNotFound(f"no ticket {number}")
                    at = now or self.now()
                    change = op(current, at)
                    if not change.events:
                        return current, False
                    moved = change.ticket.building != current.building
                    after = await unit.update(
                        current,
                        replace(change.ticket, updated_at=at),
                        building_key=building_key(change.ticket.building) if moved else None,
                    )
                    for event in change.events:
                        await unit.add_event(after, event)
                    for notification in change.notifications:
                        await unit.enqueue(after, notification)
                    return after, True
            except TicketConflict:
                if attempt == _UPDATE_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise AssertionError("unreachable")


def reopened(t: Ticket, actor: Actor, reason: str, now: datetime, sla: SlaPolicy) -> Change:
    """``t`` reopened (by a caseworker, or by the resident's 不满意): the resolution deadline
    restarts now, the assignee is kept."""
    check_transition(t.number, t.status, TicketStatus.REOPENED)
    after = replace(
        t,
        status=TicketStatus.REOPENED,
        reopened_at=now,
        reopen_count=t.reopen_count + 1,
        resolved_at=None,
        closed_at=None,
        rating_requested_at=None,
        resolution_due=sla.resolution_due(t.category, now),
    )
    return Change(
        after,
        [
            NewEvent(
                EventKind.REOPENED,
                actor,
                texts.reopened_summary(actor, reason),
                now,
                public=True,
                data={"reason": reason},
                status_from=t.status,
                status_to=TicketStatus.REOPENED,
            )
        ],
    )


async def add_link_events(
    unit: TicketUnit,
    a: Ticket,
    b: Ticket,
    reason: str,
    now: datetime,
    *,
    actor: Actor | None = None,
) -> None:
    """The ``linked`` event on both tickets of a new link (the system's unless a caseworker
    linked them)."""
    who = actor or Actor.system()
    for this, other in ((a, b), (b, a)):
        await unit.add_event(
            this,
            NewEvent(
                EventKind.LINKED,
                who,
                texts.linked_summary(other, reason),
                now,
                data={"other": other.number, "reason": reason},
            ),
        )


def committee_of(registry: Registry, committee_id: str) -> Committee:
    try:
        return registry.committee(committee_id)
    except RegistryError as exc:
        raise InvalidTicket(f"unknown committee {committee_id!r}") from exc


def may_see(actor: Actor, ticket: Ticket) -> bool:
    """Caseworkers and the system see every ticket of the committee; a resident only theirs."""
    return actor.kind is not ActorKind.RESIDENT or actor.id == ticket.reporter.resident.key


def require_staff(actor: Actor, what: str, *, system: bool = True) -> None:
    allowed = {ActorKind.CASEWORKER, ActorKind.SYSTEM} if system else {ActorKind.CASEWORKER}
    if actor.kind not in allowed:
        raise ActionNotAllowed(f"only a caseworker can {what} a ticket")


def note_text(text: str, *, required: bool) -> str:
    """A note, comment or reason trimmed; raises InvalidTicket when empty (if required) or
    too long."""
    text = (text or "").strip()
    if required and not text:
        raise InvalidTicket("the note is empty")
    if len(text) > MAX_NOTE:
        raise InvalidTicket(f"the note is longer than {MAX_NOTE} characters")
    return text
