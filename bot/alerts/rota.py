"""Who is on duty when: a committee's rota (``committees.<id>.rota`` in the settings) read in
Asia/Shanghai time, and the order in which an unacknowledged alert escalates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.clock import SHANGHAI, day_start
from bot.settings import Rota, Shift, StreetDuty

_LOOKAHEAD_DAYS = 8


@dataclass(frozen=True, slots=True)
class Person:
    """Someone an alert can reach: mentioned by ``mobile`` in a robot message, known in the
    console as ``user``."""

    name: str
    user: str = ""
    mobile: str = ""

    @property
    def key(self) -> str:
        return self.user or self.mobile or self.name

    @classmethod
    def of(cls, shift: Shift) -> Person:
        return cls(shift.name.strip() or shift.user, shift.user.strip(), shift.mobile.strip())


def _on(shift: Shift, local: datetime) -> bool:
    start, end = shift.span
    minute = local.hour * 60 + local.minute
    day = local.weekday()
    if start < end:
        return day in shift.weekdays and start <= minute < end
    # Overnight: from ``start`` on a listed day to ``end`` on the next morning.
    return (day in shift.weekdays and minute >= start) or (
        (day - 1) % 7 in shift.weekdays and minute < end
    )


def _unique(people: list[Person]) -> list[Person]:
    seen: set[str] = set()
    out = []
    for p in people:
        if p.key not in seen:
            seen.add(p.key)
            out.append(p)
    return out


def on_duty(rota: Rota, now: datetime) -> list[Person]:
    """The people whose shift covers ``now``, in rota order."""
    local = now.astimezone(SHANGHAI)
    return _unique([Person.of(s) for s in rota.shifts if _on(s, local)])


def next_on_rota(rota: Rota, now: datetime, exclude: set[str]) -> Person | None:
    """The person whose shift starts soonest after ``now`` and who is not in ``exclude``
    (keys or names of people alerted already); None when the rota names nobody else."""
    local = now.astimezone(SHANGHAI)
    starts: list[tuple[datetime, int, Person]] = []
    for index, shift in enumerate(rota.shifts):
        person = Person.of(shift)
        if person.key in exclude or person.name in exclude:
            continue
        start, _ = shift.span
        for offset in range(_LOOKAHEAD_DAYS):
            day = local.date() + timedelta(days=offset)
            if day.weekday() not in shift.weekdays:
                continue
            begins = day_start(day) + timedelta(minutes=start)
            if begins > local:
                starts.append((begins, index, person))
                break
    if not starts:
        return None
    return min(starts, key=lambda s: (s[0], s[1]))[2]


def person_for_user(rota: Rota, user: str) -> Person | None:
    """The rota's entry for a console user name (for their mobile), if any."""
    wanted = user.strip().casefold()
    for shift in rota.shifts:
        if shift.user and shift.user.strip().casefold() == wanted:
            return Person.of(shift)
    return None


def street_contact(street: StreetDuty) -> Person | None:
    """The street office's duty contact, or None when none is configured."""
    if not (street.duty_name or street.duty_phone or street.staff_robot_key):
        return None
    phone = street.duty_phone.strip()
    mobile = phone if _is_mobile(phone) else ""
    return Person(street.duty_name.strip() or "街道值班", "", mobile)


def _is_mobile(phone: str) -> bool:
    digits = "".join(ch for ch in phone if ch.isdigit())
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return len(digits) == 11 and digits.startswith("1")
