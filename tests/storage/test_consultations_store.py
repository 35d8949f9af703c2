"""Consultations on SQLite and PostgreSQL: one committee never reaches another's
consultation, publishing fixes the eligible households, one vote per household (a change
replaces it, the audit records both), a voting link is used up by its vote, a vote after
closing or from a household outside the scope changes nothing, two closings at once close
once, the periodic job closes what is due, reminders stop at the maximum, and the migration
creates the tables exactly as the models describe (each with its committee, NOT NULL)."""

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

from bot.consultations import Consultations
from bot.domain import Registry
from bot.domain.tickets import Actor, ResidentId
from bot.households import Households
from bot.storage.consultations import AuditNote, ConsultationError, ConsultationNotFound
from bot.storage.households import HouseholdRecord
from bot.storage.sql import Database, SqlConsultationStore, SqlHouseholdStore
from bot.storage.sql.models import Base

ROOT = Path(__file__).resolve().parents[2]
TABLES = (
    "consultations",
    "consultation_households",
    "consultation_votes",
    "consultation_links",
    "consultation_reminders",
    "consultation_audit",
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


def _services(db: Database, clock: Clock) -> tuple[Households, Consultations]:
    registry = Registry.from_mapping(
        yaml.safe_load((ROOT / "knowledge" / "registry.yaml").read_text(encoding="utf-8"))
    )
    households = Households(
        SqlHouseholdStore(db), registry, retention_days=30, code_ttl=timedelta(hours=1), clock=clock
    )
    consultations = Consultations(
        SqlConsultationStore(db),
        households,
        registry,
        link_key=b"k" * 32,
        link_ttl=timedelta(hours=2),
        clock=clock,
    )
    return households, consultations


def _resident(name: str) -> ResidentId:
    return ResidentId("webhook", "default", name)


async def test_scope_votes_links_closing_and_isolation(db: Database) -> None:
    clock = Clock()
    households, service = _services(db, clock)
    records = [
        HouseholdRecord("puxiongxinyuan", "20号楼", "", "801室", 60.0),
        HouseholdRecord("puxiongxinyuan", "20号楼", "", "802室", None),
        HouseholdRecord("puxiongxinyuan", "21号楼", "", "801室", 60.0),
    ]
    await households.import_records("puxiong", records, ZHANG)
    a, b, outside = await households.store.households("puxiong")
    for name, home in (("甲", a), ("乙", b), ("丙", outside)):
        view = await households.claim("puxiong", home.id, _resident(name), name)
        await households.verify("puxiong", view.binding.id, ZHANG)
    fields: dict[str, Any] = {
        "title": "20号楼加装雨棚",
        "plan": "在20号楼单元门口加装雨棚。",
        "compound": "普雄馨苑",
        "buildings": ["20号楼"],
        "opens_at": clock.now,
        "closes_at": clock.now + timedelta(days=3),
        "rule": "civil_majority",
        "max_reminders": 1,
    }
    c = await service.create("puxiong", fields, ZHANG)
    # Another committee sees no such consultation.
    assert await service.store.get("other", c.id) is None
    with pytest.raises(ConsultationNotFound):
        await service.publish("other", c.id, ZHANG)
    refused = await service.vote("puxiong", c.id, _resident("甲"), 0, "chat")
    assert refused.result is None
    assert "还没有开始" in refused.message

    published = await service.publish("puxiong", c.id, ZHANG)
    assert [e.household_id for e in await service.store.eligible("puxiong", c.id)] == [a.id, b.id]
    with pytest.raises(ConsultationError):
        await service.edit("puxiong", c.id, fields, ZHANG)
    assert published.is_open(clock.now)

    first = await service.vote("puxiong", c.id, _resident("甲"), 1, "chat")
    assert first.result is not None
    assert first.result.changed is False
    again = await service.vote("puxiong", c.id, _resident("甲"), 0, "chat")
    assert again.result is not None
    assert again.result.changed is True
    assert again.result.previous == 1
    assert len(await service.store.votes("puxiong", c.id)) == 1
    # A household outside the buildings is refused, and nothing is recorded for it.
    outside_vote = await service.vote("puxiong", c.id, _resident("丙"), 0, "chat")
    assert outside_vote.result is None
    assert "不在本次征询的范围内" in outside_vote.message

    # A link works once: its vote uses it up.
    token = await service.issue_link("puxiong", c.id, _resident("乙"))
    assert isinstance(token, str)
    check = await service.check_link(token)
    assert check.error == ""
    assert check.household_id == b.id
    used = await service.vote(
        "puxiong",
        c.id,
        _resident("乙"),
        2,
        "page",
        link_id=check.link_id,
        binding_id=check.binding_id,
    )
    assert used.result is not None
    assert "已经用过" in (await service.check_link(token)).error
    reuse = await service.vote(
        "puxiong",
        c.id,
        _resident("乙"),
        0,
        "page",
        link_id=check.link_id,
        binding_id=check.binding_id,
    )
    assert reuse.result is None
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert (await service.check_link(forged)).consultation is None
    other_committee = "other." + token.split(".", 1)[1]
    assert (await service.check_link(other_committee)).consultation is None
    expiring = await service.issue_link("puxiong", c.id, _resident("乙"))
    assert isinstance(expiring, str)
    clock.now += timedelta(hours=3)
    assert "过期" in (await service.check_link(expiring)).error

    # Reminders stop at the maximum.
    await service.remind("puxiong", c.id, ZHANG)
    with pytest.raises(ConsultationError):
        await service.remind("puxiong", c.id, ZHANG)

    # The periodic job closes what is due; a second close does nothing.
    assert await service.close_due() == []
    clock.now += timedelta(days=3)
    (closed,) = await service.close_due()
    assert closed.result is not None
    # 802 has no floor area: the area conditions cannot be met, and the result says so.
    assert closed.result["passed"] is False
    assert "1 户未登记面积" in closed.result["summary"]
    assert await service.store.close("puxiong", c.id, {}, "x", clock.now, _note()) is None
    late = await service.vote("puxiong", c.id, _resident("甲"), 1, "chat")
    assert late.result is None
    assert "截止" in late.message
    actions = [e.action for e in await service.audit("puxiong", c.id)]
    assert actions == [
        "created",
        "published",
        "invited",
        "vote_cast",
        "vote_changed",
        "vote_cast",
        "reminder",
        "closed",
    ]
    assert await service.store.audit("other", c.id) == []


def _note() -> AuditNote:
    return AuditNote("x", "x", "closed", "")


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
    assert [d for d in diffs if "consultation" in repr(d)] == []
    assert nullable == dict.fromkeys(TABLES, False)
