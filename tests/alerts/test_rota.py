"""The on-duty rota: shifts in Asia/Shanghai time, overnight shifts past midnight, the next
person on the rota, and configuration errors reported clearly."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from bot.alerts import next_on_rota, on_duty
from bot.domain.clock import SHANGHAI
from bot.settings import Rota, Settings

from .conftest import ROTA

rota = Rota.model_validate(ROTA)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """December 2026: the 7th is a Monday."""
    return datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("when", "names"),
    [
        (at(7, 8, 30), ["王芳"]),
        (at(7, 17, 29), ["王芳"]),
        (at(7, 17, 30), ["李军"]),
        (at(8, 3, 0), ["李军"]),  # Monday's night shift, Tuesday 03:00
        (at(12, 3, 0), ["李军", "陈静"]),  # Friday's night shift runs into Saturday
        (at(12, 9, 0), ["陈静"]),
        (at(13, 23, 59), ["陈静"]),
    ],
)
def test_on_duty(when: datetime, names: list[str]) -> None:
    assert [p.name for p in on_duty(rota, when)] == names


def test_a_gap_in_the_rota_has_nobody_on_duty() -> None:
    # 李军's night shift starts Monday to Friday: nobody starts one on Sunday evening, and
    # 陈静's Sunday ends at midnight, so Monday 00:00-08:30 is uncovered.
    assert on_duty(rota, at(7, 2, 0)) == []
    assert on_duty(rota, at(7, 8, 29)) == []


def test_next_on_rota_is_the_soonest_start_of_someone_else() -> None:
    following = next_on_rota(rota, at(7, 10, 0), {"wangfang"})
    assert following is not None
    assert following.name == "李军"
    friday = next_on_rota(rota, at(11, 20, 0), {"lijun"})
    assert friday is not None
    assert friday.name == "陈静"  # Saturday 00:00 comes before Monday 08:30
    assert next_on_rota(Rota(), at(7, 10, 0), set()) is None


@pytest.mark.parametrize(
    ("shift", "message"),
    [
        ({"name": "x", "hours": "25:00-08:00"}, "hours"),
        ({"name": "x", "hours": "08:00"}, "HH:MM-HH:MM"),
        ({"name": "x", "hours": "08:00-08:00"}, "hours"),
        ({"name": "x", "days": "mon-fry"}, "days"),
        ({"name": "x", "days": ""}, "days"),
    ],
)
def test_bad_rota_is_a_clear_configuration_error(shift: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(committees={"puxiong": {"rota": {"shifts": [shift]}}})


def test_ack_timeout_defaults_to_five_minutes() -> None:
    assert Rota().ack_timeout_s == 300
    with pytest.raises(ValidationError):
        Rota(ack_timeout_s=0)
