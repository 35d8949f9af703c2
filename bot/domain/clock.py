"""The committee's clock: Asia/Shanghai local time, in one place.

Ticket numbers, working hours, the on-duty rota, dashboard and insight days, FAQ validity and
every time a caseworker reads are Shanghai local time. Stores keep UTC; this module turns an
aware moment into its local day and a range of local days into the UTC-comparable bounds a
query needs. SQL that groups by local day takes the zone's name (PostgreSQL) or its fixed
offset (SQLite) from here too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ZONE_NAME = "Asia/Shanghai"
"""The IANA name of the committee's time zone (for ``timezone(name, ts)`` in PostgreSQL)."""

UTC_OFFSET = timedelta(hours=8)
"""China has kept UTC+8 without daylight saving since 1991: the fixed offset is exact for
every moment Linli stores (SQLite, which has no zone database, adds it as a modifier)."""


def _shanghai() -> tzinfo:
    try:
        return ZoneInfo(ZONE_NAME)
    except ZoneInfoNotFoundError:  # pragma: no cover - images without tzdata
        return timezone(UTC_OFFSET, "CST")


SHANGHAI: tzinfo = _shanghai()
"""The committee's local time zone."""


def shanghai_today() -> date:
    """Today's date in Shanghai, whatever the machine's own time zone."""
    return datetime.now(UTC).astimezone(SHANGHAI).date()


def local_day(moment: datetime) -> date:
    """The Shanghai calendar day of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(SHANGHAI).date()


def day_start(day: date) -> datetime:
    """Midnight opening the Shanghai day ``day``, as an aware datetime."""
    return datetime.combine(day, time(0), SHANGHAI)


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """``[start 00:00, end+1 00:00)`` in Shanghai, as aware datetimes: the moments of the
    local days ``start``..``end`` inclusive."""
    return day_start(start), day_start(end + timedelta(days=1))
