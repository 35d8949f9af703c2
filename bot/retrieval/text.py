"""Keyword-side tokenisation: jieba words and character n-grams over normalised text."""

from __future__ import annotations

import itertools
import re
import threading
from typing import Any

from bot.retrieval.lexicon import DOMAIN_WORDS, STOPWORDS
from bot.retrieval.normalize import core_text
from bot.segmenter import new_tokenizer

_ASCII_RUN = re.compile(r"[a-z0-9]+|.", re.DOTALL)


class Tokenizer:
    """Thread-safe word and character tokenizer; jieba's dictionary loads on first use."""

    CACHE_SIZE = 200_000
    """Word lists kept per indexed text, so a rebuild after an edit re-cuts only changed
    text."""
    RECENT_SIZE = 2048
    """Word lists kept per query (a search reads a message's words twice): residents'
    messages, ever new, are kept apart from the indexed texts and far fewer of them, so a
    worker does not grow by every message it ever searched (some 0.6 KB each)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jieba: Any = None
        self._cache: dict[str, tuple[str, ...]] = {}
        self._recent: dict[str, tuple[str, ...]] = {}

    def _tok(self) -> Any:
        tok = self._jieba
        if tok is None:
            with self._lock:
                if self._jieba is None:
                    self._jieba = new_tokenizer((word, 200_000) for word in DOMAIN_WORDS)
                tok = self._jieba
        return tok

    def words(self, normalized: str, *, query: bool = False) -> list[str]:
        """Content words of a normalised text (particles and pleasantries dropped).
        ``query``: a resident's message rather than an indexed text (kept among the recent
        queries only)."""
        cached = self._cache.get(normalized)
        if cached is None and query:
            cached = self._recent.get(normalized)
        if cached is not None:
            return list(cached)
        core = core_text(normalized)
        if not core:
            return []
        words = [w for w in self._tok().lcut(core, HMM=False) if w not in STOPWORDS] or [core]
        store, size = (self._recent, self.RECENT_SIZE) if query else (self._cache, self.CACHE_SIZE)
        if len(store) >= size:
            store.clear()
        store[normalized] = tuple(words)
        return words

    @staticmethod
    def chars(normalized: str) -> list[str]:
        """Character unigrams and bigrams; a run of Latin letters or digits counts as one
        character."""
        units = _ASCII_RUN.findall(core_text(normalized))
        return units + [a + b for a, b in itertools.pairwise(units)]
