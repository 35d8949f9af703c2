"""How a short chat answer names an option: its number (optionally with the option's
words), or the words alone; "不同意" is never read as "同意"; anything else is no vote."""

from __future__ import annotations

from bot.dialogue.routes.consultation import _choice, _explicit_vote, _keywords, _option_in

OPTIONS = ("同意", "不同意", "弃权")


def test_numbers_and_words() -> None:
    assert _choice("1", OPTIONS, allow_suffix=False) == 0
    assert _choice("2 不同意", OPTIONS, allow_suffix=False) == 1
    assert _choice("3", OPTIONS, allow_suffix=False) == 2
    assert _choice("不同意", OPTIONS, allow_suffix=False) == 1
    assert _choice("弃权", OPTIONS, allow_suffix=False) == 2


def test_what_is_not_a_vote() -> None:
    for text in ("4", "0", "1 不同意", "12", "好的", "同意吗", "1号楼", "120"):
        assert _choice(text, OPTIONS, allow_suffix=False) is None, text


def test_an_option_named_in_a_sentence() -> None:
    assert _option_in("我不同意换电梯", OPTIONS) == 1
    assert _option_in("我同意换电梯", OPTIONS) == 0
    assert _option_in("换电梯", OPTIONS) is None


def test_title_keywords_skip_generic_words() -> None:
    words = _keywords("20号楼电梯更换方案征询")
    assert "电梯" in words
    assert "征询" not in words
    assert "方案" not in words


def test_explicit_votes_and_complaints() -> None:
    for text in ("投票 1", "投同意", "投不同意", "投票：弃权", "我投反对"):
        assert _explicit_vote(text), text
    for text in ("我要投诉物业", "投诉", "投票", "1", "同意"):
        assert not _explicit_vote(text), text
