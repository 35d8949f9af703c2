"""Duplicate reports of the same fault are linked (not merged)."""

from __future__ import annotations

import pytest

from bot.domain.tickets import (
    ActionNotAllowed,
    Actor,
    EventKind,
    InvalidTicket,
    TicketCategory,
    TicketStatus,
)
from bot.tickets import Tickets, building_key, fault_concepts

from .support import ZHANG, Clock, draft


async def test_two_lift_reports_from_one_building_are_linked(
    service: Tickets, clock: Clock
) -> None:
    first = await service.intake.create(draft("2号楼电梯停在12楼不动了", building="2号楼"))
    clock.advance(hours=2)
    second = await service.intake.create(
        draft("二号楼的电梯又坏了，门关不上", building="二号楼", sender="u2", name="李先生")
    )
    assert first.linked_to is None
    assert second.linked_to == first.ticket.number
    assert second.ticket.links == (first.ticket.number,)
    # both show the link; each resident keeps their own ticket
    earlier = await service.queries.get("puxiong", first.ticket.number)
    later = await service.queries.get("puxiong", second.ticket.number)
    assert earlier.links == (later.number,)
    assert later.links == (earlier.number,)
    assert earlier.reporter.sender_id == "u1"
    assert later.reporter.sender_id == "u2"
    for mine, other in ((earlier, later), (later, earlier)):
        linked = [
            e
            for e in await service.queries.history("puxiong", mine.number)
            if e.kind is EventKind.LINKED
        ]
        assert len(linked) == 1
        assert linked[0].data["other"] == other.number
        assert other.number in linked[0].summary  # the new ticket's number, not a placeholder
        assert "~" not in linked[0].summary
        assert "同小区同楼栋同类问题：电梯" in linked[0].summary
        assert not linked[0].public  # another resident's number is not shown to residents


async def test_reports_that_differ_in_place_kind_fault_or_time_are_not_linked(
    service: Tickets, clock: Clock
) -> None:
    base = await service.intake.create(draft("2号楼电梯坏了", building="2号楼"))
    other_building = await service.intake.create(draft("3号楼电梯坏了", building="3号楼"))
    other_compound = await service.intake.create(
        draft("2号楼电梯坏了", compound="yanningyuan", building="2号楼")
    )
    other_category = await service.intake.create(
        draft("2号楼电梯老是坏，投诉物业", category=TicketCategory.COMPLAINT, building="2号楼")
    )
    other_fault = await service.intake.create(draft("2号楼楼道灯不亮", building="2号楼"))
    no_building = await service.intake.create(draft("电梯坏了", building=""))
    for result in (other_building, other_compound, other_category, other_fault, no_building):
        assert result.linked_to is None
        assert result.ticket.links == ()
    clock.advance(hours=24, seconds=1)
    too_late = await service.intake.create(draft("2号楼电梯又不动了", building="2号楼"))
    assert too_late.linked_to is None
    # a resolved earlier report is not matched either
    await service.workflow.claim("puxiong", too_late.ticket.number, actor=ZHANG)
    await service.workflow.resolve("puxiong", too_late.ticket.number, actor=ZHANG, summary="已修")
    clock.advance(minutes=1)
    after_fix = await service.intake.create(draft("2号楼电梯还是不行", building="2号楼"))
    assert after_fix.linked_to is None
    assert (await service.queries.get("puxiong", base.ticket.number)).links == ()


async def test_find_similar_explains_the_match_and_prefers_the_earliest(
    service: Tickets, clock: Clock
) -> None:
    first = await service.intake.create(draft("20号楼三楼水管漏水", building="20号楼"))
    clock.advance(minutes=30)
    second = await service.intake.create(draft("二十号楼楼道里渗水", building="二十号楼"))
    clock.advance(minutes=30)
    found = await service.intake.find_similar(draft("20幢的水管爆管了", building="20幢"))
    assert [s.ticket.number for s in found] == [first.ticket.number, second.ticket.number]
    assert found[0].concepts == frozenset({"漏水"})
    assert found[0].reason == "同小区同楼栋同类问题：漏水"
    third = await service.intake.create(draft("20幢的水管爆管了", building="20幢"))
    assert third.linked_to == first.ticket.number


async def test_manual_links_are_idempotent_and_recorded(service: Tickets) -> None:
    a = (await service.intake.create(draft("5号楼门禁坏了", building="5号楼"))).ticket
    b = (await service.intake.create(draft("6号楼门禁坏了", building="6号楼"))).ticket
    assert await service.workflow.link(
        "puxiong", a.number, b.number, actor=ZHANG, reason="同一门禁系统"
    )
    assert not await service.workflow.link("puxiong", b.number, a.number, actor=ZHANG)
    assert (await service.queries.get("puxiong", a.number)).links == (b.number,)
    events = [
        e for e in await service.queries.history("puxiong", b.number) if e.kind is EventKind.LINKED
    ]
    assert len(events) == 1
    assert events[0].actor == ZHANG
    assert "同一门禁系统" in events[0].summary
    # linking does not change either ticket's state
    assert (await service.queries.get("puxiong", a.number)).status is TicketStatus.NEW
    resident = Actor.resident(a.reporter)
    with pytest.raises(ActionNotAllowed, match="caseworker"):
        await service.workflow.link("puxiong", a.number, b.number, actor=resident)
    with pytest.raises(InvalidTicket, match="itself"):
        await service.workflow.link("puxiong", a.number, a.number, actor=ZHANG)


def test_fault_concepts_and_building_keys() -> None:
    assert fault_concepts("电梯困人了") == frozenset({"电梯"})
    assert fault_concepts("楼上漏水，家里也停电了") == frozenset({"漏水", "停电"})
    assert fault_concepts("想问问社区食堂开门时间") == frozenset()
    assert building_key("二十号楼") == building_key("20号楼") == building_key("20幢") == "20"
    assert building_key("第三栋") == "3"
    assert building_key("A座") == "a"
    assert building_key("百号楼") == "百"  # an odd numeral is kept as text, without warnings
    assert building_key("") == ""
