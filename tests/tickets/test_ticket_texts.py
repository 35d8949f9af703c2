"""What the resident reads about their ticket (dialogue helpers)."""

from __future__ import annotations

from bot.domain import Registry
from bot.tickets import Tickets, texts

from .support import ZHANG, draft


async def test_confirmation_and_status_lines_read_well(
    service: Tickets, registry: Registry
) -> None:
    puxiong = registry.committee("puxiong")
    ticket = (await service.intake.create(draft())).ticket  # Tuesday 24 Nov 2026 10:00
    assert texts.created(ticket, puxiong) == (
        "已为您登记报修工单 PX-20261124-0001（普雄馨苑 2号楼 1203室）。"
        "社工会尽快受理，预计 11月24日 12:00 前给您回复。"
    )
    claimed = await service.workflow.claim("puxiong", ticket.number, actor=ZHANG)
    assert texts.status_line(claimed, puxiong) == (
        "报修工单 PX-20261124-0001（普雄馨苑 2号楼 1203室）："
        "已受理，承办社工：张敏，预计 11月25日 10:00 前办结。"
    )
    resolved = await service.workflow.resolve(
        "puxiong", ticket.number, actor=ZHANG, summary="已修复"
    )
    assert texts.status_line(resolved, puxiong).endswith("已办结，请回复数字 1/2/3 评价。")
    bare = (
        await service.intake.create(draft("想咨询一下", compound=None, building="", room=""))
    ).ticket
    assert texts.created(bare, puxiong).startswith("已为您登记报修工单 PX-20261124-0002。")
