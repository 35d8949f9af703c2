"""The self-harm wording: spoken to the person at risk, or — when the message tells of another
person ("我爸说要跳楼", "室友说不想活了") — to the one reporting: stay with them if it is safe,
110/120 for an immediate danger, the hotlines to call or to pass on. Short and warm; never a
claim that staff were told (that line is added only when an alert was sent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dialogue.routes.emergency import (
    ADVICE,
    GROUP_SELF_HARM,
    GROUP_SELF_HARM_OTHER,
    HOTLINES,
    SELF_HARM_CUE_LINE,
    SELF_HARM_CUE_SHORT,
    self_harm_follow_up,
    self_harm_text,
)
from bot.nlu import CrisisRules, EmergencyCategory

RULES = CrisisRules.load(Path(__file__).resolve().parents[1] / "intents")
NUMBERS = ("12356", "962525", "110", "120")


def test_the_reply_about_someone_else_speaks_to_the_one_reporting() -> None:
    text = self_harm_text(someone_else=True)
    assert all(n in text for n in NUMBERS)
    assert "陪着他/她" in text
    assert "如果你那边安全" in text  # never asked to put themselves at risk
    assert "转给他/她" in text  # the hotlines to pass on
    assert "你现在安全吗" not in text
    assert "通知" not in text  # whether staff were told is said apart, only when true
    assert len(text) < 170


def test_the_reply_to_the_person_at_risk_asks_whether_they_are_safe() -> None:
    text = self_harm_text(someone_else=False)
    assert all(n in text for n in NUMBERS)
    assert "你现在安全吗" in text
    assert "他/她" not in text
    assert "通知" not in text


def test_the_group_line_about_someone_else_is_short_and_for_the_neighbour() -> None:
    told = GROUP_SELF_HARM_OTHER.format(hotlines=HOTLINES, staff="社工会尽快联系你。")
    quiet = GROUP_SELF_HARM_OTHER.format(hotlines=HOTLINES, staff="")
    assert all(n in told for n in NUMBERS)
    assert "陪着他/她" in told
    assert "担心你" not in told
    assert "社工" not in quiet
    assert len(told) < 100
    assert "担心你" in GROUP_SELF_HARM  # the person at risk's own line is unchanged


@pytest.mark.parametrize("someone_else", [True, False])
def test_the_follow_up_line_keeps_the_hotlines_and_the_duty_phone(someone_else: bool) -> None:
    line = self_harm_follow_up("021-00000000", someone_else=someone_else)
    assert all(n in line for n in (*NUMBERS[:3], "021-00000000"))
    assert ("他/她" in line) is someone_else
    assert len(line) < 150


@pytest.mark.parametrize(
    ("message", "someone_else"),
    [
        ("我爸说要跳楼", True),
        ("室友说不想活了", True),
        ("楼上那个小伙子坐在窗台外面，腿都伸出去了", True),
        ("我不想活了", False),
        ("我妈说我没用，我现在就想从阳台跳下去", False),
    ],
)
def test_the_wording_follows_who_the_message_says_is_at_risk(
    message: str, someone_else: bool
) -> None:
    hit = RULES.detect(message)
    assert hit is not None
    text = self_harm_text(someone_else=hit.someone_else)
    assert ("陪着他/她" in text) is someone_else
    assert ("你现在安全吗" in text) is not someone_else


def test_a_sign_of_self_harm_beside_another_danger_adds_the_hotlines_without_presuming() -> None:
    # An overdose answered as first aid, a person on a roof answered as "other": the line
    # added to that danger's advice gives every number, and asks rather than assumes.
    for line in (SELF_HARM_CUE_LINE, SELF_HARM_CUE_SHORT):
        assert all(n in line for n in NUMBERS), line
        assert line.startswith("如")  # "if": the message was not read as self-harm
        assert "担心你" not in line
    assert len(SELF_HARM_CUE_LINE) < 120


def test_an_open_lift_shaft_gets_advice_to_keep_away() -> None:
    hit = RULES.detect("@邻里 5号楼电梯门开着 但是轿厢不在 有个小孩差点掉下去")
    assert hit is not None
    assert hit.category is EmergencyCategory.LIFT
    advice = ADVICE[EmergencyCategory.LIFT]
    assert "看不到轿厢" in advice
    assert "不要靠近" in advice
    assert "110" in advice


def test_someone_lost_gets_advice_that_fits_a_child_and_a_confused_elder() -> None:
    """The classifier files a grandfather who wandered off ("我外公在公园里走着走着就不认识路
    了，现在人找不到了") under the same danger as a lost child: the advice speaks of the person
    lost, not of a child's age."""
    advice = ADVICE[EmergencyCategory.MISSING_CHILD]
    assert "110" in advice
    assert "24 小时" in advice
    assert "孩子" not in advice
    assert "走失的人" in advice
    assert "老人" in advice
