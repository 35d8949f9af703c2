"""Proposed FAQ alternates on SQLite and PostgreSQL: counted per phrasing, per committee,
decided once, and created by the migration exactly as the model describes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from bot.storage.sql import Database, SqlProposalStore
from bot.storage.sql.models import Base


@pytest.fixture
async def db(backend: dict[str, str]) -> AsyncIterator[Database]:
    database = Database.connect(backend["database_url"])
    await database.migrate()
    yield database
    await database.close()


async def test_a_phrasing_is_counted_and_decided_once(db: Database) -> None:
    store = SqlProposalStore(db)
    first = await store.propose("puxiong", "certificates-1", "证明怎么开", "choice")
    assert (first.count, first.status, first.source) == (1, "open", "choice")
    again = await store.propose("puxiong", "certificates-1", "证明怎么开", "caseworker")
    assert again.id == first.id
    assert (again.count, again.source) == (2, "caseworker")
    other = await store.propose("puxiong", "certificates-1", "开证明找谁", "choice")
    await store.propose("jiangning", "certificates-1", "证明怎么开", "choice")

    listed = await store.open_for("puxiong", "certificates-1")
    assert [(p.text, p.count) for p in listed] == [("证明怎么开", 2), ("开证明找谁", 1)]
    assert await store.open_counts("puxiong") == {"certificates-1": 2}
    assert await store.get("jiangning", first.id) is None  # another committee's id

    decided = await store.decide("puxiong", first.id, "accepted", "李主任")
    assert decided is not None
    assert decided.status == "accepted"
    assert await store.decide("puxiong", first.id, "dismissed", "李主任") is None
    assert await store.decide("jiangning", other.id, "dismissed", "李主任") is None
    assert [p.text for p in await store.open_for("puxiong", "certificates-1")] == ["开证明找谁"]
    # Asked again after the decision: counted, still decided.
    later = await store.propose("puxiong", "certificates-1", "证明怎么开", "choice")
    assert (later.count, later.status) == (3, "accepted")
    with pytest.raises(ValueError, match="unknown decision"):
        await store.decide("puxiong", other.id, "maybe", "李主任")


async def test_concurrent_proposals_of_one_phrasing_all_count(db: Database) -> None:
    store = SqlProposalStore(db)
    await asyncio.gather(
        *(store.propose("puxiong", "lifts-1", "电梯的事情", "choice") for _ in range(5))
    )
    [only] = await store.open_for("puxiong", "lifts-1")
    assert only.count == 5


async def test_the_migration_matches_the_model(db: Database) -> None:
    def diff(conn: Connection) -> list[Any]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))

    async with db.engine.connect() as conn:
        diffs = await conn.run_sync(diff)
    assert [d for d in diffs if "faq_proposals" in repr(d)] == []
