"""Fixtures for the ticket tests: a migrated database on each back-end, the sample registry
plus a second committee, a controllable clock and the ticket parts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.domain import Registry
from bot.storage.sql import Database
from bot.storage.sql.ticket_repo import SqlTicketStore
from bot.tickets import Tickets

from .support import Clock, local

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def registry() -> Registry:
    data: dict[str, Any] = yaml.safe_load(
        (ROOT / "knowledge" / "registry.yaml").read_text(encoding="utf-8")
    )
    data["committees"].append(
        {
            "id": "other",
            "name": "测试居委会",
            "ticket_prefix": "OT",
            "compounds": [{"id": "demo", "name": "示例小区"}],
        }
    )
    return Registry.from_mapping(data)


@pytest.fixture
async def db(backend: dict[str, str]) -> AsyncIterator[Database]:
    database = Database.connect(backend["database_url"])
    await database.migrate()
    yield database
    await database.close()


@pytest.fixture
def store(db: Database) -> SqlTicketStore:
    return SqlTicketStore(db)


@pytest.fixture
def clock() -> Clock:
    # Tuesday 2026-11-24 10:00 in Shanghai: an ordinary working day.
    return Clock(local(2026, 11, 24, 10, 0))


@pytest.fixture
def service(store: SqlTicketStore, registry: Registry, clock: Clock) -> Tickets:
    return Tickets.build(store, registry, clock=clock)
