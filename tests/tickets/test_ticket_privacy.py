"""The reporter's phone is stored for the caseworker but masked in every event summary,
log line and default view."""

from __future__ import annotations

import logging

import pytest

from bot.domain.tickets import Actor, InvalidTicket, TicketStatus, mask_phone
from bot.tickets import Tickets

from .support import ZHANG, draft

# 13800138000 is the conventional documentation example of a mainland mobile number.
PHONE = "13800138000"
MASKED = "138****8000"


async def test_the_phone_is_stored_but_masked_in_summaries_and_logs(
    service: Tickets, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        created = await service.intake.create(
            draft(f"厨房水管漏水，急！电话{PHONE}", phone=PHONE, name="王阿姨")
        )
        number = created.ticket.number
        await service.workflow.claim("puxiong", number, actor=ZHANG)
        await service.workflow.add_note("puxiong", number, f"已打{PHONE}联系上居民", actor=ZHANG)
        await service.workflow.change_status(
            "puxiong", number, TicketStatus.IN_PROGRESS, actor=ZHANG, note=f"回电 {PHONE}"
        )
        await service.workflow.resolve(
            "puxiong", number, actor=ZHANG, summary="已关闭总阀并更换水管"
        )
        await service.satisfaction.rate("puxiong", number, 3, f"打{PHONE}没人接", actor=ZHANG)
    stored = await service.queries.get("puxiong", number)
    assert stored.reporter.phone == PHONE  # the caseworker can call back
    history = await service.queries.history("puxiong", number)
    summaries = "\n".join(e.summary for e in history)
    assert PHONE not in summaries
    assert f"联系电话：{MASKED}" in history[0].summary
    assert summaries.count(MASKED) >= 5
    logged = "\n".join(
        f"{r.getMessage()} {vars(r)}" for r in caplog.records if r.name.startswith("bot.")
    )
    assert "ticket created" in logged
    assert PHONE not in logged
    assert PHONE not in repr(stored.reporter)  # the reporter field never shows it
    assert stored.to_dict()["reporter"]["phone"] == MASKED
    assert stored.to_dict(include_phone=True)["reporter"]["phone"] == PHONE


def test_phone_masking_rules() -> None:
    assert mask_phone(PHONE) == MASKED
    assert mask_phone("+86 138-0013-8000") == MASKED
    assert mask_phone("021-12345678") == "021****5678"
    assert mask_phone("12345") == "****"
    assert mask_phone(None) == ""
    assert mask_phone("") == ""


async def test_garbage_phones_and_drafts_are_refused(service: Tickets) -> None:
    with pytest.raises(InvalidTicket, match="phone"):
        await service.intake.create(draft(phone="call me maybe"))
    with pytest.raises(InvalidTicket, match="description"):
        await service.intake.create(draft("   "))
    with pytest.raises(InvalidTicket, match="compound"):
        await service.intake.create(draft(compound="nowhere"))
    with pytest.raises(InvalidTicket, match="committee"):
        await service.intake.create(draft(committee="atlantis"))
    # a compound may be given by name or alias; it is stored as its id
    by_alias = await service.intake.create(draft(compound="馨苑"))
    assert by_alias.ticket.compound == "puxiongxinyuan"
    assert Actor.resident(by_alias.ticket.reporter).id == "webhook:default:u1"
