"""Committee isolation: another committee's caseworker (or another resident) cannot see or
touch a ticket, and cannot tell it exists."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.domain.tickets import (
    Actor,
    InvalidTicket,
    ResidentId,
    TicketNotFound,
    TicketPriority,
    TicketStatus,
)
from bot.tickets import Tickets

from .support import ZHANG, draft

OUTSIDER = Actor.caseworker("cw-other", "外会社工")


async def _error(call: Awaitable[Any]) -> str:
    with pytest.raises(TicketNotFound) as info:
        await call
    return str(info.value)


async def test_another_committee_cannot_see_or_touch_a_ticket(service: Tickets) -> None:
    created = (await service.intake.create(draft())).ticket
    number = created.number
    await service.workflow.claim("puxiong", number, actor=ZHANG)
    await service.workflow.resolve("puxiong", number, actor=ZHANG, summary="已修复")
    before = await service.queries.get("puxiong", number)
    attempts: list[Callable[[str], Awaitable[Any]]] = [
        lambda n: service.queries.get("other", n),
        lambda n: service.queries.history("other", n),
        lambda n: service.workflow.claim("other", n, actor=OUTSIDER),
        lambda n: service.workflow.transfer("other", n, OUTSIDER, actor=OUTSIDER),
        lambda n: service.workflow.change_status("other", n, TicketStatus.CLOSED, actor=OUTSIDER),
        lambda n: service.workflow.reopen("other", n, actor=OUTSIDER, reason="x"),
        lambda n: service.workflow.add_note("other", n, "看看", actor=OUTSIDER),
        lambda n: service.workflow.add_attachment("other", n, "m1", actor=OUTSIDER),
        lambda n: service.workflow.change_priority("other", n, TicketPriority.LOW, actor=OUTSIDER),
        lambda n: service.satisfaction.rate("other", n, 1, actor=OUTSIDER),
    ]
    for attempt in attempts:
        # exactly the error a number that does not exist gets
        real = await _error(attempt(number))
        missing = await _error(attempt("PX-20261124-9999"))
        assert real == missing.replace("9999", number[-4:])
    with pytest.raises(TicketNotFound):
        await service.workflow.link("other", number, "PX-20261124-9999", actor=OUTSIDER)
    assert await service.queries.for_resident("other", created.reporter.resident) == []
    assert await service.queries.inbox("other") == []
    after = await service.queries.get("puxiong", number)
    assert after == before


async def test_a_resident_only_reaches_their_own_tickets(service: Tickets) -> None:
    mine = (await service.intake.create(draft(sender="u1"))).ticket
    theirs = (await service.intake.create(draft("楼道灯坏了", sender="u2", name="李先生"))).ticket
    me = Actor.resident(mine.reporter)
    await service.workflow.add_note("puxiong", mine.number, "补充：12楼", actor=me)
    with pytest.raises(TicketNotFound):
        await service.workflow.add_note("puxiong", theirs.number, "看看", actor=me)
    with pytest.raises(TicketNotFound):
        await service.workflow.change_status(
            "puxiong", theirs.number, TicketStatus.CLOSED, actor=me
        )
    found = await service.queries.for_resident("puxiong", ResidentId("webhook", "default", "u1"))
    assert [t.number for t in found] == [mine.number]
    by_conversation = await service.queries.for_conversation(
        "puxiong", mine.reporter.conversation_key
    )
    assert [t.number for t in by_conversation] == [mine.number]
    # the same sender id on another account is another person
    assert await service.queries.for_resident("puxiong", ResidentId("webhook", "other", "u1")) == []


async def test_a_message_key_of_another_committee_does_not_leak_its_ticket(
    service: Tickets,
) -> None:
    await service.intake.create(draft(), source_message_key="webhook:default:m9")
    with pytest.raises(InvalidTicket, match="source_message_key already used"):
        await service.intake.create(
            draft("路灯坏了", compound="demo", committee="other"),
            source_message_key="webhook:default:m9",
        )
