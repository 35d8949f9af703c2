"""The fault suite's marker (``pytest -m faults`` runs only it)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "faults: starts its own PostgreSQL, Redis and two linli workers"
    )
