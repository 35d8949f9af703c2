"""Calibrated answer / "did you mean" / "I don't know" decisions.

Two fixed thresholds on the top score cannot tell a confident answer from a lucky one: a
resident's long complaint scores lower than a short question even when the right entry leads
by far, and an out-of-scope question can score high on a single shared word. ``Calibration``
looks at more of the ranking (``features``): the top score, its margin over the second and
third entries, the parts of the top score (sentence cosine, keyword overlap, centroid, answer
coverage) and how far the top entry leads the next two on each part, whether the dense and
keyword sides agree on the top entry, how much of the query the top entry has anywhere
(IDF-weighted word and character coverage, the rarest word it lacks) and how much its own
phrasings cover (an entry that has a resident's words only in its answer, a warning such as
"不要堆在楼道" or a pointer to another entry, is about something else), whether another
entry covers more, and the length of the normalised query. Two logistic regressions on those
features give

- ``p_answer``: the probability that the top entry is the right one (answer directly), and
- ``p_offer``: the probability that the right entry is among the top three (offer choices);

the thresholds on them are chosen on out-of-fold predictions (averaged over repeated fold
splits, so one split's luck does not move them) so that direct answers stay right and
out-of-scope messages rarely get an answer or choices (``fit``). A top entry that another
contests (``contested``: the keyword side and the other entry's own phrasings prefer the
other) gets choices, never a direct answer. ``bench/calibration_oof.py`` refits all this
with folds of the labelled questions held out and reports the decision on them: the
figures to expect on questions the fit has not seen. The regressions are strongly
regularised (``c``): with about a hundred real residents' questions in the fit, a model close
to a weighted sum of the standardised features answered more of the questions it had not
seen at the same error limits than a freer one (short precise questions such as "湿垃圾几点扔"
among them), and kept more direct answers right on the held-out phrasings.

The fitted model is plain JSON (``knowledge/calibration/decision.json``: feature names,
standardisation, coefficients, thresholds and what it was fitted on), written and refitted by
``linli kb calibrate`` (``bot/retrieval/calibrate_cli.py``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.retrieval.errors import RetrievalError
from bot.retrieval.index import Candidate

FORMAT = 1
FEATURES: tuple[str, ...] = (
    "top",
    "second",
    "margin",
    "margin_23",
    "dense",
    "lexical",
    "centroid",
    "answer",
    "dense_agrees",
    "lexical_agrees",
    "log_core_chars",
    "log_words",
    "single_keyword",
    "cover_words",
    "cover_chars",
    "cover_gap_words",
    "cover_gap_chars",
    "missing_words",
    "missing_chars",
    "dense_margin",
    "lexical_margin",
    "centroid_margin",
    "answer_margin",
    "phrase_words",
    "phrase_chars",
    "phrase_gap_words",
    "phrase_gap_chars",
)

_LEXICAL_MARGIN = FEATURES.index("lexical_margin")
_PHRASE_GAP_WORDS = FEATURES.index("phrase_gap_words")
_PHRASE_GAP_CHARS = FEATURES.index("phrase_gap_chars")


def contested(x: Sequence[float]) -> bool:
    """Whether the runner-up competes with the top entry: the keyword side ranks it higher
    and its own phrasings (question and alternates) cover more of the message. Two entries
    about neighbouring matters (a neighbour's clutter in the corridor and how to throw old
    furniture away; a newborn's hukou and the birth paperwork that points to it) then both
    fit a resident's long or colloquial message, and the top one is wrong too often for a
    direct answer: such a message gets choices, not an answer."""
    lexical_lead = x[_LEXICAL_MARGIN]
    phrase_lead = x[_PHRASE_GAP_WORDS] + x[_PHRASE_GAP_CHARS]
    return lexical_lead < 0.0 and phrase_lead < 0.0


class CalibrationError(RetrievalError):
    """A calibration file is missing, malformed or from another feature set."""


def features(candidates: Sequence[Candidate], core_chars: int, n_words: int) -> list[float]:
    """The feature vector (in ``FEATURES`` order) of a ranked candidate list (its first
    three candidates count)."""
    candidates = candidates[:3]
    if not candidates:
        return [0.0] * len(FEATURES)
    top, others = candidates[0], candidates[1:]
    second = others[0].score if others else 0.0
    third = others[1].score if len(others) > 1 else 0.0
    best_dense = max(candidates, key=lambda c: c.dense)
    best_lex = max(candidates, key=lambda c: c.chars + c.words)

    def lead(part: Callable[[Candidate], float]) -> float:
        """How far the top entry leads the others on one part of the score."""
        return part(top) - max((part(c) for c in others), default=0.0)

    return [
        top.score,
        second,
        top.score - second,
        second - third,
        top.dense,
        (top.chars + top.words) / 2.0,
        top.centroid,
        top.answer,
        1.0 if best_dense.entry.id == top.entry.id else 0.0,
        1.0 if best_lex.entry.id == top.entry.id else 0.0,
        math.log1p(core_chars),
        math.log1p(n_words),
        1.0 if n_words <= 1 else 0.0,
        top.cover_words,
        top.cover_chars,
        lead(lambda c: c.cover_words),
        lead(lambda c: c.cover_chars),
        top.missing_words,
        top.missing_chars,
        lead(lambda c: c.dense),
        lead(lambda c: (c.chars + c.words) / 2.0),
        lead(lambda c: c.centroid),
        lead(lambda c: c.answer),
        top.phrase_words,
        top.phrase_chars,
        lead(lambda c: c.phrase_words),
        lead(lambda c: c.phrase_chars),
    ]


@dataclass(frozen=True, slots=True)
class _Logit:
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def prob(self, x: Sequence[float]) -> float:
        z = self.intercept
        for xi, m, s, c in zip(x, self.mean, self.scale, self.coef, strict=True):
            z += c * (xi - m) / s
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, data: Any, n: int) -> _Logit:
        try:
            logit = cls(
                tuple(float(v) for v in data["mean"]),
                tuple(float(v) for v in data["scale"]),
                tuple(float(v) for v in data["coef"]),
                float(data["intercept"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"malformed model ({exc})") from exc
        if not (len(logit.mean) == len(logit.scale) == len(logit.coef) == n):
            raise CalibrationError("model size does not match the features")
        if any(s <= 0 for s in logit.scale):
            raise CalibrationError("model scales must be positive")
        return logit


@dataclass(frozen=True, slots=True)
class Calibration:
    """The fitted decision: answer when ``p_answer ≥ answer_at`` (never for a single
    keyword), offer choices when ``p_offer ≥ offer_at``, else nothing."""

    answer_model: _Logit
    offer_model: _Logit
    answer_at: float
    offer_at: float
    info: dict[str, Any]

    def probabilities(self, x: Sequence[float]) -> tuple[float, float]:
        return self.answer_model.prob(x), self.offer_model.prob(x)

    def outcome(self, x: Sequence[float], *, single_keyword: bool = False) -> str:
        """``"answer"``, ``"clarify"`` or ``"none"`` for one feature vector."""
        p_answer, p_offer = self.probabilities(x)
        if not single_keyword and p_answer >= self.answer_at and not contested(x):
            return "answer"
        return "clarify" if p_offer >= self.offer_at else "none"

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "features": list(FEATURES),
            "answer_model": self.answer_model.to_dict(),
            "offer_model": self.offer_model.to_dict(),
            "answer_at": self.answer_at,
            "offer_at": self.offer_at,
            "info": self.info,
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=1)
        path.write_text(text + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, data: Any) -> Calibration:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CalibrationError("not a calibration file of this version")
        if tuple(data.get("features") or ()) != FEATURES:
            raise CalibrationError("calibration fitted on other features: refit it")
        try:
            answer_at, offer_at = float(data["answer_at"]), float(data["offer_at"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"malformed thresholds ({exc})") from exc
        n = len(FEATURES)
        return cls(
            _Logit.from_dict(data.get("answer_model"), n),
            _Logit.from_dict(data.get("offer_model"), n),
            answer_at,
            offer_at,
            dict(data.get("info") or {}),
        )

    @classmethod
    def load(cls, path: Path) -> Calibration:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CalibrationError(f"{path}: cannot read calibration ({exc})") from exc
        try:
            return cls.from_dict(data)
        except CalibrationError as exc:
            raise CalibrationError(f"{path}: {exc}") from exc


def default_path(kb: Path) -> Path:
    """Where a corpus folder keeps its calibration."""
    return (kb if kb.is_dir() else kb.parent) / "calibration" / "decision.json"


def load_for(kb: Path) -> Calibration | None:
    """The calibration beside a corpus folder, if it has one."""
    path = default_path(kb)
    return Calibration.load(path) if path.is_file() else None


# ---------------------------------------------------------------------------------------
# fitting


@dataclass(frozen=True, slots=True)
class Sample:
    """One scored query: its features, whether its top entry is right, whether a right
    entry is among the top three, and where it came from (for the report)."""

    x: tuple[float, ...]
    top1: bool
    top3: bool
    source: str
    text: str = ""
    top_id: str = ""


def _fit_logit(x: Any, y: Any, weights: Any, c: float) -> _Logit:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit((x - mean) / scale, y, sample_weight=weights)
    return _Logit(
        tuple(round(float(v), 6) for v in mean),
        tuple(round(float(v), 6) for v in scale),
        tuple(round(float(v), 6) for v in model.coef_[0]),
        round(float(model.intercept_[0]), 6),
    )


def _weights(samples: Sequence[Sample], source_weight: dict[str, float]) -> Any:
    return np.asarray([source_weight.get(s.source, 1.0) for s in samples], dtype=float)


def fit(
    samples: Sequence[Sample],
    *,
    source_weight: dict[str, float] | None = None,
    folds: int = 5,
    repeats: int = 3,
    seed: int = 13,
    c: float = 0.003,
    max_wrong_answers: float = 0.01,
    max_null_answers: float = 0.01,
    max_null_offers: float = 0.04,
    info: dict[str, Any] | None = None,
) -> tuple[Calibration, dict[str, Any]]:
    """Fit both models and pick their thresholds on out-of-fold probabilities.

    Thresholds are judged on real messages (sources ``labelled*`` and ``out-of-scope-null``);
    the corpus-derived samples (left-out alternates, left-out entries) shape the models but
    are pessimistic stand-ins, so they do not set the thresholds. ``answer_at``: the lowest
    probability at which at most ``max_wrong_answers`` of the direct answers to labelled
    questions are wrong and at most ``max_null_answers`` of the messages without an answer
    get one, counting contested top entries as answered (the veto turns answers into
    choices; it does not buy a lower threshold for the rest); ``offer_at``: the lowest at
    which at most ``max_null_offers`` of the messages without an answer get choices or an
    answer (4%: choices of unrelated entries are what a resident with a question the
    corpus does not answer sees; out of fold 5% let up to one in ten of them have some).
    Returns the calibration and a report of the
    out-of-fold rates per source.
    """
    from sklearn.model_selection import StratifiedKFold

    weights_by = source_weight or {}
    x = np.asarray([s.x for s in samples], dtype=float)
    y1 = np.asarray([s.top1 for s in samples], dtype=int)
    y3 = np.asarray([s.top3 for s in samples], dtype=int)
    w = _weights(samples, weights_by)
    source = np.asarray([s.source for s in samples])
    negative = np.asarray([s.source.endswith("null") for s in samples])
    real = np.asarray([s.source.startswith(("labelled", "out-of-scope")) for s in samples])
    real_pos, real_neg = real & ~negative, real & negative
    p1 = np.zeros(len(samples))
    p3 = np.zeros(len(samples))
    strata = y1 * 2 + negative.astype(int)
    for repeat in range(repeats):
        skf = StratifiedKFold(folds, shuffle=True, random_state=seed + repeat)
        for train, test in skf.split(x, strata):
            m1 = _fit_logit(x[train], y1[train], w[train], c)
            m3 = _fit_logit(x[train], y3[train], w[train], c)
            p1[test] += [m1.prob(row) / repeats for row in x[test]]
            p3[test] += [m3.prob(row) / repeats for row in x[test]]
    single = x[:, FEATURES.index("single_keyword")] > 0.5
    # a contested top entry is never answered directly; the answer threshold is still chosen
    # as if it were (the veto only turns answers into choices, it does not buy a lower
    # threshold for the rest)
    vetoed = single | np.asarray([contested(row) for row in x], dtype=bool)

    def share(mask: Any, within: Any) -> float:
        return float(mask[within].mean()) if within.any() else 0.0

    answer_at = 1.0
    for t in np.arange(0.30, 0.995, 0.005):
        answered = (p1 >= t) & ~single
        right = y1[answered & real_pos]
        wrong = float(1.0 - right.mean()) if len(right) else 0.0
        if wrong <= max_wrong_answers and share(answered, real_neg) <= max_null_answers:
            answer_at = round(float(t), 3)
            break
    answered = (p1 >= answer_at) & ~vetoed
    offer_at = 1.0
    for t in np.arange(0.05, 0.995, 0.005):
        if share(answered | (p3 >= t), real_neg) <= max_null_offers:
            offer_at = round(float(t), 3)
            break

    calibration = Calibration(
        _fit_logit(x, y1, w, c),
        _fit_logit(x, y3, w, c),
        answer_at,
        offer_at,
        dict(info or {}),
    )
    offered = ~answered & (p3 >= offer_at)
    report: dict[str, Any] = {
        "answer_at": answer_at,
        "offer_at": offer_at,
        "out_of_fold": {},
    }
    for name in sorted(set(source.tolist())):
        mask = source == name
        right = y1[answered & mask & ~negative]
        report["out_of_fold"][name] = {
            "n": int(mask.sum()),
            "answered": round(share(answered, mask), 4),
            "answered_right": round(float(right.mean()), 4) if len(right) else None,
            "offered": round(share(offered, mask), 4),
        }
    return calibration, report
