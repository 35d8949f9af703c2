"""The notice send job on both store back-ends, against a local server standing in for the
WeCom group robot: a group whose robot used up its 20 posts a minute gets the notice once the
window moves on (queued, never dropped) while residents are not held up; a worker that died
after planning leaves nothing unsent (another worker's round sends it); one that died
mid-send is never repeated: that send is given up as failed and its household shows as not
reached."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import yaml
from channel_helpers import Platform
from conversation_helpers import ROBOT_PATH

from bot.channels.group import POSTS_PER_MINUTE, GroupPoster, robot_throttle
from bot.channels.outbound import OutboundSender
from bot.channels.registry import ChannelRegistry
from bot.domain import Registry
from bot.domain.tickets import Actor, ResidentId
from bot.households import Households
from bot.notices import NoticeDraft, Notices
from bot.notices.service import STALE_SEND
from bot.settings import Settings
from bot.storage.households import HouseholdRecord
from bot.storage.notices import Audience, NoticeKind
from bot.storage.sql import (
    Database,
    SqlConversationStore,
    SqlHouseholdStore,
    SqlMessageLog,
    SqlNoticeStore,
)
from bot.storage.state_memory import MemoryStateStore

ROOT = Path(__file__).resolve().parents[2]
ROBOT = "robot-of-xinyuan"
ZHANG = Actor.caseworker("7", "张敏")
WINDOW_S = 0.6


class Ticks:
    """The state store's monotonic seconds, moved by hand: the robot's window is independent
    of how fast the machine runs the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def db(backend: dict[str, str]) -> AsyncIterator[Database]:
    database = Database.connect(backend["database_url"])
    await database.migrate()
    yield database
    await database.close()


async def _worker(
    db: Database,
    settings: Settings,
    http: aiohttp.ClientSession,
    state: MemoryStateStore,
    clock: Clock,
) -> Notices:
    """One worker's notice service over the shared database and state."""
    registry = Registry.from_mapping(
        yaml.safe_load((ROOT / "knowledge" / "registry.yaml").read_text(encoding="utf-8"))
    )
    households = Households(
        SqlHouseholdStore(db), registry, retention_days=365, code_ttl=timedelta(hours=1)
    )
    outbound = OutboundSender(http, state, settings)
    poster = GroupPoster(settings, ChannelRegistry(), outbound, state, window_s=WINDOW_S)
    return Notices(
        SqlNoticeStore(db),
        households,
        registry,
        settings,
        poster,
        SqlConversationStore(db),
        SqlMessageLog(db),
        clock=clock,
    )


async def test_queued_for_the_robot_window_and_never_sent_twice_after_a_crash(
    db: Database, settings_factory: Callable[..., Settings], platform: Platform
) -> None:
    settings = settings_factory(
        wecom_api_base=platform.base_url,
        outbound_backoff_s=0.01,
        committees={"puxiong": {"group_chats": {"g-puxiongxinyuan": {"robot_key": ROBOT}}}},
    )
    ticks = Ticks()
    state = MemoryStateStore(clock=ticks)
    clock = Clock()
    async with aiohttp.ClientSession() as http:
        first = await _worker(db, settings, http, state, clock)
        second = await _worker(db, settings, http, state, clock)
        store = SqlHouseholdStore(db)
        await store.import_households(
            "puxiong",
            [HouseholdRecord("puxiongxinyuan", "20号楼", "", r) for r in ("801室", "802室")],
        )
        homes = {h.room: h.id for h in await store.households("puxiong")}
        # Two residents bound (claimed) in a private chat the channel cannot push to.
        for sender, room in (("wang", "801室"), ("li", "802室")):
            await store.claim(
                "puxiong", homes[room], ResidentId("webhook", "default", sender), sender, clock()
            )
        draft = NoticeDraft(
            kind=NoticeKind.WATER,
            title="20号楼停水",
            body="今天9:00-17:00停水。",
            valid_from=clock() - timedelta(minutes=1),
            valid_until=clock() + timedelta(days=1),
            audience=Audience(buildings=(("普雄馨苑", "20"),)),
        )
        notice = await first.create("puxiong", draft, ZHANG)
        # The robot's window is full (group etiquette posted 20 times this minute).
        for _ in range(POSTS_PER_MINUTE):
            assert await state.reserve(robot_throttle(ROBOT), POSTS_PER_MINUTE, WINDOW_S) == 0
        planned = await first.publish("puxiong", notice.id, ZHANG)
        assert (planned.households, planned.deliveries) == (2, 3)

        # The first worker "dies" after planning, having claimed li's send mid-way.
        rows = {d.address: d for d in await first.store.deliveries("puxiong", notice.id)}
        assert await first.store.claim(rows["li"].id, clock())
        # Another worker's round: the residents are done, the group waits for the robot.
        await second.send_due()
        rows = {d.address: d for d in await second.store.deliveries("puxiong", notice.id)}
        assert rows["wang"].state.value == "done"
        assert rows["wang"].delivery == "undeliverable"  # no channel to push with
        assert rows["li"].state.value == "sending"  # never taken twice
        assert rows["g-puxiongxinyuan"].state.value == "pending"
        assert platform.of(ROBOT_PATH) == []

        ticks.now += WINDOW_S + 0.1  # the window moves on
        await second.send_due()
        await first.send_due()
        posts = [b for q, b in platform.of(ROBOT_PATH) if q["key"] == ROBOT]
        assert len(posts) == 1
        assert "【停水通知】20号楼停水" in posts[0]["text"]["content"]

        # The send that died mid-way is given up after a while, never sent again.
        clock.now += STALE_SEND + timedelta(seconds=1)
        await second.send_due()
        rows = {d.address: d for d in await second.store.deliveries("puxiong", notice.id)}
        assert (rows["li"].state.value, rows["li"].delivery) == ("done", "failed")
        detail = await second.detail("puxiong", notice.id, ZHANG)
        assert [h.address for h in detail.follow_up_list()] == [
            "普雄馨苑20号楼801室",
            "普雄馨苑20号楼802室",
        ]
        assert len([b for q, b in platform.of(ROBOT_PATH) if q["key"] == ROBOT]) == 1
