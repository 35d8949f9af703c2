"""The texts a resident reads: answers, "did you mean", and the reply to it."""

from __future__ import annotations

from datetime import date

import pytest

from bot.domain.faq import FaqEntry
from bot.domain.registry import Committee, Contacts
from bot.retrieval.formatting import format_answer, format_clarify, parse_choice

from .conftest import entry


def by_id(entries: list[FaqEntry], entry_id: str) -> FaqEntry:
    return next(e for e in entries if e.id == entry_id)


def test_answer_uses_the_compound_variant(
    sample_entries: list[FaqEntry], committee: Committee
) -> None:
    wet = by_id(sample_entries, "garbage-wet-times")
    text = format_answer(wet, "yanningyuan", committee=committee)
    assert text.startswith("【湿垃圾几点可以扔？】\n燕宁苑湿垃圾、干垃圾定时投放时间")
    assert "7:00—9:00" in text
    assert "6:30—9:00" not in text
    assert "适用小区：燕宁苑" in text
    assert text.endswith("（信息更新于2026年11月1日）")
    other = format_answer(wet, "putuoyicun", committee=committee)
    assert "6:30—9:00" in other
    assert "7:00—9:00" not in other


def test_answer_without_compound_lists_every_variant(
    sample_entries: list[FaqEntry], committee: Committee
) -> None:
    text = format_answer(by_id(sample_entries, "garbage-wet-times"), None, committee=committee)
    positions = [text.index(f"【{c.name}】") for c in committee.compounds]
    assert positions == sorted(positions)
    assert "适用小区：普雄路居委会各小区" in text


def test_materials_are_numbered(sample_entries: list[FaqEntry], committee: Committee) -> None:
    text = format_answer(
        by_id(sample_entries, "cert-residence-permit-apply"), None, committee=committee
    )
    assert "需携带材料：\n1. 本人身份证原件\n2. 居住登记凭证\n3. " in text
    assert "依据：《上海市居住证管理办法》" in text


def test_contacts_come_from_configuration(
    sample_entries: list[FaqEntry], committee: Committee
) -> None:
    office = by_id(sample_entries, "committee-office")
    assert "联系方式：" in format_answer(office, None, committee=committee)
    configured = Committee(
        committee.id,
        committee.name,
        committee.ticket_prefix,
        committee.office_place,
        committee.office_hours,
        committee.compounds,
        Contacts(office_phone="021-0000-0000"),
    )
    assert "021-0000-0000" in format_answer(office, None, committee=configured)
    plain = by_id(sample_entries, "garbage-fine")
    assert "联系方式" not in format_answer(plain, None, committee=configured)


def test_as_of_falls_back_to_the_given_date() -> None:
    e = entry("x", "问题？", "回答。")
    assert (
        format_answer(e, None, as_of=date(2026, 1, 5))
        == "【问题？】\n回答。\n（信息更新于2026年1月5日）"
    )
    assert format_answer(e) == "【问题？】\n回答。"


def test_clarify_lists_numbered_questions() -> None:
    a, b, c = (entry(i, q, "答") for i, q in (("a", "甲？"), ("b", "乙？"), ("c", "丙？")))
    assert (
        format_clarify([a, b, c]) == "您想问的是哪一个？回复数字即可：\n1. 甲？\n2. 乙？\n3. 丙？"
    )
    assert format_clarify([a]) == "您是想问：甲？\n回复数字 1 即可查看。"
    with pytest.raises(ValueError, match="at least one"):
        format_clarify([])


@pytest.mark.parametrize(
    ("reply", "choice"),
    [
        ("1", 0),
        ("２", 1),
        ("第二个", 1),
        ("选3", 2),
        ("3.", 2),
        ("三", 2),
        ("4", None),
        ("0", None),
        ("好的", None),
        ("12", None),
        ("", None),
    ],
)
def test_parse_choice(reply: str, choice: int | None) -> None:
    assert parse_choice(reply, 3) == choice
