"""The calibrated answer / choices / none decision (knowledge/calibration/decision.json) and
the referral entries it answers with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.domain.faq import FaqEntry
from bot.domain.registry import Committee
from bot.encoders import Encoder
from bot.retrieval.calibrate import score_labelled
from bot.retrieval.calibration import (
    FEATURES,
    Calibration,
    CalibrationError,
    Sample,
    contested,
    features,
    fit,
    load_for,
)
from bot.retrieval.evaluate import EvalQuery, load_queries
from bot.retrieval.normalize import core_text
from bot.retrieval.service import RetrievalService
from bot.retrieval.text import Tokenizer

from .conftest import COMMITTEE, KNOWLEDGE, TODAY
from .test_cli import run


@pytest.fixture(scope="module")
def calibrated(encoder: Encoder, sample_entries: list[FaqEntry]) -> RetrievalService:
    calibration = load_for(KNOWLEDGE)
    assert calibration is not None, "knowledge/calibration/decision.json is shipped"
    service = RetrievalService(encoder, today=lambda: TODAY, calibration=calibration)
    service.rebuild(COMMITTEE, sample_entries)
    return service


@pytest.mark.parametrize(
    ("text", "entry_id"),
    [
        ("湿垃圾几点可以扔", "garbage-wet-times"),
        # short, precise questions are answered, not offered as choices
        ("湿垃圾几点扔", "garbage-wet-times"),
        ("大件垃圾怎么扔", "garbage-bulky"),
        ("水费到哪里去交", "referral-utility-bills"),
        ("领结婚证去什么地方", "referral-marriage"),
        ("高龄津贴怎么领", "elderly-comprehensive-allowance"),
        ("宝宝打预防针去哪里", "referral-vaccination"),
        ("狗狗的狂犬疫苗在哪里打", "pets-rabies-vaccine"),
        ("廉租房到哪里申请", "referral-public-housing"),
    ],
)
def test_clear_questions_and_referrals_are_answered(
    calibrated: RetrievalService, text: str, entry_id: str
) -> None:
    outcome = calibrated.search(COMMITTEE, text)
    assert outcome.kind == "answer", [(h.entry.id, h.score) for h in outcome.hits[:3]]
    assert outcome.answer is not None
    assert outcome.answer.id == entry_id


@pytest.mark.parametrize(
    "text", ["帮我订一张去北京的高铁票", "播放一首周杰伦的歌", "这个口红是正品吗", "今天星期几"]
)
def test_out_of_scope_messages_get_no_answer(calibrated: RetrievalService, text: str) -> None:
    assert calibrated.search(COMMITTEE, text).kind == "none"


@pytest.mark.parametrize(
    ("text", "top", "right"),
    [
        # a newborn's hukou: the birth-paperwork referral (which points to the hukou entry)
        # leads on meaning, the hukou entry on the words
        ("刚生了宝宝 户口怎么报", "referral-birth", "cert-hukou-move"),
        # a neighbour's furniture in the corridor: how to throw old furniture away leads,
        # the corridor-clutter entry has the resident's words in its own phrasings
        ("楼上邻居把旧沙发扔在楼道里 我们都过不去", "garbage-bulky", "neighbours-corridor-clutter"),
    ],
)
def test_two_competing_entries_are_offered_not_answered(
    calibrated: RetrievalService, text: str, top: str, right: str
) -> None:
    outcome = calibrated.search(COMMITTEE, text)
    assert outcome.kind == "clarify", [(h.entry.id, h.score) for h in outcome.hits[:3]]
    offered = [h.entry.id for h in outcome.choices]
    assert offered[0] == top
    assert right in offered


def test_a_contested_top_entry_is_never_answered_however_likely() -> None:
    shipped = load_for(KNOWLEDGE)
    assert shipped is not None
    x = [0.9, 0.4, 0.5, 0.1, 0.9, 0.8, 0.9, 0.6, 1.0, 1.0, 2.5, 1.6, 0.0]
    x += [1.0, 1.0, 0.3, 0.3, 0.0, 0.0, 0.3, 0.3, 0.3, 0.3, 1.0, 1.0, 0.3, 0.3]
    assert not contested(x)
    assert shipped.outcome(x) == "answer"
    i = FEATURES.index
    x[i("lexical_margin")] = -0.05
    assert shipped.outcome(x) == "answer", "the keyword side alone does not contest"
    x[i("phrase_gap_words")], x[i("phrase_gap_chars")] = -0.2, 0.1
    assert contested(x)
    assert shipped.outcome(x) != "answer"


def test_labelled_questions_are_scored_as_the_service_decides(
    encoder: Encoder,
    sample_entries: list[FaqEntry],
    committee: Committee,
    calibrated: RetrievalService,
) -> None:
    """The fit and bench/calibration_oof.py score labelled questions on an index that holds
    every entry, expired ones too, exactly as the service does: same features, same outcome."""
    shipped = calibrated.calibration
    assert shipped is not None
    held = Path(__file__).resolve().parents[1] / "data" / "retrieval_heldout.yml"
    queries = [*load_queries(held)[:40], EvalQuery("帮我订一张去北京的高铁票", None)]

    def compound_id(name: str | None) -> str | None:
        found = committee.compound(name) if name else None
        return found.id if found else name

    scored = score_labelled(sample_entries, encoder, queries, compound_id=compound_id, today=TODAY)
    for q, s in zip(queries, scored, strict=True):
        assert s.sample is not None
        kind = shipped.outcome(s.sample.x, single_keyword=s.single_keyword)
        outcome = calibrated.search(COMMITTEE, q.text, compound_id(q.compound), TODAY)
        assert kind == outcome.kind, q.text
        assert s.ranked[0] == outcome.hits[0].entry.id
        served = calibrated.index(COMMITTEE).rank(
            outcome.query, compound_id=compound_id(q.compound), today=TODAY, limit=3
        )
        n_words = len(Tokenizer().words(outcome.query))
        x = features(served, len(core_text(outcome.query)), n_words)
        assert x == pytest.approx(list(s.sample.x), abs=1e-9), q.text


def test_a_single_keyword_never_gets_a_direct_answer(calibrated: RetrievalService) -> None:
    assert calibrated.search(COMMITTEE, "居住证").kind != "answer"


def test_the_saved_calibration_round_trips(tmp_path: Path) -> None:
    shipped = load_for(KNOWLEDGE)
    assert shipped is not None
    path = tmp_path / "calibration" / "decision.json"
    shipped.save(path)
    again = Calibration.load(path)
    assert again.to_dict() == shipped.to_dict()
    x = [0.6, 0.4, 0.2, 0.05, 0.7, 0.5, 0.6, 0.3, 1.0, 1.0, 2.5, 1.6, 0.0]
    x += [0.8, 0.8, 0.2, 0.2, 0.3, 0.3, 0.1, 0.1, 0.1, 0.0, 0.6, 0.6, 0.1, 0.1]
    assert len(x) == len(FEATURES)
    assert again.probabilities(x) == shipped.probabilities(x)


def test_a_calibration_from_other_features_is_refused(tmp_path: Path) -> None:
    shipped = load_for(KNOWLEDGE)
    assert shipped is not None
    data = shipped.to_dict()
    data["features"] = [*FEATURES[:-1], "something_else"]
    path = tmp_path / "decision.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(CalibrationError, match="other features"):
        Calibration.load(path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CalibrationError):
        Calibration.load(path)


def _sample(top: float, margin: float, right: bool, source: str) -> Sample:
    x = [top, top - margin, margin, 0.02, top, top / 2, top, 0.2, 1.0, 1.0, 2.5, 1.6, 0.0]
    x += [0.8, 0.8, margin, margin, 0.3, 0.3, margin, margin, margin, 0.0]
    x += [0.6, 0.6, margin, margin]
    return Sample(tuple(x), right, right, source)


def test_fit_keeps_answers_right_and_out_of_scope_unanswered() -> None:
    samples: list[Sample] = []
    for i in range(60):
        samples.append(_sample(0.55 + i * 0.005, 0.05 + i * 0.002, True, "labelled"))
        samples.append(_sample(0.30 + i * 0.003, 0.01 + i * 0.001, False, "out-of-scope-null"))
        # a right top entry is likelier with a larger margin: low margins are often wrong
        samples.append(_sample(0.5, 0.005 * (i % 10), i % 10 >= 5, "alternates"))
    calibration, report = fit(samples, max_wrong_answers=0.01, max_null_answers=0.0)
    assert report["out_of_fold"]["out-of-scope-null"]["answered"] == 0.0
    assert report["out_of_fold"]["labelled"]["answered_right"] in (None, 1.0)
    assert report["out_of_fold"]["labelled"]["answered"] > 0.5
    p_answer, _ = calibration.probabilities(_sample(0.3, 0.01, False, "x").x)
    assert p_answer < calibration.answer_at
    again, _ = fit(samples, max_wrong_answers=0.01, max_null_answers=0.0)
    assert again.to_dict() == calibration.to_dict(), "the fit is reproducible"


def test_kb_eval_reports_the_calibrated_decision(capsys: pytest.CaptureFixture[str]) -> None:
    queries = Path(__file__).resolve().parents[1] / "data" / "retrieval_heldout.yml"
    assert run(["kb", "eval", "--kb", str(KNOWLEDGE), "--queries", str(queries), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["decision"] == "calibrated"
    assert result["answer_accuracy"] >= 0.95
