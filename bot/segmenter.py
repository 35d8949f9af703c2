"""jieba word segmentation shared by the NLU and retrieval: the general dictionary is read once
per process; a reader that adds no words shares it (``shared_tokenizer``), one that adds words
gets its own layer over it (``new_tokenizer``) so the others never see them.

Reading the dictionary (``jieba.Tokenizer.initialize``) takes one to several seconds and
holds some 50 MB; a layer holds only the words added (a copy of the table would be some
15 MB more per user). Relies on a jieba tokenizer being its ``FREQ`` table and ``total`` once
initialised, and reading ``FREQ`` only through ``in``, ``[]`` and ``get`` (true of jieba
0.42)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

_lock = threading.Lock()
_base: Any = None


def _loaded() -> Any:
    global _base
    with _lock:
        if _base is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            tok.initialize()
            _base = tok
        return _base


def shared_tokenizer() -> Any:
    """The process's ``jieba.Tokenizer`` of the general dictionary, for readers that only cut
    text (never ``add_word`` to it). A copy of the table is some 15 MB per reader."""
    return _loaded()


class _Layer(dict[str, int]):
    """A frequency table: its own entries (the words added, and their prefixes) over the
    shared general table, which it never changes; reads as one table."""

    __slots__ = ("base",)

    def __init__(self, base: dict[str, int]) -> None:
        super().__init__()
        self.base = base

    def __missing__(self, key: str) -> int:
        return self.base[key]

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.base

    def get(self, key: str, default: Any = None) -> Any:
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        return self.base.get(key, default)


def new_tokenizer(words: Iterable[tuple[str, int]] = ()) -> Any:
    """A ready ``jieba.Tokenizer`` of the general dictionary plus ``words`` (word, frequency)."""
    import jieba

    base = _loaded()
    tok = jieba.Tokenizer()
    with base.lock:
        tok.FREQ, tok.total = _Layer(base.FREQ), base.total
    tok.initialized = True
    for word, freq in words:
        tok.add_word(word, freq=freq)
    return tok
