"""The check-in below the crisis threshold, through the real HTTP server on both store
back-ends: a message the crisis classifier read as possibly urgent, not enough to call it a
crisis, is asked "is someone in danger now?" (with 110/119/120 and the hotlines) in place of a
goodbye, small talk or the menu; "是" makes it an emergency (urgent ticket, staff alert, the
safety reply), "没事" ends it and holds off another. Nothing is claimed before the resident
says so.

Most tests lower the floor (``crisis_check_in``) to 0 so that any message the crisis layer
neither flags nor calms is checked in: what they test is the conversation, not where one
model puts one message."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from channel_helpers import ROBOT_KEY, Platform
from conversation_helpers import HOOK, ROBOT_PATH, Resident, kinds, texts

from bot import appkeys
from bot.dialogue.routes.care import check_in_answer
from bot.storage.conversations import Mode

HOTLINES = ("12356", "962525")
UNCLEAR = "这个事情你们管不管"
"""Neither a crisis nor a look-alike to the crisis layer, no FAQ question. The classifier's
reading of it is low, so the danger it leans to is noise (self-harm for round 27's models):
with the floor at 0 it is asked about all the same."""
SMELL = "楼道里好大的味道"
"""A possible gas leak to the classifier (round 26's models read 0.48, round 27's 0.65),
below its threshold and not self-harm: the danger's check-in and advice."""


def robot_texts(platform: Platform) -> list[str]:
    return [b["text"]["content"] for q, b in platform.of(ROBOT_PATH) if q.get("key") == ROBOT_KEY]


async def test_a_possible_danger_is_asked_about_and_yes_raises_the_alarm(
    start: Callable[..., Any], platform: Platform
) -> None:
    bot = await start(crisis_check_in=0.0)
    resident = Resident(bot, "ci-1", name="小周")
    asked = await resident.say(SMELL)
    assert kinds(asked) == ["check_in"], texts(asked)
    said = texts(asked)
    for number in ("110", "120", *HOTLINES):
        assert number in said
    assert "回复“是”" in said
    for claim in ("通知了", "已通知", "已为"):
        assert claim not in said
    assert asked["ticket"] is None
    await asyncio.sleep(0.2)
    assert robot_texts(platform) == [], "a check-in alerted staff before the resident said so"

    body = {
        "message_id": "ci-1-yes",
        "chat": {"id": "p-ci-1", "type": "private"},
        "sender": {"id": "ci-1", "name": "小周"},
        "text": "是的！",
        "mentioned": True,
    }
    headers = {"Authorization": f"Bearer {HOOK}"}
    yes = await (await bot.post("/api/v1/messages", json=body, headers=headers)).json()
    assert kinds(yes) == ["emergency"], texts(yes)
    assert yes["ticket"]["priority"] == "urgent"
    assert "通知了居委会值班社工" in texts(yes)
    assert "关闭燃气总阀" in texts(yes)  # the gas leak's advice, with its number
    assert "119" in texts(yes)
    assert "伤害自己" not in texts(yes)  # the danger's advice, not the self-harm lines
    alerts = robot_texts(platform)
    assert len(alerts) == 1
    assert SMELL in alerts[0]  # the message asked about, not only "是"
    # WeChat retries the same "是": the same answer, no second alert or ticket
    again = await (await bot.post("/api/v1/messages", json=body, headers=headers)).json()
    assert again["ticket"]["number"] == yes["ticket"]["number"]
    await asyncio.sleep(0.2)
    assert len(robot_texts(platform)) == 1
    # answered: a later "是" is just a message
    later = await resident.say("是")
    assert "check_in" not in kinds(later)
    assert len(robot_texts(platform)) == 1


async def test_no_ends_the_check_in_and_holds_off_another(
    start: Callable[..., Any], platform: Platform
) -> None:
    bot = await start(crisis_check_in=0.0)
    resident = Resident(bot, "ci-2")
    assert kinds(await resident.say(UNCLEAR)) == ["check_in"]
    fine = await resident.say("没事，谢谢")
    assert kinds(fine) == ["care"], texts(fine)
    assert "没事就好" in texts(fine)
    assert fine["ticket"] is None
    # the next unclear message is answered as it is, not asked about again
    after = await resident.say("那这个事情到底管不管")
    assert "check_in" not in kinds(after), texts(after)
    await asyncio.sleep(0.2)
    assert robot_texts(platform) == []


async def test_something_else_after_a_check_in_is_answered_as_it_is(
    start: Callable[..., Any],
) -> None:
    bot = await start(crisis_check_in=0.0)
    resident = Resident(bot, "ci-3")
    assert kinds(await resident.say(UNCLEAR)) == ["check_in"]
    data = await resident.say("普陀一村湿垃圾几点扔")
    assert kinds(data) == ["faq"], texts(data)
    # the check-in is over: a "是" now is no answer to it
    conv = await bot.app[appkeys.CONVERSATIONS].get(resident.key())
    assert "crisis_check_in" not in conv.state


async def test_a_question_the_faq_answers_is_answered_not_checked_in(
    start: Callable[..., Any],
) -> None:
    bot = await start(crisis_check_in=0.0)
    data = await Resident(bot, "ci-4").say("普陀一村湿垃圾几点扔")
    assert kinds(data) == ["faq"], texts(data)


async def test_a_check_in_confirmed_with_no_alert_channel_claims_no_alert(
    start: Callable[..., Any], platform: Platform
) -> None:
    bot = await start(crisis_check_in=0.0, committees={"puxiong": {"duty_phone": "021-00000000"}})
    resident = Resident(bot, "ci-5")
    assert kinds(await resident.say(UNCLEAR)) == ["check_in"]
    yes = await resident.say("是")
    said = texts(yes)
    assert yes["ticket"]["priority"] == "urgent"
    assert "021-00000000" in said
    for claim in ("通知了", "已通知"):
        assert claim not in said
    assert platform.of(ROBOT_PATH) == []


async def test_a_self_harm_reading_is_asked_about_and_yes_goes_to_a_person(
    start: Callable[..., Any], platform: Platform
) -> None:
    bot = await start(crisis_check_in=0.0)
    resident = Resident(bot, "ci-6")
    asked = await resident.say("那边还是有点不对劲")  # read as self-harm more than anything
    assert kinds(asked) == ["check_in"], texts(asked)
    assert "伤害自己" in texts(asked)
    assert all(h in texts(asked) for h in HOTLINES)
    yes = await resident.say("是的")
    assert kinds(yes) == ["crisis"], texts(yes)
    assert all(h in texts(yes) for h in HOTLINES)
    assert len(robot_texts(platform)) == 1
    conv = await bot.app[appkeys.CONVERSATIONS].get(resident.key())
    assert conv.mode is Mode.WAITING
    assert conv.handoff_reason == "crisis"


async def test_at_the_default_floor_a_worry_below_the_threshold_is_asked_about(
    bot: Any, platform: Platform
) -> None:
    """Where the real models put one message a writer sent (between the floor and the
    crisis threshold): the menu would have been its reply."""
    data = await Resident(bot, "ci-8").say("我妈一天没出房门了")
    assert kinds(data) == ["check_in"], texts(data)
    assert "有人有危险" in texts(data)
    assert data["ticket"] is None
    # a goodbye read below the floor stays small talk
    bye = await Resident(bot, "ci-9").say("好的 谢谢 再见")
    assert kinds(bye) == ["smalltalk"], texts(bye)


async def test_with_check_ins_off_an_unclear_message_gets_its_normal_reply(
    start: Callable[..., Any],
) -> None:
    bot = await start(crisis_check_in=1.0)
    data = await Resident(bot, "ci-7").say(UNCLEAR)
    assert "check_in" not in kinds(data), texts(data)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("是", True),
        ("是的！", True),
        ("对的 快来", True),
        ("嗯嗯", True),
        ("救命啊", True),
        ("是的，我妈还是没开门", True),
        ("没事", False),
        ("不是的 谢谢", False),
        ("没事了", False),
        # not an answer: answered as it is
        ("有人在吗", None),
        ("没有人应门", None),
        ("是不是要报警", None),
        ("对了，问一下垃圾几点扔", None),
        ("谢谢", None),
        ("😭", None),
        ("", None),
    ],
)
def test_what_counts_as_an_answer_to_a_check_in(text: str, answer: bool | None) -> None:
    assert check_in_answer(text) is answer
