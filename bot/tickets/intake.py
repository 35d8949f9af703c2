"""Opening tickets: a resident's report from the dialogue (or one a caseworker enters), linked
to an open ticket about the same fault, and the place filled in after an emergency.

* **Idempotent creation.** ``create(…, source_message_key=k)`` with a key already used
  returns the ticket created the first time (``created=False``) and writes nothing.
* **Atomic.** ``create`` returns only after the ticket and its ``created`` event are
  committed. Concurrent creates get distinct numbers.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.domain.clock import local_day
from bot.domain.registry import Committee, Registry
from bot.domain.tickets import (
    OPEN_STATUSES,
    Actor,
    EventKind,
    InvalidTicket,
    Reporter,
    Ticket,
    TicketDraft,
    TicketNotFound,
    TicketStatus,
)
from bot.storage.tickets import DuplicateTicket, NewEvent, TicketQuery, TicketStore
from bot.tickets import texts
from bot.tickets.changes import (
    Change,
    Clock,
    TicketChanges,
    add_link_events,
    committee_of,
    utc_now,
)
from bot.tickets.similarity import SimilarTicket, building_key, fault_concepts
from bot.tickets.sla import SlaPolicy

log = logging.getLogger(__name__)

MAX_DESCRIPTION = 4000
MAX_PLACE_PART = 40
MAX_SOURCE_KEY = 300


@dataclass(frozen=True, slots=True)
class CreateResult:
    ticket: Ticket
    created: bool
    """False when ``source_message_key`` had been used: ``ticket`` is the first one."""
    linked_to: str | None = None
    """The earlier ticket this one was linked to as the same fault (this call only)."""


class TicketIntake:
    def __init__(
        self,
        store: TicketStore,
        registry: Registry,
        sla: SlaPolicy,
        *,
        clock: Clock = utc_now,
        duplicate_window: timedelta = timedelta(hours=24),
    ) -> None:
        self._store = store
        self._registry = registry
        self._sla = sla
        self._changes = TicketChanges(store, clock)
        self.duplicate_window = duplicate_window

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
        committee = committee_of(self._registry, draft.committee)
        draft = _validated(draft, committee)
        key = (source_message_key or "").strip() or None
        if key is not None and len(key) > MAX_SOURCE_KEY:
            raise InvalidTicket(f"source_message_key longer than {MAX_SOURCE_KEY}")
        if key is not None:
            existing = await self._store.by_source_key(key)
            if existing is not None:
                return CreateResult(_own(existing, draft.committee), created=False)
        now = self._changes.now()
        similar = await self.find_similar(draft, now=now)
        earlier = similar[0] if similar else None
        creator = actor or Actor.resident(draft.reporter)
        first_due, resolution_due = self._sla.due(draft.category, now)
        day = local_day(now)
        try:
            async with self._store.unit() as unit:
                if key is not None and await unit.find_by_source_key(key) is not None:
                    raise DuplicateTicket(key)
                # Numbered last (``assign_number``): the committee's day counter serialises
                # every creation, so it is held for one statement and the commit, not for
                # the round trips of the whole unit.
                provisional = f"~{uuid.uuid4().hex}"
                ticket = await unit.insert(
                    Ticket(
                        id=0,
                        number=provisional,
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
                linked = earlier is not None and await unit.add_link(ticket, earlier.ticket, now)
                if earlier is not None and linked:
                    await add_link_events(unit, ticket, earlier.ticket, earlier.reason, now)
                    ticket = replace(ticket, links=(earlier.ticket.number,))
                number = await unit.assign_number(
                    ticket,
                    committee.ticket_prefix,
                    day,
                    provisional=provisional,
                    other=earlier.ticket if earlier is not None and linked else None,
                )
                ticket = replace(ticket, number=number)
        except DuplicateTicket:
            if key is not None:
                existing = await self._store.by_source_key(key)
                if existing is not None:
                    return CreateResult(_own(existing, draft.committee), created=False)
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
        committee = committee_of(self._registry, draft.committee)
        compound = committee.compound(draft.compound) if draft.compound else None
        key = building_key(draft.building)
        concepts = fault_concepts(draft.description)
        if compound is None or not key or not concepts:
            return []
        now = now or self._changes.now()
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

    async def locate_urgent(self, committee: str, ref: str, parts: Mapping[str, str]) -> str:
        """The resident's answer to "where?" after an emergency: fill in the urgent ticket
        known by number or by the message that opened it (given parts replace the old ones,
        the rest stay). Returns the place as now on the ticket (Chinese). Raises
        TicketNotFound when there is no such ticket (yet)."""
        ticket = await self._store.get(committee, ref) if ref else None
        if ticket is None and ref:
            ticket = await self._store.by_source_key(ref)
            if ticket is not None and ticket.committee != committee:
                ticket = None
        if ticket is None:
            raise TicketNotFound(f"no ticket {ref}")
        names = committee_of(self._registry, committee)
        compound = parts.get("compound")
        found = names.compound(compound) if compound else None
        if compound and found is None:
            raise InvalidTicket(f"unknown compound {compound!r}")
        given = {k: parts.get(k, "").strip() for k in ("building", "unit", "room")}
        if any(len(v) > MAX_PLACE_PART for v in given.values()):
            raise InvalidTicket("building, unit and room must be at most 40 characters")
        resident = Actor.resident(ticket.reporter)

        def op(t: Ticket, now: datetime) -> Change:
            after = replace(
                t,
                compound=found.id if found is not None else t.compound,
                building=given["building"] or t.building,
                unit=given["unit"] or t.unit,
                room=given["room"] or t.room,
            )
            if after == t:
                return Change(t)
            return Change(
                after,
                [
                    NewEvent(
                        EventKind.LOCATION,
                        resident,
                        texts.location_summary(resident, _where(after, names)),
                        now,
                        public=True,
                        data={k: getattr(after, k) for k in ("compound", *given)},
                    )
                ],
            )

        after, _ = await self._changes.apply(committee, ticket.number, resident, op)
        return _where(after, names) or "（未知）"


def _where(ticket: Ticket, committee: Committee) -> str:
    """Where a ticket is, in Chinese ("普陀一村 5号楼 302室"); empty when unknown."""
    found = committee.compound(ticket.compound) if ticket.compound else None
    parts = (found.name if found else "", ticket.building, ticket.unit, ticket.room)
    return " ".join(p for p in parts if p)


def _own(ticket: Ticket, committee: str) -> Ticket:
    if ticket.committee != committee:
        # The same message key under another committee: never reveal that ticket.
        raise InvalidTicket("source_message_key already used")
    return ticket


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
