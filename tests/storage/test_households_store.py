"""Households on SQLite and PostgreSQL: one committee never reaches another's rows, the vote
passes to the next verified member when the voter leaves, a one-time code works once, the
retention purge deletes old bindings and spent codes, and the migration creates the tables
exactly as the models describe (each with its committee, NOT NULL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from bot.domain import Registry
from bot.domain.tickets import Actor, ResidentId
from bot.households import Households
from bot.storage.households import BindingStatus, HouseholdNotFound, HouseholdRecord
from bot.storage.sql import Database, SqlHouseholdStore
from bot.storage.sql.models import Base

ROOT = Path(__file__).resolve().parents[2]
TABLES = (
    "households",
    "household_labels",
    "household_bindings",
    "household_codes",
    "household_access_log",
)
ZHANG = Actor.caseworker("7", "张敏")


@pytest.fixture
async def db(backend: dict[str, str]) -> AsyncIterator[Database]:
    database = Database.connect(backend["database_url"])
    await database.migrate()
    yield database
    await database.close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _service(db: Database, clock: Clock) -> Households:
    registry = Registry.from_mapping(
        yaml.safe_load((ROOT / "knowledge" / "registry.yaml").read_text(encoding="utf-8"))
    )
    return Households(
        SqlHouseholdStore(db),
        registry,
        retention_days=30,
        code_ttl=timedelta(hours=72),
        clock=clock,
    )


def _resident(name: str) -> ResidentId:
    return ResidentId("webhook", "default", name)


async def test_voter_code_isolation_and_purge(db: Database) -> None:
    clock = Clock()
    service = _service(db, clock)
    store = service.store
    records = [HouseholdRecord("puxiongxinyuan", "20号楼", "", "1201室", 58.5, ("独居",))]
    await service.import_records("puxiong", records, ZHANG)
    await store.import_households("other", [HouseholdRecord("demo", "1号楼", "", "101室")])
    (home,) = await store.households("puxiong")
    (theirs,) = await store.households("other")
    assert home.labels == ("独居",)
    assert await store.household("other", home.id) is None
    with pytest.raises(HouseholdNotFound):
        await service.detail("other", home.id, ZHANG)
    with pytest.raises(HouseholdNotFound):
        await service.claim("puxiong", theirs.id, _resident("a"), "甲")

    first = await service.claim("puxiong", home.id, _resident("a"), "甲")
    second = await service.claim("puxiong", home.id, _resident("b"), "乙")
    assert first.binding.status is BindingStatus.CLAIMED
    assert (await service.verify("puxiong", first.binding.id, ZHANG)).voter is True
    code, _ = await service.issue_code("puxiong", home.id, ZHANG)
    (issued,) = await store.live_codes("puxiong", home.id, clock.now)
    assert code not in issued.code_hash
    assert (
        await service.redeem(
            "puxiong", _resident("b"), "1" + code[1:] if code[0] != "1" else "2" + code[1:]
        )
    ).reason == "wrong"
    outcome = await service.redeem("puxiong", _resident("b"), code)
    assert outcome.reason == "ok"
    assert outcome.verified is not None
    assert outcome.verified.voter is False
    third = await service.claim("puxiong", home.id, _resident("c"), "丙")
    assert (await service.redeem("puxiong", _resident("c"), code)).reason == "wrong"
    # Another committee knows no such resident, binding or code.
    assert (await service.redeem("other", _resident("b"), code)).reason == "no_binding"

    # The voter leaves: the vote passes to the other verified member, not the claimed one.
    assert await service.unbind("puxiong", _resident("a")) is not None
    members = {b.sender_name: b for b in await store.bindings("puxiong", household_id=home.id)}
    assert members["乙"].voter is True
    assert members["丙"].voter is False
    assert second.binding.id == members["乙"].id
    assert third.binding.status is BindingStatus.CLAIMED

    # Retention: 31 days later both bindings and the spent code are gone.
    clock.now += timedelta(days=31)
    purged = await service.purge()
    assert (purged.bindings, purged.codes) == (2, 1)
    assert await store.bindings("puxiong") == []
    log = await store.access_log("puxiong")
    assert {e.action for e in log} >= {"import", "verify", "code"}
    assert await store.access_log("other") == []


async def test_the_migration_matches_the_models(db: Database) -> None:
    def diff(conn: Connection) -> list[Any]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))

    def committee_columns(conn: Connection) -> dict[str, bool]:
        inspector = inspect(conn)
        return {
            table: next(c for c in inspector.get_columns(table) if c["name"] == "committee")[
                "nullable"
            ]
            for table in TABLES
        }

    async with db.engine.connect() as conn:
        diffs = await conn.run_sync(diff)
        nullable = await conn.run_sync(committee_columns)
    assert [d for d in diffs if "household" in repr(d)] == []
    assert nullable == dict.fromkeys(TABLES, False)
