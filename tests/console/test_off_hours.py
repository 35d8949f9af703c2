"""A resident asks for a person out of office hours: the conversation stays waiting with the
promise they were given, its ticket is the complaint their words make it, the handoff sweep
leaves it alone, and the next working morning it heads "等待社工的会话" as 投诉 (the clock is
the application's, set by the test; nothing sleeps)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from bot import appkeys
from bot.accounts import Passwords
from bot.accounts.http import ACCOUNTS
from bot.app import build_app
from bot.dialogue.handoff import PROMISE, implied_category
from bot.dialogue.turn import Turn
from bot.domain import Chat, ChatType, IncomingMessage, Registry, Sender
from bot.domain.clock import SHANGHAI
from bot.domain.tickets import TicketCategory
from bot.encoders import Encoder
from bot.nlu.types import IntentScore, ParseResult
from bot.settings import Settings
from bot.storage.conversations import Conversation, Mode

from .conftest import EMBEDDED_ONLY, HOOK, PASSWORD, Resident, login

COMPLAINT = "楼下饭店天天油烟扰民，我要投诉，请帮我转人工找社工"
EVENING = datetime(2026, 12, 8, 22, 30, tzinfo=SHANGHAI)  # a Tuesday, after hours
MORNING = datetime(2026, 12, 9, 8, 40, tzinfo=SHANGHAI)  # the office opened at 8:30
WAITING_SECTION = re.compile(r'<section class="card" id="waiting">(.*?)</section>', re.S)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.now = at.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now


@EMBEDDED_ONLY
async def test_an_off_hours_complaint_waits_for_the_morning_as_a_complaint(
    backend: dict[str, str],
    settings_factory: Callable[..., Settings],
    aiohttp_client: Callable[..., Any],
    encoder: Encoder,
) -> None:
    clock = Clock(EVENING)
    settings = settings_factory(
        **backend,
        handoff_around_the_clock=False,
        handoff_wait_s=300,
        sweep_interval_s=0.05,
        channels={"webhook": {"tokens": [HOOK], "committee": "puxiong"}},
    )
    app = await build_app(settings, encoder=encoder, clock=clock)
    accounts = app[ACCOUNTS]
    accounts.passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    client: TestClient[Any, Any] = await aiohttp_client(app)
    await accounts.add_user("wangfang", "caseworker", "puxiong", PASSWORD, "王芳")

    # Evening: the resident is told the truth and given a complaint ticket.
    night = Resident(client, "night-owl", name="赵先生")
    data = await night.say(COMPLAINT)
    assert [r["kind"] for r in data["replies"]][-1] == "handoff", data
    promise = data["replies"][-1]["text"]
    assert "非工作时间" in promise
    assert "12月9日 08:30" in promise
    number = re.search(r"投诉工单 (\S+?)，", promise)
    assert number, promise
    ticket = await app[appkeys.TICKETS].queries.get("puxiong", number.group(1))
    assert ticket.category is TicketCategory.COMPLAINT
    conv = await app[appkeys.CONVERSATIONS].get(night.key())
    assert conv is not None
    assert conv.mode is Mode.WAITING
    assert conv.state[PROMISE] == promise

    # Through the night and into the morning, past the handoff wait: the sweep leaves it.
    clock.now = (MORNING + timedelta(minutes=20)).astimezone(UTC)
    assert await app[appkeys.HANDOFF].sweep() == 0
    conv = await app[appkeys.CONVERSATIONS].get(night.key())
    assert conv is not None
    assert conv.mode is Mode.WAITING

    # Then another resident asks for a person (office open: an ordinary wait).
    clock.now = (MORNING + timedelta(minutes=21)).astimezone(UTC)
    early = Resident(client, "early-bird", name="钱阿姨")
    answered = await early.say("转人工")
    assert "已为您转接社工" in answered["replies"][-1]["text"]

    # The caseworker's inbox: the evening's complaint first, as 投诉, with the promise.
    await login(client)
    page = await (await client.get("/console/")).text()
    section = WAITING_SECTION.search(page)
    assert section, page
    rows = re.findall(r"<tr class=\"mode-waiting[^\"]*\">(.*?)</tr>", section.group(1), re.S)
    assert len(rows) == 2
    assert "赵先生" in rows[0]
    assert "钱阿姨" in rows[1]
    assert "投诉" in rows[0]
    assert "非工作时间转来" in rows[0]
    assert "12月9日 08:30" in rows[0]
    assert "投诉" not in rows[1]

    # The conversation page says what the resident was promised and what it is about.
    conv_page = await (await client.get("/console/conversations/" + night.key())).text()
    assert "诉求类别</dt><dd>投诉" in conv_page
    assert "已告知居民" in conv_page


REGISTRY = Registry.from_mapping(
    yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "knowledge" / "registry.yaml").read_text()
    )
)


def turn(text: str, intent: str, ranking: tuple[tuple[str, float], ...] = ()) -> Turn:
    msg = IncomingMessage(
        message_id="m1",
        channel="webhook",
        account="default",
        committee="puxiong",
        chat=Chat("p-u1", ChatType.PRIVATE),
        sender=Sender("u1", "王阿姨"),
        text=text,
    )
    parse = ParseResult(
        text, intent, 0.9, ranking=tuple(IntentScore(name, c) for name, c in ranking)
    )
    conv = Conversation(
        "puxiong:webhook:default:p:u1", "puxiong", "webhook", "default", "p-u1", "private", "u1"
    )
    return Turn(msg, text, REGISTRY.committee("puxiong"), None, parse, conv)


@pytest.mark.parametrize(
    ("text", "intent", "ranking", "earlier", "expected"),
    [
        ("转人工", "request_human", (), [], TicketCategory.CONSULTATION),
        ("我要投诉，找你们社工", "request_human", (), [], TicketCategory.COMPLAINT),
        ("楼上天天半夜拖椅子", "complain", (), [], TicketCategory.COMPLAINT),
        (
            "找个人",
            "request_human",
            (("request_human", 0.6), ("complain", 0.3)),
            [],
            TicketCategory.COMPLAINT,
        ),
        ("转人工", "request_human", (), ["物业不作为，报了三次都没人来"], TicketCategory.COMPLAINT),
        ("转人工", "request_human", (), ["厨房水管漏水了"], TicketCategory.REPAIR),
        (
            "快递单号7712345009丢了，请社工帮忙查",
            "request_human",
            (),
            [],
            TicketCategory.CONSULTATION,
        ),
    ],
)
def test_the_category_is_what_the_residents_words_imply(
    text: str,
    intent: str,
    ranking: tuple[tuple[str, float], ...],
    earlier: list[str],
    expected: TicketCategory,
) -> None:
    assert implied_category(turn(text, intent, ranking), earlier) is expected
