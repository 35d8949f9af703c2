"""Group etiquette through the generic webhook with a gateway push endpoint, on both back-ends
(SQLite + in-process state, PostgreSQL + Redis): a question nobody in the group answers gets
one answer quoting it after the group's delay (the clock is the app's, set by the test), the
same question from five residents gets one reply naming them, a phone number in the group is
never echoed and is stored masked, and "别在群里回我" moves the resident's replies to private."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from channel_helpers import (
    ROBOT_KEY,
    WECOM_KEY,
    WECOM_TOKEN,
    Platform,
    bot_text,
    open_wecom_reply,
    wecom_request,
)
from conversation_helpers import PUSH_PATH, ROBOT_PATH, Resident, texts

from bot import appkeys
from bot.app import build_app
from bot.channels.group import POSTS_PER_MINUTE, group_throttle
from bot.domain import Chat, ChatType, IncomingMessage, MessageType, Sender
from bot.encoders import Encoder
from bot.settings import Settings

GROUP = "g-yanningyuan"
QUESTION = "高龄津贴怎么领"
ANSWER_MARK = "老年综合津贴"
NAMES = ["王阿姨", "李叔叔", "张老师", "赵奶奶", "陈师傅"]

Client = TestClient[web.Request, web.Application]


class Clock:
    """The app's clock, moved by the test (no sleeping for minutes)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def workers(
    settings_factory: Callable[..., Settings],
    config: dict[str, Any],
    encoder: Encoder,
    clock: Clock,
) -> AsyncIterator[Callable[..., Any]]:
    """Start workers sharing the test's stores and clock; ``groups`` is the committee's group
    etiquette. The periodic loop runs rarely: the test sends what is due with ``flush``."""
    started: list[Client] = []

    async def make(**groups: Any) -> Client:
        committees = {"puxiong": {"staff_robot_key": ROBOT_KEY, "groups": groups}}
        settings = settings_factory(
            **{**config, "committees": committees, "group_post_interval_s": 3600.0}
        )
        app = await build_app(settings, encoder=encoder, clock=clock)
        client: Client = TestClient(TestServer(app))
        await client.start_server()
        started.append(client)
        return client

    yield make
    for client in started:
        await client.close()


def residents(bot: Client, n: int = 2) -> list[Resident]:
    return [
        Resident(bot, f"ge-{i}", chat=GROUP, group=True, name=NAMES[i], counter=[0])
        for i in range(n)
    ]


def group_pushes(platform: Platform) -> list[dict[str, Any]]:
    return [b for _, b in platform.of(PUSH_PATH) if b["chat"]["type"] == "group"]


async def flush(bot: Client) -> int:
    sent: int = await bot.app[appkeys.ETIQUETTE].flush()
    return sent


async def test_an_unanswered_question_is_answered_once_after_the_delay_even_across_a_restart(
    workers: Callable[..., Any], platform: Platform, clock: Clock
) -> None:
    first = await workers(answer_unanswered=True)
    wang = residents(first, 1)[0]
    heard = await wang.say(QUESTION, mentioned=False)
    assert heard["replies"] == []  # not addressed: no reply at once
    clock.advance(170)
    assert await flush(first) == 0
    assert group_pushes(platform) == []
    await first.close()  # the worker that heard it is gone; the answer is not

    a, b = await workers(answer_unanswered=True), await workers(answer_unanswered=True)
    clock.advance(11)  # three minutes after the question
    sent = await asyncio.gather(flush(a), flush(b))
    assert sum(sent) == 1
    [post] = group_pushes(platform)
    assert post["chat"]["id"] == GROUP
    assert f"「{QUESTION}」" in post["text"]
    assert ANSWER_MARK in post["text"]
    assert "@王阿姨" in post["text"]
    clock.advance(600)
    assert await flush(a) + await flush(b) == 0
    assert len(group_pushes(platform)) == 1
    logged = await a.app[appkeys.MESSAGE_LOG].conversation(wang.key())
    assert [m.text for m in logged if m.direction == "out"] == [post["text"]]


async def test_a_question_a_neighbour_answered_gets_no_delayed_answer(
    workers: Callable[..., Any], platform: Platform, clock: Clock
) -> None:
    bot = await workers(answer_unanswered=True)
    wang, li = residents(bot)
    await wang.say(QUESTION, mentioned=False)
    clock.advance(60)
    await li.say("去居委会办公室领，带上身份证就行", mentioned=False)
    clock.advance(300)
    assert await flush(bot) == 0
    assert group_pushes(platform) == []


async def test_off_by_default_nothing_is_answered_unaddressed(
    workers: Callable[..., Any], platform: Platform, clock: Clock
) -> None:
    bot = await workers()
    await residents(bot, 1)[0].say(QUESTION, mentioned=False)
    clock.advance(3600)
    assert await flush(bot) == 0
    assert group_pushes(platform) == []


@pytest.mark.parametrize("addressed", [False, True], ids=["unaddressed", "addressed"])
async def test_five_residents_same_question_get_one_reply_naming_them(
    workers: Callable[..., Any], platform: Platform, clock: Clock, addressed: bool
) -> None:
    bot = await workers(answer_unanswered=True, merge_window_s=60)
    five = residents(bot, 5)
    for i, resident in enumerate(five):
        data = await resident.say(QUESTION + "？" * (i % 2), mentioned=addressed)
        assert data["replies"] == []  # held: one reply for everyone
        clock.advance(5)
    clock.advance(180)
    assert await flush(bot) == 1
    [post] = group_pushes(platform)
    assert all(f"@{name}" in post["text"] for name in NAMES)
    assert post["text"].count("「") == 1
    clock.advance(600)
    assert await flush(bot) == 0


async def test_a_phone_number_in_the_group_goes_private_and_is_stored_masked(
    workers: Callable[..., Any], platform: Platform
) -> None:
    bot = await workers()
    wang, li = residents(bot)
    data = await wang.say("我要报修，楼道灯坏了，我电话13912345678")
    public = [r for r in data["replies"] if not r.get("private")]
    private = [r for r in data["replies"] if r.get("private")]
    assert len(public) == 1
    assert "私聊" in public[0]["text"]
    assert "电话号码" in public[0]["text"]
    assert private, "the request goes on privately"
    assert "13912345678" not in public[0]["text"]
    assert "****" not in public[0]["text"]
    await li.say("我是3号楼502室的李叔叔，有事打我电话13812345678", mentioned=False)
    log = bot.app[appkeys.MESSAGE_LOG]
    stored = [m.text for m in await log.conversation(wang.key()) if m.direction == "in"]
    assert stored == ["我要报修，楼道灯坏了，我电话139****5678"]
    stored = [m.text for m in await log.conversation(li.key()) if m.direction == "in"]
    assert stored == ["我是3号楼***室的李叔叔，有事打我电话138****5678"]


async def test_a_resident_who_asks_not_to_be_answered_in_the_group_is_answered_privately(
    workers: Callable[..., Any],
) -> None:
    bot = await workers()
    wang, li = residents(bot)
    ok = await wang.say("别在群里回我了")
    [confirm] = ok["replies"]
    assert confirm["private"] is True
    assert "私信" in confirm["text"]
    answer = await wang.say(QUESTION)
    assert answer["replies"]
    assert all(r.get("private") for r in answer["replies"])
    assert ANSWER_MARK in texts(answer)
    # only this resident: a neighbour is answered in the group as before
    other = await li.say(QUESTION)
    assert other["replies"]
    assert not any(r.get("private") for r in other["replies"])
    back = await wang.say("以后可以在群里回复我")
    assert "群里回复" in texts(back)
    again = await wang.say(QUESTION)
    assert not any(r.get("private") for r in again["replies"])


async def test_try_shows_the_delayed_answer_to_a_question_sent_without_at(
    workers: Callable[..., Any], clock: Clock
) -> None:
    bot = await workers()
    sender = "try-etq-a"
    body = {
        "text": QUESTION,
        "chat": {"id": GROUP, "type": "group"},
        "sender": {"id": sender, "name": "王阿姨"},
        "mentioned": False,
    }
    resp = await bot.post("/try/messages", json=body)
    assert (await resp.json())["replies"] == []
    clock.advance(21)
    assert await flush(bot) == 1
    resp = await bot.get("/try/updates", params={"sender": sender, "chat": GROUP, "type": "group"})
    [update] = (await resp.json())["messages"]
    assert f"「{QUESTION}」" in update["text"]
    assert ANSWER_MARK in update["text"]


WECOM_GROUP = "g-putuoyicun"
GROUP_ROBOT = "robot-of-putuoyicun"


async def wecom_say(bot: Client, user: str, text: str, n: int) -> str:
    """A WeCom AI-bot group message from ``user``; the text of the passive reply."""
    payload = bot_text(text, msgid=f"etq-{user}-{n}")
    payload["from"] = {"userid": user}
    query, body = wecom_request(payload)
    resp = await bot.post("/wechat/wecom-bot/residents", params=query, data=body)
    assert resp.status == 200
    raw = await resp.text()
    if not raw:
        return ""
    reply = open_wecom_reply(raw)
    content: str = reply["stream"]["content"]
    return content


@pytest.fixture
def wecom(config: dict[str, Any]) -> dict[str, Any]:
    bots = {
        "residents": {"token": WECOM_TOKEN, "encoding_aes_key": WECOM_KEY, "committee": "puxiong"}
    }
    return {**config["channels"], "wecom_bot": bots}


async def test_a_wecom_group_with_a_robot_gets_one_merged_post_mentioning_the_askers(
    settings_factory: Callable[..., Settings],
    config: dict[str, Any],
    encoder: Encoder,
    clock: Clock,
    platform: Platform,
    wecom: dict[str, Any],
) -> None:
    committees = {
        "puxiong": {
            "staff_robot_key": ROBOT_KEY,
            "group_chats": {WECOM_GROUP: {"merge_window_s": 30, "robot_key": GROUP_ROBOT}},
        }
    }
    settings = settings_factory(
        **{**config, "channels": wecom, "committees": committees, "group_post_interval_s": 3600}
    )
    app = await build_app(settings, encoder=encoder, clock=clock)
    async with TestClient(TestServer(app)) as bot:
        users = ["zhangsan", "lisi", "wangwu"]
        for i, user in enumerate(users):
            assert await wecom_say(bot, user, f"@邻里 {QUESTION}", i) == ""
        clock.advance(31)
        assert await flush(bot) == 1
        [post] = [b for q, b in platform.of(ROBOT_PATH) if q["key"] == GROUP_ROBOT]
        assert post["text"]["mentioned_list"] == users
        assert ANSWER_MARK in post["text"]["content"]
        # The AI bot cannot message privately: one line in the group, nothing echoed.
        said = await wecom_say(bot, "zhaoliu", "@邻里 我身份证号310104199001011234办什么", 9)
        assert "私聊邻里" in said
        assert "身份证号" in said
        assert "1234" not in said


async def test_a_wecom_group_without_a_robot_is_answered_at_once(
    settings_factory: Callable[..., Settings],
    config: dict[str, Any],
    encoder: Encoder,
    clock: Clock,
    wecom: dict[str, Any],
) -> None:
    committees = {"puxiong": {"groups": {"merge_window_s": 30, "answer_unanswered": True}}}
    settings = settings_factory(**{**config, "channels": wecom, "committees": committees})
    app = await build_app(settings, encoder=encoder, clock=clock)
    async with TestClient(TestServer(app)) as bot:
        assert ANSWER_MARK in await wecom_say(bot, "zhangsan", f"@邻里 {QUESTION}", 1)


async def test_a_group_at_its_rate_limit_keeps_its_answers_queued_and_merges_them(
    workers: Callable[..., Any], platform: Platform, clock: Clock
) -> None:
    bot = await workers(answer_unanswered=True)
    wang, li = residents(bot)
    await wang.say(QUESTION, mentioned=False)
    state = bot.app[appkeys.STATE]
    throttle = group_throttle("webhook", "default", GROUP)
    for _ in range(POSTS_PER_MINUTE):
        assert await state.reserve(throttle, POSTS_PER_MINUTE, 60.0) == 0
    clock.advance(181)
    assert await flush(bot) == 0  # no free slot this minute: queued, not dropped
    assert group_pushes(platform) == []
    # A neighbour speaking now does not cancel an answer that is owed already; their own
    # question joins the queue.
    await li.say("小孩打预防针去哪里打啊", mentioned=False)
    clock.advance(181)
    await state.delete(throttle)  # the minute has passed
    assert await flush(bot) == 1
    [post] = group_pushes(platform)
    assert f"「{QUESTION}」" in post["text"]
    assert "「小孩打预防针去哪里打啊」" in post["text"]
    assert "@王阿姨" in post["text"]
    assert "@李叔叔" in post["text"]


async def test_a_photo_from_a_neighbour_counts_as_an_answer(
    workers: Callable[..., Any], platform: Platform, clock: Clock
) -> None:
    bot = await workers(answer_unanswered=True)
    await residents(bot, 1)[0].say(QUESTION, mentioned=False)
    clock.advance(30)
    photo = IncomingMessage(
        "etq-photo-1",
        "webhook",
        "default",
        "puxiong",
        Chat(GROUP, ChatType.GROUP),
        Sender("ge-9", "李叔叔"),
        "",
        type=MessageType.IMAGE,
        mentioned=False,
        media_id="media-1",
    )
    assert await bot.app[appkeys.PIPELINE].handle(photo) == []
    clock.advance(300)
    assert await flush(bot) == 0
    assert group_pushes(platform) == []
