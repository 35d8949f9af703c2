"""Staff alerts on both store back-ends, against a local stand-in for the WeCom robot API:
idempotent, honest about delivery, retried, escalated along the rota, stopped by
"我来处理", and every step on the ticket's history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.alerts import AlertDelivery
from bot.domain.tickets import Actor, EventKind
from bot.storage.alerts import AlertStatus

from .conftest import ROBOT_KEY, STREET_KEY, Stack, emergency_draft

MakeStack = Callable[..., Any]


async def raise_one(stack: Stack, source: str = "puxiong:webhook:default:m1", **kw: Any) -> Any:
    args: dict[str, Any] = {
        "committee": "puxiong",
        "source_key": source,
        "kind": "crisis",
        "category": "welfare",
        "text": "【紧急】普陀一村：独居老人两天联系不上。请值班社工立即处置。",
        "conversation_key": "puxiong:webhook:default:p:u1",
    }
    args.update(kw)
    return await stack.alerts.raise_alert(**args)


async def alert_events(stack: Stack, number: str) -> list[str]:
    history = await stack.tickets.queries.history("puxiong", number)
    return [e.summary for e in history if e.kind is EventKind.ALERT]


async def test_raise_is_idempotent(make_stack: MakeStack) -> None:
    stack: Stack = await make_stack()
    first = await raise_one(stack)
    assert first.delivery is AlertDelivery.SENT
    assert first.staff_told
    assert first.recipients == ("王芳",)
    assert first.duty_phone == "021-5555-0101"
    again = await raise_one(stack)
    assert again.alert_id == first.alert_id
    assert again.delivery is AlertDelivery.SENT
    sent = stack.robot.to(ROBOT_KEY)
    assert len(sent) == 1, "a retried message must not alert twice"
    assert sent[0]["mentioned_mobile_list"] == ["13800000001"]
    assert "独居老人" in sent[0]["content"]
    assert "我来处理" in sent[0]["content"]
    # Another kind for the same message is another alert.
    other = await raise_one(stack, kind="emergency")
    assert other.alert_id != first.alert_id


async def test_holder_is_mentioned_too(make_stack: MakeStack) -> None:
    stack: Stack = await make_stack()
    result = await raise_one(stack, holder="lijun")
    assert result.recipients == ("李军", "王芳")
    assert stack.robot.to(ROBOT_KEY)[0]["mentioned_mobile_list"] == [
        "13800000002",
        "13800000001",
    ]


async def test_a_holder_off_the_rota_is_named_not_mentioned(make_stack: MakeStack) -> None:
    stack: Stack = await make_stack()
    result = await raise_one(stack, holder="42")  # a console user id with no rota entry
    assert result.recipients == ("接待社工", "王芳")
    assert stack.robot.to(ROBOT_KEY)[0]["mentioned_mobile_list"] == ["13800000001"]


async def test_the_shift_on_duty_is_mentioned(make_stack: MakeStack) -> None:
    stack: Stack = await make_stack()
    stack.clock.advance(5 * 24 * 3600)  # Saturday 10:00
    assert (await raise_one(stack, source="m-sat")).recipients == ("陈静",)
    stack.clock.advance(-24 * 3600 + 8 * 3600)  # Friday 18:00: the night shift
    assert (await raise_one(stack, source="m-fri")).recipients == ("李军",)


async def test_nobody_on_duty_mentions_everyone(make_stack: MakeStack) -> None:
    stack: Stack = await make_stack()
    stack.clock.advance(-8 * 3600)  # Monday 02:00: a gap in the rota
    result = await raise_one(stack)
    assert result.delivery is AlertDelivery.SENT
    assert result.recipients == ()
    sent = stack.robot.to(ROBOT_KEY)[0]
    assert sent["mentioned_list"] == ["@all"]
    assert "mentioned_mobile_list" not in sent


async def test_no_channel_claims_nothing(make_stack: MakeStack) -> None:
    stack: Stack = await make_stack(robot_key="", street={})
    assert not stack.alerts.has_channel("puxiong")
    result = await raise_one(stack)
    assert result.delivery is AlertDelivery.NO_CHANNEL
    assert not result.staff_told
    assert result.duty_phone == "021-5555-0101"
    assert stack.robot.posts == []
    assert await stack.alerts.channel_state("puxiong") == "no_channel"
    stored = await stack.alerts.get(result.alert_id)
    assert stored is not None
    assert stored.status is AlertStatus.NO_CHANNEL
    # Nothing to retry, nothing to escalate.
    stack.clock.advance(3600)
    assert await stack.alerts.sweep() == 0
    assert stack.robot.posts == []


async def test_street_robot_is_the_fallback_channel(make_stack: MakeStack) -> None:
    stack: Stack = await make_stack(robot_key="")
    assert stack.alerts.has_channel("puxiong")
    result = await raise_one(stack)
    assert result.delivery is AlertDelivery.SENT
    assert len(stack.robot.to(STREET_KEY)) == 1


async def test_failing_robot_is_queued_then_sent_by_the_sweep(make_stack: MakeStack) -> None:
    stack: Stack = await make_stack()
    stack.robot.fail = 2
    result = await raise_one(stack)
    assert result.delivery is AlertDelivery.QUEUED
    assert result.staff_told
    assert stack.robot.posts == []
    assert await stack.alerts.channel_state("puxiong") == "failing"
    assert await stack.alerts.sweep() == 0, "not due before the backoff"
    stack.clock.advance(6)
    assert await stack.alerts.sweep() == 1  # second failure: backoff doubles
    assert stack.robot.posts == []
    stack.clock.advance(6)
    assert await stack.alerts.sweep() == 0
    stack.clock.advance(5)
    assert await stack.alerts.sweep() == 1
    assert len(stack.robot.to(ROBOT_KEY)) == 1
    stored = await stack.alerts.get(result.alert_id)
    assert stored is not None
    assert stored.status is AlertStatus.SENT
    assert await stack.alerts.channel_state("puxiong") == "ok"
    # The first answer stays the first answer: a retried message gets SENT now, no new post.
    assert (await raise_one(stack)).delivery is AlertDelivery.SENT
    assert len(stack.robot.to(ROBOT_KEY)) == 1


async def test_robot_down_is_queued(make_stack: MakeStack) -> None:
    stack: Stack = await make_stack()
    stack.robot.down = True
    result = await raise_one(stack)
    assert result.delivery is AlertDelivery.QUEUED
    stored = await stack.alerts.get(result.alert_id)
    assert stored is not None
    assert "500" in stored.last_error


async def test_unacknowledged_alert_escalates_along_the_rota(make_stack: MakeStack) -> None:
    stack: Stack = await make_stack()
    source = "puxiong:webhook:default:m-esc"
    result = await raise_one(stack, source=source)
    assert result.delivery is AlertDelivery.SENT
    # The ticket is opened after the alert (both start at once): linked afterwards.
    ticket = (
        await stack.tickets.intake.create(emergency_draft(), source_message_key=source)
    ).ticket
    await stack.alerts.attach_ticket(source, ticket.number)
    assert len(await alert_events(stack, ticket.number)) == 1

    stack.clock.advance(59)
    assert await stack.alerts.sweep() == 0, "within ack_timeout_s nothing happens"
    stack.clock.advance(2)
    assert await stack.alerts.sweep() == 1
    second = stack.robot.to(ROBOT_KEY)[-1]
    assert second["mentioned_mobile_list"] == ["13800000001", "13800000002"]
    assert "李军" in second["content"]
    assert "再次提醒" in second["content"]

    stack.clock.advance(61)
    assert await stack.alerts.sweep() == 1
    street = stack.robot.to(STREET_KEY)
    assert len(street) == 1
    assert street[0]["mentioned_mobile_list"] == ["13900000009"]
    assert "普陀" in street[0]["content"] or "居委" in street[0]["content"]

    stack.clock.advance(3600)
    assert await stack.alerts.sweep() == 0, "the street office is the last step"
    events = await alert_events(stack, ticket.number)
    assert len(events) == 3
    assert "王芳" in events[0]
    assert "李军" in events[1]
    assert "街道张主任" in events[2]
    stored = await stack.alerts.get(result.alert_id)
    assert stored is not None
    assert stored.level == 2
    assert stored.recipients == ("王芳", "李军", "街道张主任")


async def test_acknowledge_stops_escalation(make_stack: MakeStack) -> None:
    stack: Stack = await make_stack()
    source = "puxiong:webhook:default:m-ack"
    ticket = (
        await stack.tickets.intake.create(emergency_draft(), source_message_key=source)
    ).ticket
    result = await raise_one(stack, source=source)
    assert result.alert_id is not None
    # No attach_ticket: acknowledging finds the ticket by the message key.
    assert await stack.alerts.acknowledge(result.alert_id, "7", "王芳")
    assert not await stack.alerts.acknowledge(result.alert_id, "8", "李军")
    told = stack.robot.to(ROBOT_KEY)
    assert len(told) == 2
    assert "王芳" in told[1]["content"]
    stack.clock.advance(3600)
    assert await stack.alerts.sweep() == 0
    assert len(stack.robot.posts) == 2
    stored = await stack.alerts.get(result.alert_id)
    assert stored is not None
    assert stored.status is AlertStatus.ACKNOWLEDGED
    assert stored.acknowledged_by == "7"
    assert stored.ticket_number == ticket.number
    history = await stack.tickets.queries.history("puxiong", ticket.number)
    steps = [e for e in history if e.kind is EventKind.ALERT]
    assert [e.actor.kind.value for e in steps] == ["system", "caseworker"]
    assert "王芳" in steps[1].summary
    assert "我来处理" in steps[1].summary
    assert not steps[1].public


async def test_claiming_the_ticket_counts_as_acknowledgement(make_stack: MakeStack) -> None:
    stack: Stack = await make_stack()
    source = "puxiong:webhook:default:m-claim"
    ticket = (
        await stack.tickets.intake.create(emergency_draft(), source_message_key=source)
    ).ticket
    result = await raise_one(stack, source=source, ticket_number=ticket.number)
    await stack.tickets.workflow.claim(
        "puxiong", ticket.number, actor=Actor.caseworker("9", "李军")
    )
    stack.clock.advance(61)
    assert await stack.alerts.sweep() == 1
    assert len(stack.robot.to(ROBOT_KEY)) == 2  # the alert, then "已由李军确认处理"
    stored = await stack.alerts.get(result.alert_id)
    assert stored is not None
    assert stored.status is AlertStatus.ACKNOWLEDGED
    assert stored.acknowledged_by_name == "李军"


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"source_key": "  "}, "source_key"),
        ({"source_key": "x" * 301}, "source_key"),
        ({"text": "\x00 "}, "empty"),
        ({"kind": ""}, "kind"),
    ],
)
async def test_bad_arguments_are_refused(
    make_stack: MakeStack, bad: dict[str, str], error: str
) -> None:
    stack: Stack = await make_stack()
    with pytest.raises(ValueError, match=error):
        await raise_one(stack, **bad)
    assert stack.robot.posts == []


async def test_sweep_links_the_ticket_opened_later(make_stack: MakeStack) -> None:
    stack: Stack = await make_stack()
    source = "puxiong:webhook:default:m-late"
    await raise_one(stack, source=source)
    assert await stack.alerts.sweep() == 0, "no ticket yet"
    ticket = (
        await stack.tickets.intake.create(emergency_draft(), source_message_key=source)
    ).ticket
    assert await stack.alerts.sweep() == 1
    assert await alert_events(stack, ticket.number) == ["已在员工群提醒：王芳"]
    assert await stack.alerts.sweep() == 0, "each step goes on the history once"


async def test_a_slow_robot_answers_queued_and_the_send_goes_on(make_stack: MakeStack) -> None:
    stack: Stack = await make_stack(alert_wait_s=0.05)
    stack.robot.delay_s = 0.5
    result = await raise_one(stack)
    assert result.delivery is AlertDelivery.QUEUED
    assert result.staff_told, "recorded durably for a configured channel"
    assert await stack.alerts.sweep() == 0, "the send in flight holds the alert's lease"
    assert await stack.tasks.drain(5.0) == 0
    stored = await stack.alerts.get(result.alert_id)
    assert stored is not None
    assert stored.status is AlertStatus.SENT
    assert len(stack.robot.to(ROBOT_KEY)) == 1
    assert await stack.alerts.sweep() == 0
