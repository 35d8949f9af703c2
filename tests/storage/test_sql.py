"""The SQL stores on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.domain import Chat, ChatType, IncomingMessage, Reply, ReplyKind, Sender, StoreUnavailable
from bot.storage.sql import Database, SqlFaqStore, SqlMessageLog


@pytest.fixture
async def db(backend: dict[str, str]) -> AsyncIterator[Database]:
    database = Database.connect(backend["database_url"])
    await database.migrate()
    await database.migrate()  # idempotent: a second start changes nothing
    yield database
    await database.close()


def _msg(mid: str, text: str = "湿垃圾几点扔") -> IncomingMessage:
    return IncomingMessage(
        message_id=mid,
        channel="webhook",
        account="default",
        committee="puxiong",
        chat=Chat("g-putuoyicun", ChatType.GROUP),
        sender=Sender("u1", "王阿姨"),
        text=text,
    )


async def test_the_conversation_log_keeps_both_sides_in_order(db: Database) -> None:
    log = SqlMessageLog(db)
    first, second = _msg("m1"), _msg("m2", "谢谢 🙏")
    assert await log.record_inbound(first)
    await log.record_outbound(first, [Reply("早上7:00-9:00", ReplyKind.FAQ)], "passive")
    assert await log.record_inbound(second)
    history = await log.conversation(first.conversation_key)
    assert [(m.direction, m.text) for m in history] == [
        ("in", "湿垃圾几点扔"),
        ("out", "早上7:00-9:00"),
        ("in", "谢谢 🙏"),
    ]


async def test_a_retried_message_is_stored_once(db: Database) -> None:
    log = SqlMessageLog(db)
    assert await log.record_inbound(_msg("same"))
    assert not await log.record_inbound(_msg("same"))
    assert len(await log.conversation(_msg("same").conversation_key)) == 1


async def test_faq_changes_are_audited_and_all_or_nothing(db: Database) -> None:
    store = SqlFaqStore(db)
    summary = await store.upsert_many("puxiong", [{"id": "a", "answer": "1"}], "admin")
    assert (summary.created, summary.updated) == (1, 0)
    again = await store.upsert_many(
        "puxiong", [{"id": "a", "answer": "2"}, {"id": "b", "answer": "x"}], "admin"
    )
    assert (again.created, again.updated) == (1, 1)
    with pytest.raises(ValueError, match="duplicate"):
        await store.upsert_many("puxiong", [{"id": "c"}, {"id": "c"}], "admin")
    assert [e["id"] for e in await store.load("puxiong")] == ["a", "b"]
    assert await store.load("other") == []
    assert await store.delete("puxiong", "a", "admin")
    assert not await store.delete("puxiong", "a", "admin")
    assert [e["id"] for e in await store.load("puxiong")] == ["b"]
    history = await store.history("puxiong", "a")
    assert [r.action for r in history] == ["create", "update", "delete"]
    assert history[1].before == {"id": "a", "answer": "1"}
    assert history[1].after == {"id": "a", "answer": "2"}


async def test_a_database_that_is_down_is_reported_as_unavailable() -> None:
    db = Database.connect("postgresql+asyncpg://postgres@127.0.0.1:1/test")
    try:
        with pytest.raises(StoreUnavailable):
            await db.ping()
        with pytest.raises(StoreUnavailable):
            await SqlMessageLog(db).record_inbound(_msg("m"))
    finally:
        await db.close()
