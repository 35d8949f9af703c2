"""Helpers shared by the ticket tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import Chat, ChatType, IncomingMessage, Sender
from bot.domain.clock import SHANGHAI
from bot.domain.tickets import Actor, Reporter, TicketCategory, TicketDraft


class Clock:
    """A settable clock for the service (assign ``now`` an aware datetime, or advance it)."""

    def __init__(self, start: datetime) -> None:
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """An aware Asia/Shanghai datetime: ``local(2025, 9, 30, 10, 0)``."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def reporter(
    sender: str = "u1",
    name: str = "王阿姨",
    phone: str | None = None,
    chat: str = "g-puxiongxinyuan",
    committee: str = "puxiong",
) -> Reporter:
    msg = IncomingMessage(
        message_id="m",
        channel="webhook",
        account="default",
        committee=committee,
        chat=Chat(chat, ChatType.GROUP),
        sender=Sender(sender, name),
        text="",
    )
    return Reporter.from_message(msg, phone=phone)


def draft(
    description: str = "2号楼电梯停在12楼不动了",
    *,
    category: TicketCategory = TicketCategory.REPAIR,
    compound: str | None = "puxiongxinyuan",
    building: str = "2号楼",
    room: str = "1203",
    sender: str = "u1",
    name: str = "王阿姨",
    phone: str | None = None,
    committee: str = "puxiong",
) -> TicketDraft:
    return TicketDraft(
        committee=committee,
        category=category,
        description=description,
        reporter=reporter(sender, name, phone, committee=committee),
        compound=compound,
        building=building,
        room=room,
    )


ZHANG = Actor.caseworker("cw-zhang", "张敏")
LI = Actor.caseworker("cw-li", "李娜")
