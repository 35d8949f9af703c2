"""jieba word segmentation shared by the NLU and retrieval: the general dictionary is read once
per process; a reader that adds no words shares it (``shared_tokenizer``), one that adds words
gets its own copy (``new_tokenizer``) so the others never see them.

Reading the dictionary (``jieba.Tokenizer.initialize``) takes one to several seconds; copying
it takes a few hundredths. Relies on a jieba tokenizer being its ``FREQ`` table and ``total``
once initialised (true of jieba 0.42)."""

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


def new_tokenizer(words: Iterable[tuple[str, int]] = ()) -> Any:
    """A ready ``jieba.Tokenizer`` of the general dictionary plus ``words`` (word, frequency)."""
    import jieba

    base = _loaded()
    tok = jieba.Tokenizer()
    with base.lock:
        tok.FREQ, tok.total = dict(base.FREQ), base.total
    tok.initialized = True
    for word, freq in words:
        tok.add_word(word, freq=freq)
    return tok
