"""What "near-duplicate" means for the crisis sets: character-bigram Jaccard similarity above
``NEAR_DUPLICATE``; and which rows are kept for measuring (``measured_rows``). Shared by the
data checks (tests/test_crisis_data.py) and the vetting-set test
(tests/nlu/test_crisis_vetting.py), so both judge a training line by the same bound against the
same rows."""

from __future__ import annotations

import json
import re
from pathlib import Path

NEAR_DUPLICATE = 0.5


def bigrams(text: str) -> set[str]:
    """The character bigrams of ``text`` without punctuation, spaces or symbols."""
    t = re.sub(r"[\W_]", "", text)
    return {t[i : i + 2] for i in range(len(t) - 1)} or {t}


def near(a: set[str], b: set[str]) -> bool:
    """Whether two texts' ``bigrams`` are within the near-duplicate bound."""
    return len(a & b) / len(a | b) > NEAR_DUPLICATE


def measured_rows(root: Path) -> list[tuple[str, str]]:
    """(id, text) of every row kept for measuring, which no line that trains a crisis model may
    be near: the crisis holdout and the fresh writers' sets, the everyday messages kept apart
    (``tests/data/everyday_*_heldout.jsonl``), and the shared out-of-scope lines and resident
    questions (``../shared/eval``) the crisis benchmarks count alarms on."""
    data = root / "tests" / "data"
    rows: list[tuple[str, str]] = []
    crisis = sorted(
        [*data.glob("crisis/*_holdout.jsonl"), *data.glob("crisis/*_fresh[0-9]*.jsonl")]
    )
    for path in [*crisis, *sorted(data.glob("everyday_*_heldout.jsonl"))]:
        lines = [x for x in path.read_text("utf-8").splitlines() if x.strip()]
        rows += [(f"{path.stem}:{i}", json.loads(x)["text"]) for i, x in enumerate(lines, 1)]
    eval_dir = root.parent / "shared" / "eval"
    oos = [x for x in (eval_dir / "oos_dev.txt").read_text("utf-8").splitlines() if x.strip()]
    rows += [(f"oos_dev:{i}", x) for i, x in enumerate(oos, 1)]
    lines = (eval_dir / "resident_dev.jsonl").read_text("utf-8").splitlines()
    rows += [(f"resident_dev:{i}", json.loads(x)["text"]) for i, x in enumerate(lines, 1) if x]
    return rows
