"""The outbox: what residents must be told survives until the channel layer delivers it."""

from __future__ import annotations

import asyncio

from bot.domain.messages import ChatType
from bot.domain.tickets import NotificationKind, TicketStatus
from bot.tickets import Tickets

from .support import LI, ZHANG, Clock, draft


async def test_claims_public_notes_and_resolutions_reach_the_outbox(
    service: Tickets,
) -> None:
    ticket = (await service.intake.create(draft())).ticket
    assert (
        await service.outbox.pending_notifications() == []
    )  # the dialogue answers the report itself
    await service.workflow.claim("puxiong", ticket.number, actor=ZHANG)
    await service.workflow.add_note(
        "puxiong", ticket.number, "物业下午两点上门", actor=ZHANG, public=True
    )
    await service.workflow.add_note("puxiong", ticket.number, "内部：物业经理姓陈", actor=ZHANG)
    await service.workflow.change_status(
        "puxiong", ticket.number, TicketStatus.WAITING_RESIDENT, actor=LI, note="请拍一张照片"
    )
    await service.workflow.resolve("puxiong", ticket.number, actor=ZHANG, summary="已更换门机板")
    notes = await service.outbox.pending_notifications()
    assert [n.kind for n in notes] == [
        NotificationKind.CLAIMED,
        NotificationKind.PROGRESS,
        NotificationKind.WAITING,
        NotificationKind.RESOLVED,
    ]
    assert notes[0].text == (
        f"您的报修工单 {ticket.number} 已由社工张敏受理，我们会尽快处理，有进展会再告诉您。"
    )
    assert notes[1].text == f"您的报修工单 {ticket.number} 有新进展：物业下午两点上门。"
    assert notes[2].text == (
        f"您的报修工单 {ticket.number} 需要您补充信息：请拍一张照片。请直接回复本消息。"
    )
    assert all("物业经理" not in n.text for n in notes)
    first = notes[0]
    r = ticket.reporter
    assert (first.channel, first.account, first.chat_id, first.chat_type) == (
        r.channel,
        r.account,
        r.chat_id,
        ChatType.GROUP,
    )
    assert (first.recipient_id, first.conversation_key) == (r.sender_id, r.conversation_key)
    assert first.ticket_number == ticket.number
    assert first.committee == "puxiong"


async def test_delivered_notifications_are_not_sent_again(service: Tickets, clock: Clock) -> None:
    ticket = (await service.intake.create(draft())).ticket
    await service.workflow.claim("puxiong", ticket.number, actor=ZHANG)
    await service.workflow.add_note("puxiong", ticket.number, "明天上门", actor=ZHANG, public=True)
    first, second = await service.outbox.pending_notifications()
    # leased: a second drainer does not get them while the first is sending
    assert await service.outbox.pending_notifications() == []
    assert await service.outbox.mark_delivered(first.id)
    assert not await service.outbox.mark_delivered(first.id)
    # the worker died before reporting the second one: it comes back after the lease
    clock.advance(minutes=2, seconds=1)
    assert [n.id for n in await service.outbox.pending_notifications()] == [second.id]


async def test_concurrent_drainers_never_get_the_same_notification(
    service: Tickets,
) -> None:
    for n in range(6):
        t = (await service.intake.create(draft(f"{n}号楼门禁坏了", building=f"{n}号楼"))).ticket
        await service.workflow.claim("puxiong", t.number, actor=ZHANG)
    batches = await asyncio.gather(
        *(service.outbox.pending_notifications(limit=2) for _ in range(5))
    )
    ids = [n.id for batch in batches for n in batch]
    assert len(ids) == len(set(ids)) == 6


async def test_failed_deliveries_back_off_and_are_given_up_eventually(
    service: Tickets, clock: Clock
) -> None:
    ticket = (await service.intake.create(draft())).ticket
    await service.workflow.claim("puxiong", ticket.number, actor=ZHANG)
    [note] = await service.outbox.pending_notifications()
    assert await service.outbox.mark_failed(note, "45015 response out of time limit")
    clock.advance(seconds=29)
    assert await service.outbox.pending_notifications() == []
    clock.advance(seconds=2)
    [again] = await service.outbox.pending_notifications()
    assert again.id == note.id
    assert again.attempts == 1
    for attempt in range(2, 9):
        assert await service.outbox.mark_failed(again, "still failing")
        clock.advance(hours=2)
        got = await service.outbox.pending_notifications()
        if attempt < 8:
            [again] = got
            assert again.attempts == attempt
        else:
            assert got == []  # given up after 8 attempts
    clock.advance(days=1)
    assert await service.outbox.pending_notifications() == []
    assert not await service.outbox.mark_delivered(note.id + 1000)
