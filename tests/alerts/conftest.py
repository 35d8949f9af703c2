"""Fixtures of the staff alert tests: the real stores on each back-end, the real outbound
sender talking to a local aiohttp server that stands in for the WeCom group-robot API, and a
settable clock."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.alerts import StaffAlerts
from bot.app import build_state, load_registry
from bot.background import BackgroundTasks
from bot.channels.outbound import OutboundSender
from bot.domain import Chat, ChatType, IncomingMessage, Sender
from bot.domain.clock import SHANGHAI
from bot.domain.tickets import Reporter, TicketCategory, TicketDraft
from bot.settings import Settings
from bot.storage.sql import Database, SqlAlertStore, SqlTicketStore
from bot.storage.state import StateStore
from bot.tickets import Tickets

PASSWORD = "correct horse 1"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
ROBOT_KEY = "committee-robot-key"
STREET_KEY = "street-robot-key"
ROTA: dict[str, Any] = {
    "ack_timeout_s": 60,
    "shifts": [
        {
            "name": "王芳",
            "user": "wangfang",
            "mobile": "13800000001",
            "days": "mon-fri",
            "hours": "08:30-17:30",
        },
        {
            "name": "李军",
            "user": "lijun",
            "mobile": "13800000002",
            "days": "mon-fri",
            "hours": "17:30-08:30",
        },
        {"name": "陈静", "mobile": "13800000003", "days": "sat,sun", "hours": "00:00-24:00"},
    ],
}
STREET = {"duty_name": "街道张主任", "duty_phone": "13900000009", "staff_robot_key": STREET_KEY}


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def monday_10() -> datetime:
    """Monday 2026-12-07 10:00 in Shanghai: 王芳's day shift."""
    return datetime(2026, 12, 7, 10, 0, tzinfo=SHANGHAI)


@dataclass
class Robot:
    """The WeCom group-robot API: records what each key received; ``fail`` answers the next
    calls with errcode -1 (system busy), ``down`` with HTTP 500 until cleared."""

    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail: int = 0
    down: bool = False
    delay_s: float = 0.0

    def to(self, key: str) -> list[dict[str, Any]]:
        return [body["text"] for k, body in self.posts if k == key]

    async def handle(self, request: web.Request) -> web.Response:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.down:
            return web.Response(status=500, text="down")
        if self.fail > 0:
            self.fail -= 1
            return web.json_response({"errcode": -1, "errmsg": "system busy"})
        self.posts.append((request.query["key"], await request.json()))
        return web.json_response({"errcode": 0, "errmsg": "ok"})


@pytest.fixture
async def robot() -> AsyncIterator[tuple[Robot, str]]:
    stand_in = Robot()
    app = web.Application()
    app.router.add_post("/cgi-bin/webhook/send", stand_in.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield stand_in, str(server.make_url("")).rstrip("/")
    await server.close()


@dataclass
class Stack:
    alerts: StaffAlerts
    tickets: Tickets
    robot: Robot
    clock: Clock
    settings: Settings
    tasks: BackgroundTasks


@pytest.fixture
async def make_stack(
    backend: dict[str, str],
    settings_factory: Callable[..., Settings],
    robot: tuple[Robot, str],
) -> AsyncIterator[Callable[..., Any]]:
    opened: list[tuple[Database, aiohttp.ClientSession, StateStore]] = []

    async def make(
        *,
        robot_key: str = ROBOT_KEY,
        street: dict[str, str] | None = None,
        alert_wait_s: float = 5.0,
    ) -> Stack:
        settings = settings_factory(
            **backend,
            wecom_api_base=robot[1],
            committees={
                "puxiong": {
                    "duty_phone": "021-5555-0101",
                    "office_phone": "021-5555-0100",
                    "staff_robot_key": robot_key,
                    "rota": ROTA,
                }
            },
            street=STREET if street is None else street,
            alert_send_timeout_s=5.0,
            alert_wait_s=alert_wait_s,
        )
        db = Database.connect(settings.effective_database_url)
        await db.migrate()
        http = aiohttp.ClientSession()
        state = build_state(settings)
        opened.append((db, http, state))
        registry = load_registry(settings)
        tickets = Tickets.build(SqlTicketStore(db), registry)
        clock = Clock(monday_10())
        sender = OutboundSender(http, state, settings)
        tasks = BackgroundTasks()
        alerts = StaffAlerts(
            SqlAlertStore(db),
            settings,
            sender,
            tickets.queries,
            tickets.workflow,
            registry,
            tasks=tasks,
            clock=clock,
        )
        return Stack(alerts, tickets, robot[0], clock, settings, tasks)

    yield make
    for db, http, state in opened:
        await http.close()
        await state.close()
        await db.close()


def emergency_draft(sender: str = "u1") -> TicketDraft:
    msg = IncomingMessage(
        message_id="m1",
        channel="webhook",
        account="default",
        committee="puxiong",
        chat=Chat(f"p-{sender}", ChatType.PRIVATE),
        sender=Sender(sender, "王阿姨"),
        text="",
    )
    return TicketDraft(
        committee="puxiong",
        category=TicketCategory.EMERGENCY,
        description="我妈一个人住，两天打电话都不接",
        reporter=Reporter.from_message(msg),
    )


async def csrf_from(client: TestClient[web.Request, web.Application], path: str) -> str:
    resp = await client.get(path)
    assert resp.status == 200, path
    match = CSRF_RE.search(await resp.text())
    assert match, f"no CSRF token on {path}"
    return match.group(1)


async def login(
    client: TestClient[web.Request, web.Application], username: str = "wangfang"
) -> str:
    """Log in like a browser; returns the session's CSRF token."""
    token = await csrf_from(client, "/console/login")
    resp = await client.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    return await csrf_from(client, "/console/")
