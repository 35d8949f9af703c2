"""Words of dying in a message the crisis layer judges calm (an earlier message taken back, a
joke, a line quoted from a sketch), or nothing but distress ("撑不住了"), through the real
HTTP server on both store back-ends: one caring line with the hotlines, never a goodbye, a
chit-chat line or the menu; no alert, no ticket, and no claim that anyone was told. A
question asked in the same words keeps its answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channel_helpers import Platform
from conversation_helpers import ROBOT_PATH, Resident, kinds, texts

HOTLINES = ("12356", "962525")


@pytest.mark.parametrize(
    "text",
    [
        "刚才我发的不想活了 是在吐槽老板 不是真的 别担心",
        "昨天我讲不想活了 是一句气话 今天已经好了",
        "春晚小品里那句我不活了 笑得我肚子疼",
        # nothing but distress, no words of dying
        "撑不住了",
    ],
)
async def test_words_of_dying_judged_calm_get_a_caring_line_not_a_menu(
    bot: Any, platform: Platform, text: str
) -> None:
    resident = Resident(bot, "care1")
    data = await resident.say(text)
    assert kinds(data) == ["care"], texts(data)
    said = texts(data)
    assert all(h in said for h in HOTLINES)
    assert "110" in said
    assert "找社工" in said  # a person is one reply away
    for wrong in ("再见", "没能找到答案", "通知了", "已为", "工单"):
        assert wrong not in said, said
    assert data["ticket"] is None
    await asyncio.sleep(0.2)
    assert not platform.of(ROBOT_PATH), "a message judged calm alerted staff"


async def test_a_question_in_the_same_words_keeps_its_answer(bot: Any) -> None:
    resident = Resident(bot, "care2")
    data = await resident.say("排队排得我想死 停车月卡到底怎么办理")
    # the parking answer, or first which compound's rule (it follows the reply)
    assert kinds(data) in (["faq"], ["slot"]), texts(data)
    assert "哪个小区" in texts(data) or "停车" in texts(data)


async def test_a_goodbye_without_words_of_dying_is_still_small_talk(bot: Any) -> None:
    resident = Resident(bot, "care3")
    data = await resident.say("好的 谢谢 再见")
    assert kinds(data) == ["smalltalk"], texts(data)
