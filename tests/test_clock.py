"""The committee's clock (``bot.domain.clock``): local days of UTC moments around local
midnight, the bounds of a range of local days, and today in Shanghai."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.domain.clock import (
    SHANGHAI,
    UTC_OFFSET,
    day_bounds,
    day_start,
    local_day,
    shanghai_today,
)


def test_the_local_day_turns_at_16_utc() -> None:
    assert local_day(datetime(2026, 1, 1, 15, 59, 59, tzinfo=UTC)) == date(2026, 1, 1)
    assert local_day(datetime(2026, 1, 1, 16, 0, tzinfo=UTC)) == date(2026, 1, 2)
    # a summer day too: Shanghai keeps UTC+8 all year
    assert local_day(datetime(2026, 7, 1, 16, 0, tzinfo=UTC)) == date(2026, 7, 2)


def test_a_naive_moment_has_no_local_day() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_day(datetime(2026, 1, 1, 12, 0))


def test_day_bounds_cover_the_local_days_inclusive() -> None:
    lo, hi = day_bounds(date(2026, 3, 1), date(2026, 3, 2))
    assert lo == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert hi == datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    assert lo == day_start(date(2026, 3, 1))
    assert local_day(lo) == date(2026, 3, 1)
    assert local_day(hi - timedelta(microseconds=1)) == date(2026, 3, 2)
    assert local_day(hi) == date(2026, 3, 3)


def test_the_fixed_offset_is_the_zone_offset() -> None:
    for month in range(1, 13):
        assert datetime(2026, month, 15, tzinfo=SHANGHAI).utcoffset() == UTC_OFFSET


def test_today_is_the_local_day_of_now() -> None:
    before = local_day(datetime.now(UTC))
    today = shanghai_today()
    after = local_day(datetime.now(UTC))
    assert today in {before, after}
