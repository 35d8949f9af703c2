"""Dashboard figures for one committee over a range of local (Asia/Shanghai) days.

* ``opened`` per day: tickets created that day. ``resolved`` per day: resolutions recorded
  that day (a ticket resolved, reopened and resolved again counts twice).
* ``first_response`` / ``resolution``: SLA compliance of the tickets *opened* in the range.
  A deadline counts once it is decided: met (done in time), or breached (done late, or still
  not done after the deadline). Deadlines still running are left out; tickets closed without
  a resolution (withdrawn, cancelled) are left out of the resolution figure; a reopened ticket
  counts by its current (restarted) resolution deadline — its reopening shows in the
  satisfaction figure instead.
* ``satisfaction``: ratings *given* in the range; the rate is (满意 + 基本满意) / all ratings.
* ``open_by_status`` / ``open_by_sla``: the committee's open tickets right now.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bot.domain.clock import local_day
from bot.domain.tickets import (
    Satisfaction,
    SlaState,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from bot.tickets.sla import SlaPolicy


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    opened: int
    resolved: int


@dataclass(frozen=True, slots=True)
class Ratio:
    good: int
    total: int

    @property
    def rate(self) -> float | None:
        """``good / total``, or None when nothing was counted."""
        return self.good / self.total if self.total else None


@dataclass(frozen=True, slots=True)
class Dashboard:
    committee: str
    start: date
    end: date
    """Inclusive."""
    days: tuple[DayCount, ...]
    opened: int
    resolved: int
    first_response: Ratio
    resolution: Ratio
    satisfaction: Ratio
    ratings: Mapping[Satisfaction, int]
    open_by_status: Mapping[TicketStatus, int]
    open_by_sla: Mapping[SlaState, int]

    def to_dict(self) -> dict[str, Any]:
        def ratio(r: Ratio) -> dict[str, Any]:
            return {"good": r.good, "total": r.total, "rate": r.rate}

        return {
            "committee": self.committee,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": [
                {"day": d.day.isoformat(), "opened": d.opened, "resolved": d.resolved}
                for d in self.days
            ],
            "opened": self.opened,
            "resolved": self.resolved,
            "sla": {
                "first_response": ratio(self.first_response),
                "resolution": ratio(self.resolution),
            },
            "satisfaction": {
                **ratio(self.satisfaction),
                "ratings": {str(int(k)): v for k, v in sorted(self.ratings.items())},
            },
            "open_by_status": {k.value: v for k, v in self.open_by_status.items()},
            "open_by_sla": {k.value: v for k, v in self.open_by_sla.items()},
        }


def build(
    committee: str,
    start: date,
    end: date,
    *,
    opened: Iterable[Ticket],
    resolutions: Iterable[TicketEvent],
    ratings: Iterable[TicketEvent],
    open_now: Iterable[Ticket],
    sla: SlaPolicy,
    now: datetime,
) -> Dashboard:
    """Aggregate what the store returned (see the module docstring for each figure)."""
    opened = list(opened)
    opened_per_day = Counter(local_day(t.created_at) for t in opened)
    resolved_per_day = Counter(local_day(e.created_at) for e in resolutions)
    days = []
    day = start
    while day <= end:
        days.append(DayCount(day, opened_per_day[day], resolved_per_day[day]))
        day += timedelta(days=1)

    response_met = response_total = resolution_met = resolution_total = 0
    for t in opened:
        responded = t.first_response_at or t.closed_at or t.resolved_at
        if responded is not None or now > t.first_response_due:
            response_total += 1
            response_met += responded is not None and responded <= t.first_response_due
        cancelled = t.status is TicketStatus.CLOSED and t.resolved_at is None
        if cancelled:
            continue
        if t.resolved_at is not None or now > t.resolution_due:
            resolution_total += 1
            resolution_met += t.resolved_at is not None and t.resolved_at <= t.resolution_due

    scores: Counter[Satisfaction] = Counter()
    for e in ratings:
        score = e.data.get("score")
        if isinstance(score, int) and score in Satisfaction._value2member_map_:
            scores[Satisfaction(score)] += 1
    rated = sum(scores.values())
    satisfied = scores[Satisfaction.SATISFIED] + scores[Satisfaction.FAIRLY_SATISFIED]

    open_list = list(open_now)
    return Dashboard(
        committee=committee,
        start=start,
        end=end,
        days=tuple(days),
        opened=len(opened),
        resolved=sum(resolved_per_day.values()),
        first_response=Ratio(response_met, response_total),
        resolution=Ratio(resolution_met, resolution_total),
        satisfaction=Ratio(satisfied, rated),
        ratings={s: scores[s] for s in Satisfaction},
        open_by_status=dict(Counter(t.status for t in open_list)),
        open_by_sla=dict(Counter(sla.state(t, now) for t in open_list)),
    )
