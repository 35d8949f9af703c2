"""Searching the sample corpus with the real encoder: scope, validity, the three outcomes,
and messages no FAQ should ever crash on."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.faq import FaqEntry
from bot.domain.registry import Committee
from bot.retrieval.formatting import format_answer
from bot.retrieval.index import Candidate
from bot.retrieval.normalize import MAX_QUERY_CHARS
from bot.retrieval.service import NoIndexError, RetrievalService, Thresholds, decide

from .conftest import COMMITTEE, TODAY, entry

EXPIRED = {
    "epidemic-nucleic-acid-entry",
    "epidemic-venue-code",
    "epidemic-home-isolation",
    "epidemic-delivery",
}


def test_same_question_two_compounds_two_answers(
    sample_service: RetrievalService, committee: Committee
) -> None:
    replies = {}
    for compound in ("yanningyuan", "putuoyicun"):
        outcome = sample_service.search(COMMITTEE, "湿垃圾几点可以扔", compound, TODAY)
        assert outcome.kind == "answer"
        assert outcome.answer is not None
        assert outcome.answer.id == "garbage-wet-times"
        replies[compound] = format_answer(outcome.answer, compound, committee=committee)
    assert "早上7:00—9:00、晚上18:00—20:00" in replies["yanningyuan"]
    assert "早上6:30—9:00、傍晚17:30—19:30" in replies["putuoyicun"]


def test_scoped_entries_stay_in_their_compound(sample_service: RetrievalService) -> None:
    inside = sample_service.search(COMMITTEE, "我们小区什么时候动迁？", "xishahongbin", TODAY)
    assert inside.kind == "answer"
    assert inside.answer is not None
    assert inside.answer.id == "housing-demolition-when"
    outside = sample_service.search(COMMITTEE, "我们小区什么时候动迁？", "yanningyuan", TODAY)
    assert all(h.entry.applies_to("yanningyuan") for h in outside.hits)
    assert "housing-demolition-when" not in {h.entry.id for h in outside.hits}
    unknown = sample_service.search(COMMITTEE, "我们小区什么时候动迁？", None, TODAY)
    assert unknown.hits[0].entry.id == "housing-demolition-when"


@pytest.mark.parametrize(
    "text",
    [
        "进出小区要出示核酸阴性证明吗？",
        "进小区要扫场所码吗？",
        "家里有人阳了要隔离吗，怎么上报？",
        "快递外卖能送到家门口吗？",
    ],
)
def test_expired_rules_are_never_answered_nor_offered(
    sample_service: RetrievalService, text: str
) -> None:
    for day in (TODAY, date(2023, 1, 8), date(2030, 1, 1)):
        outcome = sample_service.search(COMMITTEE, text, "putuoyicun", day)
        assert not EXPIRED & {h.entry.id for h in outcome.hits}


def test_expired_rule_was_answered_while_valid(sample_service: RetrievalService) -> None:
    during = sample_service.search(
        COMMITTEE, "进出小区要出示核酸阴性证明吗？", None, date(2022, 7, 1)
    )
    assert during.kind == "answer"
    assert during.answer is not None
    assert during.answer.id == "epidemic-nucleic-acid-entry"
    # the rule that replaced it was not valid yet then
    assert "epidemic-measures-ended" not in {h.entry.id for h in during.hits}
    now = sample_service.search(COMMITTEE, "现在进小区还要查核酸吗", None, TODAY)
    assert now.kind == "answer"
    assert now.answer is not None
    assert now.answer.id == "epidemic-measures-ended"


def test_three_outcomes(sample_service: RetrievalService) -> None:
    answer = sample_service.search(COMMITTEE, "物业费怎么交", "yanningyuan", TODAY)
    assert answer.kind == "answer"
    assert [h.entry.id for h in answer.choices] == ["property-fee-how-to-pay"]
    clarify = sample_service.search(COMMITTEE, "长护险", None, TODAY)
    assert clarify.kind == "clarify"
    assert 2 <= len(clarify.choices) <= 3
    assert {h.entry.id for h in clarify.choices} <= {
        "elderly-ltci-what",
        "elderly-ltci-apply",
        "elderly-ltci-service",
    }
    assert clarify.answer is None
    none = sample_service.search(COMMITTEE, "帮我订一张明天去北京的高铁票", None, TODAY)
    assert none.kind == "none"
    assert none.choices == ()
    assert none.answer is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a card to top up is the card the resident names: the lift's is not the gas meter's
        ("电梯卡没钱了到哪里去充", "lifts-card"),
        ("梯控卡丢了找谁补", "lifts-card"),
        ("煤气卡没气了到哪充值", "referral-gas-ic-card"),
        # what an ambulance costs is a question with an answer, not a gap
        ("叫一趟救护车要付多少钞票", "medical-ambulance-cost"),
        ("没钱能叫120吗", "medical-ambulance-cost"),
    ],
)
def test_everyday_questions_near_an_emergency_get_their_own_answer(
    sample_service: RetrievalService, text: str, expected: str
) -> None:
    result = sample_service.search(COMMITTEE, text, None, TODAY)
    assert result.kind == "answer", (text, [h.entry.id for h in result.choices])
    assert result.choices[0].entry.id == expected


HOSTILE = [
    "",
    "   \n\t ",
    "😀😀😀🙏🏻",
    "[捂脸][捂脸][呲牙]",
    "？？？！！！。。。",
    "x" * 10_000,
    "How do I sort my garbage and when is pickup?",
    "hello",
    "'; DROP TABLE faqs; --",
    "\x00\x01\x02\x1b[31m",
    "\u202e\u200b\u200d",
    "<script>alert(1)</script>",
    "１２３４５６７８９０",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_messages_get_no_answer(sample_service: RetrievalService, text: str) -> None:
    outcome = sample_service.search(COMMITTEE, text, "yanningyuan", TODAY)
    assert outcome.kind == "none"
    assert len(outcome.query) <= MAX_QUERY_CHARS


def test_ten_thousand_characters_are_truncated(sample_service: RetrievalService) -> None:
    text = "请问湿垃圾几点可以扔" + "啊" * 10_000
    outcome = sample_service.search(COMMITTEE, text, "yanningyuan", TODAY)
    assert outcome.truncated
    assert len(outcome.query) == MAX_QUERY_CHARS
    assert outcome.kind in {"answer", "clarify", "none"}


def test_traditional_and_full_width_queries_match(sample_service: RetrievalService) -> None:
    outcome = sample_service.search(COMMITTEE, "濕垃圾幾點可以扔？？😀", "putuoyicun", TODAY)
    assert outcome.answer is not None
    assert outcome.answer.id == "garbage-wet-times"


def test_unknown_committee(sample_service: RetrievalService) -> None:
    with pytest.raises(NoIndexError):
        sample_service.search("nowhere", "湿垃圾几点扔")


async def test_asearch_runs_off_the_loop(sample_service: RetrievalService) -> None:
    outcome = await sample_service.asearch(COMMITTEE, "电梯坏了怎么报修", "puxiongxinyuan", TODAY)
    assert outcome.answer is not None
    assert outcome.answer.id == "lifts-fault-report"


def _cands(*scores: float) -> list[Candidate]:
    entries: list[FaqEntry] = [entry(f"e{i}", f"问题{i}？", "答。") for i in range(len(scores))]
    return [Candidate(e, s, e.question, s, 0.0, 0.0) for e, s in zip(entries, scores, strict=True)]


def test_decide_splits_on_thresholds() -> None:
    t = Thresholds(answer=0.6, margin=0.05, clarify=0.4, clarify_window=0.1, max_choices=3)
    assert decide("q", None, _cands(0.7, 0.6), t).kind == "answer"
    close = decide("q", None, _cands(0.7, 0.68, 0.65, 0.64, 0.2), t)
    assert close.kind == "clarify"
    assert [h.entry.id for h in close.choices] == ["e0", "e1", "e2"]
    low = decide("q", None, _cands(0.5, 0.35, 0.31), t)
    assert low.kind == "clarify"
    assert [h.entry.id for h in low.choices] == ["e0", "e1"]
    alone = decide("q", None, _cands(0.5, 0.29), t)
    assert alone.kind == "clarify"
    assert [h.entry.id for h in alone.choices] == ["e0"]
    assert decide("q", None, _cands(0.39, 0.3), t).kind == "none"
    assert decide("q", None, [], t).kind == "none"
    keyword = decide("q", None, _cands(0.9, 0.5, 0.1), t, single_keyword=True)
    assert keyword.kind == "clarify"
    assert [h.entry.id for h in keyword.choices] == ["e0", "e1"]


def test_candidates_report_how_much_of_the_query_the_entry_covers(
    sample_service: RetrievalService,
) -> None:
    index = sample_service.index(COMMITTEE)
    # every word of the query is in the entry's own phrasings: fully covered
    best = index.rank("大件垃圾怎么处理", compound_id=None, today=TODAY)[0]
    assert best.entry.id == "garbage-bulky"
    assert best.cover_words == pytest.approx(1.0)
    assert best.missing_words == 0.0
    # a word no entry has counts as the rarest possible missing word
    odd = index.rank("大件垃圾怎么处理 犰狳", compound_id=None, today=TODAY)[0]
    assert odd.missing_words == pytest.approx(1.0)
    assert 0.0 < odd.cover_words < best.cover_words
    assert 0.0 < odd.cover_chars < 1.0


def test_coverage_by_the_answer_alone_is_told_apart_from_the_phrasings(
    sample_service: RetrievalService,
) -> None:
    index = sample_service.index(COMMITTEE)
    # every word is in the entry's question: its phrasings alone cover the query
    own = index.rank("大件垃圾怎么处理", compound_id=None, today=TODAY)[0]
    assert own.entry.id == "garbage-bulky"
    assert own.phrase_words == pytest.approx(own.cover_words)
    # 楼道 is only in the bulky-garbage answer ("不要堆在楼道"), the corridor-clutter entry has
    # it in its phrasings: covered by that entry anywhere, by its phrasings only partly
    ranked = index.rank("旧家具堆在楼道里", compound_id=None, today=TODAY, limit=5)
    bulky = next(c for c in ranked if c.entry.id == "garbage-bulky")
    corridor = next(c for c in ranked if c.entry.id == "neighbours-corridor-clutter")
    assert bulky.phrase_words < bulky.cover_words
    assert corridor.phrase_words == pytest.approx(corridor.cover_words)
