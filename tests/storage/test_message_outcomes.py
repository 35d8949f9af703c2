"""What the bot did with each resident message (its outcome), the unanswered-questions
review marks, and the per-day counts behind the dashboard — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from bot.domain import Chat, ChatType, IncomingMessage, Reply, ReplyKind, Sender
from bot.storage.messages import outcome_of
from bot.storage.sql import Database, SqlMessageLog
from bot.storage.sql.models import Base


@pytest.fixture
async def db(backend: dict[str, str]) -> AsyncIterator[Database]:
    database = Database.connect(backend["database_url"])
    await database.migrate()
    yield database
    await database.close()


def _msg(
    mid: str,
    text: str = "湿垃圾几点扔",
    *,
    committee: str = "puxiong",
    sender: str = "u1",
    at: datetime | None = None,
) -> IncomingMessage:
    return IncomingMessage(
        message_id=mid,
        channel="webhook",
        account="default",
        committee=committee,
        chat=Chat(f"p-{sender}", ChatType.PRIVATE),
        sender=Sender(sender, "王阿姨"),
        text=text,
        received_at=at or datetime.now(UTC),
    )


async def _exchange(log: SqlMessageLog, msg: IncomingMessage, *replies: Reply) -> None:
    assert await log.record_inbound(msg)
    await log.record_outbound(msg, list(replies), "passive")


async def test_each_message_keeps_what_the_bot_did_with_it(db: Database) -> None:
    log = SqlMessageLog(db)
    await _exchange(log, _msg("a", "湿垃圾几点扔"), Reply("早上7:00-9:00", ReplyKind.FAQ))
    await _exchange(log, _msg("b", "火星上能停车吗"), Reply("抱歉，我还不会", ReplyKind.FALLBACK))
    await _exchange(log, _msg("c", "证明怎么开"), Reply("您想问：1. …", ReplyKind.CLARIFY))
    await _exchange(
        log,
        _msg("d", "说了多少遍了！！"),
        Reply("非常理解您的心情", ReplyKind.HANDOFF),
        Reply("已为您转接社工", ReplyKind.HANDOFF),
    )
    await _exchange(
        log,
        _msg("e", "太长" * 300),
        Reply("您的消息太长了", ReplyKind.NOTICE),
        Reply("早上7:00-9:00", ReplyKind.FAQ),
    )
    # A caseworker has the conversation: the bot is silent and says so before the (empty)
    # replies are stored; the silence does not overwrite it.
    human = _msg("f", "我家的事社工知道")
    assert await log.record_inbound(human)
    await log.record_outcome(human, "human")
    await log.record_outbound(human, [], "passive")
    # Group chatter without @: no reply, not for the bot.
    await _exchange(log, _msg("g", "大家好"))
    pending = _msg("h", "还在处理中")
    assert await log.record_inbound(pending)

    found = await log.recent_inbound("puxiong")
    assert [(m.text[:6], m.outcome) for m in found] == [
        ("还在处理中", ""),
        ("大家好", "none"),
        ("我家的事社工", "human"),
        ("太长太长太长", "faq"),
        ("说了多少遍了", "handoff"),
        ("证明怎么开", "clarify"),
        ("火星上能停车", "fallback"),
        ("湿垃圾几点扔", "faq"),
    ]
    assert all(m.reviewed_at is None for m in found)


def test_the_outcome_of_several_replies_is_the_one_that_matters() -> None:
    assert outcome_of([]) == "none"
    assert outcome_of([Reply("x", ReplyKind.FALLBACK)]) == "fallback"
    assert outcome_of([Reply("x", ReplyKind.NOTICE), Reply("y", ReplyKind.CLARIFY)]) == "clarify"
    assert outcome_of([Reply("x", ReplyKind.EMERGENCY), Reply("y", ReplyKind.TICKET)]) == (
        "emergency"
    )


async def test_unanswered_messages_are_listed_per_committee_and_reviewed_once(
    db: Database,
) -> None:
    log = SqlMessageLog(db)
    fallback = Reply("抱歉", ReplyKind.FALLBACK)
    await _exchange(log, _msg("p1", "能养鸡吗"), fallback)
    await _exchange(log, _msg("p2", "湿垃圾几点扔"), Reply("早上", ReplyKind.FAQ))
    await _exchange(log, _msg("p3", "楼下能烧烤吗"), Reply("您想问", ReplyKind.CLARIFY))
    await _exchange(log, _msg("o1", "能养鸭吗", committee="other", sender="u9"), fallback)

    unanswered = await log.recent_inbound(
        "puxiong", outcomes={"fallback", "clarify"}, include_reviewed=False
    )
    assert [m.text for m in unanswered] == ["楼下能烧烤吗", "能养鸡吗"]
    assert [m.text for m in await log.recent_inbound("puxiong", limit=1)] == ["楼下能烧烤吗"]
    assert await log.recent_inbound("puxiong", outcomes=()) == []

    other = await log.recent_inbound("other")
    # Another committee's ids are ignored; the committee's own are marked once.
    assert await log.mark_reviewed("puxiong", [other[0].id]) == 0
    assert await log.mark_reviewed("puxiong", [unanswered[0].id, unanswered[0].id]) == 1
    assert await log.mark_reviewed("puxiong", [unanswered[0].id]) == 0
    assert await log.mark_reviewed("puxiong", []) == 0

    left = await log.recent_inbound(
        "puxiong", outcomes={"fallback", "clarify"}, include_reviewed=False
    )
    assert [m.text for m in left] == ["能养鸡吗"]
    everything = await log.recent_inbound("puxiong", outcomes={"fallback", "clarify"})
    reviewed = next(m for m in everything if m.text == "楼下能烧烤吗")
    assert reviewed.reviewed_at is not None
    assert reviewed.reviewed_at.tzinfo is not None
    assert (await log.recent_inbound("other"))[0].reviewed_at is None


async def test_daily_counts_follow_the_shanghai_calendar(db: Database) -> None:
    log = SqlMessageLog(db)
    faq, fallback = Reply("早上", ReplyKind.FAQ), Reply("抱歉", ReplyKind.FALLBACK)
    # 15:30 UTC is 23:30 in Shanghai; 16:30 UTC is already the next local day.
    late = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
    after_midnight = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)
    await _exchange(log, _msg("d1", at=late), faq)
    await _exchange(log, _msg("d2", at=late), fallback)
    await _exchange(log, _msg("d3", at=after_midnight), faq)
    await _exchange(log, _msg("d4", committee="other", sender="u9", at=after_midnight), faq)
    await _exchange(log, _msg("d5", at=datetime(2026, 11, 30, 2, 0, tzinfo=UTC)), faq)

    counts = await log.outcome_counts(date(2026, 11, 24), date(2026, 11, 25), "puxiong")
    assert [(c.day.isoformat(), c.outcome, c.count) for c in counts] == [
        ("2026-11-24", "fallback", 1),
        ("2026-11-24", "faq", 1),
        ("2026-11-25", "faq", 1),
    ]
    street = await log.outcome_counts(date(2026, 11, 25), date(2026, 11, 25))
    assert [(c.committee, c.count) for c in street] == [("other", 1), ("puxiong", 1)]
    assert await log.outcome_counts(date(2026, 11, 26), date(2026, 11, 25)) == []


async def test_the_migration_matches_the_message_model(db: Database) -> None:
    def diff(conn: Connection) -> list[Any]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))

    async with db.engine.connect() as conn:
        diffs = await conn.run_sync(diff)
    assert [d for d in diffs if "messages" in repr(d)] == []
