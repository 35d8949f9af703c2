"""The caseworker workflow: allowed and forbidden transitions, 全岗通, every change an event."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.tickets import (
    ALLOWED_TRANSITIONS,
    ActionNotAllowed,
    Actor,
    EventKind,
    InvalidTicket,
    NotificationKind,
    TicketPriority,
    TicketStatus,
    TransitionNotAllowed,
    check_transition,
)
from bot.tickets import Tickets

from .support import LI, ZHANG, Clock, draft

S = TicketStatus


async def test_a_ticket_goes_through_its_life_with_every_step_recorded(
    service: Tickets, clock: Clock
) -> None:
    created = (await service.intake.create(draft())).ticket
    resident = Actor.resident(created.reporter)
    number = created.number
    claimed = await service.workflow.claim("puxiong", number, actor=ZHANG)
    assert (claimed.status, claimed.assignee) == (S.CLAIMED, ZHANG)
    assert claimed.first_response_at == clock.now
    clock.advance(minutes=10)
    await service.workflow.change_status(
        "puxiong", number, S.IN_PROGRESS, actor=ZHANG, note="已联系物业"
    )
    clock.advance(minutes=10)
    waiting = await service.workflow.change_status(
        "puxiong", number, S.WAITING_RESIDENT, actor=ZHANG, note="请问您家几点有人在家"
    )
    assert waiting.status is S.WAITING_RESIDENT
    # the resident's answer resumes the work
    resumed = await service.workflow.add_note("puxiong", number, "下午两点以后都在", actor=resident)
    assert resumed.status is S.IN_PROGRESS
    await service.workflow.add_note("puxiong", number, "维保单位说零件明天到", actor=ZHANG)
    clock.advance(hours=3)
    resolved = await service.workflow.resolve("puxiong", number, actor=ZHANG, summary="电梯已修复")
    assert resolved.status is S.RESOLVED
    assert resolved.resolved_at == clock.now
    assert resolved.rating_pending
    history = await service.queries.history("puxiong", number)
    assert [(e.kind, e.status_to) for e in history] == [
        (EventKind.CREATED, S.NEW),
        (EventKind.CLAIMED, S.CLAIMED),
        (EventKind.STATUS_CHANGED, S.IN_PROGRESS),
        (EventKind.STATUS_CHANGED, S.WAITING_RESIDENT),
        (EventKind.NOTE, None),
        (EventKind.STATUS_CHANGED, S.IN_PROGRESS),
        (EventKind.NOTE, None),
        (EventKind.STATUS_CHANGED, S.RESOLVED),
    ]
    assert [e.actor.id for e in history][:3] == [resident.id, "cw-zhang", "cw-zhang"]
    assert history[-1].created_at == clock.now
    # the internal note is hidden from the resident's view of the history
    public = await service.queries.history("puxiong", number, public_only=True)
    assert "维保单位说零件明天到" not in " ".join(e.summary for e in public)
    assert len(public) == len(history) - 1
    assert resolved.version == 1 + 6  # one write per operation


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ([], S.IN_PROGRESS),  # new must be claimed first
        ([], S.RESOLVED),
        ([], S.WAITING_RESIDENT),
        ([S.RESOLVED], S.IN_PROGRESS),
        ([S.RESOLVED], S.WAITING_RESIDENT),
        ([S.CLOSED], S.RESOLVED),
        ([S.CLOSED], S.IN_PROGRESS),
        ([S.IN_PROGRESS], S.IN_PROGRESS),
    ],
)
async def test_forbidden_transitions_are_refused_and_change_nothing(
    service: Tickets, path: list[TicketStatus], target: TicketStatus
) -> None:
    number = (await service.intake.create(draft())).ticket.number
    if path:
        await service.workflow.claim("puxiong", number, actor=ZHANG)
    for status in path:
        await service.workflow.change_status("puxiong", number, status, actor=ZHANG)
    before = await service.queries.get("puxiong", number)
    with pytest.raises(TransitionNotAllowed) as info:
        await service.workflow.change_status("puxiong", number, target, actor=ZHANG)
    assert f"cannot go from {before.status.value} to {target.value}" in str(info.value)
    assert (info.value.current, info.value.target) == (before.status, target)
    after = await service.queries.get("puxiong", number)
    assert (after.status, after.version) == (before.status, before.version)
    assert len(await service.queries.history("puxiong", number)) == 1 + 1 * bool(path) + len(path)


async def test_claiming_closed_or_resolved_tickets_is_refused(service: Tickets) -> None:
    number = (await service.intake.create(draft())).ticket.number
    await service.workflow.claim("puxiong", number, actor=ZHANG)
    await service.workflow.resolve("puxiong", number, actor=ZHANG, summary="已处理")
    with pytest.raises(TransitionNotAllowed, match="resolved to claimed"):
        await service.workflow.claim("puxiong", number, actor=LI)
    with pytest.raises(ActionNotAllowed, match="reopen it"):
        await service.workflow.transfer("puxiong", number, LI, actor=ZHANG)
    with pytest.raises(InvalidTicket, match="claim"):
        await service.workflow.change_status("puxiong", number, S.CLAIMED, actor=ZHANG)


def test_the_transition_table_matches_the_documented_lifecycle() -> None:
    check_transition("X", S.NEW, S.CLAIMED)
    check_transition("X", S.CLAIMED, S.IN_PROGRESS)
    check_transition("X", S.IN_PROGRESS, S.WAITING_RESIDENT)
    check_transition("X", S.WAITING_RESIDENT, S.RESOLVED)
    check_transition("X", S.RESOLVED, S.CLOSED)
    check_transition("X", S.RESOLVED, S.REOPENED)
    check_transition("X", S.REOPENED, S.IN_PROGRESS)
    assert ALLOWED_TRANSITIONS[S.CLOSED] == frozenset({S.REOPENED})
    with pytest.raises(TransitionNotAllowed, match="claim it first"):
        check_transition("X", S.NEW, S.IN_PROGRESS)
    for status in TicketStatus:
        assert status not in ALLOWED_TRANSITIONS[status]


async def test_any_caseworker_may_take_over_transfer_and_work_a_ticket(
    service: Tickets,
) -> None:
    number = (await service.intake.create(draft())).ticket.number
    wang = Actor.caseworker("cw-wang", "王强")
    await service.workflow.claim("puxiong", number, actor=ZHANG)
    again = await service.workflow.claim(
        "puxiong", number, actor=ZHANG
    )  # a double click: no change
    taken = await service.workflow.claim("puxiong", number, actor=LI)
    assert (taken.assignee, taken.status) == (LI, S.CLAIMED)
    moved = await service.workflow.transfer(
        "puxiong", number, wang, actor=LI, note="王强熟悉这部电梯"
    )
    assert moved.assignee == wang
    worked = await service.workflow.change_status("puxiong", number, S.IN_PROGRESS, actor=ZHANG)
    assert (worked.status, worked.assignee) == (S.IN_PROGRESS, wang)
    kinds = [e.kind for e in await service.queries.history("puxiong", number)]
    assert kinds == [
        EventKind.CREATED,
        EventKind.CLAIMED,
        EventKind.CLAIMED,
        EventKind.TRANSFERRED,
        EventKind.STATUS_CHANGED,
    ]
    assert again.version == 2
    transfer = (await service.queries.history("puxiong", number))[3]
    assert transfer.data["from"] == "cw-li"
    assert transfer.data["to"] == "cw-wang"
    assert "李娜 将工单转给 王强" in transfer.summary


async def test_transferring_a_new_ticket_assigns_it_and_tells_the_resident(
    service: Tickets,
) -> None:
    number = (await service.intake.create(draft())).ticket.number
    moved = await service.workflow.transfer("puxiong", number, LI, actor=ZHANG)
    assert (moved.status, moved.assignee) == (S.CLAIMED, LI)
    [note] = await service.outbox.pending_notifications()
    assert note.kind is NotificationKind.CLAIMED
    assert "社工李娜受理" in note.text


async def test_residents_may_not_work_tickets(service: Tickets) -> None:
    created = (await service.intake.create(draft())).ticket
    resident = Actor.resident(created.reporter)
    with pytest.raises(ActionNotAllowed):
        await service.workflow.claim("puxiong", created.number, actor=resident)
    with pytest.raises(ActionNotAllowed):
        await service.workflow.change_status("puxiong", created.number, S.RESOLVED, actor=resident)
    with pytest.raises(ActionNotAllowed):
        await service.workflow.transfer("puxiong", created.number, ZHANG, actor=resident)
    # but may withdraw their own report
    withdrawn = await service.workflow.change_status(
        "puxiong", created.number, S.CLOSED, actor=resident, note="已经自己修好了"
    )
    assert withdrawn.status is S.CLOSED
    assert withdrawn.closed_at is not None
    assert await service.outbox.pending_notifications() == []  # they know: nothing to send


async def test_priority_changes_are_recorded(service: Tickets) -> None:
    number = (await service.intake.create(draft())).ticket.number
    assert (await service.queries.get("puxiong", number)).priority is TicketPriority.NORMAL
    raised = await service.workflow.change_priority(
        "puxiong", number, TicketPriority.HIGH, actor=ZHANG, reason="楼里有老人"
    )
    assert raised.priority is TicketPriority.HIGH
    last = (await service.queries.history("puxiong", number))[-1]
    assert last.kind is EventKind.PRIORITY_CHANGED
    assert not last.public
    assert "「普通」改为「高」：楼里有老人" in last.summary


async def test_attachments_are_referenced_by_media_id(service: Tickets) -> None:
    created = (await service.intake.create(draft())).ticket
    resident = Actor.resident(created.reporter)
    with_photo = await service.workflow.add_attachment(
        "puxiong", created.number, "media-1", actor=resident
    )
    same = await service.workflow.add_attachment(
        "puxiong", created.number, "media-1", actor=resident
    )
    assert with_photo.attachments == same.attachments == ("media-1",)
    assert (await service.queries.get("puxiong", created.number)).attachments == ("media-1",)


async def test_concurrent_changes_to_one_ticket_are_all_kept(service: Tickets) -> None:
    number = (await service.intake.create(draft())).ticket.number
    await service.workflow.claim("puxiong", number, actor=ZHANG)
    await asyncio.gather(
        *(
            service.workflow.add_note("puxiong", number, f"第{n}条备注", actor=LI)
            for n in range(10)
        ),
        service.workflow.change_priority("puxiong", number, TicketPriority.HIGH, actor=ZHANG),
    )
    ticket = await service.queries.get("puxiong", number)
    history = await service.queries.history("puxiong", number)
    assert sum(e.kind is EventKind.NOTE for e in history) == 10
    assert ticket.priority is TicketPriority.HIGH
    assert ticket.version == 2 + 11
