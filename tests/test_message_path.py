"""The message path's shared pieces: the one stored form of a reply (``Reply.to_dict`` /
``from_dict``), a message's stored answer and turn journal (``bot.domain.once``), and the
pipeline's middleware."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

from bot.dialogue.middleware import bounded, timed
from bot.domain import Chat, ChatType, IncomingMessage, Reply, ReplyKind, Sender, TicketRef, once
from bot.domain.once import Answer, Delivery
from bot.metrics import Metrics

TICKET = TicketRef("PX-20261205-001", "new", "urgent")


def _every_reply() -> list[Reply]:
    """Every kind, with and without a ticket, private and not; text with quotes, newlines,
    Chinese and an emoji."""
    out = []
    for n, kind in enumerate(ReplyKind):
        out.append(
            Reply(
                f'第{n}条 "引号"\n换行 🙂',
                kind,
                ticket=TICKET if n % 2 else None,
                private=n % 3 == 0,
            )
        )
    return out


def test_every_field_of_a_reply_is_stored() -> None:
    reply = Reply("只给您看", ReplyKind.TICKET, ticket=TICKET, private=True)
    data = reply.to_dict()
    assert set(data) == {f.name for f in dataclasses.fields(Reply)}
    assert data["ticket"] == {f.name: getattr(TICKET, f.name) for f in dataclasses.fields(TICKET)}
    # No field is at its default, so a field dropped on the way would show.
    for f in dataclasses.fields(Reply):
        if f.default is not dataclasses.MISSING:
            assert getattr(reply, f.name) != f.default, f.name


@pytest.mark.parametrize("reply", _every_reply(), ids=lambda r: f"{r.kind}-{r.private}")
def test_a_reply_round_trips_through_json(reply: Reply) -> None:
    raw = json.dumps(reply.to_dict(), ensure_ascii=False)
    assert Reply.from_dict(json.loads(raw)) == reply


@pytest.mark.parametrize("delivery", list(Delivery))
def test_an_answer_round_trips(delivery: Delivery) -> None:
    answer = Answer(_every_reply(), delivery)
    assert Answer.load(answer.dump()) == answer
    assert Answer.load(Answer([], delivery).dump()) == Answer([], delivery)


def test_an_answer_is_stored_as_the_intake_stored_it_before() -> None:
    """The message log and the state store hold answers written before this form was shared:
    the form is unchanged, so they load, and a version rolled back reads the new ones."""
    before = (
        '{"delivery": "active", "replies": [{"text": "工单 PX-1 已登记", "kind": "ticket", '
        '"private": true, "ticket": {"number": "PX-1", "status": "new", "priority": "normal"}}, '
        '{"text": "好的", "kind": "faq", "private": false, "ticket": null}]}'
    )
    answer = Answer(
        [
            Reply("工单 PX-1 已登记", ReplyKind.TICKET, TicketRef("PX-1", "new", "normal"), True),
            Reply("好的", ReplyKind.FAQ),
        ],
        Delivery.ACTIVE,
    )
    assert Answer.load(before) == answer
    assert answer.dump() == before


def test_a_retry_gets_the_replies_again_unless_they_went_out_actively() -> None:
    replies = _every_reply()
    assert Answer(replies, Delivery.PASSIVE).for_retry() == replies
    assert Answer(replies, Delivery.UNDELIVERABLE).for_retry() == replies
    assert Answer(replies, Delivery.ACTIVE).for_retry() == []


def _message(mid: str) -> IncomingMessage:
    return IncomingMessage(
        mid, "webhook", "default", "puxiong", Chat("g-1", ChatType.GROUP), Sender("u1"), "你好"
    )


def test_the_turn_journal_keeps_every_field_of_the_replies() -> None:
    state: dict[str, object] = {}
    key = _message("m-1").dedup_key
    assert once.applied(state, key) is None
    replies = _every_reply()
    once.remember_applied(state, key, replies)
    # Conversation state is stored as JSON.
    stored = json.loads(json.dumps(state, ensure_ascii=False))
    assert once.applied(stored, key) == replies
    assert once.applied(stored, _message("m-2").dedup_key) is None


def test_the_turn_journal_keeps_the_latest_messages() -> None:
    state: dict[str, object] = {}
    keys = [_message(f"m-{n}").dedup_key for n in range(once.APPLIED_KEPT + 3)]
    for n, key in enumerate(keys):
        once.remember_applied(state, key, [Reply(f"第{n}条", ReplyKind.FAQ)])
    once.remember_applied(state, keys[-1], [Reply("再来一次", ReplyKind.FAQ)])
    assert [once.applied(state, k) is not None for k in keys] == [False] * 3 + [
        True
    ] * once.APPLIED_KEPT
    assert once.applied(state, keys[-1]) == [Reply("再来一次", ReplyKind.FAQ)]


def test_the_turn_journal_reads_what_older_versions_saved() -> None:
    """Conversations saved before the shared form keep their journal entries: a ticket as a
    three-item list, no ``private`` (it was not kept), or a single entry instead of a list."""
    listed = {
        once.APPLIED: [
            {
                "key": "webhook:default:a",
                "replies": [
                    {"text": "工单已登记", "kind": "ticket", "ticket": ["PX-1", "new", "normal"]},
                    {"text": "还有别的吗", "kind": "slot", "ticket": None},
                ],
            }
        ]
    }
    assert once.applied(listed, "webhook:default:a") == [
        Reply("工单已登记", ReplyKind.TICKET, TicketRef("PX-1", "new", "normal")),
        Reply("还有别的吗", ReplyKind.SLOT),
    ]
    single = {once.APPLIED: {"key": "webhook:default:b", "replies": []}}
    assert once.applied(single, "webhook:default:b") == []
    once.remember_applied(single, "webhook:default:c", [Reply("好", ReplyKind.FAQ, private=True)])
    assert once.applied(single, "webhook:default:b") == []
    assert once.applied(single, "webhook:default:c") == [Reply("好", ReplyKind.FAQ, private=True)]


async def test_bounded_lets_at_most_its_limit_through_at_once() -> None:
    middleware = bounded(2)
    inside, most = 0, 0

    async def handler(msg: IncomingMessage) -> list[Reply]:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        await asyncio.sleep(0.01)
        inside -= 1
        return [Reply(msg.message_id, ReplyKind.FAQ)]

    got = await asyncio.gather(*(middleware(_message(f"m-{n}"), handler) for n in range(7)))
    assert most == 2
    assert [r[0].text for r in got] == [f"m-{n}" for n in range(7)]


async def test_timed_counts_each_message_and_its_replies_by_kind() -> None:
    metrics = Metrics()
    middleware = timed(metrics)

    async def handler(msg: IncomingMessage) -> list[Reply]:
        return [Reply("a", ReplyKind.FAQ), Reply("b", ReplyKind.FAQ), Reply("c", ReplyKind.SLOT)]

    await middleware(_message("m-1"), handler)
    await middleware(_message("m-2"), handler)
    sample = metrics.registry.get_sample_value
    assert sample("linli_pipeline_seconds_count") == 2
    labels = {"committee": "puxiong"}
    assert sample("linli_messages_total", {**labels, "kind": "faq"}) == 4
    assert sample("linli_messages_total", {**labels, "kind": "slot"}) == 2
