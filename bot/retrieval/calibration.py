"""Calibrated answer / "did you mean" / "I don't know" decisions.

Two fixed thresholds on the top score cannot tell a confident answer from a lucky one: a
resident's long complaint scores lower than a short question even when the right entry leads
by far, and an out-of-scope question can score high on a single shared word. ``Calibration``
looks at more of the ranking (``features``): the top score, its margin over the second and
third entries, the parts of the top score (sentence cosine, keyword overlap, centroid, answer
coverage) and how far the top entry leads the next two on each part, whether the dense and
keyword sides agree on the top entry, how much of the query the top entry has anywhere
(IDF-weighted word and character coverage, the rarest word it lacks) and whether another
entry covers more, and the length of the normalised query. Two logistic regressions on those
features give

- ``p_answer``: the probability that the top entry is the right one (answer directly), and
- ``p_offer``: the probability that the right entry is among the top three (offer choices);

the thresholds on them are chosen on out-of-fold predictions (averaged over repeated fold
splits, so one split's luck does not move them) so that direct answers stay right and
out-of-scope messages rarely get an answer or choices (``fit``). The regressions are strongly
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
)


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
    max_null_offers: float = 0.05,
    info: dict[str, Any] | None = None,
) -> tuple[Calibration, dict[str, Any]]:
    """Fit both models and pick their thresholds on out-of-fold probabilities.

    Thresholds are judged on real messages (sources ``labelled*`` and ``out-of-scope-null``);
    the corpus-derived samples (left-out alternates, left-out entries) shape the models but
    are pessimistic stand-ins, so they do not set the thresholds. ``answer_at``: the lowest
    probability at which at most ``max_wrong_answers`` of the direct answers to labelled
    questions are wrong and at most ``max_null_answers`` of the messages without an answer
    get one; ``offer_at``: the lowest at which at most ``max_null_offers`` of the messages
    without an answer get choices or an answer. Returns the calibration and a report of the
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
    answered = (p1 >= answer_at) & ~single
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
