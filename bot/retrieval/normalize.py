"""Text normalisation shared by the corpus side and the query side.

Queries come from chat: traditional characters, full-width letters and digits, emoji (Unicode
and WeChat's ``[捂脸]`` codes), stray whitespace, Chinese numerals (``八点``, ``二十号楼``),
sometimes pasted walls of text. Both sides go through the same ``Normalizer`` so that the
encoder and the keyword index see the same forms.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from pathlib import Path
from typing import Protocol

MAX_QUERY_CHARS = 200
"""Longer queries are truncated: a FAQ question is never this long."""

_DROP_CATEGORIES = frozenset({"So", "Sk", "Cs", "Co", "Cn", "Cf", "Cc", "Mn", "Me"})
_WECHAT_EMOTICON = re.compile(r"\[[\u4e00-\u9fffA-Za-z]{1,6}\]")
_SPACES = re.compile(r"\s+")
_NUMERAL = re.compile(r"[零〇一二两三四五六七八九十百]+(?=[号楼层室幢栋点岁元块年月日个户部])")
_NOT_WORD = re.compile(r"[^\w]|_")


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


class Normalizer:
    """Thread-safe; the OpenCC tables and cn2an load on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._t2s: _Converter | None = None
        self._triggers: frozenset[str] = frozenset()

    def _converter(self) -> tuple[_Converter, frozenset[str]]:
        conv = self._t2s
        if conv is None:
            with self._lock:
                if self._t2s is None:
                    import opencc

                    self._triggers = _t2s_triggers(Path(opencc.__file__).parent / "dictionary")
                    self._t2s = opencc.OpenCC("t2s")
                conv = self._t2s
        assert conv is not None
        return conv, self._triggers

    def normalize(self, text: str, max_chars: int | None = MAX_QUERY_CHARS) -> str:
        """Simplified, half-width, lower-case text without emoji or control characters,
        single spaces, Chinese numerals before a counter turned into digits; at most
        ``max_chars`` characters (``None``: no limit)."""
        if max_chars is not None and len(text) > max_chars * 4:
            text = text[: max_chars * 4]
        text = unicodedata.normalize("NFKC", text)
        text = _WECHAT_EMOTICON.sub(" ", text)
        text = _SPACES.sub(" ", text)  # before dropping control characters: \n and \t are spaces
        text = "".join(ch for ch in text if unicodedata.category(ch) not in _DROP_CATEGORIES)
        converter, triggers = self._converter()
        if not triggers or not triggers.isdisjoint(text):
            # conversion is slow (pure Python); most texts are simplified already
            text = converter.convert(text)
        text = _NUMERAL.sub(_numeral_to_digits, text)
        text = _SPACES.sub(" ", text).strip().lower()
        if max_chars is not None and len(text) > max_chars:
            text = text[:max_chars].rstrip()
        return text


def _t2s_triggers(dictionaries: Path) -> frozenset[str]:
    """Characters whose presence means OpenCC t2s may change a text: every traditional
    character, and every character of the few phrase keys made of none. Empty (meaning
    "always convert") when the dictionaries cannot be read."""
    try:
        chars: set[str] = set()
        for line in (dictionaries / "TSCharacters.txt").read_text("utf-8").splitlines():
            chars.update(line.split("\t", 1)[0])
        phrases: set[str] = set()
        for line in (dictionaries / "TSPhrases.txt").read_text("utf-8").splitlines():
            key, _, value = line.partition("\t")
            if key != value.split(" ")[0] and chars.isdisjoint(key):
                phrases.update(key)
    except OSError:
        return frozenset()
    return frozenset(chars | phrases)


def core_text(normalized: str) -> str:
    """Letters and digits only: what the keyword side compares."""
    return _NOT_WORD.sub("", normalized)


def _numeral_to_digits(m: re.Match[str]) -> str:
    numeral = m.group(0)
    if numeral in {"一", "两"} or not any(c in numeral for c in "零〇一二两三四五六七八九十百"):
        # "一个/一户/两个" are quantities in running text, not numbers worth matching on
        return numeral
    import cn2an

    try:
        return str(cn2an.cn2an(numeral.replace("两", "二"), "smart"))
    except (ValueError, KeyError, IndexError):
        return numeral
