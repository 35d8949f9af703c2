"""Validates the hand-written crisis evaluation set in tests/data/crisis/.

The set is data for measuring the emergency detector (see tests/data/crisis/README.md); these
tests only check that the files are well-formed, big enough, and honestly split, so a careless
edit (a duplicated line, a typo in a category, a holdout item copied into tune) fails CI.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from crisis_sets import NEAR_DUPLICATE, bigrams, measured_rows, near

DATA = Path(__file__).parent / "data" / "crisis"

CATEGORIES = frozenset(
    {
        "self_harm",
        "welfare",
        "medical",
        "fire",
        "gas",
        "lift",
        "flood",
        "violence",
        "missing_child",
    }
)
KINDS = frozenset(
    {
        "hyperbole",
        "past_incident",
        "fire_safety",
        "alarm_install",
        "gas_bill",
        "lift_routine",
        "water_routine",
        "medical_routine",
        "elderly_care",
        "media_fiction",
        "safety_drill",
        "other_calm",
    }
)
MIN_PER_CATEGORY = 25
MIN_PER_CATEGORY_HIGH = {"self_harm": 45, "welfare": 45}
MIN_PER_KIND = 20
MIN_TOTAL = 300
SPLITS = ("tune", "holdout")
EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf]")

# (file stem, id prefix, label field, allowed labels)
SETS = {
    "urgent": ("u", "category", CATEGORIES),
    "lookalike": ("l", "kind", KINDS),
}


def _load(stem: str, split: str) -> list[dict[str, Any]]:
    path = DATA / f"{stem}_{split}.jsonl"
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            assert line.endswith("\n"), f"{path.name}:{lineno} has no trailing newline"
            assert line.strip(), f"{path.name}:{lineno} is blank"
            obj = json.loads(line)
            assert isinstance(obj, dict), f"{path.name}:{lineno} is not an object"
            obj["_where"] = f"{path.name}:{lineno}"
            rows.append(obj)
    return rows


@pytest.fixture(scope="module")
def data() -> dict[str, dict[str, list[dict[str, Any]]]]:
    return {stem: {split: _load(stem, split) for split in SPLITS} for stem in SETS}


@pytest.mark.parametrize("stem", list(SETS))
def test_rows_are_well_formed(data: dict[str, Any], stem: str) -> None:
    prefix, field, labels = SETS[stem]
    for split in SPLITS:
        for row in data[stem][split]:
            where = row["_where"]
            assert set(row) == {"id", "text", field, "chat", "_where"}, where
            assert re.fullmatch(rf"{prefix}-\d{{4}}", row["id"]), where
            assert isinstance(row["text"], str), where
            assert row["text"] == row["text"].strip(), where
            assert row["text"], where
            assert "\n" not in row["text"], where
            assert row[field] in labels, f"{where}: unknown {field} {row[field]!r}"
            assert row["chat"] in {"private", "group"}, where


def test_files_are_utf8_without_ascii_escapes() -> None:
    for stem in SETS:
        for split in SPLITS:
            raw = (DATA / f"{stem}_{split}.jsonl").read_text(encoding="utf-8")
            assert "\\u" not in raw, f"{stem}_{split}: write with ensure_ascii=False"


@pytest.mark.parametrize("stem", list(SETS))
def test_ids_unique_across_halves(data: dict[str, Any], stem: str) -> None:
    ids = [row["id"] for split in SPLITS for row in data[stem][split]]
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes, dupes


def test_no_exact_duplicate_texts_anywhere(data: dict[str, Any]) -> None:
    rows = [row for stem in SETS for split in SPLITS for row in data[stem][split]]
    counts = Counter(row["text"] for row in rows)
    dupes = [row["id"] for row in rows if counts[row["text"]] > 1]  # ids only, never texts
    assert not dupes, dupes


@pytest.mark.parametrize("stem", list(SETS))
def test_no_text_in_both_halves(data: dict[str, Any], stem: str) -> None:
    tune = {row["text"] for row in data[stem]["tune"]}
    both = [row["id"] for row in data[stem]["holdout"] if row["text"] in tune]
    assert not both, both  # holdout ids only, never texts


@pytest.mark.parametrize("stem", list(SETS))
def test_no_near_duplicates_across_halves(data: dict[str, Any], stem: str) -> None:
    holdout = [(row["id"], bigrams(row["text"])) for row in data[stem]["holdout"]]
    close = []
    for row in data[stem]["tune"]:
        a = bigrams(row["text"])
        for other, b in holdout:
            if near(a, b):
                close.append((row["id"], other))
    assert not close, close


def test_urgent_counts(data: dict[str, Any]) -> None:
    rows = data["urgent"]["tune"] + data["urgent"]["holdout"]
    assert len(rows) >= MIN_TOTAL
    counts = Counter(row["category"] for row in rows)
    for cat in CATEGORIES:
        need = MIN_PER_CATEGORY_HIGH.get(cat, MIN_PER_CATEGORY)
        assert counts[cat] >= need, f"{cat}: {counts[cat]} < {need}"


def test_lookalike_counts(data: dict[str, Any]) -> None:
    rows = data["lookalike"]["tune"] + data["lookalike"]["holdout"]
    assert len(rows) >= MIN_TOTAL
    counts = Counter(row["kind"] for row in rows)
    for kind in KINDS:
        assert counts[kind] >= MIN_PER_KIND, f"{kind}: {counts[kind]} < {MIN_PER_KIND}"


@pytest.mark.parametrize("stem", list(SETS))
def test_split_is_stratified_roughly_half(data: dict[str, Any], stem: str) -> None:
    _, field, labels = SETS[stem]
    tune = Counter(row[field] for row in data[stem]["tune"])
    holdout = Counter(row[field] for row in data[stem]["holdout"])
    for label in labels:
        total = tune[label] + holdout[label]
        share = tune[label] / total
        assert 0.4 <= share <= 0.6, f"{label}: {tune[label]} tune of {total}"


@pytest.mark.parametrize("stem", list(SETS))
def test_about_a_third_are_group_messages(data: dict[str, Any], stem: str) -> None:
    rows = data[stem]["tune"] + data[stem]["holdout"]
    share = sum(row["chat"] == "group" for row in rows) / len(rows)
    assert 0.25 <= share <= 0.45, share
    prefixed = [row for row in rows if row["chat"] == "group" and "邻里" in row["text"][:8]]
    assert prefixed, "some group messages must address the bot with @邻里"


def test_urgent_has_long_and_emoji_messages(data: dict[str, Any]) -> None:
    rows = data["urgent"]["tune"] + data["urgent"]["holdout"]
    long_rows = [row for row in rows if 120 <= len(row["text"]) <= 400]
    assert len(long_rows) >= 15
    assert all(len(row["text"]) <= 400 for row in rows)
    assert sum(bool(EMOJI.search(row["text"])) for row in rows) >= 15


# Tuning sets by other writers (urgent_tune2.jsonl, lookalike_tune3.jsonl, …). They also train
# the crisis classifier (intents/crisis_examples_*_writer.yml), so none may repeat the holdout.
EXTRA_CATEGORIES = CATEGORIES | {"other"}
EXTRA_KINDS = KINDS | {"policy_help", "settled_scare"}
EXTRA = sorted([*DATA.glob("*_tune[0-9]*.jsonl"), *DATA.glob("*_fresh[0-9]*.jsonl")])


def test_there_are_extra_writers_sets() -> None:
    assert {p.name for p in EXTRA} >= {"urgent_tune2.jsonl", "lookalike_tune2.jsonl"}


@pytest.mark.parametrize("path", EXTRA, ids=lambda p: p.name)
def test_extra_sets_are_well_formed_and_apart_from_the_holdout(
    data: dict[str, Any], path: Path
) -> None:
    stem, split = path.stem.split("_", 1)
    prefix, field, _ = SETS[stem]
    labels = EXTRA_CATEGORIES if stem == "urgent" else EXTRA_KINDS
    rows = _load(stem, split)
    number = split.removeprefix("tune").removeprefix("fresh")
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids))
    for row in rows:
        where = row["_where"]
        assert set(row) == {"id", "text", field, "chat", "_where"}, where
        assert re.fullmatch(rf"{prefix}{number}-\d{{4}}", row["id"]), where
        assert row["text"], where
        assert row["text"] == row["text"].strip(), where
        assert row[field] in labels, f"{where}: unknown {field} {row[field]!r}"
        assert row["chat"] in {"private", "group"}, where
    # Only ids are printed: the holdout's texts must not be read while tuning.
    holdout = [(r["id"], bigrams(r["text"])) for s in SETS for r in data[s]["holdout"]]
    close = []
    for row in rows:
        a = bigrams(row["text"])
        close += [(row["id"], i) for i, b in holdout if near(a, b)]
    assert not close, close


# Every text that trains a crisis model (intents/crisis_examples*.yml, crisis_contrast*.yml) must
# be as far from every set kept for measuring (the holdout, the fresh writers' sets, the everyday
# messages kept apart) as the tune sets are from the holdout: a training line near a
# measured line makes the measure one of memory, not of generalisation.
INTENTS = Path(__file__).resolve().parent.parent / "intents"


def _texts(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [t for value in node.values() for t in _texts(value)]
    if isinstance(node, list):
        return [t for value in node for t in _texts(value)]
    return []


def test_crisis_training_examples_are_apart_from_every_measured_set() -> None:
    import yaml

    rows = measured_rows(INTENTS.parent)
    assert {name.split(":")[0] for name, _ in rows} >= {
        "urgent_holdout",
        "everyday_repairs_heldout",
        "everyday_traffic_heldout",
        "oos_dev",
    }
    measured = [(name, bigrams(text)) for name, text in rows]
    index: dict[str, list[int]] = {}
    for i, (_, grams) in enumerate(measured):
        for gram in grams:
            index.setdefault(gram, []).append(i)
    paths = sorted([*INTENTS.glob("crisis_examples*.yml"), *INTENTS.glob("crisis_contrast*.yml")])
    assert len(paths) > 20
    close = []
    for path in paths:
        body = yaml.safe_load(path.read_text("utf-8"))
        for text in _texts(body.get("crisis_examples") or body.get("crisis_contrast")):
            a = bigrams(text)
            # the bigrams shared with each measured row, counted through the index: Jaccard
            # similarity from the counts, as crisis_sets.near computes it from the sets
            shared = Counter(i for gram in a for i in index.get(gram, ()))
            for i, n in shared.items():
                if n / (len(a) + len(measured[i][1]) - n) > NEAR_DUPLICATE:
                    close.append((path.name, measured[i][0]))
    assert not close, close


# Contrast pairs kept apart from training (tests/data/crisis/pairs/, see the README): each pair
# is one self-harm message and one calm message of the same surface.
PAIRS = sorted((DATA / "pairs").glob("*.jsonl"))


@pytest.mark.parametrize("path", PAIRS, ids=lambda p: p.name)
def test_contrast_pairs_are_well_formed(path: Path) -> None:
    labels: dict[int, list[str]] = {}
    for lineno, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        row = json.loads(line)
        where = f"{path.name}:{lineno}"
        assert set(row) == {"pair", "label", "text", "chat", "about"}, where
        assert row["text"], where
        assert row["text"] == row["text"].strip(), where
        assert row["chat"] in {"private", "group"}, where
        assert row["about"] in {"self", "other"}, where
        labels.setdefault(row["pair"], []).append(row["label"])
    assert len(labels) >= 100
    assert all(sorted(pair) == ["calm", "self_harm"] for pair in labels.values()), path.name
