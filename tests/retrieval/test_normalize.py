"""Query normalisation: what the encoder and the keyword side see."""

from __future__ import annotations

import pytest

from bot.retrieval.normalize import MAX_QUERY_CHARS, Normalizer, core_text
from bot.retrieval.text import Tokenizer


@pytest.fixture(scope="module")
def normalizer() -> Normalizer:
    return Normalizer()


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("請問濕垃圾幾點可以扔？", "请问湿垃圾几点可以扔?"),
        ("ＡＢＣ１２３　电梯", "abc123 电梯"),
        ("电梯坏了😭😭[捂脸]", "电梯坏了"),
        ("  物业费\n\t怎么交  ", "物业费 怎么交"),
        ("二十号楼八点停水", "20号楼8点停水"),
        ("普陀一村一个人", "普陀一村一个人"),
        ("❤️👍🏻", ""),
        ("\x00\x07", ""),
    ],
)
def test_normalize(normalizer: Normalizer, raw: str, normalized: str) -> None:
    assert normalizer.normalize(raw) == normalized


def test_long_text_is_truncated(normalizer: Normalizer) -> None:
    assert len(normalizer.normalize("电梯" * 5000)) == MAX_QUERY_CHARS
    assert len(normalizer.normalize("电梯" * 5000, max_chars=None)) == 10000


def test_core_text_and_tokens() -> None:
    assert core_text("请问，湿垃圾几点扔?") == "请问湿垃圾几点扔"
    tok = Tokenizer()
    assert tok.words("请问湿垃圾几点可以扔?") == ["湿垃圾", "几点", "可以", "扔"]
    assert tok.words("???") == []
    assert Tokenizer.chars("wifi密码") == ["wifi", "密", "码", "wifi密", "密码"]


def test_residents_messages_are_cut_alike_but_kept_apart_from_the_indexed_texts() -> None:
    """A worker searches ever new messages: their words are remembered only among a bounded
    set of recent queries, never among the indexed texts (which a rebuild reuses), and are
    the words the same text gets as an indexed one."""
    tok = Tokenizer()
    indexed = tok.words("湿垃圾几点可以扔")
    fresh = Tokenizer()
    for n in range(Tokenizer.RECENT_SIZE + 500):
        text = f"请问{n}号楼的电梯坏了怎么报修"
        assert tok.words(text, query=True) == fresh.words(text)
    assert len(tok._recent) <= Tokenizer.RECENT_SIZE
    assert list(tok._cache) == ["湿垃圾几点可以扔"]
    assert tok.words("湿垃圾几点可以扔", query=True) == indexed
