"""Fixtures of the insights tests: the real USE-m3 encoder, loaded once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits

from bot.encoders import Encoder, Usem3Encoder


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread() -> Iterator[None]:
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    enc = Usem3Encoder()
    enc.encode(["预热"])
    return enc
