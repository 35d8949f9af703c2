"""Entity extraction: places, phones, dates, tickets, people; canonical values; offsets."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain import Registry
from bot.nlu import EntityExtractor, extract_entities, validate_phone

TODAY = date(2026, 11, 25)  # a Wednesday


def _pairs(text: str, registry: Registry, **kw: object) -> list[tuple[str, str]]:
    ents = extract_entities(text, registry, today=TODAY, **kw)  # type: ignore[arg-type]
    for e in ents:
        assert text[e.start : e.end] == e.text
    return [(e.entity, e.value) for e in ents]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("不对，是5号楼", [("building", "5号楼")]),
        ("13812345678", [("phone", "13812345678")]),
        (
            "我住普雄馨苑4幢502室",
            [("compound", "puxiongxinyuan"), ("building", "4号楼"), ("room", "502室")],
        ),
        ("二十号楼三楼五零二", [("building", "20号楼"), ("floor", "3楼"), ("room", "502室")]),
        ("４号楼５０２室", [("building", "4号楼"), ("room", "502室")]),
        (
            "燕宁苑20号1203，电话138 0013 8000",
            [
                ("compound", "yanningyuan"),
                ("building", "20号楼"),
                ("room", "1203室"),
                ("phone", "13800138000"),
            ],
        ),
        (
            "普雄路26弄4号2单元1101室",
            [
                ("compound", "puxiongxinyuan"),
                ("building", "4号楼"),
                ("unit", "2单元"),
                ("room", "1101室"),
            ],
        ),
        ("西沙20栋", [("compound", "xishahongbin"), ("building", "20号楼")]),
        ("一村12号楼下", [("compound", "putuoyicun"), ("building", "12号楼")]),
        ("十二号楼頂樓", [("building", "12号楼"), ("floor", "顶楼")]),
        ("王阿姨家4-502漏水", [("person", "王阿姨"), ("building", "4号楼"), ("room", "502室")]),
        ("3楼的邻居", [("floor", "3楼")]),
        ("明天下午三点来修", [("date", "2026-11-26"), ("time", "15:00")]),
        ("11月25号上午", [("date", "2026-11-25"), ("time", "上午")]),
        ("下周三", [("date", "2026-12-02")]),
        ("周五晚上7点半", [("date", "2026-11-27"), ("time", "19:30")]),
        ("2026年12月1日", [("date", "2026-12-01")]),
        ("今朝", [("date", "2026-11-25")]),
        ("我的工单PX-20261125-0007怎么样了", [("ticket_id", "PX-20261125-0007")]),
        ("px202611250007", [("ticket_id", "PX-20261125-0007")]),
        ("我姓王，电话021-62345678", [("person", "王"), ("phone", "021-62345678")]),
        ("联系人李建国 13800138000", [("person", "李建国"), ("phone", "13800138000")]),
        ("电话62345678", [("phone", "021-62345678")]),
        ("+86 138-0013-8000", [("phone", "13800138000")]),
        ("张先生", [("person", "张先生")]),
    ],
)
def test_extract(text: str, expected: list[tuple[str, str]], registry: Registry) -> None:
    assert _pairs(text, registry) == expected


def test_bare_day_is_a_date_unless_a_building_is_expected(registry: Registry) -> None:
    assert _pairs("20号", registry) == [("date", "2026-11-20")]
    assert _pairs("20号", registry, expected=["building"]) == [("building", "20号楼")]
    assert _pairs("502", registry) == []
    assert _pairs("502", registry, expected=["room"]) == [("room", "502室")]
    assert _pairs("5", registry, expected=["building"]) == [("building", "5号楼")]
    assert _pairs("7", registry, expected=["floor"]) == [("floor", "7楼")]


@pytest.mark.parametrize(
    "text",
    ["12345678901", "1381234567", "138123456789", "打110", "我家住了20年", "一点点", "楼上楼下"],
)
def test_no_phone_or_place_in_non_data(text: str, registry: Registry) -> None:
    kinds = {e for e, _ in _pairs(text, registry)}
    assert not kinds & {"phone", "building", "room"}


def test_validate_phone() -> None:
    assert validate_phone("138 0013 8000") == "13800138000"
    assert validate_phone("（021）62345678") == "021-62345678"
    assert validate_phone("0086 13800138000") == "13800138000"
    assert validate_phone("10086") is None
    assert validate_phone("12800138000") is None  # no such mobile prefix
    assert validate_phone("021-12345678") is None  # local numbers do not start with 1
    assert validate_phone("abc") is None


@pytest.mark.parametrize(
    "text", ["", "   ", "😀" * 50, "电" * 10_000, "Please fix 4号楼 lift ASAP!!", "\x00\x01"]
)
def test_bad_input_never_crashes(text: str, registry: Registry) -> None:
    for e in extract_entities(text, registry, today=TODAY):
        assert text[e.start : e.end] == e.text


def test_committee_scope_and_training_data_tables(registry: Registry) -> None:
    ext = EntityExtractor(
        registry,
        committee="puxiong",
        lookups={"facility": ["电梯", "门禁"]},
        synonyms={"门禁": "access_control"},
        regexes={"plate": [r"沪[a-z]\d{5}"]},
    )
    got = [(e.entity, e.value) for e in ext.extract("馨苑门禁坏了 车牌沪A12345", today=TODAY)]
    assert got == [
        ("compound", "puxiongxinyuan"),
        ("facility", "access_control"),
        ("plate", "沪A12345"),
    ]
