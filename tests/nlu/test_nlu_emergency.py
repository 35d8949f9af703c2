"""Emergency detection favours recall: the keyword layer plus the classifier must catch
≥ 98% of a held-out list of emergency messages written apart from the training data."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu import CrisisRules, EmergencyCategory, EmergencyHit, NluService, load_training_data

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
RULES = CrisisRules.load(ROOT / "intents")


def detect_emergency(text: str) -> EmergencyHit | None:
    return RULES.detect(text)


def _lines(name: str) -> list[str]:
    text = (DATA / name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def test_heldout_is_not_copied_from_training_data() -> None:
    heldout = _lines("nlu_emergencies_heldout.txt")
    assert len(heldout) >= 100
    assert len(set(heldout)) == len(heldout)
    trained = set(load_training_data(ROOT / "intents").texts())
    assert not trained & set(heldout)


def test_heldout_emergency_recall(nlu: NluService) -> None:
    """Quality threshold: recall ≥ 0.98 on messages the rules and model never saw."""
    heldout = _lines("nlu_emergencies_heldout.txt")
    missed = [t for t in heldout if not nlu.parse(t).is_emergency]
    recall = 1 - len(missed) / len(heldout)
    assert recall >= 0.98, f"recall {recall:.3f}; missed: {missed}"


def test_dev_list_is_fully_covered_by_the_rules() -> None:
    """The first list, used while writing the rules: the keyword layer alone catches it."""
    missed = [t for t in _lines("nlu_emergencies_dev.txt") if detect_emergency(t) is None]
    assert not missed


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("我被困在电梯里了", EmergencyCategory.LIFT),
        ("电梯突然往下滑了一层 门都变形了", EmergencyCategory.LIFT),
        ("電梯關人了", EmergencyCategory.LIFT),
        ("楼道里一股煤气味", EmergencyCategory.GAS),
        ("厨房起火了", EmergencyCategory.FIRE),
        ("电梯里着火了", EmergencyCategory.FIRE),  # fire advice before lift advice
        ("水管爆了 家里全是水", EmergencyCategory.FLOOD),
        ("阿婆晕倒了", EmergencyCategory.MEDICAL),
        ("救命", EmergencyCategory.OTHER),
        ("gas smell in the stairwell!!", EmergencyCategory.GAS),
    ],
)
def test_categories(text: str, category: EmergencyCategory) -> None:
    hit = detect_emergency(text)
    assert hit is not None
    assert hit.category is category
    assert text[hit.start : hit.end] == hit.matched
    assert hit.source == "rules"


@pytest.mark.parametrize(
    "text",
    [
        "电梯坏了",
        "电梯又停了，没人关在里面，就是不动",
        "电梯按钮按了没反应",
        "楼上漏水",
        "下周消防演习几点",
        "火车票怎么买",
        "湿垃圾几点扔",
        "有人高空抛物 差点砸到人",
        "楼下烧烤店油烟太大",
        "老人走失手环哪里领",
        "",
        "   ",
    ],
)
def test_ordinary_messages_do_not_fire(text: str) -> None:
    assert detect_emergency(text) is None


def test_emergency_overrides_the_classifier(nlu: NluService) -> None:
    # phrased like a repair, but someone is inside the lift
    result = nlu.parse("电梯坏了 我儿子还在里面")
    assert result.intent == "report_emergency"
    assert result.emergency is not None
    assert result.emergency.category is EmergencyCategory.LIFT


def test_a_crisis_buried_in_a_long_message_is_found() -> None:
    for text in (
        "啊" * 10_000 + "着火了",
        "着火了" + "啊" * 10_000,
        "啊" * 5_000 + "着火了" + "啊" * 5_000,
    ):
        hit = detect_emergency(text)
        assert hit is not None
        assert hit.category is EmergencyCategory.FIRE
        assert text[hit.start : hit.end] == hit.matched


GAS_CYLINDER_LETTER = (
    "街边饭店的液化气罐管理混乱\n"
    "尊敬的领导：沿街几家饭店把液化气罐直接堆在人行道上，罐子生锈，阀门缠着胶布，后厨的管子"
    "漏气时整条街都是一股气味，有人头晕恶心去医院挂了水。我们多次向有关部门反映，没有人来查。"
    "现在这些饭店照常营业，液化气罐还是堆在路边，恳请市场监管和消防部门调查处理，落实整改。"
)


def test_a_letter_is_judged_by_what_it_says_is_happening_now(nlu: NluService) -> None:
    # A petition about a hazard and a past leak: its "现在…照常营业" sentence is not a danger.
    assert not nlu.parse(GAS_CYLINDER_LETTER).is_emergency
    live = nlu.parse(GAS_CYLINDER_LETTER + "刚刚楼下饭店的液化气罐着火了，火苗窜得老高，快来人！")
    assert live.is_emergency


def test_a_burst_of_one_question_reads_the_same_and_never_hides_a_crisis(
    nlu: NluService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crisis classifier scores a repeated text once (``CrisisModel.guess`` remembers
    it, a bounded memo): every repeat is decided exactly as the first, and a crisis sent
    between the repeats is caught, with the memo full or refilled."""
    monkeypatch.setattr("bot.nlu.crisis_model.GUESS_MEMO_SIZE", 3)
    monkeypatch.setattr("bot.nlu.service.DECISION_MEMO_SIZE", 3)
    calm = ["办居住证要什么材料", "大件垃圾怎么处理", "居委会几点上班", "湿垃圾几点扔"]
    urgent = "我家阿婆在卫生间摔倒了起不来，叫她也不答应"
    first = {t: nlu.parse(t) for t in calm}
    assert not any(r.is_emergency for r in first.values())
    for _ in range(3):
        for t in calm:
            assert nlu.parse(t) == first[t]
        crisis = nlu.parse(urgent)
        assert crisis.is_emergency
        assert crisis.emergency is not None
        assert crisis.emergency.category is EmergencyCategory.MEDICAL


def test_a_remembered_decision_is_one_of_the_same_whole_message(nlu: NluService) -> None:
    """The crisis layer's decisions are remembered per text *and* the whole message its rules
    read (``scan``): a head seen calm before is still a crisis when the rest of its message
    is one, and a long message is decided afresh every time."""
    head = "办居住证要什么材料"
    assert not nlu.parse(head).is_emergency
    whole = head + "。" + "啊" * 20 + "楼下着火了，烟很大"
    assert nlu.parse(head, scan=whole).is_emergency
    assert not nlu.parse(head).is_emergency
    long_calm = "请问" + "居住证" * 200
    long_urgent = long_calm + "我家着火了"
    for _ in range(2):
        assert not nlu.parse(long_calm).is_emergency
        assert nlu.parse(long_urgent).is_emergency
