"""A turn and the answer it produced are stored together or not at all
(``MessageLog.record_answer``): the message's outcome, its replies, its stored answer and the
conversation with its turn journal; on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.domain import Chat, ChatType, IncomingMessage, Reply, ReplyKind, Sender, once
from bot.storage.conversations import Conversation
from bot.storage.messages import NOT_FOR_BOT, Intake, outcome_of
from bot.storage.sql import Database, SqlConversationStore, SqlMessageLog
from bot.storage.sql.models import MessageRow
from bot.storage.state import Fenced


@pytest.fixture
async def db(backend: dict[str, str]) -> AsyncIterator[Database]:
    database = Database.connect(backend["database_url"])
    await database.migrate()
    yield database
    await database.close()


def _msg(mid: str = "m1", text: str = "居委会几点上班") -> IncomingMessage:
    return IncomingMessage(
        mid, "wechat_mp", "demo", "puxiong", Chat("o1", ChatType.PRIVATE), Sender("o1"), text
    )


def _conversation(msg: IncomingMessage) -> Conversation:
    return Conversation(
        key=msg.conversation_key,
        committee=msg.committee,
        channel=msg.channel,
        account=msg.account,
        chat_id=msg.chat.id,
        chat_type=msg.chat.type.value,
        sender_id=msg.sender.id,
    )


ANSWER = [Reply("居委会工作日 8:30-17:00 上班。", ReplyKind.FAQ)]


def _turn(conv: Conversation, msg: IncomingMessage) -> Conversation:
    conv.state["asked"] = int(conv.state.get("asked", 0)) + 1
    once.remember_applied(conv.state, msg.dedup_key, ANSWER)
    return conv


async def test_the_answer_and_the_turn_are_stored_in_one_go(db: Database) -> None:
    log, conversations = SqlMessageLog(db), SqlConversationStore(db)
    msg = _msg()
    claimed = await log.claim_inbound(msg, fence=10, lease_s=5, read_conversation=True)
    assert claimed.held
    assert claimed.conversation is None  # a resident's first message
    conv = _turn(_conversation(msg), msg)
    assert await log.record_answer(
        msg, ANSWER, "passive", fence=10, result="答", conversation=conv, conversation_fence=3
    )
    assert conv.version == 1
    stored = await conversations.get(msg.conversation_key)
    assert stored is not None
    assert stored.state["asked"] == 1
    assert once.applied(stored.state, msg.dedup_key) == ANSWER
    status = await log.inbound_status(msg)
    assert status is not None
    assert (status.intake, status.result) == (Intake.DONE, "答")
    logged = await log.conversation(msg.conversation_key)
    assert [(m.direction, m.text) for m in logged] == [("in", msg.text), ("out", ANSWER[0].text)]
    # The next message of the conversation comes with it, read with its claim.
    second = await log.claim_inbound(_msg("m2"), fence=11, lease_s=5, read_conversation=True)
    assert second.conversation is not None
    assert (second.conversation.version, second.conversation.state["asked"]) == (1, 1)


async def test_a_message_taken_over_meanwhile_stores_nothing_of_its_turn(db: Database) -> None:
    log, conversations = SqlMessageLog(db), SqlConversationStore(db)
    msg = _msg()
    await conversations.save(_conversation(msg))
    assert (await log.claim_inbound(msg, fence=10, lease_s=0)).held  # its lease runs out
    assert (await log.claim_inbound(msg, fence=20, lease_s=5)).intake is Intake.TAKEN_OVER
    conv = await conversations.get(msg.conversation_key)
    assert conv is not None
    _turn(conv, msg)
    assert not await log.record_answer(
        msg, ANSWER, "passive", fence=10, result="旧", conversation=conv, conversation_fence=3
    )
    stored = await conversations.get(msg.conversation_key)
    assert stored is not None
    assert "asked" not in stored.state
    assert once.applied(stored.state, msg.dedup_key) is None  # the new holder applies it
    assert [m.direction for m in await log.conversation(msg.conversation_key)] == ["in"]


async def test_a_conversation_saved_meanwhile_leaves_the_message_unanswered(
    db: Database,
) -> None:
    """The worker lost the conversation lock while it worked: its turn is refused, and so is
    its answer; the message stays held, to be given back and taken up again."""
    log, conversations = SqlMessageLog(db), SqlConversationStore(db)
    msg = _msg()
    await conversations.save(_conversation(msg))
    assert (await log.claim_inbound(msg, fence=10, lease_s=5)).held
    conv = await conversations.get(msg.conversation_key)
    assert conv is not None
    newer = await conversations.get(msg.conversation_key)
    assert newer is not None
    await conversations.save(newer, fence=8)  # another holder saved meanwhile
    _turn(conv, msg)
    with pytest.raises(Fenced):
        await log.record_answer(
            msg, ANSWER, "passive", fence=10, result="答", conversation=conv, conversation_fence=5
        )
    status = await log.inbound_status(msg)
    assert status is not None
    assert status.intake is Intake.BUSY  # not answered
    assert [m.direction for m in await log.conversation(msg.conversation_key)] == ["in"]
    assert await log.record_outbound(msg, ANSWER, "passive", fence=10, result="答")


async def _inbound_and_replies(db: Database, msg: IncomingMessage) -> tuple[MessageRow, list[str]]:
    async with db.session() as s:
        rows = (
            await s.scalars(
                select(MessageRow)
                .where(MessageRow.conversation_key == msg.conversation_key)
                .order_by(MessageRow.id)
            )
        ).all()
    inbound = next(r for r in rows if r.external_id == msg.message_id)
    return inbound, [r.text for r in rows if r.reply_of == inbound.id]


async def test_a_later_turn_stores_every_reply_in_order_with_the_outcome(db: Database) -> None:
    """A resident's second message (the conversation is stored): several replies, in their
    order, tied to the message; the outcome named by the replies; the turn saved."""
    log = SqlMessageLog(db)
    first, second = _msg("m1"), _msg("m2", "我要报修")
    assert (await log.claim_inbound(first, fence=10, lease_s=5)).held
    conv = _turn(_conversation(first), first)
    assert await log.record_answer(
        first, ANSWER, "passive", fence=10, result="答", conversation=conv, conversation_fence=3
    )
    claimed = await log.claim_inbound(second, fence=11, lease_s=5, read_conversation=True)
    assert claimed.held
    assert claimed.conversation is not None
    conv = _turn(claimed.conversation, second)
    replies = [
        Reply("请问是哪个小区？", ReplyKind.TICKET),
        Reply("也可以直接打电话。", ReplyKind.FAQ),
    ]
    assert await log.record_answer(
        second, replies, "passive", fence=11, result="问", conversation=conv, conversation_fence=4
    )
    assert conv.version == 2
    inbound, texts = await _inbound_and_replies(db, second)
    assert texts == [r.text for r in replies]
    assert inbound.outcome == outcome_of(replies)
    assert (inbound.claimed_until, inbound.result) == (None, "问")
    stored = await SqlConversationStore(db).get(second.conversation_key)
    assert stored is not None
    assert (stored.version, stored.state["asked"]) == (2, 2)


async def test_a_silent_turn_keeps_the_outcome_set_during_it(db: Database) -> None:
    """No reply (a caseworker has the conversation): the outcome set while the turn ran
    (``human``) stays; without one it is ``none``."""
    log, conversations = SqlMessageLog(db), SqlConversationStore(db)
    first, second = _msg("m1"), _msg("m2", "你好")
    await conversations.save(_conversation(first))
    for msg, fence, set_meanwhile, expected in (
        (first, 10, "human", "human"),
        (second, 11, None, NOT_FOR_BOT),
    ):
        assert (await log.claim_inbound(msg, fence=fence, lease_s=5)).held
        if set_meanwhile:
            await log.record_outcome(msg, set_meanwhile)
        conv = await conversations.get(msg.conversation_key)
        assert conv is not None
        assert await log.record_answer(
            msg, [], "passive", fence=fence, result="", conversation=conv, conversation_fence=fence
        )
        inbound, texts = await _inbound_and_replies(db, msg)
        assert (inbound.outcome, texts, inbound.claimed_until) == (expected, [], None)


async def test_a_late_answer_stored_with_a_later_turn_is_pending_until_sent(
    db: Database,
) -> None:
    """A late answer stored with its turn (a stored conversation: on PostgreSQL the one
    statement) is recorded as pending, not as sent, and keeps where it goes; the recovery
    of a worker finds it once its sender's claim ran out."""
    log = SqlMessageLog(db)
    first, second = _msg("m1"), _msg("m2", "我要报修")
    assert (await log.claim_inbound(first, fence=10, lease_s=5)).held
    conv = _turn(_conversation(first), first)
    assert await log.record_answer(
        first, ANSWER, "passive", fence=10, result="答", conversation=conv, conversation_fence=3
    )
    claimed = await log.claim_inbound(
        second, fence=11, lease_s=5, reply_to="https://r/9", read_conversation=True
    )
    assert claimed.held
    assert claimed.conversation is not None
    conv = _turn(claimed.conversation, second)
    result = once.Answer(ANSWER, once.Delivery.PENDING).dump()
    assert await log.record_answer(
        second, ANSWER, "pending", fence=11, result=result, conversation=conv, conversation_fence=4
    )
    inbound, texts = await _inbound_and_replies(db, second)
    assert (texts, inbound.claimed_until, inbound.reply_to) == (
        [ANSWER[0].text],
        None,
        "https://r/9",
    )
    logged = await log.conversation(second.conversation_key)
    assert [m.delivery for m in logged if m.direction == "out"] == ["passive", "pending"]
    (pending,) = await log.take_late(0.0)
    assert (pending.message.message_id, pending.replies, pending.reply_to) == (
        "m2",
        ANSWER,
        "https://r/9",
    )
