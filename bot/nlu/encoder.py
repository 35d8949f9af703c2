"""The sentence encoder the classifier needs, as a protocol, and the default USE-m3 one.

Any object with ``name`` and ``encode(texts) -> (n, dim) float32 L2-normalised rows`` fits
(``bot.retrieval``'s encoders do, so the composition root can share one instance). The
model loads lazily on the first ``encode`` call, with one BLAS thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from bot.encoders import MemoEncoder, Usem3Encoder

__all__ = ["MemoEncoder", "SentenceEncoder", "Usem3SentenceEncoder", "Vectors"]

Vectors = NDArray[np.float32]


@runtime_checkable
class SentenceEncoder(Protocol):
    @property
    def name(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> Vectors: ...


Usem3SentenceEncoder = Usem3Encoder
"""The default encoder: the shared USE-m3 implementation of ``bot.encoders``."""
