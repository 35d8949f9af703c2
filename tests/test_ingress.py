"""Exactly-once intake with the reply budget, on both store back-ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from bot.app import build_state
from bot.background import BackgroundTasks
from bot.channels.ingress import APOLOGY, Ingress
from bot.domain import (
    Chat,
    ChatType,
    IncomingMessage,
    Reply,
    ReplyKind,
    Sender,
    StoreUnavailable,
)
from bot.settings import load_settings
from bot.storage.sql import Database, SqlMessageLog
from bot.storage.state import StateStore


@dataclass
class Handler:
    delay: float = 0.0
    fail_with: BaseException | None = None
    calls: list[str] = field(default_factory=list)

    async def __call__(self, msg: IncomingMessage) -> list[Reply]:
        self.calls.append(msg.message_id)
        await asyncio.sleep(self.delay)
        if self.fail_with is not None:
            raise self.fail_with
        return [Reply(f"收到：{msg.text}", ReplyKind.FALLBACK)]


@dataclass
class Rig:
    db: Database
    state: StateStore
    tasks: BackgroundTasks
    log: SqlMessageLog
    handler: Handler
    late: list[tuple[str, list[str]]]

    def ingress(self) -> Ingress:
        return Ingress(
            self.handler,
            self.state,
            self.log,
            self.tasks,
            lease_s=5,
            dedup_ttl_s=60,
            late_retry_attempts=2,
            late_retry_delay_s=0.01,
        )

    async def deliver(self, msg: IncomingMessage, replies: list[Reply]) -> None:
        self.late.append((msg.message_id, [r.text for r in replies]))


@pytest.fixture
async def rig(backend: dict[str, str]) -> AsyncIterator[Rig]:
    settings = load_settings(None, **backend)
    db = Database.connect(settings.effective_database_url)
    await db.migrate()
    state = build_state(settings)
    tasks = BackgroundTasks()
    yield Rig(db, state, tasks, SqlMessageLog(db), Handler(), [])
    await tasks.drain(5)
    await state.close()
    await db.close()


def msg(mid: str = "m1", text: str = "你好") -> IncomingMessage:
    return IncomingMessage(
        mid, "wechat_mp", "demo", "puxiong", Chat("o1", ChatType.PRIVATE), Sender("o1"), text
    )


async def test_a_retried_message_is_processed_and_answered_once(rig: Rig) -> None:
    ingress = rig.ingress()
    first = await ingress.receive(msg(), budget_s=2, late=rig.deliver)
    retry = await ingress.receive(msg(), budget_s=2, late=rig.deliver)
    assert [r.text for r in first.replies] == ["收到：你好"]
    assert retry.duplicate
    assert rig.handler.calls == ["m1"]
    logged = await rig.log.conversation(msg().conversation_key)
    assert [(m.direction, m.text) for m in logged] == [("in", "你好"), ("out", "收到：你好")]


async def test_a_slow_reply_goes_out_actively_and_a_retry_does_not_repeat_it(rig: Rig) -> None:
    rig.handler.delay = 0.3
    ingress = rig.ingress()
    result = await ingress.receive(msg(), budget_s=0.05, late=rig.deliver)
    assert result.pending
    assert result.replies == []
    await rig.tasks.drain(5)
    assert rig.late == [("m1", ["收到：你好"])]
    retry = await ingress.receive(msg(), budget_s=0.05, late=rig.deliver)
    assert retry.duplicate
    assert retry.replies == []
    assert rig.handler.calls == ["m1"]


async def test_a_duplicate_during_processing_gets_the_first_answer(rig: Rig) -> None:
    rig.handler.delay = 0.2
    ingress = rig.ingress()
    first, second = await asyncio.gather(
        ingress.receive(msg(), budget_s=2, late=rig.deliver),
        ingress.receive(msg(), budget_s=2, late=rig.deliver),
    )
    # Whichever claimed the message first processed it; the other got the same answer.
    assert sorted([first.duplicate, second.duplicate]) == [False, True]
    assert [r.text for r in first.replies] == ["收到：你好"]
    assert [r.text for r in second.replies] == ["收到：你好"]
    assert rig.handler.calls == ["m1"]


async def test_a_store_outage_is_not_acknowledged_and_the_retry_is_processed(rig: Rig) -> None:
    rig.handler.fail_with = StoreUnavailable("down")
    ingress = rig.ingress()
    with pytest.raises(StoreUnavailable):
        await ingress.receive(msg(), budget_s=2, late=rig.deliver)
    rig.handler.fail_with = None
    result = await ingress.receive(msg(), budget_s=2, late=rig.deliver)
    assert not result.duplicate
    assert [r.text for r in result.replies] == ["收到：你好"]
    assert rig.handler.calls == ["m1", "m1"]
    logged = await rig.log.conversation(msg().conversation_key)
    assert [m.direction for m in logged] == ["in", "out"]


async def test_a_pipeline_bug_gets_a_polite_apology(rig: Rig) -> None:
    rig.handler.fail_with = ZeroDivisionError()
    result = await rig.ingress().receive(msg(), budget_s=2, late=rig.deliver)
    assert [r.text for r in result.replies] == [APOLOGY]
