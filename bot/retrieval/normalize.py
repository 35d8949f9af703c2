"""The retrieval side of the shared normaliser (``bot.domain.text``).

Queries come from chat: traditional characters, full-width letters and digits, emoji (Unicode
and WeChat's ``[捂脸]`` codes), stray whitespace, Chinese numerals (``八点``, ``二十号楼``),
Shanghainese and typos (``垃级啥辰光倒伐``), politeness and complaint padding, sometimes
pasted walls of text. The corpus side (questions, alternates, answers) and the query side go
through the same ``Normalizer`` so that the encoder and the keyword index see the same forms:
``bot.domain.text.query_form`` (the NLU's base form with dialect and typos folded and the
padding stripped), without emoji or control characters.
"""

from __future__ import annotations

import re
import unicodedata

from bot.domain.text import PhrasingRules, default_phrasing, loose_numerals, normalize

MAX_QUERY_CHARS = 200
"""Longer queries are truncated: a FAQ question is never this long."""

_DROP_CATEGORIES = frozenset({"So", "Sk", "Cs", "Co", "Cn", "Cf", "Cc", "Mn", "Me"})
_WECHAT_EMOTICON = re.compile(r"\[[\u4e00-\u9fffA-Za-z]{1,6}\]")
_SPACES = re.compile(r"\s+")
_NOT_WORD = re.compile(r"[^\w]|_")


class Normalizer:
    """Thread-safe; the OpenCC tables and the phrasing rules load on first use."""

    def __init__(self, rules: PhrasingRules | None = None) -> None:
        self._rules = rules

    @property
    def rules(self) -> PhrasingRules:
        if self._rules is None:
            self._rules = default_phrasing()
        return self._rules

    def normalize(self, text: str, max_chars: int | None = MAX_QUERY_CHARS) -> str:
        """Simplified, half-width, lower-case text without emoji or control characters,
        single spaces, Chinese numerals before a counter turned into digits, dialect and
        typos folded, padding stripped; at most ``max_chars`` characters (``None``: no
        limit)."""
        if max_chars is not None and len(text) > max_chars * 4:
            text = text[: max_chars * 4]
        text = unicodedata.normalize("NFKC", text)
        text = _WECHAT_EMOTICON.sub(" ", text)
        text = _SPACES.sub(" ", text)  # before dropping control characters: \n and \t are spaces
        text = "".join(ch for ch in text if unicodedata.category(ch) not in _DROP_CATEGORIES)
        rules = self.rules
        text = rules.strip_padding(rules.fold(loose_numerals(normalize(text).text)))
        text = _SPACES.sub(" ", text).strip().lower()
        if max_chars is not None and len(text) > max_chars:
            text = text[:max_chars].rstrip()
        return text


def core_text(normalized: str) -> str:
    """Letters and digits only: what the keyword side compares."""
    return _NOT_WORD.sub("", normalized)
