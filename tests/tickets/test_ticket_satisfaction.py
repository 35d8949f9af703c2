"""Satisfaction (回访): pending after resolution, 不满意 reopens and names whom to alert,
1/2 close, unanswered questions close themselves after 3 days."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.tickets import (
    Actor,
    EventKind,
    InvalidTicket,
    NotificationKind,
    RatingNotPending,
    Satisfaction,
    Ticket,
    TicketStatus,
)
from bot.tickets import Tickets

from .support import LI, ZHANG, Clock, draft


async def _resolved(
    service: Tickets, text: str = "2号楼电梯停了", building: str = "2号楼"
) -> Ticket:
    created = (await service.intake.create(draft(text, building=building))).ticket
    await service.workflow.claim("puxiong", created.number, actor=ZHANG)
    return await service.workflow.resolve(
        "puxiong", created.number, actor=ZHANG, summary="电梯已修复"
    )


async def test_resolution_asks_the_satisfaction_question(service: Tickets) -> None:
    ticket = await _resolved(service)
    assert ticket.rating_pending
    notes = await service.outbox.pending_notifications()
    assert [n.kind for n in notes] == [NotificationKind.CLAIMED, NotificationKind.RESOLVED]
    assert notes[1].text.startswith(f"您的报修工单 {ticket.number} 已办结：电梯已修复")
    assert "1 满意　2 基本满意　3 不满意" in notes[1].text
    pending = await service.satisfaction.rating_pending_for("puxiong", ticket.reporter.resident)
    assert pending is not None
    assert pending.number == ticket.number


async def test_dissatisfied_reopens_the_ticket_and_names_the_assignee(
    service: Tickets, clock: Clock
) -> None:
    ticket = await _resolved(service)
    resident = Actor.resident(ticket.reporter)
    clock.advance(hours=5)
    result = await service.satisfaction.rate(
        "puxiong", ticket.number, 3, "电梯还是会突然停", actor=resident
    )
    assert result.reopened
    assert result.alert == ZHANG
    assert result.ticket.status is TicketStatus.REOPENED
    assert result.ticket.satisfaction is Satisfaction.DISSATISFIED
    assert result.ticket.satisfaction_comment == "电梯还是会突然停"
    assert result.ticket.reopen_count == 1
    assert result.ticket.reopened_at == clock.now
    assert result.ticket.resolved_at is None
    assert not result.ticket.rating_pending
    assert result.ticket.resolution_due > clock.now  # a fresh deadline from the reopening
    assert "重新打开" in result.reply
    history = await service.queries.history("puxiong", ticket.number)
    assert [e.kind for e in history[-2:]] == [EventKind.SATISFACTION, EventKind.REOPENED]
    assert history[-2].data == {"score": 3, "comment": "电梯还是会突然停"}
    assert (
        await service.satisfaction.rating_pending_for("puxiong", ticket.reporter.resident) is None
    )
    # back in the inbox; anyone may pick it up again, and the resident is told
    assert [i.ticket.number for i in await service.queries.inbox("puxiong")] == [ticket.number]
    again = await service.workflow.claim("puxiong", ticket.number, actor=LI)
    assert again.status is TicketStatus.CLAIMED
    assert again.assignee == LI
    texts = [n.text for n in await service.outbox.pending_notifications()]
    assert "重新受理" in texts[-1]
    with pytest.raises(RatingNotPending):
        await service.satisfaction.rate("puxiong", ticket.number, 1, actor=resident)


@pytest.mark.parametrize("score", [1, 2])
async def test_satisfied_closes_the_ticket(service: Tickets, score: int) -> None:
    ticket = await _resolved(service)
    result = await service.satisfaction.rate(
        "puxiong", ticket.number, score, actor=Actor.resident(ticket.reporter)
    )
    assert not result.reopened
    assert result.alert is None
    assert result.ticket.status is TicketStatus.CLOSED
    assert result.ticket.satisfaction == Satisfaction(score)
    assert result.reply.startswith("感谢您的评价")
    with pytest.raises(RatingNotPending):
        await service.satisfaction.rate(
            "puxiong", ticket.number, 3, actor=Actor.resident(ticket.reporter)
        )


async def test_ratings_are_validated(service: Tickets) -> None:
    ticket = await _resolved(service)
    with pytest.raises(InvalidTicket):
        await service.satisfaction.rate("puxiong", ticket.number, 4, actor=ZHANG)
    open_one = (await service.intake.create(draft("楼道灯不亮", building="9号楼"))).ticket
    with pytest.raises(RatingNotPending):
        await service.satisfaction.rate("puxiong", open_one.number, 1, actor=ZHANG)
    # a caseworker may record a rating taken by phone
    phoned = await service.satisfaction.rate("puxiong", ticket.number, 2, "电话回访", actor=ZHANG)
    assert phoned.ticket.status is TicketStatus.CLOSED


async def test_unanswered_ratings_close_after_three_days(service: Tickets, clock: Clock) -> None:
    old = await _resolved(service)
    clock.advance(days=1)
    young = await _resolved(service, "3号楼电梯停了", building="3号楼")
    rated = await _resolved(service, "4号楼电梯停了", building="4号楼")
    await service.satisfaction.rate("puxiong", rated.number, 1, actor=ZHANG)
    resolved_at = old.resolved_at
    assert resolved_at is not None
    almost = resolved_at + timedelta(days=3) - timedelta(seconds=1)
    assert await service.satisfaction.auto_close_unrated(almost) == []
    waiting = await service.satisfaction.awaiting_rating("puxiong", timedelta(days=2), now=almost)
    assert [t.number for t in waiting] == [old.number]
    closed = await service.satisfaction.auto_close_unrated(
        resolved_at + timedelta(days=3, seconds=1)
    )
    assert closed == [old.number]
    after = await service.queries.get("puxiong", old.number)
    assert after.status is TicketStatus.CLOSED
    assert after.satisfaction is None
    assert not after.rating_pending
    last = (await service.queries.history("puxiong", old.number))[-1]
    assert last.actor == Actor.system()
    assert "3 天内未评价" in last.summary
    assert (await service.queries.get("puxiong", young.number)).status is TicketStatus.RESOLVED
    # running again closes nothing twice
    assert (
        await service.satisfaction.auto_close_unrated(resolved_at + timedelta(days=3, seconds=2))
        == []
    )
    assert await service.satisfaction.auto_close_unrated(
        resolved_at + timedelta(days=4, seconds=1)
    ) == [young.number]
