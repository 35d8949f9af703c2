"""The caseworker workflow on an existing ticket: claim, transfer, status changes, notes,
attachments, priority, links and staff-alert steps.

* **全岗通.** Any caseworker of the committee may claim, transfer or work any of its tickets.
* **Notifications** for the resident (claim, public progress notes, requests for
  information, resolution with the satisfaction question, cancellation, reopening by a
  caseworker) are queued in the same transaction; :mod:`bot.tickets.outbox` drains them.
* Isolation, atomic history and concurrency: see :mod:`bot.tickets.changes`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from bot.domain.tickets import (
    ActionNotAllowed,
    Actor,
    ActorKind,
    EventKind,
    InvalidTicket,
    NotificationKind,
    Ticket,
    TicketNotFound,
    TicketPriority,
    TicketStatus,
    check_transition,
)
from bot.storage.tickets import NewEvent, NewNotification, TicketStore
from bot.tickets import texts
from bot.tickets.changes import (
    Change,
    Clock,
    TicketChanges,
    add_link_events,
    note_text,
    reopened,
    require_staff,
    utc_now,
)
from bot.tickets.sla import SlaPolicy

log = logging.getLogger(__name__)


class StaffDirectory(Protocol):
    """Who may be given a committee's tickets (the account service implements it)."""

    async def assignee(self, committee: str, staff_id: str) -> Actor | None:
        """The caseworker actor (with the account's own name) for ``staff_id`` if that user
        is an active caseworker or admin of ``committee``, else None."""
        ...


class InvalidAssignee(InvalidTicket):
    """A transfer to someone who is not an active caseworker or admin of the committee."""


class TicketWorkflow:
    def __init__(
        self,
        store: TicketStore,
        sla: SlaPolicy,
        *,
        clock: Clock = utc_now,
        staff: StaffDirectory | None = None,
    ) -> None:
        """``staff`` checks transfers (the composition root passes the account service);
        without it the caller's actor is trusted as given (tests of the workflow alone)."""
        self._store = store
        self._sla = sla
        self._changes = TicketChanges(store, clock)
        self._staff = staff

    async def claim(self, committee: str, number: str, *, actor: Actor) -> Ticket:
        """Take the ticket: ``new``/``reopened`` → ``claimed`` with the actor as assignee
        (the resident is told); on a ticket someone else is working, the actor takes it over
        (status unchanged). Claiming one's own ticket changes nothing."""
        require_staff(actor, "claim", system=False)

        def op(t: Ticket, now: datetime) -> Change:
            if t.status in {TicketStatus.NEW, TicketStatus.REOPENED}:
                check_transition(t.number, t.status, TicketStatus.CLAIMED)
                after = replace(
                    t,
                    status=TicketStatus.CLAIMED,
                    assignee=actor,
                    first_response_at=t.first_response_at or now,
                )
                return Change(
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
                return Change(t)
            after = replace(t, assignee=actor, first_response_at=t.first_response_at or now)
            return Change(
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

        return (await self._changes.apply(committee, number, actor, op))[0]

    async def transfer(
        self, committee: str, number: str, to: Actor, *, actor: Actor, note: str = ""
    ) -> Ticket:
        """Give an open ticket to caseworker ``to``. A ``new``/``reopened`` ticket becomes
        ``claimed`` (and the resident is told who took it).

        With a staff directory only ``to.id`` counts: it must be an active caseworker or admin
        of ``committee`` (else :class:`InvalidAssignee`), and the name stored is the
        account's, whatever ``to.name`` says."""
        require_staff(actor, "transfer")
        if to.kind is not ActorKind.CASEWORKER or not to.id:
            raise InvalidTicket("a ticket can only be transferred to a caseworker")
        if self._staff is not None:
            # "not found" before "not a colleague"
            if await self._store.get(committee, number) is None:
                raise TicketNotFound(f"no ticket {number}")
            found = await self._staff.assignee(committee, to.id)
            if found is None:
                raise InvalidAssignee(
                    "a ticket can only be transferred to an active caseworker or admin of "
                    "its committee"
                )
            to = found
        note = note_text(note, required=False)

        def op(t: Ticket, now: datetime) -> Change:
            if not t.is_open:
                raise ActionNotAllowed(
                    f"ticket {t.number} is {t.status.value}: reopen it before transferring"
                )
            if t.assignee is not None and t.assignee.id == to.id:
                return Change(t)
            status = t.status
            if status in {TicketStatus.NEW, TicketStatus.REOPENED}:
                check_transition(t.number, status, TicketStatus.CLAIMED)
                status = TicketStatus.CLAIMED
            after = replace(
                t, assignee=to, status=status, first_response_at=t.first_response_at or now
            )
            change = Change(
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

        return (await self._changes.apply(committee, number, actor, op))[0]

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
        note = note_text(note, required=False)

        def op(t: Ticket, now: datetime) -> Change:
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
            return Change(after, [event], [notify] if notify else [])

        after = (await self._changes.apply(committee, number, actor, op))[0]
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
        require_staff(actor, "reopen")
        reason = note_text(reason, required=False)

        def op(t: Ticket, now: datetime) -> Change:
            change = reopened(t, actor, reason, now, self._sla)
            change.notifications.append(
                NewNotification(NotificationKind.REOPENED, texts.reopened(change.ticket), now)
            )
            return change

        return (await self._changes.apply(committee, number, actor, op))[0]

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
        text = note_text(text, required=True)
        if actor.kind is ActorKind.RESIDENT:
            public = True

        def op(t: Ticket, now: datetime) -> Change:
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
            return Change(after, events, notifications)

        return (await self._changes.apply(committee, number, actor, op))[0]

    async def add_attachment(
        self, committee: str, number: str, media_id: str, *, actor: Actor
    ) -> Ticket:
        """Reference a channel media id (photo, voice) from the ticket; adding the same id
        twice changes nothing."""
        media_id = media_id.strip()
        if not media_id or len(media_id) > 200:
            raise InvalidTicket("media_id must be 1 to 200 characters")

        def op(t: Ticket, now: datetime) -> Change:
            if media_id in t.attachments:
                return Change(t)
            return Change(
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

        return (await self._changes.apply(committee, number, actor, op))[0]

    async def change_priority(
        self,
        committee: str,
        number: str,
        priority: TicketPriority,
        *,
        actor: Actor,
        reason: str = "",
    ) -> Ticket:
        require_staff(actor, "change the priority of")
        reason = note_text(reason, required=False)

        def op(t: Ticket, now: datetime) -> Change:
            if not t.is_open:
                raise ActionNotAllowed(f"ticket {t.number} is {t.status.value}")
            if t.priority is priority:
                return Change(t)
            return Change(
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

        return (await self._changes.apply(committee, number, actor, op))[0]

    async def link(self, committee: str, a: str, b: str, *, actor: Actor, reason: str = "") -> bool:
        """Link two tickets of the committee as the same fault (not merged; both show the
        link and get a ``linked`` event). False if they were linked already."""
        require_staff(actor, "link")
        if a == b:
            raise InvalidTicket("a ticket cannot be linked to itself")
        reason = note_text(reason, required=False) or "社工手动关联"
        now = self._changes.now()
        async with self._store.unit() as unit:
            first, second = sorted((a, b))
            one = await unit.lock(committee, first)
            two = await unit.lock(committee, second)
            if one is None or two is None:
                raise TicketNotFound(f"no ticket {first if one is None else second}")
            if not await unit.add_link(one, two, now):
                return False
            await add_link_events(unit, one, two, reason, now, actor=actor)
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
        summary = note_text(summary, required=True)
        who = actor or Actor.system()

        def op(t: Ticket, now: datetime) -> Change:
            return Change(
                t,
                [NewEvent(EventKind.ALERT, who, summary, now, public=False, data=dict(data or {}))],
            )

        return (await self._changes.apply(committee, number, who, op))[0]


def _assignees(previous: Actor | None, new: Actor) -> dict[str, str | None]:
    return {
        "from": None if previous is None else previous.id,
        "to": new.id,
        "to_name": new.name,
    }
