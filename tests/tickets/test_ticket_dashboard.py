"""Dashboard figures: opened/resolved per day, SLA compliance, satisfaction rate."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.tickets import (
    Actor,
    InvalidTicket,
    Satisfaction,
    SlaState,
    TicketCategory,
    TicketStatus,
)
from bot.tickets import Tickets

from .support import LI, ZHANG, Clock, draft, local


async def test_dashboard_counts_a_realistic_week(service: Tickets, clock: Clock) -> None:
    # Monday 17 Nov 2025
    clock.now = local(2025, 11, 17, 9, 0)
    a = (await service.intake.create(draft("1号楼电梯异响", building="1号楼"))).ticket
    clock.now = local(2025, 11, 17, 9, 30)
    await service.workflow.claim("puxiong", a.number, actor=ZHANG)  # in time (due 11:00)
    clock.now = local(2025, 11, 17, 10, 0)
    b = (
        await service.intake.create(draft("楼下饭店油烟太大", category=TicketCategory.COMPLAINT))
    ).ticket  # nobody answers it (first response due 14:00)
    clock.now = local(2025, 11, 17, 15, 0)
    await service.workflow.resolve("puxiong", a.number, actor=ZHANG, summary="已调整")  # in time
    await service.satisfaction.rate("puxiong", a.number, 1, actor=Actor.resident(a.reporter))
    # Tuesday 18 Nov
    clock.now = local(2025, 11, 18, 9, 0)
    c = (await service.intake.create(draft("3号楼水管漏水", building="3号楼", sender="u3"))).ticket
    clock.now = local(2025, 11, 18, 10, 0)
    d = (
        await service.intake.create(
            draft("咨询老年卡办理", category=TicketCategory.CONSULTATION, sender="u4")
        )
    ).ticket
    clock.now = local(2025, 11, 18, 10, 30)
    await service.workflow.change_status(
        "puxiong", d.number, TicketStatus.CLOSED, actor=Actor.resident(d.reporter)
    )
    clock.now = local(2025, 11, 18, 13, 0)
    await service.workflow.claim("puxiong", c.number, actor=LI)  # late (due 11:00)
    # Wednesday 19 Nov
    clock.now = local(2025, 11, 19, 10, 0)
    await service.workflow.resolve("puxiong", c.number, actor=LI, summary="已更换水管")  # late
    clock.now = local(2025, 11, 19, 10, 5)
    await service.satisfaction.rate(
        "puxiong", c.number, 3, "还在滴水", actor=Actor.resident(c.reporter)
    )
    clock.now = local(2025, 11, 19, 12, 0)

    board = await service.queries.dashboard("puxiong", date(2025, 11, 17), date(2025, 11, 19))
    assert [(d.day.day, d.opened, d.resolved) for d in board.days] == [
        (17, 2, 1),
        (18, 2, 0),
        (19, 0, 1),
    ]
    assert (board.opened, board.resolved) == (4, 2)
    # first response: a in time, d answered by its withdrawal; b never, c late
    assert (board.first_response.good, board.first_response.total) == (2, 4)
    # resolution: a in time; b still running; c reopened with a new deadline; d withdrawn
    assert (board.resolution.good, board.resolution.total) == (1, 1)
    assert board.satisfaction.rate == 0.5
    assert board.ratings[Satisfaction.SATISFIED] == 1
    assert board.ratings[Satisfaction.DISSATISFIED] == 1
    assert board.open_by_status == {TicketStatus.NEW: 1, TicketStatus.REOPENED: 1}
    assert board.open_by_sla == {SlaState.OVERDUE: 1, SlaState.OK: 1}
    as_json = board.to_dict()
    assert as_json["sla"]["first_response"] == {"good": 2, "total": 4, "rate": 0.5}
    assert as_json["satisfaction"]["ratings"] == {"1": 1, "2": 0, "3": 1}
    # a single day, and another committee sees nothing of it
    tuesday = await service.queries.dashboard("puxiong", date(2025, 11, 18), date(2025, 11, 18))
    assert (tuesday.opened, tuesday.resolved, tuesday.satisfaction.total) == (2, 0, 0)
    assert tuesday.satisfaction.rate is None
    other = await service.queries.dashboard("other", date(2025, 11, 17), date(2025, 11, 19))
    assert (other.opened, other.resolved, other.open_by_status) == (0, 0, {})
    with pytest.raises(InvalidTicket):
        await service.queries.dashboard("puxiong", date(2025, 11, 19), date(2025, 11, 17))
    assert b.status is TicketStatus.NEW
