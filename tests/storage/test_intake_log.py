"""The message log as the source of truth of intake: processing leases with fencing tokens on
inbound messages, stored answers, taking up unfinished messages, fenced conversation saves;
on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.domain import Chat, ChatType, IncomingMessage, MessageType, Reply, ReplyKind, Sender
from bot.domain.once import Answer, Delivery, DeliveryReport
from bot.storage.conversations import Conversation
from bot.storage.messages import Intake
from bot.storage.sql import Database, SqlConversationStore, SqlMessageLog
from bot.storage.sql.models import MessageRow
from bot.storage.state import Fenced


@pytest.fixture
async def db(backend: dict[str, str]) -> AsyncIterator[Database]:
    database = Database.connect(backend["database_url"])
    await database.migrate()
    yield database
    await database.close()


def _msg(mid: str = "m1", text: str = "电梯坏了") -> IncomingMessage:
    return IncomingMessage(
        message_id=mid,
        channel="wecom_bot",
        account="bot1",
        committee="puxiong",
        chat=Chat("g-7", ChatType.GROUP),
        sender=Sender("u1", "王阿姨"),
        text=text,
        mentioned=False,
        media_id="MEDIA-9",
        event_key="k-1",
    )


async def test_a_stored_message_is_held_by_one_claim_at_a_time(db: Database) -> None:
    log = SqlMessageLog(db)
    first = await log.claim_inbound(_msg(), fence=10, lease_s=0.3, reply_to="https://r/1")
    assert first.intake is Intake.NEW
    # Another worker (the state store lost the claim) finds it held by a live lease.
    assert (await log.claim_inbound(_msg(), fence=20, lease_s=5)).intake is Intake.BUSY
    assert await log.renew_inbound(_msg(), 10, 0.3)
    await asyncio.sleep(0.4)  # the holder died: no renewal
    taken = await log.claim_inbound(_msg(), fence=20, lease_s=5)
    assert taken.intake is Intake.TAKEN_OVER
    # The dead worker's late writes are refused; the new holder's are kept.
    assert not await log.renew_inbound(_msg(), 10, 5)
    late = [Reply("旧的回答", ReplyKind.FALLBACK)]
    assert not await log.record_outbound(_msg(), late, "passive", fence=10, result="old")
    answer = [Reply("已通知物业", ReplyKind.TICKET)]
    assert await log.record_outbound(_msg(), answer, "passive", fence=20, result="new")
    # Answered once: a third worker gets the stored answer, and cannot answer again.
    done = await log.claim_inbound(_msg(), fence=30, lease_s=5)
    assert (done.intake, done.result) == (Intake.DONE, "new")
    assert not await log.record_outbound(_msg(), answer, "passive", fence=20, result="new")
    history = await log.conversation(_msg().conversation_key)
    assert [(m.direction, m.text) for m in history] == [("in", "电梯坏了"), ("out", "已通知物业")]


async def test_an_unfinished_message_can_be_rebuilt_and_taken_up(db: Database) -> None:
    log = SqlMessageLog(db)
    held = _msg("held")
    assert (await log.claim_inbound(held, fence=5, lease_s=60)).held
    assert await log.record_inbound(_msg("free"), reply_to="https://r/2")
    given_back = _msg("given-back")
    assert (await log.claim_inbound(given_back, fence=7, lease_s=60)).held
    await log.release_inbound(given_back, 7)
    answered = _msg("answered")
    assert await log.record_inbound(answered)
    assert await log.record_outbound(answered, [], "passive")
    found = {u.message.message_id: u for u in await log.unfinished()}
    assert set(found) == {"free", "given-back"}
    free = found["free"].message
    original = _msg("free")
    assert free == replace(original, received_at=free.received_at)
    assert abs((free.received_at - original.received_at).total_seconds()) < 60
    assert (found["free"].reply_to, found["free"].attempts) == ("https://r/2", 0)
    assert found["given-back"].attempts == 1
    assert (await log.inbound_status(given_back)) is not None
    assert await log.inbound_status(_msg("never")) is None


async def test_an_event_is_rebuilt_with_its_type(db: Database) -> None:
    log = SqlMessageLog(db)
    event = IncomingMessage(
        "o1:1700000000",
        "wechat_mp",
        "demo",
        "puxiong",
        Chat("o1", ChatType.PRIVATE),
        Sender("o1"),
        "",
        type=MessageType.EVENT,
        event="subscribe",
        event_key="qrscene_7",
    )
    assert await log.record_inbound(event)
    (found,) = await log.unfinished()
    assert (found.message.type, found.message.event, found.message.event_key) == (
        MessageType.EVENT,
        "subscribe",
        "qrscene_7",
    )


async def test_a_conversation_save_under_an_older_lock_is_refused(db: Database) -> None:
    store = SqlConversationStore(db)
    conv = Conversation("c1", "puxiong", "webhook", "default", "p-1", "private", "u1")
    conv.state = {"step": "new holder"}
    await store.save(conv, fence=200)
    stale = Conversation("c1", "puxiong", "webhook", "default", "p-1", "private", "u1")
    stale.state = {"step": "stalled holder"}
    with pytest.raises(Fenced):
        await store.save(stale, fence=100)
    # Created by the new holder first: the stalled one cannot create it again.
    await store.save(
        Conversation("c2", "puxiong", "webhook", "default", "p", "private", "u"), fence=50
    )
    with pytest.raises(Fenced):
        await store.save(
            Conversation("c2", "puxiong", "webhook", "default", "p", "private", "u"), fence=1
        )
    conv.state = {"step": "next"}
    await store.save(conv, fence=300)
    kept = await store.get("c1")
    assert kept is not None
    assert kept.state == {"step": "next"}


async def test_a_save_made_meanwhile_is_never_overwritten(db: Database) -> None:
    """Two holders read the same version (the lock was lost with the state store's keys):
    whichever saves second is refused, whatever its token."""
    store = SqlConversationStore(db)
    await store.save(
        Conversation("c3", "puxiong", "webhook", "default", "p", "private", "u"), fence=5
    )
    old_holder, new_holder = await store.get("c3"), await store.get("c3")
    assert old_holder is not None
    assert new_holder is not None
    old_holder.state = {"turn": "old"}
    await store.save(old_holder, fence=10)
    new_holder.state = {"turn": "new"}
    with pytest.raises(Fenced):
        await store.save(new_holder, fence=20)
    kept = await store.get("c3")
    assert kept is not None
    assert kept.state == {"turn": "old"}


async def test_two_holders_creating_one_conversation_at_once_leave_one(db: Database) -> None:
    """A new resident's first turn saved by two holders at the same moment (the lock lost
    in between): one creates the conversation, the other is refused, and the stored one
    is whole."""
    store = SqlConversationStore(db)

    def new(step: str) -> Conversation:
        conv = Conversation("c9", "puxiong", "webhook", "default", "p-9", "private", "u9")
        conv.state = {"step": step}
        return conv

    first, second = new("first"), new("second")
    outcomes = await asyncio.gather(
        store.save(first, fence=7), store.save(second, fence=8), return_exceptions=True
    )
    refused = [o for o in outcomes if isinstance(o, Fenced)]
    assert len(refused) == 1
    assert [o for o in outcomes if o is not None and not isinstance(o, Fenced)] == []
    kept = await store.get("c9")
    assert kept is not None
    assert kept.version == 1
    assert kept.state in ({"step": "first"}, {"step": "second"})


async def _reply_to(db: Database, msg: IncomingMessage) -> str | None:
    async with db.session() as s:
        return await s.scalar(
            select(MessageRow.reply_to).where(
                MessageRow.direction == "in", MessageRow.external_id == msg.message_id
            )
        )


LATE_LEASE_S = 3.0
"""The claim a late answer's sender must renew in the test below: wide enough that a loaded
machine (two workers, a test suite beside) does not let a renewed claim run out between two
calls (at 1 s it did)."""


async def test_a_pending_late_answer_is_taken_up_by_one_worker_once_its_claim_ran_out(
    db: Database, backend: dict[str, str]
) -> None:
    """A late answer stored as pending is its sender's while the claim is fresh or renewed;
    once it ran out (the sender died), of two workers asking at once exactly one gets each
    message's replies, whole, with where they go; once its outcome is recorded it is no
    longer pending, and where it went is forgotten."""
    log = SqlMessageLog(db)
    second = Database.connect(backend["database_url"])
    other = SqlMessageLog(second)
    answers = {}
    try:
        for n in range(6):
            m = _msg(f"late-{n}")
            assert (
                await log.claim_inbound(m, fence=n + 1, lease_s=60, reply_to=f"https://r/{n}")
            ).held
            answer = [
                Reply(f"答复{n}", ReplyKind.FAQ),
                Reply("只给您看", ReplyKind.TICKET, private=True),
            ]
            answers[m.message_id] = answer
            result = Answer(answer, Delivery.PENDING).dump()
            assert await log.record_outbound(m, answer, "pending", fence=n + 1, result=result)
        sent = _msg("sent")
        assert await log.record_inbound(sent)
        assert await log.record_outbound(sent, [Reply("好的", ReplyKind.FAQ)], "passive")
        assert await log.take_late(LATE_LEASE_S) == []  # every sender's claim is fresh
        assert await _reply_to(db, _msg("late-2")) == "https://r/2"  # kept while pending
        await asyncio.sleep(0.7 * LATE_LEASE_S)
        assert await log.renew_late(_msg("late-0"))  # its sender is still at it
        await asyncio.sleep(0.5 * LATE_LEASE_S)
        one, two = await asyncio.gather(log.take_late(LATE_LEASE_S), other.take_late(LATE_LEASE_S))
        taken = {p.message.message_id: p for p in [*one, *two]}
        assert len(taken) == len(one) + len(two)  # nothing taken twice
        assert sorted(taken) == [f"late-{n}" for n in range(1, 6)]
        three = taken["late-3"]
        assert (three.replies, three.reply_to) == (answers["late-3"], "https://r/3")
        assert three.message.text == _msg("late-3").text
        assert await log.take_late(LATE_LEASE_S) == []  # claimed just now

        await log.record_late_delivery(_msg("late-3"), DeliveryReport(Delivery.ACTIVE))
        refused = DeliveryReport(Delivery.FAILED, 40003, "invalid openid")
        assert await log.record_late_delivery(_msg("late-4"), refused) == 2
        assert await log.record_late_delivery(_msg("late-4"), refused) == 0
        assert not await log.renew_late(_msg("late-3"))
        assert await _reply_to(db, _msg("late-3")) is None
        await asyncio.sleep(1.1 * LATE_LEASE_S)
        again = {p.message.message_id for p in await other.take_late(LATE_LEASE_S)}
        assert again == {"late-0", "late-1", "late-2", "late-5"}
        history = await log.conversation(_msg().conversation_key)
        out = {(m.text, m.delivery, m.delivery_code) for m in history if m.direction == "out"}
        assert {("答复3", "active", None), ("答复4", "failed", 40003)} <= out
        assert ("好的", "passive", None) in out
    finally:
        await second.close()
