"""Notices on SQLite and PostgreSQL: one committee never reaches another's notice, a notice
is published (its households and recipients planned) once however often it is sent, each
delivery is claimed by one worker only, an interrupted send is given up and never repeated,
"收到" acknowledges only what reached the resident, a follow-up needs a targeted household,
a draft is edited until it is sent, a notice's page reads and acknowledges one private
delivery, and the migration creates the tables exactly as the models describe."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from bot.domain.tickets import ResidentId
from bot.storage.households import HouseholdRecord
from bot.storage.notices import (
    Audience,
    FollowUpOutcome,
    NewDelivery,
    NewNotice,
    NoticeKind,
    NoticeNotDraft,
    NoticeNotFound,
    NoticeState,
    SendState,
    Target,
)
from bot.storage.sql import Database, SqlHouseholdStore, SqlNoticeStore
from bot.storage.sql.models import Base

TABLES = ("notices", "notice_households", "notice_deliveries", "notice_follow_ups")
NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
WANG = ResidentId("webhook", "default", "wang")
LI = ResidentId("webhook", "default", "li")


@pytest.fixture
async def db(backend: dict[str, str]) -> AsyncIterator[Database]:
    database = Database.connect(backend["database_url"])
    await database.migrate()
    yield database
    await database.close()


def _notice(committee: str = "puxiong", **kw: Any) -> NewNotice:
    base: dict[str, Any] = {
        "committee": committee,
        "kind": NoticeKind.WATER,
        "title": "20号楼停水",
        "body": "12月6日8:00-17:00管道检修停水，请提前储水。",
        "valid_from": NOW,
        "valid_until": NOW + timedelta(days=1),
        "audience": Audience(buildings=(("puxiongxinyuan", "20号楼"),)),
        "post_groups": True,
        "created_by_id": "7",
        "created_by_name": "张敏",
        "created_at": NOW,
    }
    base.update(kw)
    return NewNotice(**base)


async def _households(db: Database) -> list[int]:
    store = SqlHouseholdStore(db)
    await store.import_households(
        "puxiong",
        [HouseholdRecord("puxiongxinyuan", "20号楼", "", r) for r in ("801室", "802室")],
    )
    return [h.id for h in await store.households("puxiong")]


def _recipients(households: list[int]) -> list[NewDelivery]:
    return [
        NewDelivery(Target.GROUP, "wecom_robot", "puxiong", "g-puxiongxinyuan"),
        NewDelivery(Target.PRIVATE, "webhook", "default", "wang", households[0], "k-wang", "王"),
        NewDelivery(Target.PRIVATE, "webhook", "default", "li", households[1], "k-li", "李"),
        # The same resident planned twice (a duplicate binding row) goes out once.
        NewDelivery(Target.PRIVATE, "webhook", "default", "li", households[1], "k-li", "李"),
    ]


async def test_publish_once_claim_once_and_committee_isolation(db: Database) -> None:
    store = SqlNoticeStore(db)
    households = await _households(db)
    notice = await store.create(_notice())
    assert notice.state is NoticeState.DRAFT
    assert await store.get("other", notice.id) is None
    with pytest.raises(NoticeNotFound):
        await store.publish("other", notice.id, households, _recipients(households), NOW)

    # Two workers send it at the same moment: one plans, the other plans nothing.
    first, second = await asyncio.gather(
        store.publish("puxiong", notice.id, households, _recipients(households), NOW),
        store.publish("puxiong", notice.id, households, _recipients(households), NOW),
    )
    assert sorted([first.published, second.published]) == [False, True]
    planned = first if first.published else second
    assert (planned.households, planned.deliveries) == (2, 3)
    again = await store.publish("puxiong", notice.id, households, _recipients(households), NOW)
    assert not again.published
    assert len(await store.deliveries("puxiong", notice.id)) == 3
    assert await store.deliveries("other", notice.id) == []
    assert await store.household_ids("puxiong", notice.id) == households
    assert await store.household_ids("other", notice.id) == []

    pending = await store.pending()
    assert [p.address for p in pending] == ["g-puxiongxinyuan", "wang", "li"]
    # Each delivery is claimed by one worker only.
    claims = await asyncio.gather(*(store.claim(pending[1].id, NOW) for _ in range(4)))
    assert claims.count(True) == 1
    await store.finish(pending[1].id, "active", "", NOW)
    assert await store.claim(pending[1].id, NOW) is False
    # A worker that died mid-send: given up after a while, never sent again.
    assert await store.claim(pending[2].id, NOW)
    assert await store.give_up_stale(NOW - timedelta(minutes=1), NOW) == 0
    assert await store.give_up_stale(NOW + timedelta(minutes=1), NOW) == 1
    rows = {d.address: d for d in await store.deliveries("puxiong", notice.id)}
    assert rows["li"].state is SendState.DONE
    assert rows["li"].delivery == "failed"
    assert [p.address for p in await store.pending()] == ["g-puxiongxinyuan"]

    # Only what reached the resident is read and acknowledged, in their committee only.
    ids = [notice.id]
    assert [d.address for d in await store.received("puxiong", WANG, ids)] == ["wang"]
    assert await store.received("puxiong", LI, ids) == []
    assert await store.received("other", WANG, ids) == []
    assert await store.mark_read("puxiong", WANG, ids, NOW) == 1
    assert await store.mark_read("puxiong", WANG, ids, NOW) == 0
    assert await store.acknowledge("other", WANG, ids, NOW) == []
    assert await store.acknowledge("puxiong", LI, ids, NOW) == []
    assert await store.acknowledge("puxiong", WANG, ids, NOW) == [notice.id]
    assert await store.acknowledge("puxiong", WANG, ids, NOW) == []

    # Valid notices: published ones within their period.
    assert [n.id for n in await store.current("puxiong", NOW)] == [notice.id]
    assert await store.current("puxiong", NOW + timedelta(days=2)) == []
    assert await store.current("other", NOW) == []
    assert await store.targeting("puxiong", households[0], ids) == ids
    assert await store.targeting("other", households[0], ids) == []


async def test_follow_ups_withdrawal_and_listing(db: Database) -> None:
    store = SqlNoticeStore(db)
    households = await _households(db)
    notice = await store.create(_notice())
    other = await store.create(_notice("other", title="别的居委会的通知"))
    await store.publish("puxiong", notice.id, households[:1], _recipients(households)[:1], NOW)
    with pytest.raises(NoticeNotFound):  # not targeted by the notice
        await store.add_follow_up(
            "puxiong", notice.id, households[1], FollowUpOutcome.PHONED, "", "7", "张敏", NOW
        )
    with pytest.raises(NoticeNotFound):  # another committee's caseworker
        await store.add_follow_up(
            "other", notice.id, households[0], FollowUpOutcome.PHONED, "", "9", "外人", NOW
        )
    done = await store.add_follow_up(
        "puxiong", notice.id, households[0], FollowUpOutcome.VISITED, "已当面告知", "7", "张敏", NOW
    )
    assert done.outcome.label == "已上门告知"
    assert [f.note for f in await store.follow_ups("puxiong", notice.id)] == ["已当面告知"]
    assert await store.follow_ups("other", notice.id) == []
    assert [n.id for n in await store.notices("puxiong")] == [notice.id]
    assert [n.id for n in await store.notices("other")] == [other.id]

    withdrawn = await store.withdraw("puxiong", notice.id, NOW)
    assert withdrawn.state is NoticeState.WITHDRAWN
    assert await store.pending() == []  # the group post waiting is dropped
    assert await store.current("puxiong", NOW) == []
    with pytest.raises(NoticeNotFound):
        await store.withdraw("other", notice.id, NOW)


async def test_a_draft_is_edited_until_sent_and_a_page_reads_and_acknowledges_one_delivery(
    db: Database,
) -> None:
    store = SqlNoticeStore(db)
    households = await _households(db)
    notice = await store.create(_notice())
    edited = await store.edit(
        "puxiong", notice.id, _notice(title="20号楼停水（改期）", created_by_name="别人")
    )
    assert (edited.title, edited.created_by_name) == ("20号楼停水（改期）", "张敏")
    with pytest.raises(NoticeNotFound):
        await store.edit("other", notice.id, _notice("other"))
    await store.publish("puxiong", notice.id, households, _recipients(households), NOW)
    with pytest.raises(NoticeNotDraft):
        await store.edit("puxiong", notice.id, _notice(title="发送后再改"))
    kept = await store.get("puxiong", notice.id)
    assert kept is not None
    assert kept.title == "20号楼停水（改期）"

    rows = {d.address: d for d in await store.deliveries("puxiong", notice.id)}
    wang, group = rows["wang"], rows["g-puxiongxinyuan"]
    assert await store.delivery("other", wang.id) is None
    assert await store.read_delivery("other", wang.id, NOW) is False
    assert await store.read_delivery("puxiong", group.id, NOW) is False  # a group is no one
    assert await store.read_delivery("puxiong", wang.id, NOW) is True
    assert await store.read_delivery("puxiong", wang.id, NOW) is False
    assert await store.acknowledge_delivery("puxiong", wang.id, NOW) is True
    assert await store.acknowledge_delivery("puxiong", wang.id, NOW) is False
    li = rows["li"]
    assert await store.acknowledge_delivery("puxiong", li.id, NOW) is True  # read with it
    after = await store.delivery("puxiong", li.id)
    assert after is not None
    assert (after.read_at, after.acknowledged_at) == (NOW, NOW)


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
    assert [d for d in diffs if "notice" in repr(d)] == []
    assert nullable == dict.fromkeys(TABLES, False)
