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
