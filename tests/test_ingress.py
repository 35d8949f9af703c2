"""Exactly-once intake with the reply budget, on both store back-ends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import redis.asyncio as redis_async

from bot.app import build_state
from bot.background import BackgroundTasks
from bot.channels.ingress import APOLOGY, Caller, Ingress
from bot.domain import (
    Chat,
    ChatType,
    IncomingMessage,
    Reply,
    ReplyKind,
    Sender,
    StoreUnavailable,
)
from bot.domain.once import Delivery, DeliveryReport
from bot.settings import Settings, load_settings
from bot.storage import keys
from bot.storage.messages import Intake
from bot.storage.sql import Database, SqlMessageLog
from bot.storage.state import LockTimeout, StateStore
from bot.storage.state_redis import RedisStateStore


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
    settings: Settings
    db: Database
    state: StateStore
    tasks: BackgroundTasks
    log: SqlMessageLog
    handler: Handler
    late: list[tuple[str, list[str]]]

    def ingress(
        self,
        lease_s: float = 5,
        *,
        late_send_lease_s: float = 20,
        log: SqlMessageLog | None = None,
        tasks: BackgroundTasks | None = None,
    ) -> Ingress:
        """A worker on the rig's stores (``log``: its own connection to the same database;
        ``tasks``: its own background work, to kill it)."""
        ingress = Ingress(
            self.handler,
            self.state,
            self.log if log is None else log,
            self.tasks if tasks is None else tasks,
            lease_s=lease_s,
            dedup_ttl_s=60,
            late_retry_attempts=2,
            late_retry_delay_s=0.01,
            late_send_lease_s=late_send_lease_s,
        )
        ingress.register_late("wechat_mp", lambda msg, reply_to: self.deliver)
        return ingress

    async def lose_state(self) -> None:
        """The state store loses every key (a Redis restart without persistence, a flush;
        a restarted worker's in-process store)."""
        if isinstance(self.state, RedisStateStore):
            client = redis_async.Redis.from_url(self.settings.redis_url)
            try:
                await client.flushdb()
            finally:
                await client.aclose()
        else:
            await self.state.close()
            self.state = build_state(self.settings)

    async def settle(self) -> None:
        """Wait until the background work started so far is done."""
        for _ in range(500):
            if not len(self.tasks):
                return
            await asyncio.sleep(0.01)
        raise AssertionError("background work still running after 5 s")

    async def deliver(self, msg: IncomingMessage, replies: list[Reply]) -> DeliveryReport:
        self.late.append((msg.message_id, [r.text for r in replies]))
        return DeliveryReport(Delivery.ACTIVE)


@pytest.fixture
async def rig(backend: dict[str, str]) -> AsyncIterator[Rig]:
    settings = load_settings(None, **backend)
    db = Database.connect(settings.effective_database_url)
    await db.migrate()
    state = build_state(settings)
    tasks = BackgroundTasks()
    rig = Rig(settings, db, state, tasks, SqlMessageLog(db), Handler(), [])
    yield rig
    await tasks.drain(5)
    await rig.state.close()
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


# --- durable intake: dead workers, lost state, busy conversations ---------------------------


async def test_a_dead_workers_message_is_taken_over_by_the_retry(rig: Rig) -> None:
    """Worker A claimed and stored the message, then was killed: WeChat's retry waits for
    A's answer, sees A's lease run out, takes the message over and answers it; A's late
    answer (an old fencing token) is refused."""
    key = keys.dedup(msg().dedup_key)
    dead = await rig.state.claim(key, 0.3)
    assert dead is not None
    assert (await rig.log.claim_inbound(msg(), fence=dead, lease_s=0.3)).held
    retry = await rig.ingress(lease_s=0.3).receive(msg(), budget_s=3, late=rig.deliver)
    assert [r.text for r in retry.replies] == ["收到：你好"]
    assert rig.handler.calls == ["m1"]
    stale = [Reply("A 的回答", ReplyKind.FALLBACK)]
    assert not await rig.log.record_outbound(msg(), stale, "passive", fence=dead, result="{}")
    logged = await rig.log.conversation(msg().conversation_key)
    assert [(m.direction, m.text) for m in logged] == [("in", "你好"), ("out", "收到：你好")]


async def test_a_message_claimed_by_a_worker_that_died_before_storing_it_is_not_lost(
    rig: Rig,
) -> None:
    """The claim was taken but the message never stored: the retry that times out stores it
    before acknowledging, and recovery answers it once through the late sender."""
    key = keys.dedup(msg().dedup_key)
    assert await rig.state.claim(key, 0.3) is not None
    ingress = rig.ingress(lease_s=0.3)
    retry = await ingress.receive(msg(), budget_s=0.1, late=rig.deliver)
    assert retry.duplicate
    assert retry.pending
    assert rig.handler.calls == []
    status = await rig.log.inbound_status(msg())
    assert status is not None
    assert status.intake is Intake.BUSY
    await asyncio.sleep(0.4)  # the dead worker's claim lapses
    assert await ingress.recover() == 1
    await rig.settle()
    assert rig.late == [("m1", ["收到：你好"])]
    assert await ingress.recover() == 0
    again = await ingress.receive(msg(), budget_s=1, late=rig.deliver)
    assert again.duplicate
    assert again.replies == []  # it went out actively: never twice
    assert rig.handler.calls == ["m1"]


async def test_lost_state_still_stops_a_replayed_message(rig: Rig) -> None:
    """The state store lost its keys (Redis restart): the log's unique inbound key stops the
    replay, which gets the stored answer without running the pipeline again."""
    ingress = rig.ingress()
    first = await ingress.receive(msg("m1", "第一条"), budget_s=2, late=rig.deliver)
    await ingress.receive(msg("m2", "第二条"), budget_s=2, late=rig.deliver)
    await rig.lose_state()
    ingress = rig.ingress()
    replayed = await ingress.receive(msg("m1", "第一条"), budget_s=2, late=rig.deliver)
    assert replayed.duplicate
    assert [r.text for r in replayed.replies] == [r.text for r in first.replies]
    assert rig.handler.calls == ["m1", "m2"]
    # The answer is back in the fast path: the next replay does not need the log.
    assert await rig.state.peek(keys.dedup(msg("m1").dedup_key)) not in (None, "")
    logged = await rig.log.conversation(msg().conversation_key)
    assert [m.direction for m in logged] == ["in", "out", "in", "out"]


async def test_a_busy_conversation_is_left_for_recovery_not_apologised_for(rig: Rig) -> None:
    """The conversation lock stayed busy (LockTimeout): no apology, nothing dropped; the
    message stays stored without an answer and recovery answers it once the lock is free."""
    rig.handler.fail_with = LockTimeout("lock busy")
    ingress = rig.ingress(lease_s=0.3)
    result = await ingress.receive(msg(), budget_s=2, late=rig.deliver)
    assert result.pending
    assert result.replies == []
    logged = await rig.log.conversation(msg().conversation_key)
    assert [(m.direction, m.text) for m in logged] == [("in", "你好")]
    rig.handler.fail_with = None
    assert await ingress.recover() == 1
    await rig.settle()
    assert rig.late == [("m1", ["收到：你好"])]
    logged = await rig.log.conversation(msg().conversation_key)
    assert APOLOGY not in [m.text for m in logged]
    assert [m.direction for m in logged] == ["in", "out"]


async def test_a_message_that_keeps_failing_is_given_up_with_one_apology(rig: Rig) -> None:
    rig.handler.fail_with = LockTimeout("lock busy")
    ingress = Ingress(
        rig.handler, rig.state, rig.log, rig.tasks, lease_s=5, dedup_ttl_s=60, max_attempts=2
    )
    ingress.register_late("wechat_mp", lambda msg, reply_to: rig.deliver)
    await ingress.receive(msg(), budget_s=2, late=rig.deliver)
    assert await ingress.recover() == 1  # second attempt, fails again
    await rig.settle()
    assert await ingress.recover() == 1  # given up
    await rig.settle()
    assert rig.late == [("m1", [APOLOGY])]
    assert await ingress.recover() == 0
    assert len(rig.handler.calls) == 2


@dataclass
class LockingHandler:
    """Answers under the conversation's lock, as the pipeline does (never waiting long)."""

    state: StateStore
    wait_s: float = 0.0
    tokens: list[int] = field(default_factory=list)

    async def __call__(self, message: IncomingMessage) -> list[Reply]:
        name = keys.lock(message.conversation_key)
        async with self.state.lock(name, wait_s=self.wait_s) as lease:
            self.tokens.append(lease.token)
            return [Reply(f"收到：{message.text}", ReplyKind.FALLBACK)]


def _ingress(rig: Rig, handler: LockingHandler | Handler) -> Ingress:
    return Ingress(handler, rig.state, rig.log, rig.tasks, lease_s=5, dedup_ttl_s=60)


async def _lock_is_free(state: StateStore, message: IncomingMessage) -> bool:
    try:
        async with state.lock(keys.lock(message.conversation_key), wait_s=0):
            return True
    except LockTimeout:
        return False


async def test_the_conversation_lock_is_free_after_every_message(rig: Rig) -> None:
    """Whether the handler answered under the conversation lock or without it, and for a
    retry too: the resident's next message finds the conversation free."""
    locking = LockingHandler(rig.state)
    ingress = _ingress(rig, locking)
    for mid in ("m1", "m2", "m1"):
        result = await ingress.receive(msg(mid), budget_s=2, late=rig.deliver)
        assert [r.text for r in result.replies] == ["收到：你好"]
        assert await _lock_is_free(rig.state, msg(mid))
    assert len(locking.tokens) == 2
    assert locking.tokens[0] < locking.tokens[1]
    plain = Handler()
    result = await _ingress(rig, plain).receive(msg("m3"), budget_s=2, late=rig.deliver)
    assert [r.text for r in result.replies] == ["收到：你好"]
    assert plain.calls == ["m3"]
    assert await _lock_is_free(rig.state, msg("m3"))


async def test_a_message_to_a_busy_conversation_waits_for_its_lock(rig: Rig) -> None:
    locking = LockingHandler(rig.state, wait_s=3)
    ingress = _ingress(rig, locking)
    async with rig.state.lock(keys.lock(msg().conversation_key)) as held:
        pending = asyncio.create_task(ingress.receive(msg(), budget_s=4, late=rig.deliver))
        await asyncio.sleep(0.2)
        assert not pending.done()
    result = await pending
    assert [r.text for r in result.replies] == ["收到：你好"]
    assert locking.tokens[0] > held.token
    assert await _lock_is_free(rig.state, msg())


async def test_a_request_that_hung_up_gets_its_reply_actively_and_its_retry_nothing(
    rig: Rig,
) -> None:
    """The platform closed the callback's connection before the reply was ready: the reply
    is not stored as passive (nobody would receive it) but sent actively, once."""
    rig.handler.delay = 0.3
    hung_up = asyncio.get_running_loop().time() + 0.1
    caller = Caller(time.monotonic(), lambda: asyncio.get_running_loop().time() < hung_up)
    ingress = rig.ingress()
    result = await ingress.receive(msg(), budget_s=3, late=rig.deliver, caller=caller)
    assert result.pending
    assert result.replies == []
    await rig.settle()
    assert rig.late == [("m1", ["收到：你好"])]
    retry = await ingress.receive(msg(), budget_s=3, late=rig.deliver)
    assert retry.duplicate
    assert retry.replies == []
    assert rig.handler.calls == ["m1"]


async def test_the_reply_budget_counts_from_the_requests_arrival(rig: Rig) -> None:
    """A callback that waited before reaching the intake has less of its budget left."""
    rig.handler.delay = 0.3
    caller = Caller(time.monotonic() - 0.9, lambda: True)
    result = await rig.ingress().receive(msg(), budget_s=1.0, late=rig.deliver, caller=caller)
    assert result.pending
    await rig.settle()
    assert rig.late == [("m1", ["收到：你好"])]


# --- late answers whose sender died ------------------------------------------------------------


@dataclass
class Stuck:
    """A late sender whose call never gets through (its worker is killed before the platform
    takes the answer)."""

    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, msg: IncomingMessage, replies: list[Reply]) -> DeliveryReport:
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def _dies_while_sending_late(rig: Rig, *mids: str, lease_s: float) -> None:
    """A worker answers each message late, and is killed while its late sends are under way:
    stored, acknowledged, never received by the platform."""
    rig.handler.delay = 0.2
    tasks = BackgroundTasks()
    stuck = Stuck()
    worker = rig.ingress(late_send_lease_s=lease_s, tasks=tasks)
    worker.register_late("wechat_mp", lambda msg, reply_to: stuck)
    for mid in mids:
        stuck.started.clear()
        result = await worker.receive(msg(mid), budget_s=0.05, late=stuck)
        assert result.pending
        await asyncio.wait_for(stuck.started.wait(), 5)
    await tasks.drain(0)  # killed: none of its sends completes
    rig.handler.delay = 0.0


async def test_a_late_answer_whose_worker_died_before_sending_it_reaches_the_resident(
    rig: Rig,
) -> None:
    """The answer was stored with the message as it went out late, and the worker died
    before the platform took it. It is not recorded as sent: another worker's recovery sends
    it once its sender's claim has run out, once, and then records it as sent."""
    await _dies_while_sending_late(rig, "m1", lease_s=0.5)
    logged = await rig.log.conversation(msg().conversation_key)
    assert [(m.direction, m.delivery) for m in logged] == [("in", ""), ("out", "pending")]
    other = rig.ingress(late_send_lease_s=0.5)
    await asyncio.sleep(0.6)
    assert await other.recover() == 1
    await rig.settle()
    assert rig.late == [("m1", ["收到：你好"])]
    await asyncio.sleep(0.6)
    assert await other.recover() == 0
    assert rig.late == [("m1", ["收到：你好"])]
    logged = await rig.log.conversation(msg().conversation_key)
    assert [(m.direction, m.delivery) for m in logged] == [("in", ""), ("out", "active")]
    assert rig.handler.calls == ["m1"]  # sent again, not answered again


async def test_two_recovering_workers_send_each_pending_answer_once(rig: Rig) -> None:
    """Two live workers (each with its own database connection) recover at the same moment:
    each pending answer goes out once; and one that a worker is still sending (slowly, its
    claim renewed) is not taken by the other."""
    await _dies_while_sending_late(rig, "m1", "m2", "m3", lease_s=0.3)
    second = Database.connect(rig.settings.effective_database_url)
    try:
        one = rig.ingress(late_send_lease_s=0.3)
        two = rig.ingress(late_send_lease_s=0.3, log=SqlMessageLog(second))
        await asyncio.sleep(0.4)
        taken = await asyncio.gather(one.recover(), two.recover())
        assert sum(taken) == 3
        await rig.settle()
        assert sorted(rig.late) == [(m, ["收到：你好"]) for m in ("m1", "m2", "m3")]

        slow_started = asyncio.Event()

        async def slow(message: IncomingMessage, replies: list[Reply]) -> DeliveryReport:
            slow_started.set()
            await asyncio.sleep(1.0)  # more than three leases: its claim is renewed
            return await rig.deliver(message, replies)

        await _dies_while_sending_late(rig, "m4", lease_s=0.3)
        one.register_late("wechat_mp", lambda msg, reply_to: slow)
        await asyncio.sleep(0.4)
        assert await one.recover() == 1
        await asyncio.wait_for(slow_started.wait(), 5)
        for _ in range(8):
            assert await two.recover() == 0
            await asyncio.sleep(0.1)
        await rig.settle()
        assert [m for m, _ in rig.late].count("m4") == 1
    finally:
        await second.close()


async def test_a_retry_while_the_late_answer_is_pending_gets_no_second_answer(rig: Rig) -> None:
    """WeChat retries a message whose late answer is still pending (its worker died): the
    retry is acknowledged without the answer, which recovery sends; the resident gets it
    once, not twice and not never."""
    await _dies_while_sending_late(rig, "m1", lease_s=0.5)
    other = rig.ingress(late_send_lease_s=0.5)
    retry = await other.receive(msg(), budget_s=0.5, late=rig.deliver)
    assert retry.duplicate
    assert retry.replies == []
    await rig.lose_state()  # the retry is recognised by the log as well
    other = rig.ingress(late_send_lease_s=0.5)
    retry = await other.receive(msg(), budget_s=0.5, late=rig.deliver)
    assert retry.duplicate
    assert retry.replies == []
    await asyncio.sleep(0.6)
    assert await other.recover() == 1
    await rig.settle()
    again = await other.receive(msg(), budget_s=0.5, late=rig.deliver)
    assert again.replies == []
    assert rig.late == [("m1", ["收到：你好"])]
    assert rig.handler.calls == ["m1"]
