"""The ticket service: everything the dialogue and the caseworker console do with tickets.

Contracts:

* **Committee isolation.** Every method takes the acting committee; a ticket of another
  committee raises :class:`TicketNotFound`, exactly like a number that does not exist. A
  resident actor may only touch their own tickets (same channel, account and sender id);
  anything else is likewise "not found".
* **全岗通.** Any caseworker of the committee may claim, transfer or work any of its tickets.
* **Atomic history.** Each operation writes the ticket, its events and the resident's
  notifications in one transaction; when a method returns, all of it is committed. ``create``
  returns only after the ticket and its ``created`` event are committed.
* **Idempotent creation.** ``create(…, source_message_key=k)`` with a key already used
  returns the ticket created the first time (``created=False``) and writes nothing.
* **Concurrency.** Concurrent creates get distinct numbers; concurrent updates of one ticket are
  serialised (row lock on PostgreSQL, optimistic version check and retry everywhere).
* **Notifications** for the resident (claim, public progress notes, requests for information,
  resolution with the satisfaction question, cancellation, reopening by a caseworker) go to an
  outbox that the app drains with :meth:`pending_notifications` / :meth:`mark_delivered`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from bot.domain.clock import day_bounds, local_day
from bot.domain.errors import RegistryError
from bot.domain.registry import Committee, Registry
from bot.domain.tickets import (
    OPEN_STATUSES,
    ActionNotAllowed,
    Actor,
    ActorKind,
    EventKind,
    InvalidTicket,
    Notification,
    NotificationKind,
    RatingNotPending,
    Reporter,
    ResidentId,
    Satisfaction,
    SlaState,
    Ticket,
    TicketDraft,
    TicketEvent,
    TicketNotFound,
    TicketPriority,
    TicketStatus,
    check_transition,
    format_number,
)
from bot.storage.tickets import (
    DuplicateTicket,
    NewEvent,
    NewNotification,
    TicketConflict,
    TicketQuery,
    TicketStore,
    TicketUnit,
)
from bot.tickets import dashboard as dashboard_mod
from bot.tickets import texts
from bot.tickets.dashboard import Dashboard
from bot.tickets.similarity import SimilarTicket, building_key, fault_concepts
from bot.tickets.sla import SlaPolicy

log = logging.getLogger(__name__)

MAX_DESCRIPTION = 4000
MAX_NOTE = 4000
MAX_PLACE_PART = 40
MAX_SOURCE_KEY = 300
_UPDATE_ATTEMPTS = 8
_OUTBOX_MAX_ATTEMPTS = 8
_OUTBOX_MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class CreateResult:
    ticket: Ticket
    created: bool
    """False when ``source_message_key`` had been used: ``ticket`` is the first one."""
    linked_to: str | None = None
    """The earlier ticket this one was linked to as the same fault (this call only)."""


@dataclass(frozen=True, slots=True)
class RateResult:
    ticket: Ticket
    reopened: bool
    alert: Actor | None
    """Who must be alerted: the assignee of a ticket reopened by 不满意 (else None)."""
    reply: str
    """What to tell the resident now, in Chinese."""


@dataclass(frozen=True, slots=True)
class InboxItem:
    ticket: Ticket
    sla: SlaState
    due: datetime | None
    """The deadline that matters now (first response, then resolution)."""


@dataclass(slots=True)
class _Change:
    """What an operation does to one ticket: the new state, history, messages for the
    resident. No events means nothing happened (nothing is written)."""

    ticket: Ticket
    events: list[NewEvent] = field(default_factory=list)
    notifications: list[NewNotification] = field(default_factory=list)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StaffDirectory(Protocol):
    """Who may be given a committee's tickets (the account service implements it)."""

    async def assignee(self, committee: str, staff_id: str) -> Actor | None:
        """The caseworker actor (with the account's own name) for ``staff_id`` if that user
        is an active caseworker or admin of ``committee``, else None."""
        ...


class InvalidAssignee(InvalidTicket):
    """A transfer to someone who is not an active caseworker or admin of the committee."""


class TicketService:
    def __init__(
        self,
        store: TicketStore,
        registry: Registry,
        *,
        sla: SlaPolicy | None = None,
        clock: Callable[[], datetime] = _utcnow,
        duplicate_window: timedelta = timedelta(hours=24),
        rating_timeout: timedelta = timedelta(days=3),
        staff: StaffDirectory | None = None,
    ) -> None:
        """``staff`` checks transfers (the composition root passes the account service);
        without it the caller's actor is trusted as given (tests of the workflow alone)."""
        self._store = store
        self._registry = registry
        self._staff = staff
        self.sla = sla or SlaPolicy()
        self._clock = clock
        self.duplicate_window = duplicate_window
        self.rating_timeout = rating_timeout

    # -- creation --------------------------------------------------------------------------

    async def create(
        self,
        draft: TicketDraft,
        *,
        source_message_key: str | None = None,
        actor: Actor | None = None,
    ) -> CreateResult:
        """Open a ticket (status ``new``) with its ``created`` event, committed before this
        returns. Links it to the earliest open ticket that :meth:`find_similar` finds.
        ``actor`` defaults to the reporting resident (a caseworker may enter a phoned-in
        report). Raises :class:`InvalidTicket` for a bad draft."""
        committee = self._committee(draft.committee)
        draft = _validated(draft, committee)
        key = (source_message_key or "").strip() or None
        if key is not None and len(key) > MAX_SOURCE_KEY:
            raise InvalidTicket(f"source_message_key longer than {MAX_SOURCE_KEY}")
        if key is not None:
            existing = await self._store.by_source_key(key)
            if existing is not None:
                return CreateResult(self._own(existing, draft.committee), created=False)
        now = self._now()
        similar = await self.find_similar(draft, now=now)
        earlier = similar[0] if similar else None
        creator = actor or Actor.resident(draft.reporter)
        first_due, resolution_due = self.sla.due(draft.category, now)
        day = local_day(now)
        try:
            async with self._store.unit() as unit:
                if key is not None and await unit.find_by_source_key(key) is not None:
                    raise DuplicateTicket(key)
                sequence = await unit.next_sequence(committee.id, f"{day:%Y%m%d}")
                ticket = await unit.insert(
                    Ticket(
                        id=0,
                        number=format_number(committee.ticket_prefix, day, sequence),
                        committee=committee.id,
                        category=draft.category,
                        priority=draft.priority or draft.category.default_priority,
                        status=TicketStatus.NEW,
                        description=draft.description,
                        reporter=draft.reporter,
                        compound=draft.compound,
                        building=draft.building,
                        unit=draft.unit,
                        room=draft.room,
                        assignee=None,
                        attachments=draft.attachments,
                        created_at=now,
                        updated_at=now,
                        first_response_due=first_due,
                        resolution_due=resolution_due,
                        source_message_key=key,
                    ),
                    building_key=building_key(draft.building),
                )
                await unit.add_event(
                    ticket,
                    NewEvent(
                        EventKind.CREATED,
                        creator,
                        texts.created_summary(ticket, committee),
                        now,
                        public=True,
                        data={
                            "category": ticket.category.value,
                            "priority": ticket.priority.value,
                            "compound": ticket.compound,
                            "attachments": list(ticket.attachments),
                        },
                        status_to=TicketStatus.NEW,
                    ),
                )
                if earlier is not None and await unit.add_link(ticket, earlier.ticket, now):
                    await self._link_events(unit, ticket, earlier.ticket, earlier.reason, now)
                    ticket = replace(ticket, links=(earlier.ticket.number,))
        except DuplicateTicket:
            if key is not None:
                existing = await self._store.by_source_key(key)
                if existing is not None:
                    return CreateResult(self._own(existing, draft.committee), created=False)
            raise
        log.info(
            "ticket created",
            extra={
                "ticket": ticket.number,
                "committee": ticket.committee,
                "category": ticket.category.value,
                "priority": ticket.priority.value,
                "linked_to": ticket.links[0] if ticket.links else None,
            },
        )
        return CreateResult(
            ticket, created=True, linked_to=earlier.ticket.number if earlier else None
        )

    async def find_similar(
        self, draft: TicketDraft, *, now: datetime | None = None
    ) -> list[SimilarTicket]:
        """Open tickets that look like the same fault as ``draft``, oldest first (the rule is
        in :mod:`bot.tickets.similarity`)."""
        committee = self._committee(draft.committee)
        compound = committee.compound(draft.compound) if draft.compound else None
        key = building_key(draft.building)
        concepts = fault_concepts(draft.description)
        if compound is None or not key or not concepts:
            return []
        now = now or self._now()
        candidates = await self._store.search(
            TicketQuery(
                committee=committee.id,
                statuses=OPEN_STATUSES,
                category=draft.category,
                compound=compound.id,
                building_key=key,
                created_from=now - self.duplicate_window,
                created_before=now + timedelta(microseconds=1),
                limit=50,
            )
        )
        found = []
        for candidate in sorted(candidates, key=lambda t: (t.created_at, t.id)):
            shared = concepts & fault_concepts(candidate.description)
            if shared:
                found.append(SimilarTicket(candidate, shared))
        return found

    # -- reads -----------------------------------------------------------------------------

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

    async def rating_pending_for(self, committee: str, resident: ResidentId) -> Ticket | None:
        """The resident's most recently resolved ticket still awaiting a satisfaction score:
        the ticket a bare "1"/"2"/"3" reply rates."""
        resolved = await self._store.search(
            TicketQuery(
                committee=committee,
                statuses=frozenset({TicketStatus.RESOLVED}),
                channel=resident.channel,
                account=resident.account,
                sender_id=resident.sender_id,
                limit=20,
            )
        )
        pending = [t for t in resolved if t.rating_pending and t.rating_requested_at]
        return max(pending, key=lambda t: (t.rating_requested_at, t.id), default=None)

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
        now = now or self._now()
        tickets = await self._store.search(
            TicketQuery(
                committee=committee,
                statuses=OPEN_STATUSES,
                assignee_id=assignee_id,
                order="inbox",
                limit=limit,
            )
        )
        return [InboxItem(t, self.sla.state(t, now), t.next_due) for t in tickets]

    def sla_state(self, ticket: Ticket, now: datetime | None = None) -> SlaState:
        return self.sla.state(ticket, now or self._now())

    async def awaiting_rating(
        self, committee: str, older_than: timedelta, *, now: datetime | None = None
    ) -> list[Ticket]:
        """Resolved tickets whose satisfaction question has waited longer than
        ``older_than``, oldest first."""
        now = now or self._now()
        return await self._store.awaiting_rating(now - older_than, committee)

    async def dashboard(
        self, committee: str, start: date, end: date, *, now: datetime | None = None
    ) -> Dashboard:
        """Figures for the local days ``start``..``end`` (inclusive); see
        :mod:`bot.tickets.dashboard`."""
        if end < start:
            raise InvalidTicket("dashboard: end is before start")
        now = now or self._now()
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
            sla=self.sla,
            now=now,
        )

    # -- caseworker work -------------------------------------------------------------------

    async def claim(self, committee: str, number: str, *, actor: Actor) -> Ticket:
        """Take the ticket: ``new``/``reopened`` → ``claimed`` with the actor as assignee
        (the resident is told); on a ticket someone else is working, the actor takes it over
        (status unchanged). Claiming one's own ticket changes nothing."""
        _require_staff(actor, "claim", system=False)

        def op(t: Ticket, now: datetime) -> _Change:
            if t.status in {TicketStatus.NEW, TicketStatus.REOPENED}:
                check_transition(t.number, t.status, TicketStatus.CLAIMED)
                after = replace(
                    t,
                    status=TicketStatus.CLAIMED,
                    assignee=actor,
                    first_response_at=t.first_response_at or now,
                )
                return _Change(
                    after,
                    [
                        NewEvent(
                            EventKind.CLAIMED,
                            actor,
                            texts.claimed_summary(actor, t.assignee),
                            now,
                            public=True,
                            data=_assignees(t.assignee, actor),
                            status_from=t.status,
                            status_to=TicketStatus.CLAIMED,
                        )
                    ],
                    [
                        NewNotification(
                            NotificationKind.CLAIMED,
                            texts.claimed(after, actor, again=t.status is TicketStatus.REOPENED),
                            now,
                        )
                    ],
                )
            if not t.is_open:
                check_transition(t.number, t.status, TicketStatus.CLAIMED)
            if t.assignee is not None and t.assignee.id == actor.id:
                return _Change(t)
            after = replace(t, assignee=actor, first_response_at=t.first_response_at or now)
            return _Change(
                after,
                [
                    NewEvent(
                        EventKind.CLAIMED,
                        actor,
                        texts.claimed_summary(actor, t.assignee),
                        now,
                        public=False,
                        data=_assignees(t.assignee, actor),
                    )
                ],
            )

        return (await self._mutate(committee, number, actor, op))[0]

    async def transfer(
        self, committee: str, number: str, to: Actor, *, actor: Actor, note: str = ""
    ) -> Ticket:
        """Give an open ticket to caseworker ``to``. A ``new``/``reopened`` ticket becomes
        ``claimed`` (and the resident is told who took it).

        With a staff directory only ``to.id`` counts: it must be an active caseworker or admin
        of ``committee`` (else :class:`InvalidAssignee`), and the name stored is the
        account's, whatever ``to.name`` says."""
        _require_staff(actor, "transfer")
        if to.kind is not ActorKind.CASEWORKER or not to.id:
            raise InvalidTicket("a ticket can only be transferred to a caseworker")
        if self._staff is not None:
            await self.get(committee, number)  # "not found" before "not a colleague"
            found = await self._staff.assignee(committee, to.id)
            if found is None:
                raise InvalidAssignee(
                    "a ticket can only be transferred to an active caseworker or admin of "
                    "its committee"
                )
            to = found
        note = _note(note, required=False)

        def op(t: Ticket, now: datetime) -> _Change:
            if not t.is_open:
                raise ActionNotAllowed(
                    f"ticket {t.number} is {t.status.value}: reopen it before transferring"
                )
            if t.assignee is not None and t.assignee.id == to.id:
                return _Change(t)
            status = t.status
            if status in {TicketStatus.NEW, TicketStatus.REOPENED}:
                check_transition(t.number, status, TicketStatus.CLAIMED)
                status = TicketStatus.CLAIMED
            after = replace(
                t, assignee=to, status=status, first_response_at=t.first_response_at or now
            )
            change = _Change(
                after,
                [
                    NewEvent(
                        EventKind.TRANSFERRED,
                        actor,
                        texts.transferred_summary(actor, to, t.assignee, note),
                        now,
                        public=False,
                        data={**_assignees(t.assignee, to), "note": note},
                        status_from=t.status if status is not t.status else None,
                        status_to=status if status is not t.status else None,
                    )
                ],
            )
            if status is not t.status:
                again = t.status is TicketStatus.REOPENED
                change.notifications.append(
                    NewNotification(
                        NotificationKind.CLAIMED, texts.claimed(after, to, again=again), now
                    )
                )
            return change

        return (await self._mutate(committee, number, actor, op))[0]

    async def change_status(
        self, committee: str, number: str, status: TicketStatus, *, actor: Actor, note: str = ""
    ) -> Ticket:
        """Move a ticket to ``in_progress``, ``waiting_resident``, ``resolved``, ``closed``
        or ``reopened`` along :data:`ALLOWED_TRANSITIONS` (``claimed`` is reached through
        :meth:`claim` / :meth:`transfer`). ``note`` goes into the history; for
        ``waiting_resident`` it is what the resident must supply, for ``resolved`` the result
        they are told, for ``closed`` the reason. A resident may only close (withdraw) their
        own open ticket. Raises :class:`TransitionNotAllowed` for a forbidden move."""
        if status is TicketStatus.REOPENED:
            return await self.reopen(committee, number, actor=actor, reason=note)
        if status is TicketStatus.CLAIMED:
            raise InvalidTicket("use claim() or transfer() to assign a ticket")
        if actor.kind is ActorKind.RESIDENT and status is not TicketStatus.CLOSED:
            raise ActionNotAllowed("a resident can only withdraw (close) a ticket")
        note = _note(note, required=False)

        def op(t: Ticket, now: datetime) -> _Change:
            if actor.kind is ActorKind.RESIDENT and not t.is_open:
                raise ActionNotAllowed(f"ticket {t.number} is {t.status.value}")
            check_transition(t.number, t.status, status)
            after = replace(t, status=status)
            if actor.kind is ActorKind.CASEWORKER:
                after = replace(
                    after,
                    first_response_at=t.first_response_at or now,
                    assignee=t.assignee or actor,
                )
            notify: NewNotification | None = None
            if status is TicketStatus.RESOLVED:
                after = replace(after, resolved_at=now, rating_requested_at=now)
                notify = NewNotification(
                    NotificationKind.RESOLVED, texts.resolved(after, note), now
                )
            elif status is TicketStatus.WAITING_RESIDENT:
                notify = NewNotification(NotificationKind.WAITING, texts.waiting(after, note), now)
            elif status is TicketStatus.CLOSED:
                after = replace(after, closed_at=now, rating_requested_at=None)
                if t.is_open and actor.kind is not ActorKind.RESIDENT:
                    notify = NewNotification(
                        NotificationKind.CLOSED, texts.closed(after, note), now
                    )
            event = NewEvent(
                EventKind.STATUS_CHANGED,
                actor,
                texts.status_summary(actor, t.status, status, note),
                now,
                public=True,
                data={"note": note},
                status_from=t.status,
                status_to=status,
            )
            return _Change(after, [event], [notify] if notify else [])

        after = (await self._mutate(committee, number, actor, op))[0]
        log.info(
            "ticket status changed",
            extra={"ticket": number, "committee": committee, "status": status.value},
        )
        return after

    async def resolve(self, committee: str, number: str, *, actor: Actor, summary: str) -> Ticket:
        """``change_status(…, RESOLVED, note=summary)``: the resident is told ``summary`` and
        asked the satisfaction question, which stays pending until rated or auto-closed."""
        return await self.change_status(
            committee, number, TicketStatus.RESOLVED, actor=actor, note=summary
        )

    async def reopen(self, committee: str, number: str, *, actor: Actor, reason: str) -> Ticket:
        """A caseworker reopens a resolved or closed ticket (the resident is told). The
        resolution deadline restarts now; the assignee is kept."""
        _require_staff(actor, "reopen")
        reason = _note(reason, required=False)

        def op(t: Ticket, now: datetime) -> _Change:
            change = self._reopen(t, actor, reason, now)
            change.notifications.append(
                NewNotification(NotificationKind.REOPENED, texts.reopened(change.ticket), now)
            )
            return change

        return (await self._mutate(committee, number, actor, op))[0]

    async def add_note(
        self,
        committee: str,
        number: str,
        text: str,
        *,
        actor: Actor,
        public: bool = False,
    ) -> Ticket:
        """Add a note to the history. A caseworker's ``public`` note is sent to the resident
        as progress; other caseworker notes are internal. A resident's note (their own
        ticket) is always public, and on a ticket waiting for them it resumes the work
        (``waiting_resident`` → ``in_progress``)."""
        text = _note(text, required=True)
        if actor.kind is ActorKind.RESIDENT:
            public = True

        def op(t: Ticket, now: datetime) -> _Change:
            after = t
            events = [
                NewEvent(
                    EventKind.NOTE,
                    actor,
                    texts.note_summary(actor, text, public),
                    now,
                    public=public,
                    data={"text": text},
                )
            ]
            notifications = []
            if actor.kind is ActorKind.CASEWORKER and public:
                after = replace(t, first_response_at=t.first_response_at or now)
                notifications.append(
                    NewNotification(NotificationKind.PROGRESS, texts.progress(t, text), now)
                )
            if actor.kind is ActorKind.RESIDENT and t.status is TicketStatus.WAITING_RESIDENT:
                check_transition(t.number, t.status, TicketStatus.IN_PROGRESS)
                after = replace(t, status=TicketStatus.IN_PROGRESS)
                events.append(
                    NewEvent(
                        EventKind.STATUS_CHANGED,
                        actor,
                        texts.RESIDENT_REPLIED,
                        now,
                        public=True,
                        status_from=t.status,
                        status_to=TicketStatus.IN_PROGRESS,
                    )
                )
            return _Change(after, events, notifications)

        return (await self._mutate(committee, number, actor, op))[0]

    async def add_attachment(
        self, committee: str, number: str, media_id: str, *, actor: Actor
    ) -> Ticket:
        """Reference a channel media id (photo, voice) from the ticket; adding the same id
        twice changes nothing."""
        media_id = media_id.strip()
        if not media_id or len(media_id) > 200:
            raise InvalidTicket("media_id must be 1 to 200 characters")

        def op(t: Ticket, now: datetime) -> _Change:
            if media_id in t.attachments:
                return _Change(t)
            return _Change(
                replace(t, attachments=(*t.attachments, media_id)),
                [
                    NewEvent(
                        EventKind.ATTACHMENT_ADDED,
                        actor,
                        texts.attachment_summary(actor, media_id),
                        now,
                        public=True,
                        data={"media_id": media_id},
                    )
                ],
            )

        return (await self._mutate(committee, number, actor, op))[0]

    async def locate_urgent(self, committee: str, ref: str, parts: Mapping[str, str]) -> str:
        """The resident's answer to "where?" after an emergency: fill in the urgent ticket
        known by number or by the message that opened it. Returns the place as now on the
        ticket (Chinese). Raises TicketNotFound when there is no such ticket (yet)."""
        ticket = await self._store.get(committee, ref) if ref else None
        if ticket is None and ref:
            ticket = await self.by_source_key(committee, ref)
        if ticket is None:
            raise TicketNotFound(f"no ticket {ref}")
        resident = Actor.resident(ticket.reporter)
        after = await self.set_location(
            committee,
            ticket.number,
            actor=resident,
            compound=parts.get("compound"),
            building=parts.get("building", ""),
            unit=parts.get("unit", ""),
            room=parts.get("room", ""),
        )
        return self.place(after)

    def place(self, ticket: Ticket) -> str:
        """Where a ticket is, in Chinese ("普陀一村 5号楼 302室")."""
        found = self._committee(ticket.committee).compound(ticket.compound or "")
        parts = (found.name if found else "", ticket.building, ticket.unit, ticket.room)
        return " ".join(p for p in parts if p) or "（未知）"

    async def set_location(
        self,
        committee: str,
        number: str,
        *,
        actor: Actor,
        compound: str | None = None,
        building: str = "",
        unit: str = "",
        room: str = "",
    ) -> Ticket:
        """Fill in where the ticket's problem is (the resident answered "where?" after an
        emergency ticket was opened). Given parts replace the old ones; the rest stay."""
        found = self._committee(committee).compound(compound) if compound else None
        if compound and found is None:
            raise InvalidTicket(f"unknown compound {compound!r}")
        parts = {"building": building.strip(), "unit": unit.strip(), "room": room.strip()}
        if any(len(v) > 40 for v in parts.values()):
            raise InvalidTicket("building, unit and room must be at most 40 characters")

        def op(t: Ticket, now: datetime) -> _Change:
            after = replace(
                t,
                compound=found.id if found is not None else t.compound,
                building=parts["building"] or t.building,
                unit=parts["unit"] or t.unit,
                room=parts["room"] or t.room,
            )
            if after == t:
                return _Change(t)
            names = self._committee(committee)
            place = names.compound(after.compound) if after.compound else None
            where = " ".join(
                p
                for p in (place.name if place else "", after.building, after.unit, after.room)
                if p
            )
            return _Change(
                after,
                [
                    NewEvent(
                        EventKind.LOCATION,
                        actor,
                        texts.location_summary(actor, where),
                        now,
                        public=True,
                        data={k: getattr(after, k) for k in ("compound", *parts)},
                    )
                ],
            )

        return (await self._mutate(committee, number, actor, op))[0]

    async def change_priority(
        self,
        committee: str,
        number: str,
        priority: TicketPriority,
        *,
        actor: Actor,
        reason: str = "",
    ) -> Ticket:
        _require_staff(actor, "change the priority of")
        reason = _note(reason, required=False)

        def op(t: Ticket, now: datetime) -> _Change:
            if not t.is_open:
                raise ActionNotAllowed(f"ticket {t.number} is {t.status.value}")
            if t.priority is priority:
                return _Change(t)
            return _Change(
                replace(t, priority=priority),
                [
                    NewEvent(
                        EventKind.PRIORITY_CHANGED,
                        actor,
                        texts.priority_summary(actor, t.priority, priority, reason),
                        now,
                        data={"from": t.priority.value, "to": priority.value, "reason": reason},
                    )
                ],
            )

        return (await self._mutate(committee, number, actor, op))[0]

    async def link(self, committee: str, a: str, b: str, *, actor: Actor, reason: str = "") -> bool:
        """Link two tickets of the committee as the same fault (not merged; both show the
        link and get a ``linked`` event). False if they were linked already."""
        _require_staff(actor, "link")
        if a == b:
            raise InvalidTicket("a ticket cannot be linked to itself")
        reason = _note(reason, required=False) or "社工手动关联"
        now = self._now()
        async with self._store.unit() as unit:
            first, second = sorted((a, b))
            one = await unit.lock(committee, first)
            two = await unit.lock(committee, second)
            if one is None or two is None:
                raise TicketNotFound(f"no ticket {first if one is None else second}")
            if not await unit.add_link(one, two, now):
                return False
            await self._link_events(unit, one, two, reason, now, actor=actor)
        log.info("tickets linked", extra={"committee": committee, "tickets": [a, b]})
        return True

    async def record_alert(
        self,
        committee: str,
        number: str,
        summary: str,
        *,
        actor: Actor | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Ticket:
        """Put one step of a staff alert (sent, re-sent, escalated, acknowledged) on the
        ticket's internal history; the system is the actor unless a caseworker acted."""
        summary = _note(summary, required=True)
        who = actor or Actor.system()

        def op(t: Ticket, now: datetime) -> _Change:
            return _Change(
                t,
                [NewEvent(EventKind.ALERT, who, summary, now, public=False, data=dict(data or {}))],
            )

        return (await self._mutate(committee, number, who, op))[0]

    # -- satisfaction ----------------------------------------------------------------------

    async def rate(
        self,
        committee: str,
        number: str,
        score: int | Satisfaction,
        comment: str = "",
        *,
        actor: Actor,
    ) -> RateResult:
        """Record the resident's answer to the satisfaction question of a resolved ticket:
        1 满意 / 2 基本满意 close it; 3 不满意 reopens it and names the assignee to alert.
        A caseworker may record a rating taken by phone. Raises :class:`RatingNotPending`
        when the ticket is not awaiting a rating, :class:`InvalidTicket` for another score."""
        try:
            satisfaction = Satisfaction(int(score))
        except ValueError as exc:
            raise InvalidTicket("score must be 1 (满意), 2 (基本满意) or 3 (不满意)") from exc
        comment = _note(comment, required=False)

        def op(t: Ticket, now: datetime) -> _Change:
            if not t.rating_pending:
                raise RatingNotPending(f"ticket {t.number} is not awaiting a rating")
            rated = replace(
                t,
                satisfaction=satisfaction,
                satisfaction_comment=comment,
                rated_at=now,
                rating_requested_at=None,
            )
            event = NewEvent(
                EventKind.SATISFACTION,
                actor,
                texts.satisfaction_summary(satisfaction, comment),
                now,
                public=True,
                data={"score": int(satisfaction), "comment": comment},
            )
            if satisfaction is Satisfaction.DISSATISFIED:
                change = self._reopen(rated, actor, comment or satisfaction.label, now)
                change.events.insert(0, event)
                return change
            check_transition(t.number, t.status, TicketStatus.CLOSED)
            return _Change(
                replace(rated, status=TicketStatus.CLOSED, closed_at=now),
                [
                    event,
                    NewEvent(
                        EventKind.STATUS_CHANGED,
                        actor,
                        texts.status_summary(
                            actor, t.status, TicketStatus.CLOSED, texts.RATED_CLOSE
                        ),
                        now,
                        public=True,
                        status_from=t.status,
                        status_to=TicketStatus.CLOSED,
                    ),
                ],
            )

        after, _ = await self._mutate(committee, number, actor, op)
        reopened = after.status is TicketStatus.REOPENED
        log.info(
            "ticket rated",
            extra={"ticket": number, "committee": committee, "score": int(satisfaction)},
        )
        return RateResult(
            after,
            reopened=reopened,
            alert=after.assignee if reopened else None,
            reply=texts.rating_thanks(after, satisfaction),
        )

    async def auto_close_unrated(
        self, now: datetime | None = None, *, committee: str | None = None, limit: int = 500
    ) -> list[str]:
        """Close resolved tickets whose satisfaction question has gone unanswered for
        ``rating_timeout`` (3 days by default); returns their numbers. Run periodically."""
        now = now or self._now()
        cutoff = now - self.rating_timeout
        system = Actor.system()
        reason = texts.auto_close_reason(self.rating_timeout / timedelta(days=1))
        closed: list[str] = []

        def op(t: Ticket, at: datetime) -> _Change:
            asked = t.rating_requested_at
            if not t.rating_pending or asked is None or asked >= cutoff:
                return _Change(t)
            check_transition(t.number, t.status, TicketStatus.CLOSED)
            return _Change(
                replace(t, status=TicketStatus.CLOSED, closed_at=at, rating_requested_at=None),
                [
                    NewEvent(
                        EventKind.STATUS_CHANGED,
                        system,
                        texts.status_summary(system, t.status, TicketStatus.CLOSED, reason),
                        at,
                        public=True,
                        data={"note": reason, "auto": True},
                        status_from=t.status,
                        status_to=TicketStatus.CLOSED,
                    )
                ],
            )

        for ticket in await self._store.awaiting_rating(cutoff, committee, limit):
            _, changed = await self._mutate(ticket.committee, ticket.number, system, op, now)
            if changed:
                closed.append(ticket.number)
        if closed:
            log.info("unrated tickets closed", extra={"count": len(closed)})
        return closed

    # -- outbox ----------------------------------------------------------------------------

    async def pending_notifications(
        self, limit: int = 50, *, lease: timedelta = timedelta(minutes=2)
    ) -> list[Notification]:
        """Undelivered messages for residents, oldest first. Each is leased for ``lease`` so
        that another worker does not send it too; report the outcome with
        :meth:`mark_delivered` or :meth:`mark_failed` (an unreported one comes back after
        the lease)."""
        now = self._now()
        return await self._store.lease_notifications(now, now + lease, limit)

    async def mark_delivered(self, notification_id: int) -> bool:
        return await self._store.mark_delivered(notification_id, self._now())

    async def mark_failed(self, notification: Notification, error: str) -> bool:
        """Retry later with exponential backoff (30 s, 1 min, … up to 1 h); after 8 attempts
        the message is given up (kept, no longer pending)."""
        attempts = notification.attempts + 1
        now = self._now()
        retry_at = None
        if attempts < _OUTBOX_MAX_ATTEMPTS:
            retry_at = now + min(timedelta(seconds=30) * 2 ** (attempts - 1), _OUTBOX_MAX_BACKOFF)
        else:
            log.warning(
                "notification given up",
                extra={"notification": notification.id, "ticket": notification.ticket_number},
            )
        return await self._store.mark_failed(notification.id, error, retry_at, now)

    # -- internals -------------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return aware datetimes")
        return now.astimezone(UTC)

    def _committee(self, committee_id: str) -> Committee:
        try:
            return self._registry.committee(committee_id)
        except RegistryError as exc:
            raise InvalidTicket(f"unknown committee {committee_id!r}") from exc

    @staticmethod
    def _own(ticket: Ticket, committee: str) -> Ticket:
        if ticket.committee != committee:
            # The same message key under another committee: never reveal that ticket.
            raise InvalidTicket("source_message_key already used")
        return ticket

    def _reopen(self, t: Ticket, actor: Actor, reason: str, now: datetime) -> _Change:
        check_transition(t.number, t.status, TicketStatus.REOPENED)
        after = replace(
            t,
            status=TicketStatus.REOPENED,
            reopened_at=now,
            reopen_count=t.reopen_count + 1,
            resolved_at=None,
            closed_at=None,
            rating_requested_at=None,
            resolution_due=self.sla.resolution_due(t.category, now),
        )
        return _Change(
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

    async def _link_events(
        self,
        unit: TicketUnit,
        a: Ticket,
        b: Ticket,
        reason: str,
        now: datetime,
        *,
        actor: Actor | None = None,
    ) -> None:
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

    async def _mutate(
        self,
        committee: str,
        number: str,
        actor: Actor,
        op: Callable[[Ticket, datetime], _Change],
        now: datetime | None = None,
    ) -> tuple[Ticket, bool]:
        """Apply ``op`` to the current ticket in one transaction, retrying on a concurrent
        update. Returns the ticket after the change and whether anything was written."""
        for attempt in range(_UPDATE_ATTEMPTS):
            try:
                async with self._store.unit() as unit:
                    current = await unit.lock(committee, number)
                    if current is None or not _may_see(actor, current):
                        raise TicketNotFound(f"no ticket {number}")
                    at = now or self._now()
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


_NOT_CLOSED = frozenset(s for s in TicketStatus if s is not TicketStatus.CLOSED)


def _may_see(actor: Actor, ticket: Ticket) -> bool:
    """Caseworkers and the system see every ticket of the committee; a resident only theirs."""
    return actor.kind is not ActorKind.RESIDENT or actor.id == ticket.reporter.resident.key


def _require_staff(actor: Actor, what: str, *, system: bool = True) -> None:
    allowed = {ActorKind.CASEWORKER, ActorKind.SYSTEM} if system else {ActorKind.CASEWORKER}
    if actor.kind not in allowed:
        raise ActionNotAllowed(f"only a caseworker can {what} a ticket")


def _assignees(previous: Actor | None, new: Actor) -> dict[str, str | None]:
    return {
        "from": None if previous is None else previous.id,
        "to": new.id,
        "to_name": new.name,
    }


def _note(text: str, *, required: bool) -> str:
    text = (text or "").strip()
    if required and not text:
        raise InvalidTicket("the note is empty")
    if len(text) > MAX_NOTE:
        raise InvalidTicket(f"the note is longer than {MAX_NOTE} characters")
    return text


def _part(value: str, name: str) -> str:
    value = " ".join((value or "").split())
    if len(value) > MAX_PLACE_PART:
        raise InvalidTicket(f"{name} is longer than {MAX_PLACE_PART} characters")
    return value


def _validated(draft: TicketDraft, committee: Committee) -> TicketDraft:
    """The draft with trimmed fields and the compound as its id; raises InvalidTicket."""
    description = (draft.description or "").strip()
    if not description:
        raise InvalidTicket("description is empty")
    if len(description) > MAX_DESCRIPTION:
        raise InvalidTicket(f"description is longer than {MAX_DESCRIPTION} characters")
    compound_id = None
    if draft.compound and draft.compound.strip():
        compound = committee.compound(draft.compound.strip())
        if compound is None:
            raise InvalidTicket(f"unknown compound {draft.compound!r} for {committee.id}")
        compound_id = compound.id
    reporter = draft.reporter
    if not reporter.sender_id or not reporter.channel or not reporter.conversation_key:
        raise InvalidTicket("reporter needs channel, sender_id and conversation_key")
    attachments = tuple(dict.fromkeys(a.strip() for a in draft.attachments if a.strip()))
    if any(len(a) > 200 for a in attachments):
        raise InvalidTicket("a media id is longer than 200 characters")
    return replace(
        draft,
        description=description,
        compound=compound_id,
        building=_part(draft.building, "building"),
        unit=_part(draft.unit, "unit"),
        room=_part(draft.room, "room"),
        attachments=attachments,
        reporter=_reporter(reporter),
    )


def _reporter(r: Reporter) -> Reporter:
    phone = (r.phone or "").strip()
    if phone:
        if len(phone) > 40 or not any(ch.isdigit() for ch in phone):
            raise InvalidTicket("phone is not a phone number")
        if any(not (ch.isdigit() or ch in "+- ()") for ch in phone):
            raise InvalidTicket("phone is not a phone number")
    return replace(r, phone=phone or None, name=r.name.strip()[:200])
