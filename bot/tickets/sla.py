"""Service levels: when a ticket's first response and its resolution are due.

The exact rule (Asia/Shanghai local time):

* **Calendar spans** (``"15 minutes"``, ``"24 hours"``, ``"2 days"``) run 24/7: due = start +
  span.
* **Working spans** (``"2 working hours"``, ``"1 working day"``) count only working time:
  the hours ``08:30–17:00`` (configurable) of working days. A working day is a day
  ``chinese_calendar`` calls a workday: Monday–Friday that is not a public holiday, plus the
  make-up workdays (调休) on weekends. ``1 working day`` = one full working-hours span
  (8 h 30 min by default). Time before 08:30 counts from 08:30; time after 17:00 or on a rest
  day counts from the next working day's 08:30; a deadline that uses up a day exactly falls on
  that day's 17:00. So a repair reported on Friday 16:00 with "1 working day" is due on the next
  working day at 16:00, and one reported on Saturday night is due on the next working day at
  17:00.
* Years ``chinese_calendar`` has no data for yet fall back to Monday–Friday (a warning is
  logged once per year); update the package each December when the State Council publishes
  the next year's holidays.
* The clock does not pause while a ticket waits for the resident.
* A ticket is **due soon** once three quarters (configurable) of the calendar time between the
  start of a pending deadline and the deadline have passed, and **overdue** after the deadline.
  Pending deadlines: the first response until someone responds (claim, transfer, public note,
  status change), and the resolution until the ticket is resolved; after a reopening the
  resolution deadline restarts from the reopening. A finished ticket **met** its SLA when the
  first response and the (last) resolution came in time, else it **breached** it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from types import MappingProxyType
from typing import Any, Literal

import chinese_calendar

from bot.domain.clock import SHANGHAI
from bot.domain.tickets import (
    InvalidTicket,
    SlaState,
    Ticket,
    TicketCategory,
)

log = logging.getLogger(__name__)

Unit = Literal["minute", "hour", "day"]
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(working\s+)?(minute|hour|day)s?\s*$", re.IGNORECASE)
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–—~]\s*(\d{1,2}):(\d{2})\s*$")
_MAX_DAYS_SCANNED = 3700
_CATEGORY_VALUES = frozenset(c.value for c in TicketCategory)


class SlaConfigError(InvalidTicket):
    """The SLA configuration cannot be understood; the message names the entry."""


@dataclass(frozen=True, slots=True)
class WorkingHours:
    start: time = time(8, 30)
    end: time = time(17, 0)

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise SlaConfigError("working hours: start must be before end")

    @property
    def length(self) -> timedelta:
        base = date(2000, 1, 1)
        return datetime.combine(base, self.end) - datetime.combine(base, self.start)

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        """``"8:30-17:00"`` → WorkingHours(08:30, 17:00)."""
        m = _HOURS.match(text)
        if m is None:
            raise SlaConfigError(f"working hours {text!r}: expected HH:MM-HH:MM")
        try:
            return cls(time(int(m[1]), int(m[2])), time(int(m[3]), int(m[4])))
        except ValueError as exc:
            raise SlaConfigError(f"working hours {text!r}: {exc}") from exc


def china_workday(day: date) -> bool:
    """Whether ``day`` is a working day in mainland China (调休 included).

    Raises NotImplementedError for years ``chinese_calendar`` does not know."""
    return bool(chinese_calendar.is_workday(day))


class WorkingCalendar:
    """Working days (``is_workday``, default :func:`china_workday`) and working hours."""

    def __init__(
        self,
        hours: WorkingHours | None = None,
        is_workday: Callable[[date], bool] = china_workday,
        tz: tzinfo = SHANGHAI,
    ) -> None:
        self.hours = hours or WorkingHours()
        self.tz = tz
        self._is_workday = is_workday
        self._warned_years: set[int] = set()

    def is_workday(self, day: date) -> bool:
        try:
            return self._is_workday(day)
        except NotImplementedError:
            if day.year not in self._warned_years:
                self._warned_years.add(day.year)
                log.warning(
                    "no holiday data for this year: counting Monday to Friday as working days",
                    extra={"year": day.year},
                )
            return day.weekday() < 5

    def add(self, start: datetime, working: timedelta) -> datetime:
        """The moment ``working`` working time after ``start`` (an aware datetime), in UTC."""
        if start.tzinfo is None:
            raise ValueError("naive datetime")
        if working < timedelta(0):
            raise ValueError("negative working time")
        remaining = working
        cursor = start.astimezone(self.tz)
        day = cursor.date()
        for _ in range(_MAX_DAYS_SCANNED):
            if self.is_workday(day):
                opens = datetime.combine(day, self.hours.start, self.tz)
                closes = datetime.combine(day, self.hours.end, self.tz)
                begin = max(cursor, opens)
                if begin < closes:
                    available = closes - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(UTC)
                    remaining -= available
            day += timedelta(days=1)
            cursor = datetime.combine(day, time(0), self.tz)
        raise ValueError("no working time found within ten years")


@dataclass(frozen=True, slots=True)
class SlaSpan:
    """An amount of calendar or working time; see the module docstring for the rule."""

    amount: float
    unit: Unit
    working: bool = False

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise SlaConfigError("an SLA span must be positive")

    @classmethod
    def parse(cls, text: str) -> SlaSpan:
        """``"15 minutes"``, ``"24 hours"``, ``"2 working hours"``, ``"1 working day"``."""
        m = _SPAN.match(text)
        if m is None:
            raise SlaConfigError(
                f"SLA span {text!r}: expected e.g. '15 minutes', '2 working hours', '1 working day'"
            )
        unit: Unit = m[3].lower()  # type: ignore[assignment]
        return cls(float(m[1]), unit, working=bool(m[2]))

    def due(self, start: datetime, calendar: WorkingCalendar) -> datetime:
        if not self.working:
            size = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1)}.get(
                self.unit, timedelta(days=1)
            )
            return (start + size * self.amount).astimezone(UTC)
        size = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1)}.get(
            self.unit, calendar.hours.length
        )
        return calendar.add(start, size * self.amount)

    def __str__(self) -> str:
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{amount} {'working ' if self.working else ''}{self.unit}s"


@dataclass(frozen=True, slots=True)
class SlaRule:
    first_response: SlaSpan
    resolution: SlaSpan


def _rule(first: str, resolution: str) -> SlaRule:
    return SlaRule(SlaSpan.parse(first), SlaSpan.parse(resolution))


DEFAULT_RULES: Mapping[TicketCategory, SlaRule] = MappingProxyType(
    {
        TicketCategory.EMERGENCY: _rule("15 minutes", "24 hours"),
        TicketCategory.REPAIR: _rule("2 working hours", "1 working day"),
        TicketCategory.CONSULTATION: _rule("2 working hours", "1 working day"),
        TicketCategory.COMPLAINT: _rule("4 working hours", "5 working days"),
        TicketCategory.SUGGESTION: _rule("1 working day", "5 working days"),
    }
)
"""Defaults: an emergency is answered within 15 minutes around the clock; a repair or an
enquiry within 2 working hours and settled within 1 working day; a complaint answered within
4 working hours and settled within 5 working days; a suggestion answered within 1 working day
and settled within 5."""


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    rules: Mapping[TicketCategory, SlaRule] = field(default_factory=lambda: DEFAULT_RULES)
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    due_soon_fraction: float = 0.75

    def __post_init__(self) -> None:
        missing = [c.value for c in TicketCategory if c not in self.rules]
        if missing:
            raise SlaConfigError(f"no SLA rule for {', '.join(missing)}")
        if not 0 < self.due_soon_fraction < 1:
            raise SlaConfigError("due_soon_fraction must be between 0 and 1")

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], is_workday: Callable[[date], bool] = china_workday
    ) -> SlaPolicy:
        """Overrides of the defaults (e.g. a ``[tickets.sla]`` settings table). Keys:
        ``working_hours`` (``"8:30-17:00"``), ``due_soon_fraction`` (``0.75``), and per
        category a table with ``first_response`` and/or ``resolution`` spans, e.g.
        ``repair = {first_response = "2 working hours", resolution = "1 working day"}``.
        Raises :class:`SlaConfigError` naming the bad entry."""
        rules = dict(DEFAULT_RULES)
        hours = WorkingHours()
        fraction = 0.75
        for key, value in data.items():
            if key == "working_hours":
                hours = WorkingHours.parse(str(value))
            elif key == "due_soon_fraction":
                try:
                    fraction = float(value)
                except (TypeError, ValueError) as exc:
                    raise SlaConfigError("due_soon_fraction must be a number") from exc
            elif key in _CATEGORY_VALUES:
                category = TicketCategory(key)
                if not isinstance(value, Mapping):
                    raise SlaConfigError(f"{key}: expected first_response and/or resolution")
                unknown = set(value) - {"first_response", "resolution"}
                if unknown:
                    raise SlaConfigError(f"{key}: unknown entries {sorted(unknown)}")
                base = rules[category]
                rules[category] = SlaRule(
                    SlaSpan.parse(str(value["first_response"]))
                    if "first_response" in value
                    else base.first_response,
                    SlaSpan.parse(str(value["resolution"]))
                    if "resolution" in value
                    else base.resolution,
                )
            else:
                raise SlaConfigError(f"unknown SLA entry {key!r}")
        return cls(MappingProxyType(rules), WorkingCalendar(hours, is_workday), fraction)

    def due(self, category: TicketCategory, start: datetime) -> tuple[datetime, datetime]:
        """(first response due, resolution due) for a ticket opened at ``start``."""
        rule = self.rules[category]
        return (
            rule.first_response.due(start, self.calendar),
            rule.resolution.due(start, self.calendar),
        )

    def resolution_due(self, category: TicketCategory, start: datetime) -> datetime:
        return self.rules[category].resolution.due(start, self.calendar)

    def state(self, ticket: Ticket, now: datetime) -> SlaState:
        """The ticket's SLA state at ``now`` (see the module docstring)."""
        if not ticket.is_open:
            # A ticket closed before anyone responded was answered by its closing.
            responded = ticket.first_response_at or ticket.closed_at or ticket.resolved_at
            late_response = responded is not None and responded > ticket.first_response_due
            late_resolution = (
                ticket.resolved_at is not None and ticket.resolved_at > ticket.resolution_due
            )
            return SlaState.BREACHED if late_response or late_resolution else SlaState.MET
        pending: list[tuple[datetime, datetime]] = [
            (ticket.resolution_clock_from, ticket.resolution_due)
        ]
        if ticket.first_response_at is None:
            pending.append((ticket.created_at, ticket.first_response_due))
        if any(now > due for _, due in pending):
            return SlaState.OVERDUE
        if any(now >= start + (due - start) * self.due_soon_fraction for start, due in pending):
            return SlaState.DUE_SOON
        return SlaState.OK
