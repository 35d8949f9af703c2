"""Fixtures for the retrieval tests: the real USE-m3 encoder (loaded once per session), the
sample registry and corpus, and a service holding the sample corpus's index."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.domain.faq import FaqEntry
from bot.domain.registry import Committee, Registry
from bot.encoders import Encoder, Vectors
from bot.retrieval.corpus import load_corpus
from bot.retrieval.service import RetrievalService

ROOT = Path(__file__).resolve().parents[2]
KNOWLEDGE = ROOT / "knowledge"
SHARED_EVAL = ROOT.parent / "shared" / "eval"
TODAY = date(2026, 11, 25)
COMMITTEE = "puxiong"


@pytest.fixture(scope="session")
def registry() -> Registry:
    return Registry.from_mapping(yaml.safe_load((KNOWLEDGE / "registry.yaml").read_text("utf-8")))


@pytest.fixture(scope="session")
def committee(registry: Registry) -> Committee:
    return registry.committee(COMMITTEE)


@pytest.fixture(scope="session")
def sample_entries(registry: Registry) -> list[FaqEntry]:
    return load_corpus([KNOWLEDGE], registry, COMMITTEE)


@pytest.fixture(scope="session")
def sample_service(encoder: Encoder, sample_entries: list[FaqEntry]) -> RetrievalService:
    """Shared and read-only: tests that rebuild make their own service."""
    service = RetrievalService(encoder, today=lambda: TODAY)
    service.rebuild(COMMITTEE, sample_entries)
    return service


class CountingEncoder:
    """The real encoder, counting how many texts it was asked to encode."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.encoded = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.encoded += len(texts)
        out: Vectors = np.asarray(self.inner.encode(texts), dtype=np.float32)
        return out


def entry(entry_id: str, question: str, answer: str, **fields: object) -> FaqEntry:
    return FaqEntry.from_dict({"id": entry_id, "question": question, "answer": answer, **fields})
