"""Fixtures of the channel tests (helpers live in channel_helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from channel_helpers import Cleanups, Rig, RigFactory, build_rig


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[RigFactory]:
    """``await make_rig(delay=…, **settings_overrides)`` → a running Rig, closed afterwards."""
    cleanups: Cleanups = []

    async def make(*, delay: float = 0.0, **overrides: Any) -> Rig:
        return await build_rig(tmp_path, cleanups, delay=delay, **overrides)

    yield make
    for cleanup in reversed(cleanups):
        await cleanup()


@pytest.fixture
async def rig(make_rig: RigFactory) -> Rig:
    return await make_rig()
