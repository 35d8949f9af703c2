"""The dashboard's figures: resident messages (what the bot did with them) next to the ticket
figures of ``bot.tickets.dashboard``, per committee and for the whole street.

Message figures, per Asia/Shanghai day, over resident messages (platform events such as a
follow are not messages):

* ``received``: every message a resident sent that Linli received, including group chatter
  not addressed to Linli.
* ``to_bot``: the messages Linli had to answer — addressed to it (a private chat, an @ in a
  group, or an emergency) while no caseworker had the conversation. Outcomes other than
  ``none`` (not addressed), ``human`` (a caseworker had it) and ``""`` (not handled yet).
* ``answered``: of ``to_bot``, those Linli dealt with itself: an FAQ answer, a ticket status,
  a ticket registered or a step of registering one, a satisfaction reply, small talk, a
  letter heard and sent where it goes, a caring line or a check-in below the crisis threshold
  (outcomes ``faq``, ``status``, ``ticket``, ``slot``, ``feedback``, ``smalltalk``, ``care``,
  ``check_in``, ``letter``).
* ``handed_over``: of ``to_bot``, those that brought in a person: a handoff to a caseworker
  (asked for, not understood twice, an angry complaint) or an emergency alert to the duty
  caseworker (outcomes ``handoff``, ``emergency``).
* ``unanswered``: of ``to_bot``, no answer (``fallback``), only "did you mean" choices or a
  question back (``clarify``), or a photo/voice Linli cannot read (``media``).
* ``human``: messages that reached a caseworker who already had the conversation.

**Answered-by-bot rate** = ``answered / to_bot``; **handoff rate** = ``handed_over / to_bot``
(None — shown as "—" — on a day with no message to the bot).

Delivery figures, per Asia/Shanghai day and channel, over outbound messages (the bot's
replies, its notices and ticket news, caseworkers' replies): how many went out in the
platform's response (``passive``), were sent through its API (``active``, or fetched by the
/try page: ``pull``), failed (the platform refused them or could not be reached) or could not
be delivered (``undeliverable``: the channel cannot send them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from bot.domain.tickets import Satisfaction, SlaState, TicketStatus
from bot.storage.messages import DeliveryCount, MessageLog, OutcomeCount
from bot.tickets import TicketQueries
from bot.tickets.dashboard import Dashboard, DayCount, Ratio

ANSWERED = frozenset(
    {"faq", "status", "ticket", "slot", "feedback", "smalltalk", "care", "check_in", "letter"}
)
HANDED_OVER = frozenset({"handoff", "emergency", "crisis"})
UNANSWERED = frozenset({"fallback", "clarify", "media"})
NOT_TO_BOT = frozenset({"", "none", "human"})


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class MessageDay:
    day: date
    received: int = 0
    to_bot: int = 0
    answered: int = 0
    handed_over: int = 0
    unanswered: int = 0
    human: int = 0

    @property
    def answered_rate(self) -> float | None:
        return rate(self.answered, self.to_bot)

    @property
    def handoff_rate(self) -> float | None:
        return rate(self.handed_over, self.to_bot)

    def __add__(self, other: MessageDay) -> MessageDay:
        return MessageDay(
            self.day,
            self.received + other.received,
            self.to_bot + other.to_bot,
            self.answered + other.answered,
            self.handed_over + other.handed_over,
            self.unanswered + other.unanswered,
            self.human + other.human,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "received": self.received,
            "to_bot": self.to_bot,
            "answered": self.answered,
            "handed_over": self.handed_over,
            "unanswered": self.unanswered,
            "human": self.human,
            "answered_rate": self.answered_rate,
            "handoff_rate": self.handoff_rate,
        }


@dataclass(frozen=True, slots=True)
class MessageStats:
    start: date
    end: date
    days: tuple[MessageDay, ...]
    by_outcome: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> MessageDay:
        out = MessageDay(self.start)
        for d in self.days:
            out = out + d
        return out

    def to_dict(self) -> dict[str, Any]:
        total = self.total.to_dict()
        del total["day"]
        return {
            "days": [d.to_dict() for d in self.days],
            "total": total,
            "by_outcome": dict(sorted(self.by_outcome.items())),
        }


def _days(start: date, end: date) -> list[date]:
    out, day = [], start
    while day <= end:
        out.append(day)
        day += timedelta(days=1)
    return out


def message_stats(start: date, end: date, counts: Iterable[OutcomeCount]) -> MessageStats:
    """Aggregate the store's per-day outcome counts (any committees) into the figures above."""
    per_day: dict[date, Counter[str]] = {d: Counter() for d in _days(start, end)}
    by_outcome: Counter[str] = Counter()
    for c in counts:
        if c.day in per_day:
            per_day[c.day][c.outcome] += c.count
            by_outcome[c.outcome or "pending"] += c.count
    days = []
    for day, outcomes in per_day.items():
        received = sum(outcomes.values())
        days.append(
            MessageDay(
                day,
                received=received,
                to_bot=sum(n for o, n in outcomes.items() if o not in NOT_TO_BOT),
                answered=sum(outcomes[o] for o in ANSWERED),
                handed_over=sum(outcomes[o] for o in HANDED_OVER),
                unanswered=sum(outcomes[o] for o in UNANSWERED),
                human=outcomes["human"],
            )
        )
    return MessageStats(start, end, tuple(days), dict(by_outcome))


def merge_dashboards(
    committee: str, start: date, end: date, parts: Sequence[Dashboard]
) -> Dashboard:
    """Street totals: the committees' ticket figures added up (ratios over all tickets)."""

    def ratio(pick: str) -> Ratio:
        return Ratio(
            sum(getattr(p, pick).good for p in parts), sum(getattr(p, pick).total for p in parts)
        )

    opened: Counter[date] = Counter()
    resolved: Counter[date] = Counter()
    ratings: Counter[Satisfaction] = Counter()
    by_status: Counter[TicketStatus] = Counter()
    by_sla: Counter[SlaState] = Counter()
    for p in parts:
        for d in p.days:
            opened[d.day] += d.opened
            resolved[d.day] += d.resolved
        ratings.update(p.ratings)
        by_status.update(p.open_by_status)
        by_sla.update(p.open_by_sla)
    return Dashboard(
        committee=committee,
        start=start,
        end=end,
        days=tuple(DayCount(d, opened[d], resolved[d]) for d in _days(start, end)),
        opened=sum(p.opened for p in parts),
        resolved=sum(p.resolved for p in parts),
        first_response=ratio("first_response"),
        resolution=ratio("resolution"),
        satisfaction=ratio("satisfaction"),
        ratings={s: ratings[s] for s in Satisfaction},
        open_by_status=dict(by_status),
        open_by_sla=dict(by_sla),
    )


@dataclass(frozen=True, slots=True)
class DeliveryDay:
    """Outbound messages of one local day on one channel, by how they went out."""

    day: date
    channel: str
    counts: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def delivery_days(counts: Iterable[DeliveryCount]) -> tuple[DeliveryDay, ...]:
    """The store's per-day delivery counts (any committees) by day (newest first) and
    channel; only days and channels that had outbound messages."""
    per: dict[tuple[date, str], Counter[str]] = {}
    for c in counts:
        per.setdefault((c.day, c.channel), Counter())[c.delivery or "unknown"] += c.count
    return tuple(
        DeliveryDay(day, channel, dict(per[(day, channel)]))
        for day, channel in sorted(per, key=lambda k: (-k[0].toordinal(), k[1]))
    )


@dataclass(frozen=True, slots=True)
class Figures:
    """Everything the dashboard shows for one committee (or the street's totals)."""

    committee: str
    """A committee id, or ``STREET`` for the totals."""
    messages: MessageStats
    tickets: Dashboard
    deliveries: tuple[DeliveryDay, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        tickets = self.tickets.to_dict()
        for key in ("committee", "start", "end"):
            tickets.pop(key)
        return {
            "committee": self.committee,
            "start": self.messages.start.isoformat(),
            "end": self.messages.end.isoformat(),
            "messages": self.messages.to_dict(),
            "tickets": tickets,
        }


STREET = "all"
"""The ``committee`` of the street's totals (and the ``?committee=`` that asks for them)."""


class DashboardFigures:
    """Reads the figures of a committee or of the whole street."""

    def __init__(self, message_log: MessageLog, tickets: TicketQueries) -> None:
        self._log = message_log
        self._tickets = tickets

    async def committee(self, committee: str, start: date, end: date) -> Figures:
        counts = await self._log.outcome_counts(start, end, committee)
        tickets = await self._tickets.dashboard(committee, start, end)
        sent = await self._log.delivery_counts(start, end, committee)
        return Figures(committee, message_stats(start, end, counts), tickets, delivery_days(sent))

    async def street(
        self, committees: Sequence[str], start: date, end: date
    ) -> tuple[Figures, list[Figures]]:
        """The street's totals and each committee's figures (in the order given)."""
        counts = await self._log.outcome_counts(start, end)
        sent = [c for c in await self._log.delivery_counts(start, end) if c.committee in committees]
        wanted = set(committees)
        per: dict[str, list[OutcomeCount]] = {c: [] for c in committees}
        for c in counts:
            if c.committee in wanted:
                per[c.committee].append(c)
        parts = [
            Figures(
                c,
                message_stats(start, end, per[c]),
                await self._tickets.dashboard(c, start, end),
                delivery_days(d for d in sent if d.committee == c),
            )
            for c in committees
        ]
        total = Figures(
            STREET,
            message_stats(start, end, (c for c in counts if c.committee in wanted)),
            merge_dashboards(STREET, start, end, [p.tickets for p in parts]),
            delivery_days(sent),
        )
        return total, parts
