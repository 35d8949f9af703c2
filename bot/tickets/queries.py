"""Read models of tickets: one ticket and its history, a resident's or a conversation's
tickets, the caseworkers' inbox, SLA states and the dashboard. Every read is scoped to the
acting committee; a ticket of another committee is "not found"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.domain.clock import day_bounds
from bot.domain.tickets import (
    OPEN_STATUSES,
    EventKind,
    InvalidTicket,
    ResidentId,
    SlaState,
    Ticket,
    TicketEvent,
    TicketNotFound,
    TicketStatus,
)
from bot.storage.tickets import TicketQuery, TicketStore
from bot.tickets import dashboard as dashboard_mod
from bot.tickets.changes import Clock, checked_now, utc_now
from bot.tickets.dashboard import Dashboard
from bot.tickets.sla import SlaPolicy

_NOT_CLOSED = frozenset(s for s in TicketStatus if s is not TicketStatus.CLOSED)


@dataclass(frozen=True, slots=True)
class InboxItem:
    ticket: Ticket
    sla: SlaState
    due: datetime | None
    """The deadline that matters now (first response, then resolution)."""


class TicketQueries:
    def __init__(self, store: TicketStore, sla: SlaPolicy, *, clock: Clock = utc_now) -> None:
        self._store = store
        self._sla = sla
        self._clock = clock

    async def get(self, committee: str, number: str) -> Ticket:
        ticket = await self._store.get(committee, number)
        if ticket is None:
            raise TicketNotFound(f"no ticket {number}")
        return ticket

    async def by_source_key(self, committee: str, source_key: str) -> Ticket | None:
        """The committee's ticket opened from this inbound message, if any."""
        ticket = await self._store.by_source_key(source_key)
        return ticket if ticket is not None and ticket.committee == committee else None

    async def history(
        self, committee: str, number: str, *, public_only: bool = False
    ) -> list[TicketEvent]:
        """Who did what, when, oldest first; ``public_only`` drops internal notes and other
        events the resident should not see."""
        await self.get(committee, number)
        return await self._store.history(committee, number, public_only=public_only)

    async def for_resident(
        self,
        committee: str,
        resident: ResidentId,
        *,
        include_closed: bool = False,
        limit: int = 20,
    ) -> list[Ticket]:
        """A resident's tickets on one channel identity, newest first ("我报的修怎么样了").
        Without ``include_closed`` resolved tickets awaiting a rating are included, closed
        ones are not."""
        return await self._store.search(
            TicketQuery(
                committee=committee,
                statuses=None if include_closed else _NOT_CLOSED,
                channel=resident.channel,
                account=resident.account,
                sender_id=resident.sender_id,
                limit=limit,
            )
        )

    async def for_conversation(
        self,
        committee: str,
        conversation_key: str,
        *,
        include_closed: bool = False,
        limit: int = 20,
    ) -> list[Ticket]:
        """Tickets opened from one conversation, newest first (same filter as above)."""
        return await self._store.search(
            TicketQuery(
                committee=committee,
                statuses=None if include_closed else _NOT_CLOSED,
                conversation_key=conversation_key,
                limit=limit,
            )
        )

    async def inbox(
        self,
        committee: str,
        *,
        assignee_id: str | None = None,
        limit: int | None = 200,
        now: datetime | None = None,
    ) -> list[InboxItem]:
        """Open tickets (new, claimed, in progress, waiting for the resident, reopened) of a
        committee, most urgent first, then by the deadline that matters now."""
        now = now or checked_now(self._clock)
        tickets = await self._store.search(
            TicketQuery(
                committee=committee,
                statuses=OPEN_STATUSES,
                assignee_id=assignee_id,
                order="inbox",
                limit=limit,
            )
        )
        return [InboxItem(t, self._sla.state(t, now), t.next_due) for t in tickets]

    def sla_state(self, ticket: Ticket, now: datetime | None = None) -> SlaState:
        return self._sla.state(ticket, now or checked_now(self._clock))

    async def dashboard(
        self, committee: str, start: date, end: date, *, now: datetime | None = None
    ) -> Dashboard:
        """Figures for the local days ``start``..``end`` (inclusive); see
        :mod:`bot.tickets.dashboard`."""
        if end < start:
            raise InvalidTicket("dashboard: end is before start")
        now = now or checked_now(self._clock)
        lo, hi = day_bounds(start, end)
        opened = await self._store.search(
            TicketQuery(committee=committee, created_from=lo, created_before=hi, limit=None)
        )
        events = await self._store.events_between(
            committee, frozenset({EventKind.STATUS_CHANGED, EventKind.SATISFACTION}), lo, hi
        )
        open_now = await self._store.search(
            TicketQuery(committee=committee, statuses=OPEN_STATUSES, limit=None)
        )
        return dashboard_mod.build(
            committee,
            start,
            end,
            opened=opened,
            resolutions=[e for e in events if e.status_to is TicketStatus.RESOLVED],
            ratings=[e for e in events if e.kind is EventKind.SATISFACTION],
            open_now=open_now,
            sla=self._sla,
            now=now,
        )
