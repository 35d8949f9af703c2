"""The embedding cache keyed by text hash (encoders themselves live in ``bot.encoders``)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.encoders import (
    Encoder,
    Vectors,
)


def text_key(encoder_name: str, text: str) -> str:
    """The cache key of one text under one encoder."""
    return hashlib.sha256(f"{encoder_name}\x00{text}".encode()).hexdigest()[:40]


class EmbeddingCache:
    """Vectors by text hash, persisted as one ``.npz`` file; rebuilds encode only new text.

    Not thread-safe by itself: the index builder holds a lock per committee around it.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._vectors: dict[str, Vectors] = {}
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self._path is None or not self._path.is_file():
            return
        try:
            with np.load(self._path, allow_pickle=False) as z:
                keys = [str(k) for k in z["keys"]]
                vecs = np.asarray(z["vectors"], dtype=np.float32)
        except (OSError, ValueError, KeyError):
            return  # a corrupt cache is only a cache: start empty
        if len(keys) == len(vecs):
            self._vectors = {k: vecs[i] for i, k in enumerate(keys)}

    def __len__(self) -> int:
        self._load()
        return len(self._vectors)

    def embed(self, encoder: Encoder, texts: Sequence[str]) -> tuple[Vectors, int]:
        """Vectors for ``texts`` in order, and how many texts had to be encoded."""
        self._load()
        keys = [text_key(encoder.name, t) for t in texts]
        missing: dict[str, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in self._vectors:
                missing.setdefault(k, t)
        if missing:
            fresh = encoder.encode(list(missing.values()))
            for k, v in zip(missing, fresh, strict=True):
                self._vectors[k] = v
        out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
        for i, k in enumerate(keys):
            out[i] = self._vectors[k]
        return out, len(missing)

    def save(self, keep: Sequence[str] | None = None) -> None:
        """Write the cache atomically, keeping only the ``keep`` keys when given."""
        if self._path is None:
            return
        self._load()
        if keep is not None:
            wanted = set(keep)
            self._vectors = {k: v for k, v in self._vectors.items() if k in wanted}
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(f".{self._path.name}.{os.getpid()}.tmp.npz")
        keys = np.array(list(self._vectors), dtype="U40")
        vecs = (
            np.stack(list(self._vectors.values()))
            if self._vectors
            else np.zeros((0, 0), dtype=np.float32)
        )
        np.savez(tmp, keys=keys, vectors=vecs)
        os.replace(tmp, self._path)
