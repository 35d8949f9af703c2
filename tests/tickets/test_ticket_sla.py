"""SLA deadlines on the Chinese working-day calendar (weekends, 国庆 2025, 调休 make-up days)
and the SLA state of tickets."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

import pytest

from bot.domain.tickets import SlaState, TicketCategory, TicketPriority
from bot.tickets import (
    SlaConfigError,
    SlaPolicy,
    SlaSpan,
    Tickets,
    WorkingCalendar,
    WorkingHours,
)

from .support import ZHANG, Clock, draft, local

ONE_WORKING_DAY = SlaSpan.parse("1 working day")
CALENDAR = WorkingCalendar()


@pytest.mark.parametrize(
    ("start", "span", "due"),
    [
        # Tuesday 30 Sep 2025, the eve of 国庆: 1–8 Oct are holidays, Thursday 9 Oct works.
        (local(2025, 9, 30, 10, 0), "1 working day", local(2025, 10, 9, 10, 0)),
        # Friday 26 Sep 16:00: Saturday rests, Sunday 28 Sep is a make-up workday (调休).
        (local(2025, 9, 26, 16, 0), "1 working day", local(2025, 9, 28, 16, 0)),
        # Friday 10 Oct 16:00: Saturday 11 Oct is a make-up workday.
        (local(2025, 10, 10, 16, 0), "1 working day", local(2025, 10, 11, 16, 0)),
        # An ordinary weekend: Friday 14 Nov 16:00 → Monday 17 Nov 16:00.
        (local(2025, 11, 14, 16, 0), "1 working day", local(2025, 11, 17, 16, 0)),
        # Reported on Saturday night: the clock starts Monday 08:30.
        (local(2025, 11, 15, 22, 0), "2 working hours", local(2025, 11, 17, 10, 30)),
        (local(2025, 11, 15, 22, 0), "1 working day", local(2025, 11, 17, 17, 0)),
        # Before opening time and exactly a whole day: due at closing time the same day.
        (local(2025, 11, 17, 7, 0), "1 working day", local(2025, 11, 17, 17, 0)),
        # After closing time: counts from the next working day.
        (local(2025, 11, 17, 18, 0), "2 working hours", local(2025, 11, 18, 10, 30)),
        # 5 working days from Thursday 25 Sep 09:00, across the make-up Sunday and 国庆:
        # 8 h (Thu) + 8.5 (Fri) + 8.5 (Sun 28) + 8.5 (Mon) + 8.5 (Tue) = 42 h, 0.5 h left.
        (local(2025, 9, 25, 9, 0), "5 working days", local(2025, 10, 9, 9, 0)),
        # 春节 2026: 15–23 Feb are holidays, Saturday 14 and 28 Feb are make-up workdays.
        (local(2026, 2, 13, 16, 0), "1 working day", local(2026, 2, 14, 16, 0)),
        (local(2026, 2, 14, 16, 0), "1 working day", local(2026, 2, 24, 16, 0)),
        # Calendar time runs through holidays and nights.
        (local(2025, 10, 1, 3, 0), "15 minutes", local(2025, 10, 1, 3, 15)),
        (local(2025, 10, 1, 3, 0), "24 hours", local(2025, 10, 2, 3, 0)),
    ],
)
def test_deadlines_follow_the_chinese_working_day_calendar(
    start: datetime, span: str, due: datetime
) -> None:
    assert SlaSpan.parse(span).due(start, CALENDAR) == due


def test_working_hours_are_configurable() -> None:
    cal = WorkingCalendar(WorkingHours.parse("9:00-12:00"))
    # one working day is now 3 hours: Friday 11:00 → Monday 11:00
    assert ONE_WORKING_DAY.due(local(2025, 11, 14, 11, 0), cal) == local(2025, 11, 17, 11, 0)


def test_years_without_holiday_data_fall_back_to_monday_to_friday(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cal = WorkingCalendar()
    with caplog.at_level(logging.WARNING):
        # Friday 1 Jan 2100 16:00 → Monday 4 Jan 16:00
        assert ONE_WORKING_DAY.due(local(2100, 1, 1, 16, 0), cal) == local(2100, 1, 4, 16, 0)
    warnings = [r for r in caplog.records if "no holiday data" in r.getMessage()]
    assert len(warnings) == 1


def test_sla_configuration_overrides_defaults_and_rejects_nonsense() -> None:
    policy = SlaPolicy.from_mapping(
        {
            "working_hours": "8:00-18:00",
            "repair": {"first_response": "1 working hour"},
            "complaint": {"resolution": "3 working days"},
        }
    )
    assert str(policy.rules[TicketCategory.REPAIR].first_response) == "1 working hours"
    assert str(policy.rules[TicketCategory.REPAIR].resolution) == "1 working days"
    assert str(policy.rules[TicketCategory.EMERGENCY].first_response) == "15 minutes"
    first, resolution = policy.due(TicketCategory.REPAIR, local(2025, 11, 14, 17, 30))
    assert first == local(2025, 11, 17, 8, 30)  # 17:30–18:00 Friday, then 8:00–8:30 Monday
    assert resolution == local(2025, 11, 17, 17, 30)
    for bad in (
        {"repair": {"first_response": "soon"}},
        {"repair": {"deadline": "1 day"}},
        {"plumbing": {"resolution": "1 day"}},
        {"working_hours": "17:00-8:30"},
        {"due_soon_fraction": 1.5},
        {"repair": {"resolution": "0 hours"}},
    ):
        with pytest.raises(SlaConfigError):
            SlaPolicy.from_mapping(bad)


async def test_created_tickets_carry_their_deadlines_exactly(
    service: Tickets, clock: Clock
) -> None:
    clock.now = local(2025, 9, 30, 16, 0)  # the afternoon before 国庆
    repair = (await service.intake.create(draft())).ticket
    # 2 working hours: 16:00–17:00 on 30 Sep, then 08:30–09:30 on 9 Oct
    assert repair.first_response_due == local(2025, 10, 9, 9, 30)
    assert repair.resolution_due == local(2025, 10, 9, 16, 0)
    emergency = (
        await service.intake.create(draft("有人被困电梯", category=TicketCategory.EMERGENCY))
    ).ticket
    assert emergency.priority is TicketPriority.URGENT
    assert emergency.first_response_due == local(2025, 9, 30, 16, 15)
    stored = await service.queries.get("puxiong", repair.number)
    assert stored.first_response_due == repair.first_response_due
    assert stored.resolution_due == local(2025, 10, 9, 16, 0)
    assert stored.created_at == clock.now


async def test_sla_state_goes_from_ok_to_due_soon_to_overdue(
    service: Tickets, clock: Clock
) -> None:
    clock.now = local(2025, 11, 17, 9, 0)  # Monday
    ticket = (
        await service.intake.create(draft())
    ).ticket  # first response due 11:00, fix by Tue 9:00
    assert service.queries.sla_state(ticket, local(2025, 11, 17, 10, 0)) is SlaState.OK
    assert service.queries.sla_state(ticket, local(2025, 11, 17, 10, 30)) is SlaState.DUE_SOON
    assert service.queries.sla_state(ticket, local(2025, 11, 17, 11, 1)) is SlaState.OVERDUE
    clock.now = local(2025, 11, 17, 10, 45)
    claimed = await service.workflow.claim("puxiong", ticket.number, actor=ZHANG)
    # responded in time: only the resolution (Tue 09:00) is pending now
    assert service.queries.sla_state(claimed, local(2025, 11, 17, 12, 0)) is SlaState.OK
    assert service.queries.sla_state(claimed, local(2025, 11, 18, 8, 0)) is SlaState.DUE_SOON
    assert service.queries.sla_state(claimed, local(2025, 11, 18, 9, 1)) is SlaState.OVERDUE
    clock.now = local(2025, 11, 18, 9, 30)
    late = await service.workflow.resolve("puxiong", ticket.number, actor=ZHANG, summary="已修好")
    assert service.queries.sla_state(late) is SlaState.BREACHED
    clock.now = local(2025, 11, 18, 9, 40)
    quick = (await service.intake.create(draft("电梯按钮坏了"))).ticket
    await service.workflow.claim("puxiong", quick.number, actor=ZHANG)
    done = await service.workflow.resolve("puxiong", quick.number, actor=ZHANG, summary="已修好")
    assert service.queries.sla_state(done) is SlaState.MET


async def test_the_inbox_lists_open_tickets_by_urgency_then_deadline(
    service: Tickets, clock: Clock
) -> None:
    clock.now = local(2025, 11, 17, 9, 0)
    suggestion = await service.intake.create(
        draft("建议加装休息座椅", category=TicketCategory.SUGGESTION)
    )
    clock.advance(minutes=5)
    repair_late = await service.intake.create(draft("楼道灯不亮", building="5号楼"))
    clock.advance(minutes=5)
    consult = await service.intake.create(
        draft("想咨询加装电梯的补贴", category=TicketCategory.CONSULTATION, building="")
    )
    clock.advance(minutes=5)
    emergency = await service.intake.create(draft("燃气味很重", category=TicketCategory.EMERGENCY))
    clock.advance(minutes=5)
    done = await service.intake.create(draft("水管漏水", building="7号楼"))
    await service.workflow.claim("puxiong", done.ticket.number, actor=ZHANG)
    await service.workflow.resolve("puxiong", done.ticket.number, actor=ZHANG, summary="已修")
    await service.workflow.change_priority(
        "puxiong", suggestion.ticket.number, TicketPriority.LOW, actor=ZHANG
    )
    inbox = await service.queries.inbox("puxiong")
    assert [i.ticket.number for i in inbox] == [
        emergency.ticket.number,  # urgent
        repair_late.ticket.number,  # normal, first response due 11:05
        consult.ticket.number,  # normal, first response due 11:10
        suggestion.ticket.number,  # low
    ]
    assert inbox[0].due == emergency.ticket.first_response_due
    assert {i.sla for i in inbox} == {SlaState.OK}
    mine = await service.queries.inbox("puxiong", assignee_id="cw-zhang")
    assert mine == []  # the one Zhang had is resolved
    late = await service.queries.inbox("puxiong", now=local(2025, 11, 17, 12, 0))
    assert late[0].sla is SlaState.OVERDUE  # the emergency was due at 09:30


def test_calendar_rejects_naive_times() -> None:
    with pytest.raises(ValueError, match="naive"):
        CALENDAR.add(datetime(2025, 11, 17, 9, 0), timedelta(hours=1))
    assert CALENDAR.is_workday(date(2025, 9, 28))  # the 国庆 make-up Sunday
    assert not CALENDAR.is_workday(date(2025, 10, 6))  # 中秋 inside the 国庆 break
    assert not CALENDAR.is_workday(date(2025, 11, 15))  # an ordinary Saturday


def test_the_first_response_comes_before_the_resolution() -> None:
    policy = SlaPolicy()
    for category in TicketCategory:
        first, resolution = policy.due(category, local(2025, 9, 30, 10, 0))
        assert first <= resolution
