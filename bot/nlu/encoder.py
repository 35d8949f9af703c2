"""The sentence encoder the classifier needs, as a protocol, and the default USE-m3 one.

Any object with ``name`` and ``encode(texts) -> (n, dim) float32 L2-normalised rows`` fits
(``bot.retrieval``'s encoders do, so the composition root can share one instance). The
model loads lazily on the first ``encode`` call, with one BLAS thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from bot.encoders import Usem3Encoder

Vectors = NDArray[np.float32]


@runtime_checkable
class SentenceEncoder(Protocol):
    @property
    def name(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> Vectors: ...


Usem3SentenceEncoder = Usem3Encoder
"""The default encoder: the shared USE-m3 implementation of ``bot.encoders``."""


class MemoEncoder:
    """A sentence encoder that remembers its last ``size`` texts: the intent classifier and
    the crisis classifier read the same message (and its words) one after the other, and the
    second encodes nothing. Thread-safe; same ``name`` as the encoder it wraps."""

    def __init__(self, inner: SentenceEncoder, size: int = 2048) -> None:
        self.inner = inner
        self._size = size
        self._memo: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.inner.name

    def encode(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            known = {t: v for t in texts if (v := self._memo.get(t)) is not None}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            fresh = self.inner.encode(missing)
            with self._lock:
                for t, v in zip(missing, fresh, strict=True):
                    known[t] = v
                    self._memo[t] = v
                    self._memo.move_to_end(t)
                while len(self._memo) > self._size:
                    self._memo.popitem(last=False)
        if not texts:
            return self.inner.encode(texts)
        return np.stack([known[t] for t in texts])
