"""Rasa NLU YAML loading: the project's own data, annotations, and errors with file:line."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.nlu import LINLI_INTENTS, TrainingDataError, load_training_data
from bot.nlu.data import parse_annotated

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"


def _write(tmp_path: Path, text: str, name: str = "nlu.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_project_intents_cover_every_intent_with_30_examples() -> None:
    data = load_training_data(ROOT / "intents")
    counts = Counter(data.labels())
    assert set(counts) == set(LINLI_INTENTS)
    thin = {k: v for k, v in counts.items() if v < 30}
    assert not thin, f"intents with fewer than 30 examples: {thin}"
    assert data.known_intents == frozenset(LINLI_INTENTS)
    assert "compound" in data.lookups
    assert {"ticket_id", "phone"} <= set(data.regexes)
    assert data.synonyms["4幢"] == "4号楼"


def test_project_annotations_are_well_formed() -> None:
    data = load_training_data(ROOT / "intents")
    annotated = [e for e in data.examples if e.entities]
    assert len(annotated) >= 30
    for ex in annotated:
        for span in ex.entities:
            assert ex.text[span.start : span.end] == span.text
            assert "[" not in ex.text or "](" not in ex.text
    kinds = {s.entity for e in annotated for s in e.entities}
    assert {"compound", "building", "room", "floor", "unit", "ticket_id"} <= kinds


def test_smp2017_files_load() -> None:
    train = load_training_data(SHARED / "eval" / "smp2017_train.yml")
    assert len(train.examples) == 2299
    assert len(train.intents) == 31
    assert train.examples[0].line == 5


def test_annotation_forms() -> None:
    text, spans = parse_annotated(
        '[燕宁苑](compound)[4幢](building:4号楼)[502室]{"entity": "room", "value": "502室"}漏水'
    )
    assert text == "燕宁苑4幢502室漏水"
    assert [(s.entity, s.value, s.text) for s in spans] == [
        ("compound", "燕宁苑", "燕宁苑"),
        ("building", "4号楼", "4幢"),
        ("room", "502室", "502室"),
    ]
    assert [(s.start, s.end) for s in spans] == [(0, 3), (3, 5), (5, 9)]


def test_wechat_emoji_brackets_are_plain_text() -> None:
    text, spans = parse_annotated("谢谢[微笑][抱拳]")
    assert text == "谢谢[微笑][抱拳]"
    assert spans == []


def test_inline_synonyms_are_collected(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'version: "3.1"\nnlu:\n- intent: a\n  examples: |\n    - [4幢](building:4号楼)坏了\n'
        "- intent: b\n  examples: |\n    - 你好\n",
    )
    assert load_training_data(path).synonyms == {"4幢": "4号楼"}


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        # a typo'd key, with a suggestion
        ("- intnet: greet\n  examples: |\n    - 你好\n", 3, "did you mean 'intent'"),
        # an empty example line
        ("- intent: greet\n  examples: |\n    - 你好\n    - \n", 6, "empty example"),
        # an examples block with nothing in it
        ("- intent: greet\n  examples: ''\n", 4, "has no examples"),
        # a line that is not a list item
        ("- intent: greet\n  examples: |\n    你好\n", 5, "must start with '- '"),
        # nested / overlapping entity annotations
        (
            "- intent: greet\n  examples: |\n    - 你好\n    - [[4号楼](building)502](room)\n",
            6,
            "overlapping or nested",
        ),
        # invalid JSON in an annotation
        (
            '- intent: greet\n  examples: |\n    - [4号楼]{"entity": building}\n',
            5,
            "bad entity annotation",
        ),
        # a regex that does not compile
        ("- regex: phone\n  examples: |\n    - 1[3-9\n", 5, "does not compile"),
        # an item without a kind
        ("- examples: |\n    - 你好\n", 3, "exactly one of"),
        # an intent with no examples key
        ("- intent: greet\n", 3, "has no 'examples:'"),
    ],
)
def test_malformed_data_names_file_and_line(
    tmp_path: Path, body: str, line: int, needle: str
) -> None:
    path = _write(tmp_path, 'version: "3.1"\nnlu:\n' + body)
    with pytest.raises(TrainingDataError) as info:
        load_training_data(path)
    assert info.value.path == path
    assert info.value.line == line, str(info.value)
    assert needle in str(info.value)
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_unknown_intent_against_domain(tmp_path: Path) -> None:
    _write(tmp_path, 'version: "3.1"\nintents:\n  - greet\n  - report_repair\n', "domain.yml")
    nlu = _write(
        tmp_path,
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - 你好\n'
        "- intent: report_repiar\n  examples: |\n    - 灯坏了\n",
    )
    with pytest.raises(TrainingDataError) as info:
        load_training_data(tmp_path)
    assert info.value.path == nlu
    assert info.value.line == 6
    assert "report_repiar" in str(info.value)
    assert "did you mean 'report_repair'" in str(info.value)


def test_unknown_intent_against_explicit_list(tmp_path: Path) -> None:
    path = _write(tmp_path, 'version: "3.1"\nnlu:\n- intent: greeet\n  examples: |\n    - 你好\n')
    with pytest.raises(TrainingDataError, match="greeet"):
        load_training_data(path, known_intents=LINLI_INTENTS)
    assert load_training_data(path).intents == ["greeet"]


def test_same_example_under_two_intents(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'version: "3.1"\nnlu:\n- intent: a\n  examples: |\n    - 你好\n'
        "- intent: b\n  examples: |\n    - 你好\n",
    )
    with pytest.raises(TrainingDataError) as info:
        load_training_data(path)
    assert info.value.line == 8
    assert "both 'a'" in str(info.value)


def test_unknown_top_level_key_and_bad_yaml(tmp_path: Path) -> None:
    path = _write(tmp_path, 'version: "3.1"\nnlux:\n- intent: a\n')
    with pytest.raises(TrainingDataError, match="did you mean 'nlu'") as info:
        load_training_data(path)
    assert info.value.line == 2
    bad = _write(tmp_path, 'version: "3.1"\nnlu:\n- intent: a\n  examples: [\n', "bad.yml")
    with pytest.raises(TrainingDataError, match="invalid YAML") as info2:
        load_training_data(bad)
    assert info2.value.path == bad


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match="not found"):
        load_training_data(tmp_path / "nope.yml")
    with pytest.raises(TrainingDataError, match="empty"):
        load_training_data(_write(tmp_path, ""))


def test_examples_as_list_of_mappings(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'version: "3.1"\nnlu:\n- intent: a\n  examples:\n  - text: 你好\n    metadata: {}\n'
        "- intent: b\n  examples: |\n    - 再见\n",
    )
    data = load_training_data(path)
    assert [(e.text, e.intent, e.line) for e in data.examples] == [
        ("你好", "a", 5),
        ("再见", "b", 9),
    ]
