"""The classifier's n-gram vocabulary finds exactly the columns a dict would, across a
process boundary (pickled), including strings whose raw buffers are the same bytes."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np

from bot.nlu.classifier import _Views, _Vocabulary

ROOT = Path(__file__).resolve().parents[2]
TERMS = ["^", "空", "zz", "不想活", "zz$", "活了", "😀", "é", "\u7a7a\u7a7a", "zzzz", "电梯"]


def _columns(vocab: _Vocabulary, grams: list[str]) -> list[int]:
    return sorted(vocab.columns(grams).tolist())


def test_columns_are_those_of_the_terms_themselves() -> None:
    vocab = _Vocabulary(TERMS)
    wanted = {t: i for i, t in enumerate(TERMS)}
    grams = ["空", "zz", "空空", "zzzz", "不想活", "不想", "😀", "e", "é", "zz", "电梯", ""]
    found = [wanted[g] for g in grams if g in wanted]
    assert _columns(vocab, grams) == sorted(found)
    # '空' is U+7A7A: as a str buffer the same two bytes as 'zz', yet another n-gram
    assert _columns(vocab, ["空"]) == [TERMS.index("空")]
    assert _columns(vocab, ["zz"]) == [TERMS.index("zz")]
    assert _columns(_Vocabulary([]), ["空"]) == []


def test_a_pickled_vocabulary_answers_the_same_in_another_process() -> None:
    blob = pickle.dumps(_Vocabulary(TERMS))
    script = (
        "import pickle, sys; v = pickle.loads(sys.stdin.buffer.read()); "
        "print(sorted(v.columns(['空', 'zz', '不想活', '😀', 'nothing']).tolist()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        input=blob,
        capture_output=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "random"},
    )
    wanted = sorted(TERMS.index(t) for t in ("空", "zz", "不想活", "😀"))
    assert out.stdout.decode().strip() == str(wanted)


def test_views_count_repeated_ngrams() -> None:
    views = _Views((1, 2))
    views.fit(["^空空$", "^zz$"], [["空空"], ["zz"]])
    (idx, counts), (_widx, wcounts) = views.lookup("^空空空$", ["空空", "空空"])
    by_col = dict(zip(idx.tolist(), counts.tolist(), strict=True))
    col = views.vocab_c.columns(["空"])[0]
    assert by_col[int(col)] == 3.0  # '空' three times
    assert wcounts.tolist() == [2.0]
    assert np.all(counts >= 1)
