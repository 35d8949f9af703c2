"""The NLU's view of the shared normaliser (``bot.domain.text``).

``normalize`` (offset-preserving base form) is what the crisis rules and the entity
extractor match on; ``classifier_text`` is what the intent classifier sees: the base form
with Shanghainese words and common typos folded (``bot.domain.text.resident_form``), tone
and padding kept, whitespace collapsed, at most 200 characters.
"""

from __future__ import annotations

import re

from bot.domain.text import NormalizedText, chinese_number, normalize, resident_form

__all__ = ["NormalizedText", "chinese_number", "classifier_text", "normalize"]

_ASCII_WS = re.compile(r"\s+")


def classifier_text(text: str) -> str:
    """The form the intent classifier sees: normalised, dialect and typos folded, whitespace
    collapsed, ≤ 200 chars."""
    folded = resident_form(text[:400])
    return _ASCII_WS.sub(" ", folded).strip()[:200]
