"""The crisis rules are data (``intents/crisis.yml``): a malformed file is refused with the
file and rule named; dialect, reported speech, look-alikes, past and hypothetical events and
stories behave as residents would expect; the tune half of the crisis set stays covered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bot.nlu import CrisisRules, EmergencyCategory, NluService, TrainingDataError
from bot.nlu.crisis import WINDOW

ROOT = Path(__file__).resolve().parents[2]
RULES = CrisisRules.load(ROOT / "intents")
CRISIS = ROOT / "tests" / "data" / "crisis"


def _minimal(**over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "categories": {"fire": {"label": "火情", "patterns": ["着火"]}},
        "calm": ["火锅"],
        "not_live": ["上次"],
        "urgent": ["快"],
        "negated": "没有$",
        "negated_inside": "没人困",
        "someone_else": ["他说"],
        "fiction": ["小说"],
        "dialect": {"勿": "不"},
    }
    body.update(over)
    return body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_minimal(categories={"meteor": {"patterns": ["流星"]}}), "unknown crisis category"),
        (_minimal(categories={"fire": {"patterns": ["着火("]}}), "categories.fire[0]: invalid"),
        (_minimal(calm=[]), "calm: no patterns"),
        (_minimal(dialect={"里厢": "里面"}), "dialect"),
    ],
)
def test_a_malformed_rules_file_names_the_problem(
    tmp_path: Path, body: dict[str, object], message: str
) -> None:
    path = tmp_path / "crisis.yml"
    path.write_text(yaml.safe_dump({"crisis": body}, allow_unicode=True), encoding="utf-8")
    with pytest.raises(TrainingDataError, match=message.replace("[", r"\[").replace("(", r"\(")):
        CrisisRules.load(tmp_path)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("我不想活了", EmergencyCategory.SELF_HARM),
        ("活着真没意思，一了百了算了", EmergencyCategory.SELF_HARM),
        ("安眠药已经攒了一瓶了", EmergencyCategory.SELF_HARM),
        ("阿拉老头子勿想活了", EmergencyCategory.SELF_HARM),
        ("我妈一个人住，两天打她电话都不接", EmergencyCategory.WELFARE),
        ("楼下独居老伯屋里一股怪味，好几天没看到伊了", EmergencyCategory.WELFARE),
        ("阿拉屋里厢着火了", EmergencyCategory.FIRE),
        ("电梯里厢关牢了", EmergencyCategory.LIFT),
        ("电梯开着门就往上走了", EmergencyCategory.LIFT),
        ("水漫到插座了在冒火花", EmergencyCategory.FIRE),
        ("隔壁男的拿着菜刀追着他老婆", EmergencyCategory.VIOLENCE),
        ("我家小囡放学到现在还没回来，电话手表打不通", EmergencyCategory.MISSING_CHILD),
    ],
)
def test_crises_in_residents_words(text: str, category: EmergencyCategory) -> None:
    hit = RULES.detect(text)
    assert hit is not None, text
    assert category in hit.categories
    assert text[hit.start : hit.end] == hit.matched


@pytest.mark.parametrize(
    "text",
    [
        "楼上天天半夜装修吵死了",
        "热死了，空调什么时候修",
        "救命啊这个表格到底怎么填",
        "上次着火的那栋楼修好了吗",
        "家里燃气报警器怎么安装",
        "燃气费怎么交",
        "消防通道被堵了谁管",
        "我在看一本小说，主角一直想自杀",
        "如果电梯困人了应该打哪个电话",
        "电脑中毒了，居委会有人会修吗",
        "钥匙锁在屋里了，有开锁师傅电话吗",
        "想死你们了，下礼拜回来看大家",
    ],
)
def test_look_alikes_stay_calm(text: str) -> None:
    assert RULES.detect(text) is None, text


def test_a_live_danger_in_a_story_message_still_counts_when_it_is_urgent() -> None:
    assert RULES.detect("我在看电视剧，现在楼道里突然冒烟了，快来人") is not None


def test_self_harm_about_someone_else_is_told_apart() -> None:
    other = RULES.detect("我朋友一直说不想活了")
    own = RULES.detect("我不想活了")
    assert other is not None
    assert own is not None
    assert other.someone_else
    assert not own.someone_else


def test_a_crisis_across_a_window_boundary_is_found() -> None:
    text = "啊" * (WINDOW - 2) + "着火了" + "啊" * 50
    hit = RULES.detect(text)
    assert hit is not None
    assert text[hit.start : hit.end] == hit.matched


def _items(name: str) -> list[dict[str, str]]:
    return [json.loads(x) for x in (CRISIS / name).read_text("utf-8").splitlines() if x]


def test_the_tune_half_of_the_crisis_set_stays_covered(nlu: NluService) -> None:
    """Regression guard on the messages the rules were tuned on (the holdout half is only
    ever measured by bench/safety.py)."""
    urgent = _items("urgent_tune.jsonl")
    look = _items("lookalike_tune.jsonl")
    missed = [
        u["text"] for u in urgent if not nlu.parse(u["text"][:500], scan=u["text"]).is_emergency
    ]
    alarms = [x["text"] for x in look if nlu.parse(x["text"]).is_emergency]
    assert len(missed) / len(urgent) <= 0.01, missed
    assert len(alarms) / len(look) <= 0.02, alarms
