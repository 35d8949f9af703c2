"""Ticket numbers: prefix, local date, per-committee per-day sequence, safe under concurrency;
idempotent creation by source message key."""

from __future__ import annotations

import asyncio
from datetime import UTC

import pytest
from sqlalchemy import text

from bot.domain.tickets import TicketStatus, find_number, format_number
from bot.storage.sql.database import Database
from bot.tickets import Tickets

from .support import Clock, draft, local


async def test_numbers_count_per_committee_and_local_day(service: Tickets, clock: Clock) -> None:
    first = await service.intake.create(draft("3号楼楼道灯不亮", building="3号楼"))
    second = await service.intake.create(
        draft("垃圾箱房门坏了", compound="yanningyuan", building="1")
    )
    other = await service.intake.create(draft("路灯坏了", compound="demo", committee="other"))
    assert first.created
    assert second.created
    assert other.created
    assert first.ticket.number == "PX-20261124-0001"
    assert second.ticket.number == "PX-20261124-0002"
    assert other.ticket.number == "OT-20261124-0001"
    assert first.ticket.status is TicketStatus.NEW
    # 23:59 in Shanghai is still the same day; 00:00 (16:00 UTC) starts a new sequence.
    clock.now = local(2026, 11, 24, 23, 59, 59)
    assert (await service.intake.create(draft("单元门坏了"))).ticket.number == "PX-20261124-0003"
    clock.now = local(2026, 11, 25, 0, 0, 1)
    assert clock.now.astimezone(UTC).day == 24  # still the 24th in UTC
    assert (await service.intake.create(draft("单元门坏了"))).ticket.number == "PX-20261125-0001"


async def test_past_the_ten_thousandth_ticket_of_a_day_numbers_grow_a_digit(
    service: Tickets, db: Database
) -> None:
    async with db.session() as s:
        await s.execute(
            text("INSERT INTO ticket_counters (committee, day, last) VALUES ('puxiong', :d, 9998)"),
            {"d": "20261124"},
        )
    first = await service.intake.create(draft("3号楼楼道灯不亮", building="3号楼"))
    second = await service.intake.create(draft("单元门坏了"))
    assert first.ticket.number == "PX-20261124-9999"
    assert second.ticket.number == "PX-20261124-10000"
    assert await service.queries.get("puxiong", second.ticket.number) is not None


async def test_twenty_concurrent_creates_get_distinct_gapless_numbers(
    service: Tickets,
) -> None:
    results = await asyncio.gather(
        *(
            service.intake.create(draft(f"{n}号楼门禁坏了", building=f"{n}号楼", sender=f"u{n}"))
            for n in range(20)
        )
    )
    numbers = sorted(r.ticket.number for r in results)
    assert numbers == [f"PX-20261124-{n:04d}" for n in range(1, 21)]
    # every ticket is readable with its first event right after create returns
    for r in results:
        history = await service.queries.history("puxiong", r.ticket.number)
        assert [e.kind.value for e in history] == ["created"]


async def test_a_retried_message_creates_no_second_ticket(service: Tickets) -> None:
    first = await service.intake.create(draft(), source_message_key="webhook:default:m1")
    again = await service.intake.create(draft(), source_message_key="webhook:default:m1")
    assert first.created
    assert not again.created
    assert again.ticket.number == first.ticket.number
    other = await service.intake.create(draft(), source_message_key="webhook:default:m2")
    assert other.created
    assert other.ticket.number != first.ticket.number


async def test_concurrent_retries_of_one_message_create_one_ticket(
    service: Tickets,
) -> None:
    results = await asyncio.gather(
        *(
            service.intake.create(draft("漏水了"), source_message_key="wechat_mp:demo:42")
            for _ in range(6)
        )
    )
    assert sum(r.created for r in results) == 1
    assert len({r.ticket.number for r in results}) == 1
    nxt = await service.intake.create(draft("漏水了"), source_message_key="wechat_mp:demo:43")
    assert nxt.ticket.number == "PX-20261124-0002"  # the losers left no gap


def test_numbers_are_formatted_and_found_in_text() -> None:
    from datetime import date

    assert format_number("px", date(2026, 11, 25), 7) == "PX-20261125-0007"
    assert format_number("PX", date(2026, 11, 25), 12345) == "PX-20261125-12345"
    assert find_number("我的工单px-20261125-7怎么样了") == "PX-20261125-0007"
    assert find_number("查一下 PX 20261125 0007") == "PX-20261125-0007"
    assert find_number("PX-20261325-0001") is None  # no 13th month
    assert find_number("明天下午三点") is None
    with pytest.raises(ValueError, match="sequence"):
        format_number("PX", date(2026, 11, 25), 0)
