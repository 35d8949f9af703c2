"""Normalisation: full-width, traditional, Chinese numerals, and the offset map."""

from __future__ import annotations

import pytest

from bot.nlu.normalize import chinese_number, classifier_text, normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("二十号楼三楼五零二室", "20号楼3楼502室"),
        ("４号楼５０２室", "4号楼502室"),
        ("電梯壞了", "电梯坏了"),
        ("十一月二十五号下午三点半", "11月25号下午3点半"),
        ("下午一点来", "下午1点来"),
        ("一千二百零三室", "1203室"),
        ("普陀一村十二号", "普陀一村12号"),
        ("3楼五零二", "3楼502"),
        ("ＡＢＣ", "abc"),
        # ordinary words keep their characters
        ("有一点冷", "有一点冷"),
        ("一天到晚", "一天到晚"),
        ("第一次", "第一次"),
        ("两点建议", "两点建议"),
        ("", ""),
        ("😀😀", "😀😀"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw).text == expected


def test_offsets_map_back_to_the_original() -> None:
    raw = "燕寧苑二十幢５０２室"
    norm = normalize(raw)
    assert norm.text == "燕宁苑20幢502室"
    start = norm.text.index("20幢")
    s, e = norm.to_original(start, start + len("20幢"))
    assert raw[s:e] == "二十幢"
    start = norm.text.index("502室")
    s, e = norm.to_original(start, start + 4)
    assert raw[s:e] == "５０２室"


def test_chinese_number() -> None:
    assert chinese_number("二十") == "20"
    assert chinese_number("五零二") == "502"
    assert chinese_number("幺三八") == "138"
    assert chinese_number("两") == "2"
    assert chinese_number("") is None


def test_classifier_text_bounds_length_and_whitespace() -> None:
    assert classifier_text("  電梯\n\n壞了  ") == "电梯 坏了"
    assert len(classifier_text("啊" * 10_000)) == 200
