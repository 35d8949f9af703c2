"""FaqEntry: validation, JSON round trip, validity window, scope and variants."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import pytest

from bot.domain.faq import FaqEntry, FaqFormatError, FaqVariant

FULL = {
    "id": "garbage-wet-times",
    "topic": "garbage",
    "question": "湿垃圾几点可以扔？",
    "alternates": ["湿垃圾什么时候倒", "厨余垃圾投放时间"],
    "answer": "以小区公告为准。",
    "materials": [],
    "tags": ["垃圾分类"],
    "compounds": [],
    "variants": {
        "yanningyuan": {"answer": "7:00—9:00、18:00—20:00", "materials": ["无"]},
        "putuoyicun": {"answer": "6:30—9:00、17:30—19:30", "materials": []},
    },
    "valid_from": "2019-07-01",
    "valid_until": None,
    "source": "《上海市生活垃圾管理条例》",
    "updated": "2026-11-01",
}


def test_round_trip_through_json() -> None:
    e = FaqEntry.from_dict(FULL)
    again = FaqEntry.from_dict(json.loads(json.dumps(e.to_dict())))
    assert again == e
    assert again.to_dict() == e.to_dict()
    assert e.valid_from == date(2019, 7, 1)
    assert e.variants["yanningyuan"] == FaqVariant("7:00—9:00、18:00—20:00", ("无",))


def test_lcqmc_shape_is_enough() -> None:
    e = FaqEntry.from_dict({"id": "lcqmc-1", "question": "问题", "alternates": [], "answer": "答"})
    assert (e.topic, e.compounds, e.variants, e.valid_until) == ("general", (), {}, None)


def test_entry_is_frozen_and_hashable() -> None:
    e = FaqEntry.from_dict(FULL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.answer = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        e.variants["x"] = FaqVariant("y")  # type: ignore[index]
    assert {e: 1}[FaqEntry.from_dict(FULL)] == 1


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"id": ""}, "id is empty"),
        ({"id": "has space"}, "id 'has space' is invalid"),
        ({"question": " "}, "question is empty"),
        ({"answer": ""}, "answer is empty"),
        ({"valid_until": "2022-13-01"}, "valid_until '2022-13-01' is not a date (YYYY-MM-DD)"),
        (
            {"valid_from": "2023-01-02", "valid_until": "2023-01-01"},
            "valid_from 2023-01-02 is after valid_until 2023-01-01",
        ),
        ({"variants": {"yanningyuan": {"answer": ""}}}, "variants.yanningyuan: answer is empty"),
        ({"alternates": {"a": 1}}, "alternates must be a list of texts"),
    ],
)
def test_invalid_fields_are_named(patch: dict[str, object], message: str) -> None:
    with pytest.raises(FaqFormatError) as info:
        FaqEntry.from_dict({**FULL, **patch})
    assert str(info.value).startswith(message)


def test_validity_window_is_inclusive() -> None:
    e = FaqEntry.from_dict({**FULL, "valid_from": "2022-06-01", "valid_until": "2022-12-31"})
    assert not e.is_valid_on(date(2022, 5, 31))
    assert e.is_valid_on(date(2022, 6, 1))
    assert e.is_valid_on(date(2022, 12, 31))
    assert not e.is_valid_on(date(2023, 1, 1))
    assert FaqEntry.from_dict({**FULL, "valid_from": None}).is_valid_on(date(1990, 1, 1))


def test_scope_and_variants() -> None:
    general = FaqEntry.from_dict(FULL)
    assert general.applies_to("xishahongbin")
    assert general.applies_to(None)
    assert general.answer_for("yanningyuan").answer == "7:00—9:00、18:00—20:00"
    assert general.answer_for("xishahongbin").answer == "以小区公告为准。"
    assert general.answer_for(None).answer == "以小区公告为准。"
    scoped = FaqEntry.from_dict({**FULL, "variants": {}, "compounds": ["xishahongbin"]})
    assert scoped.applies_to("xishahongbin")
    assert scoped.applies_to(None)
    assert not scoped.applies_to("yanningyuan")


def test_alternates_are_deduplicated_and_exclude_the_question() -> None:
    e = FaqEntry.from_dict({**FULL, "alternates": ["甲", "甲", "湿垃圾几点可以扔？", " 乙 "]})
    assert e.alternates == ("甲", "乙")
    assert e.texts == ("湿垃圾几点可以扔？", "甲", "乙")
