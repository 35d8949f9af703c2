"""Nothing lost, nothing doubled: the whole bot (real pipeline, stores and HTTP server) when
the state store loses its keys, when a dead worker left a conversation lock behind, and when
a worker died with messages stored but unanswered (two workers sharing PostgreSQL + Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
import redis.asyncio as redis_async
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from channel_helpers import MP_TOKEN, OPENID, Platform, mp_text, plain_query
from sqlalchemy import func, select

from bot import appkeys
from bot.app import build_app
from bot.channels.ingress import APOLOGY
from bot.domain import Chat, ChatType, IncomingMessage, Sender
from bot.encoders import Encoder
from bot.settings import Settings
from bot.storage import keys
from bot.storage.sql.models import Base, MessageRow
from bot.storage.sql.ticket_models import TicketRow

HOOK = "hook-token"
SEND = "/cgi-bin/message/custom/send"
Client = TestClient[web.Request, web.Application]


def _config(platform: Platform, **stores: str) -> dict[str, Any]:
    return {
        **stores,
        "wechat_api_base": platform.base_url,
        "wecom_api_base": platform.base_url,
        "outbound_backoff_s": 0.01,
        "handoff_around_the_clock": True,
        "channels": {
            "wechat_mp": {
                "plain": {
                    "token": MP_TOKEN,
                    "committee": "puxiong",
                    "app_id": "wx-durable",
                    "app_secret": "secret",
                }
            },
            "webhook": {"tokens": [HOOK], "committee": "puxiong"},
        },
    }


@pytest.fixture
async def start(
    settings_factory: Callable[..., Settings], encoder: Encoder
) -> AsyncIterator[Callable[..., Any]]:
    started: list[Client] = []

    async def make(config: dict[str, Any]) -> Client:
        client: Client = TestClient(
            TestServer(await build_app(settings_factory(**config), encoder=encoder))
        )
        await client.start_server()
        started.append(client)
        return client

    yield make
    for client in started:
        await client.close()


async def _say(client: Client, mid: str, text: str, sender: str = "d1") -> dict[str, Any]:
    body = {
        "message_id": mid,
        "chat": {"id": f"p-{sender}", "type": "private"},
        "sender": {"id": sender, "name": "陈阿姨"},
        "text": text,
    }
    resp = await client.post(
        "/api/v1/messages", json=body, headers={"Authorization": f"Bearer {HOOK}"}
    )
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


async def _empty(url: str) -> None:
    """Start from empty tables (the session's database is shared by many tests)."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
    try:
        if await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL"):
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


def _texts(data: dict[str, Any]) -> list[str]:
    return [r["text"] for r in data["replies"]]


async def _count(client: Client, what: Any, *where: Any) -> int:
    async with client.app[appkeys.DATABASE].session() as s:
        return int(await s.scalar(select(func.count()).select_from(what).where(*where)) or 0)


async def test_replayed_messages_after_the_state_store_lost_its_keys_are_not_applied_again(
    start: Callable[..., Any], backend: dict[str, str], platform: Platform
) -> None:
    """Redis restarted empty (or the single worker restarted): every replayed message id is
    recognised by the log and answered as before; no dialogue turn, no ticket twice."""
    config = _config(platform, **backend)
    bot = await start(config)
    script = ["我要报修", "客厅的灯坏了", "燕宁苑", "3号楼", "1201室", "不用", "湿垃圾几点扔"]
    first = [await _say(bot, f"r-{n}", text) for n, text in enumerate(script)]
    assert first[5]["ticket"] is not None
    key = "puxiong:webhook:default:p:d1"
    before = await bot.app[appkeys.CONVERSATIONS].get(key)
    assert before is not None
    tickets = await _count(bot, TicketRow)
    if backend["redis_url"]:
        client = redis_async.Redis.from_url(backend["redis_url"])
        try:
            await client.flushdb()
        finally:
            await client.aclose()
    else:
        await bot.close()
        bot = await start(config)
    for n, text in enumerate(script):
        again = await _say(bot, f"r-{n}", text)
        assert again.get("duplicate") is True
        assert _texts(again) == _texts(first[n])
    after = await bot.app[appkeys.CONVERSATIONS].get(key)
    assert after is not None
    assert (after.version, after.state) == (before.version, before.state)
    assert await _count(bot, TicketRow) == tickets
    inbound = await _count(bot, MessageRow, MessageRow.direction == "in")
    outbound = await _count(bot, MessageRow, MessageRow.direction == "out")
    assert inbound == len(script)
    assert outbound == sum(len(d["replies"]) for d in first)


async def test_a_lock_left_by_a_dead_worker_does_not_turn_the_next_message_into_an_apology(
    start: Callable[..., Any], backend: dict[str, str], platform: Platform
) -> None:
    bot = await start({**_config(platform, **backend), "lock_lease_s": 1.0})
    state = bot.app[appkeys.STATE]
    # A worker took the conversation lock and was killed: nobody renews or releases it.
    await state.acquire(keys.lock("puxiong:webhook:default:p:d2"), 1.0, 0)
    answered = await _say(bot, "o-1", "我要报修", sender="d2")
    assert APOLOGY not in _texts(answered)
    assert [r["kind"] for r in answered["replies"]] == ["slot"]
    conv = await bot.app[appkeys.CONVERSATIONS].get("puxiong:webhook:default:p:d2")
    assert conv is not None
    assert "draft" in conv.state


async def test_recovery_answers_a_dead_workers_messages_once_with_two_workers(
    start: Callable[..., Any],
    pg_database: str,
    redis_url: str,
    platform: Platform,
) -> None:
    """Two workers share PostgreSQL + Redis. Messages a killed worker stored but never
    answered (one it still held when it died, one stored by a retry that timed out) are
    taken up by the recovery loops and answered once, through the customer-service API."""
    await _empty(pg_database)
    config = {
        **_config(platform, database_url=pg_database, redis_url=redis_url),
        "recovery_interval_s": 0.05,
        "processing_lease_s": 0.5,
    }
    one, two = await start(config), await start(config)

    def message(mid: str, text: str) -> IncomingMessage:
        return IncomingMessage(
            mid,
            "wechat_mp",
            "plain",
            "puxiong",
            Chat(OPENID, ChatType.PRIVATE),
            Sender(OPENID),
            text,
        )

    log, state = one.app[appkeys.MESSAGE_LOG], one.app[appkeys.STATE]
    held = message("9001", "湿垃圾几点扔")
    token = await state.claim(keys.dedup(held.dedup_key), 0.5)
    assert token is not None
    assert (await log.claim_inbound(held, fence=token, lease_s=0.5)).held
    assert await log.record_inbound(message("9002", "你好"))
    await platform.wait_for(SEND, 2)
    await asyncio.sleep(0.5)  # ten more recovery rounds on each worker: nothing more is sent
    sent = [body["text"]["content"] for _, body in platform.of(SEND)]
    assert len(sent) == 2
    # The real pipeline answered both: the greeting, and the rubbish-times question (asked
    # which compound, or offered the rubbish-times entry among choices).
    assert sorted(("哪个小区" in text or "湿垃圾几点" in text) for text in sent) == [False, True]
    for app in (one.app, two.app):
        assert await app[appkeys.INGRESS].recover() == 0
    assert await _count(one, MessageRow, MessageRow.direction == "out") == 2
    unanswered = await _count(
        one, MessageRow, MessageRow.direction == "in", MessageRow.claimed_until.is_not(None)
    )
    assert unanswered == 0
    for msg in (held, message("9002", "你好")):
        status = await log.inbound_status(msg)
        assert status is not None
        assert status.result is not None


async def test_a_message_taken_up_again_after_later_turns_is_not_applied_twice(
    start: Callable[..., Any], backend: dict[str, str], platform: Platform
) -> None:
    """A worker applied a turn and died before storing the answer; the resident wrote on and
    those turns were applied too. When the first message is taken up again, its turn is not
    applied a second time: the same answer, the dialogue where it was."""
    bot = await start(_config(platform, **backend))
    pipeline = bot.app[appkeys.PIPELINE]

    def message(mid: str, text: str) -> IncomingMessage:
        return IncomingMessage(
            mid, "webhook", "default", "puxiong", Chat("p-d3", ChatType.PRIVATE), Sender("d3"), text
        )

    await pipeline.handle(message("a", "我要报修"))
    first = await pipeline.handle(message("b", "客厅的灯坏了"))
    await pipeline.handle(message("c", "燕宁苑"))
    conversations = bot.app[appkeys.CONVERSATIONS]
    before = await conversations.get(message("x", "").conversation_key)
    assert before is not None
    again = await pipeline.handle(message("b", "客厅的灯坏了"))
    assert [r.text for r in again] == [r.text for r in first]
    after = await conversations.get(message("x", "").conversation_key)
    assert after is not None
    assert after.state["draft"] == before.state["draft"]
    assert after.state["draft"]["awaiting"] == "building"


async def test_a_reply_ready_after_wechat_hung_up_goes_out_through_the_api_once(
    start: Callable[..., Any], backend: dict[str, str], platform: Platform
) -> None:
    """WeChat gave up on the callback (5 s passed on its side) while the message was still
    being answered: the answer must not be stored as a passive reply nobody receives. It goes
    out through the customer-service API, once; the retry is acknowledged with nothing."""
    bot = await start(_config(platform, **backend))
    state = bot.app[appkeys.STATE]
    conversation = IncomingMessage(
        "7001", "wechat_mp", "plain", "puxiong", Chat(OPENID, ChatType.PRIVATE), Sender(OPENID), ""
    ).conversation_key
    # The conversation is busy (another message of the resident's is being answered), so the
    # answer comes only after WeChat hung up.
    busy = await state.acquire(keys.lock(conversation), 30, 0)
    body = mp_text("你好", msg_id="7001").encode()
    query = "&".join(f"{k}={v}" for k, v in plain_query().items())
    _, writer = await asyncio.open_connection(bot.host, bot.port)
    writer.write(
        f"POST /wechat/mp/plain?{query} HTTP/1.1\r\nHost: {bot.host}\r\n"
        f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    for _ in range(500):  # until the callback's message is stored
        if await _count(bot, MessageRow, MessageRow.direction == "in"):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the callback never reached the intake")
    writer.close()  # WeChat's 5 s are over: it hangs up (and will retry)
    await writer.wait_closed()
    await asyncio.sleep(0.2)
    await state.unlock(busy.name, busy.token)
    await platform.wait_for(SEND)
    [(_, pushed)] = platform.of(SEND)
    assert pushed["touser"] == OPENID
    assert pushed["text"]["content"].strip()
    retry = await bot.post("/wechat/mp/plain", params=plain_query(), data=body)
    assert retry.status == 200
    assert (await retry.text()).strip() in {"", "success"}
    await asyncio.sleep(0.3)
    assert len(platform.of(SEND)) == 1
    assert await _count(bot, MessageRow, MessageRow.direction == "out") == 1


async def test_a_late_answer_whose_worker_died_mid_send_reaches_the_resident_once(
    start: Callable[..., Any], backend: dict[str, str], platform: Platform
) -> None:
    """A worker answered a message after WeChat's budget (WeChat got "success") and died
    while its customer-service send was on the way (the WeChat API it reached never
    answered). The log must not say the answer was sent: another worker on the same stores
    sends it once the dead sender's claim ran out, once, and records it as sent."""
    hung: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hung.append(writer)  # reads nothing back: the call hangs until the worker dies

    blackhole = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = blackhole.sockets[0].getsockname()[1]
    try:
        dying = await start(
            {
                **_config(platform, **backend),
                "wechat_api_base": f"http://127.0.0.1:{port}",
                "reply_budget_s": 0.01,
                "late_send_lease_s": 1.0,
                "drain_timeout_s": 0.1,
            }
        )
        resp = await dying.post(
            "/wechat/mp/plain", params=plain_query(), data=mp_text("你好", msg_id="8001").encode()
        )
        assert resp.status == 200
        assert (await resp.text()).strip() in {"", "success"}  # acknowledged, answer late
        for _ in range(500):  # until its send is on the way
            if hung:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the late answer was never sent")
        await dying.close()  # killed mid-send: the platform never got the answer
    finally:
        for writer in hung:
            writer.close()
        blackhole.close()
        await blackhole.wait_closed()
    assert platform.of(SEND) == []
    survivor = await start(
        {
            **_config(platform, **backend),
            "recovery_interval_s": 0.05,
            "late_send_lease_s": 1.0,
        }
    )
    await platform.wait_for(SEND)
    await asyncio.sleep(1.5)  # more than a lease of recovery rounds: nothing more is sent
    [(_, pushed)] = platform.of(SEND)
    assert pushed["touser"] == OPENID
    assert pushed["text"]["content"].strip()
    async with survivor.app[appkeys.DATABASE].session() as s:
        deliveries = (
            await s.scalars(select(MessageRow.delivery).where(MessageRow.direction == "out"))
        ).all()
    assert deliveries == ["active"]
    retry = await survivor.post(
        "/wechat/mp/plain", params=plain_query(), data=mp_text("你好", msg_id="8001").encode()
    )
    assert (await retry.text()).strip() in {"", "success"}
    assert len(platform.of(SEND)) == 1
