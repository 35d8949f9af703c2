"""回访: the resident's rating of a resolved ticket. 1 满意 / 2 基本满意 close it, 3 不满意
reopens it; a question left unanswered closes the ticket after ``rating_timeout``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.domain.tickets import (
    Actor,
    EventKind,
    InvalidTicket,
    RatingNotPending,
    ResidentId,
    Satisfaction,
    Ticket,
    TicketStatus,
    check_transition,
)
from bot.storage.tickets import NewEvent, TicketQuery, TicketStore
from bot.tickets import texts
from bot.tickets.changes import Change, Clock, TicketChanges, note_text, reopened, utc_now
from bot.tickets.sla import SlaPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RateResult:
    ticket: Ticket
    reopened: bool
    alert: Actor | None
    """Who must be alerted: the assignee of a ticket reopened by 不满意 (else None)."""
    reply: str
    """What to tell the resident now, in Chinese."""


class SatisfactionSurvey:
    def __init__(
        self,
        store: TicketStore,
        sla: SlaPolicy,
        *,
        clock: Clock = utc_now,
        rating_timeout: timedelta = timedelta(days=3),
    ) -> None:
        """``sla`` restarts the resolution deadline of a ticket reopened by 不满意."""
        self._store = store
        self._sla = sla
        self._changes = TicketChanges(store, clock)
        self.rating_timeout = rating_timeout

    async def rating_pending_for(self, committee: str, resident: ResidentId) -> Ticket | None:
        """The resident's most recently resolved ticket still awaiting a satisfaction score:
        the ticket a bare "1"/"2"/"3" reply rates."""
        if not await self._store.may_await_rating(committee, resident):
            return None  # the common case ("1号楼" in a repair report): one quick query
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

    async def awaiting_rating(
        self, committee: str, older_than: timedelta, *, now: datetime | None = None
    ) -> list[Ticket]:
        """Resolved tickets whose satisfaction question has waited longer than
        ``older_than``, oldest first."""
        now = now or self._changes.now()
        return await self._store.awaiting_rating(now - older_than, committee)

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
        comment = note_text(comment, required=False)

        def op(t: Ticket, now: datetime) -> Change:
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
                change = reopened(rated, actor, comment or satisfaction.label, now, self._sla)
                change.events.insert(0, event)
                return change
            check_transition(t.number, t.status, TicketStatus.CLOSED)
            return Change(
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

        after, _ = await self._changes.apply(committee, number, actor, op)
        reopened_now = after.status is TicketStatus.REOPENED
        log.info(
            "ticket rated",
            extra={"ticket": number, "committee": committee, "score": int(satisfaction)},
        )
        return RateResult(
            after,
            reopened=reopened_now,
            alert=after.assignee if reopened_now else None,
            reply=texts.rating_thanks(after, satisfaction),
        )

    async def auto_close_unrated(
        self, now: datetime | None = None, *, committee: str | None = None, limit: int = 500
    ) -> list[str]:
        """Close resolved tickets whose satisfaction question has gone unanswered for
        ``rating_timeout`` (3 days by default); returns their numbers. Run periodically."""
        now = now or self._changes.now()
        cutoff = now - self.rating_timeout
        system = Actor.system()
        reason = texts.auto_close_reason(self.rating_timeout / timedelta(days=1))
        closed: list[str] = []

        def op(t: Ticket, at: datetime) -> Change:
            asked = t.rating_requested_at
            if not t.rating_pending or asked is None or asked >= cutoff:
                return Change(t)
            check_transition(t.number, t.status, TicketStatus.CLOSED)
            return Change(
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
            _, changed = await self._changes.apply(ticket.committee, ticket.number, system, op, now)
            if changed:
                closed.append(ticket.number)
        if closed:
            log.info("unrated tickets closed", extra={"count": len(closed)})
        return closed
