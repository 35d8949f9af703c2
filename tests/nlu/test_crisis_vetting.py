"""The vetting model (``CrisisVetter``): is someone in danger now? It may take back a crisis
the rules or the classifier found in a look-alike (a scare told and settled, a past event, a
story), never one with a sign of self-harm the classifier also reads as urgent, and never a
danger happening now. And the classifier, sure of self-harm, is not held back by a farewell
that reads like a settled scare."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from crisis_sets import bigrams, measured_rows, near

from bot.nlu import EmergencyCategory, EmergencyHit, NluService
from bot.nlu.crisis_model import (
    AGREE,
    AGREE_NOW,
    CALM,
    DOUBT_CALM_MIN_CHARS,
    DOUBT_MIN_CHARS,
    SURE,
    SURE_NOW,
    URGENT,
    CrisisVetter,
    crisis_decision,
    vettable,
    vetting_set,
)

ROOT = Path(__file__).resolve().parents[2]
INTENTS = ROOT / "intents"
CRISIS = ROOT / "tests" / "data" / "crisis"


def _vetter(nlu: NluService) -> CrisisVetter:
    nlu.start()
    assert nlu.crisis_vetter is not None
    return nlu.crisis_vetter


def _near_a_measured_row(text: str) -> bool:
    """Within tests/test_crisis_data.py's near-duplicate bound of a row kept for measuring
    (``crisis_sets.measured_rows``): such rows were dropped from the training files (those
    sets measure generalisation)."""
    a = bigrams(text)
    return any(near(a, b) for b in _measured_bigrams())


@functools.cache
def _measured_bigrams() -> tuple[set[str], ...]:
    """The bigrams of every measured row, read and computed once, when first asked for."""
    return tuple(bigrams(text) for _, text in measured_rows(ROOT))


def test_the_vetting_model_learns_from_every_writers_contrast_pairs() -> None:
    texts, labels = vetting_set(INTENTS)
    assert set(labels) == {URGENT, CALM}
    assert len(texts) == len(set(texts))
    pairs = dict(zip(texts, labels, strict=True))
    # the eleventh writer's set is no classifier example, but it is a contrast pair here
    for split in ("tune", "tune11", "tune12"):
        for half, label in (("urgent", URGENT), ("lookalike", CALM)):
            rows = (CRISIS / f"{half}_{split}.jsonl").read_text("utf-8").splitlines()
            texts_of = [json.loads(r)["text"] for r in rows if r.strip()]
            missing = [t for t in texts_of if pairs.get(t) != label]
            assert len(missing) < len(texts_of) / 20, split
            assert all(_near_a_measured_row(t) for t in missing), missing


@pytest.mark.parametrize(
    "text",
    # (with "找到了找到了" at its end the rules settle it themselves since round 14)
    ["我家孩子放学半天没回来，急得我到处找，结果在同学家写作业，谢谢大家"],
)
def test_a_settled_scare_in_a_new_phrasing_gets_its_normal_route(
    nlu: NluService, text: str
) -> None:
    """The rules (tuned writer by writer) still read these as a crisis; the vetting model,
    trained on every writer's contrast pairs, takes them back."""
    decision = crisis_decision(nlu.crisis, None, text, threshold=nlu.thresholds.emergency)
    assert decision.hit is not None  # the rules alone would alarm
    result = nlu.parse(text)
    assert not result.is_emergency
    assert result.intent != "report_emergency"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (
            "上个月着过火的那栋楼，现在又冒黑烟了，火苗从四楼窗户窜出来，里面还有人在喊",
            EmergencyCategory.FIRE,
        ),
        (
            "以前我们楼也漏过煤气，这次更厉害，整个楼道都是味道，隔壁老太太敲不开门",
            EmergencyCategory.GAS,
        ),
    ],
)
def test_an_urgent_message_with_a_past_opening_still_escalates(
    nlu: NluService, text: str, category: EmergencyCategory
) -> None:
    result = nlu.parse(text)
    assert result.is_emergency
    assert result.emergency is not None
    assert category in result.emergency.categories
    decision = nlu.crisis_decision(text)
    assert decision.vetoed is None
    assert decision.p_now is not None
    assert decision.p_now >= 0.5


def test_self_harm_is_never_taken_back(nlu: NluService) -> None:
    """Even a vetting model that would take back every crisis it may judge (veto above 1)
    leaves a self-harm message, and a danger with a sign of self-harm, a crisis."""
    vetter = _vetter(nlu)
    th = nlu.thresholds.emergency
    for text in (
        "我真的不想活了，这几天把药一点点攒起来了，今晚就吃掉，对不起我爸妈",
        "隔壁那个小伙子好像在屋里烧炭了，门缝里都是烟，敲了半天也敲不开门",
    ):
        decision = crisis_decision(nlu.crisis, None, text, threshold=th, vetter=vetter, veto=1.01)
        assert decision.hit is not None, text
        assert decision.vetoed is None
        assert EmergencyCategory.SELF_HARM in decision.hit.categories, text
    gas = crisis_decision(
        nlu.crisis,
        None,
        "厨房里煤气味好重，越来越浓，我头有点晕，家里还有两个小孩在睡觉，怎么办啊快来人",
        threshold=th,
        vetter=vetter,
        veto=1.01,
    )
    assert gas.hit is None
    assert gas.vetoed is not None
    assert gas.vetoed.category is EmergencyCategory.GAS


def test_a_sign_of_self_harm_or_a_short_message_is_not_vetted() -> None:
    text = "楼下阿伯刚刚在小区花园里晕倒了，叫他也不答应，旁边地上有一个空药瓶，快来人帮忙"
    overdose = EmergencyHit(EmergencyCategory.MEDICAL, "晕倒", 0, 2, "rules", self_harm_cue=True)
    assert not vettable(overdose, text)
    assert not vettable(EmergencyHit(EmergencyCategory.SELF_HARM, "", 0, 0, "classifier"), text)
    fainted = EmergencyHit(EmergencyCategory.MEDICAL, "晕倒", 0, 2, "rules")
    assert vettable(fainted, text)
    assert not vettable(fainted, "楼下阿伯晕倒了")


def test_short_crises_are_never_taken_back(nlu: NluService) -> None:
    """A few characters tell no settled scare or past event: however low the vetting
    model's reading, the crisis stands."""
    for text in ("楼里发生爆炸", "邻居大爷心梗了", "有人持刀闹事", "救救我们", "快来救人"):
        assert nlu.parse(text).is_emergency, text


@pytest.mark.parametrize(
    "text",
    [
        "冬天屋里冷 想买个木炭盆取暖 安全吗 会不会中毒",
        "太难了我真的想死 这个志愿者报名表要填好多东西",
        "老板说上吊也要喘口气 结果让我们连上了十二天班 这合法吗 去哪投诉",
    ],
)
def test_a_crisis_only_the_rules_saw_is_taken_back_when_both_models_read_it_calm(
    nlu: NluService, text: str
) -> None:
    assert len(text) >= DOUBT_MIN_CHARS
    assert nlu.crisis.detect(text) is not None  # the rules alone would alarm
    decision = nlu.crisis_decision(text)
    assert decision.hit is None
    assert decision.vetoed is not None
    assert not nlu.parse(text).is_emergency


@pytest.mark.parametrize(
    "text",
    [
        "我把药都吃下去了 跟你们说一声 人已经躺好了 不用来了",
        "药吃完了 不用来了 谢谢你们",
    ],
)
def test_a_farewell_that_reads_like_a_settled_scare_is_still_self_harm(
    nlu: NluService, text: str
) -> None:
    """ "不用来了" closes a scare told and settled; here it is a goodbye: the writer's own
    self-harm is never settled, and the classifier, sure of self-harm, is not held back by
    the look-alike reading."""
    decision = nlu.crisis_decision(text)
    assert nlu.crisis.calm_context(text, markers=False)  # "不用来了" reads as settled
    assert decision.hit is not None
    assert EmergencyCategory.SELF_HARM in decision.hit.categories
    result = nlu.parse(text)
    assert result.is_emergency


def test_a_danger_only_the_rules_saw_is_taken_back_when_the_classifier_reads_it_calm(
    nlu: NluService,
) -> None:
    """A planned lift shutdown asked about: the rules see "老人被困", the classifier (which
    has read twenty-odd writers' look-alikes) reads it as calm, and the crisis is taken back
    without asking the vetting model."""
    text = "物业通知说明天上午停电检修电梯，老人被困在楼上下不来怎么办，能不能提前安排"
    assert len(text) >= DOUBT_MIN_CHARS
    assert nlu.crisis.detect(text) is not None  # the rules alone would alarm
    decision = nlu.crisis_decision(text)
    assert decision.hit is None
    assert decision.vetoed is not None
    assert decision.p_now is None  # the vetting model was not needed
    assert not nlu.parse(text).is_emergency


@pytest.mark.parametrize(
    ("text", "crisis"),
    [
        # short look-alikes the rules alarm on and the classifier reads as calm
        ("燃气报警器一炒菜就叫 能调吗", False),
        ("外卖电瓶车没电了 救命啊", False),
        ("头疼死了 明天还要加班 救命", False),
        # short crises of the same length stand
        ("救命 水管爆了 总阀在哪", True),
        ("打起来了 有刀 3号楼下面", True),
        ("小孩跑丢了 往大马路那边去了", True),
    ],
)
def test_a_short_message_the_rules_alarm_on_is_judged_by_the_classifier(
    nlu: NluService, text: str, crisis: bool
) -> None:
    """From ``DOUBT_CALM_MIN_CHARS`` characters on (below ``DOUBT_MIN_CHARS``), a danger only
    the rules saw that the classifier reads as calm is taken back; a cry shorter than that
    stands whatever the classifier reads (``test_short_crises_are_never_taken_back``)."""
    assert DOUBT_CALM_MIN_CHARS <= len(text) < DOUBT_MIN_CHARS
    assert nlu.crisis.detect(text) is not None  # the rules alone would alarm
    assert nlu.parse(text).is_emergency is crisis


@pytest.mark.parametrize(
    "text",
    [
        "活着真没意思，但我不会做傻事的，就想找个人聊聊，社区有心理老师吗",
        "老伴走了以后我夜里老是睡不着，不过我会好好活着的，想报名社区的合唱团",
    ],
)
def test_low_mood_with_the_intent_denied_gets_its_normal_route(nlu: NluService, text: str) -> None:
    """The writer says they will not harm themselves: the classifier's reading of self-harm
    does not override the look-alike gate, and no crisis is raised."""
    decision = nlu.crisis_decision(text)
    assert decision.calm
    assert decision.hit is None
    assert not nlu.parse(text).is_emergency


@pytest.mark.parametrize(
    "text",
    [
        "下个月的体检我不去了，帮我取消一下",
        "这个快递我不要了，帮我退回去",
        "我们家下个月搬去嘉定了，这个群我就退了，谢谢大家照顾",
        "算了算了 不弄了 明天再说",
    ],
)
def test_everyday_declines_are_no_farewell(nlu: NluService, text: str) -> None:
    """Indirect farewells ("以后不用给我送饭了 我用不上了") taught the classifier that "not
    needed anymore" can mean self-harm; an ordinary decline, cancellation or move is calm."""
    assert not nlu.parse(text).is_emergency, text


@pytest.mark.parametrize(
    "text",
    [
        "想问一下小区停车月卡怎么办理，要带什么材料，物业说要先交押金，这个合理吗。"
        "现在楼下车库冒烟了，好大的味道！",
        "物业太不负责了，楼道灯坏了一个月都没人修，垃圾也堆着，希望居委会管一管。"
        "刚才楼上有人拿刀砍人，满地是血！",
    ],
)
def test_a_danger_told_as_now_after_a_complaint_is_not_calmed_by_it(
    nlu: NluService, text: str
) -> None:
    """The classifier reads the whole message as calm (the complaint is most of it), but the
    danger's clause says it is happening now: read from there, it is a crisis (``TOLD_NOW``)."""
    decision = nlu.crisis_decision(text)
    assert decision.rules_hit is not None
    assert decision.hit is not None, text
    assert nlu.parse(text).is_emergency


def test_two_models_agreeing_find_a_crisis_the_classifier_alone_would_not(nlu: NluService) -> None:
    """Below the threshold, a classifier reading of ``AGREE`` or more is a crisis when the
    vetting model reads a danger now at ``AGREE_NOW`` or more. With a threshold no reading
    reaches, only that agreement can find one: a wandering grandfather lost now is found,
    an everyday question is not, and without the vetting model neither is."""
    model, vetter = nlu.crisis_model, _vetter(nlu)
    assert model is not None
    lost = "我外公在公园里走着走着就迷路了，现在人找不到了"
    calm = "明天社区有没有量血压的活动"
    assert nlu.crisis.detect(lost) is None  # the classifier's alone
    assert model.guess(lost).p_urgent >= AGREE
    assert vetter.p_now(lost) >= AGREE_NOW
    found = crisis_decision(nlu.crisis, model, lost, threshold=1.01, vetter=vetter)
    assert found.hit is not None
    assert found.hit.source == "classifier"
    assert found.p_now is not None
    assert found.p_now >= AGREE_NOW
    alone = crisis_decision(nlu.crisis, model, lost, threshold=1.01)
    assert alone.hit is None
    assert crisis_decision(nlu.crisis, model, calm, threshold=1.01, vetter=vetter).hit is None


def test_both_models_sure_pass_the_look_alike_gate(nlu: NluService) -> None:
    """An open lift door with no car behind it reads as "the lift is empty" to the rules'
    look-alike phrase; the classifier sure of a crisis (``SURE``) and the vetting model sure
    of a danger now (``SURE_NOW``) make it one. Without the vetting model the look-alike gate
    holds it, and an empty lift that is only stuck stays calm."""
    model, vetter = nlu.crisis_model, _vetter(nlu)
    assert model is not None
    shaft = (
        "电梯门开了，里面是空的，轿厢不在这一层，下面黑洞洞的，我儿子差点一脚踩空，现在门还关不上"
    )
    stuck = "电梯里面是空的，没人被困，就是一直停在5楼不动"
    assert nlu.crisis.detect(shaft) is None  # the classifier's alone
    assert nlu.crisis.calm_context(shaft)
    assert model.guess(shaft).p_urgent >= SURE
    found = crisis_decision(nlu.crisis, model, shaft, threshold=0.7, vetter=vetter)
    assert found.hit is not None
    assert found.hit.categories == (EmergencyCategory.LIFT,)
    assert found.p_now is not None
    assert found.p_now >= SURE_NOW
    assert crisis_decision(nlu.crisis, model, shaft, threshold=0.7).hit is None
    assert nlu.crisis.calm_context(stuck)
    assert crisis_decision(nlu.crisis, model, stuck, threshold=0.7, vetter=vetter).hit is None
    assert nlu.parse(shaft).is_emergency
    assert not nlu.parse(stuck).is_emergency


@pytest.mark.parametrize(
    "text", ["多谢你们了！！！", "多谢你了!!!", "麻烦你们了！！！", "谢谢居委会🙏🙏"]
)
def test_thanks_alone_is_no_crisis_whatever_the_classifier_reads(
    nlu: NluService, text: str
) -> None:
    """A message of thanks alone is nothing but courtesy (``courtesy``): the classifier, taught
    short understated farewells, may read "多谢你们了！！！" as self-harm, above the threshold
    and above ``SELF_HARM_SURE`` (round 20's at 0.81 and 0.91), and nobody may be alerted for it
    at any threshold. A farewell that says more than thanks is still one."""
    assert nlu.crisis.courtesy_only(text)
    assert nlu.crisis.calm_context(text)
    assert nlu.crisis_decision(text).hit is None
    model, vetter = nlu.crisis_model, _vetter(nlu)
    assert crisis_decision(nlu.crisis, model, text, threshold=0.0, vetter=vetter).hit is None
    assert not nlu.parse(text).is_emergency
    farewell = "谢谢大家这些年的照顾 以后不麻烦了"
    assert not nlu.crisis.courtesy_only(farewell)
    assert not nlu.crisis.calm_context(farewell)
    assert nlu.parse(farewell).is_emergency
