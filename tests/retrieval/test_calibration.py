"""The calibrated answer / choices / none decision (knowledge/calibration/decision.json) and
the referral entries it answers with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.domain.faq import FaqEntry
from bot.encoders import Encoder
from bot.retrieval.calibration import (
    FEATURES,
    Calibration,
    CalibrationError,
    Sample,
    fit,
    load_for,
)
from bot.retrieval.service import RetrievalService

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
    x += [0.8, 0.8, 0.2, 0.2, 0.3, 0.3, 0.1, 0.1, 0.1, 0.0]
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
