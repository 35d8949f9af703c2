"""Staff alerts through the real application over HTTP: "我来处理" on the inbox (login and
CSRF like a browser) acknowledges the alert and claims its ticket, the red banner shows while
no alert channel works, the admin API, the start-up warning and ``/healthz``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from bot import appkeys
from bot.accounts import Passwords
from bot.accounts.http import ACCOUNTS
from bot.alerts import AlertDelivery
from bot.app import build_app
from bot.settings import Settings
from bot.storage.alerts import AlertStatus

from .conftest import PASSWORD, ROBOT_KEY, Robot, emergency_draft, login

Client = TestClient[web.Request, web.Application]
EMBEDDED_ONLY = pytest.mark.parametrize("backend", ["embedded"], indirect=True)
ALERT_TEXT = "【紧急】普陀一村5号楼：有人说要跳楼。请值班社工立即处置。"
DAILY = {
    "ack_timeout_s": 300,
    "shifts": [{"name": "王芳", "user": "wangfang", "mobile": "13800000001", "days": "daily"}],
}


async def start(
    backend: dict[str, str],
    settings_factory: Callable[..., Settings],
    aiohttp_client: Callable[..., Any],
    robot_base: str,
    *,
    robot_key: str,
) -> Client:
    settings = settings_factory(
        **backend,
        handoff_around_the_clock=True,
        wecom_api_base=robot_base,
        committees={
            "puxiong": {"duty_phone": "021-5555-0101", "staff_robot_key": robot_key, "rota": DAILY}
        },
    )
    app = await build_app(settings, load_models=False)  # no resident writes here
    accounts = app[ACCOUNTS]
    accounts.passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    client: Client = await aiohttp_client(app)
    await accounts.add_user("wangfang", "caseworker", "puxiong", PASSWORD, "王芳")
    await accounts.add_user("lijun", "caseworker", "puxiong", PASSWORD, "李军")
    return client


async def raise_with_ticket(client: Client, source: str) -> tuple[int, str]:
    tickets = client.app[appkeys.TICKETS]
    ticket = (await tickets.intake.create(emergency_draft(), source_message_key=source)).ticket
    result = await client.app[appkeys.ALERTS].raise_alert(
        committee="puxiong",
        source_key=source,
        kind="crisis",
        category="self_harm",
        text=ALERT_TEXT,
        conversation_key="puxiong:webhook:default:p:u1",
    )
    assert result.alert_id is not None
    return result.alert_id, ticket.number


@EMBEDDED_ONLY
async def test_i_take_it_acknowledges_and_claims(
    backend: dict[str, str],
    settings_factory: Callable[..., Settings],
    aiohttp_client: Callable[..., Any],
    robot: tuple[Robot, str],
) -> None:
    stand_in, base = robot
    client = await start(backend, settings_factory, aiohttp_client, base, robot_key=ROBOT_KEY)
    alert_id, number = await raise_with_ticket(client, "puxiong:webhook:default:crisis-1")
    assert stand_in.to(ROBOT_KEY)[0]["mentioned_mobile_list"] == ["13800000001"]

    csrf = await login(client)
    page = await (await client.get("/console/")).text()
    assert "紧急提醒渠道不可用" not in page
    assert "有人说要跳楼" in page
    assert f'action="/console/alerts/{alert_id}/ack"' in page
    assert "我来处理" in page

    refused = await client.post(f"/console/alerts/{alert_id}/ack", allow_redirects=False)
    assert refused.status == 403  # no CSRF token
    alerts = client.app[appkeys.ALERTS]
    assert (await alerts.get(alert_id)).status is AlertStatus.SENT  # type: ignore[union-attr]

    done = await client.post(
        f"/console/alerts/{alert_id}/ack", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert done.status == 303
    page = await (await client.get("/console/")).text()
    assert "已由 <strong>王芳</strong> 处理" in page
    assert f'action="/console/alerts/{alert_id}/ack"' not in page
    ticket = await client.app[appkeys.TICKETS].queries.get("puxiong", number)
    assert ticket.assignee is not None
    assert ticket.assignee.name == "王芳"
    history = await (await client.get(f"/console/tickets/{number}")).text()
    assert "王芳 已确认处理（我来处理）" in history
    assert "已在员工群提醒：王芳" in history
    assert "王芳确认处理" in stand_in.to(ROBOT_KEY)[-1]["content"]

    # A colleague clicking late takes nothing over.
    client.session.cookie_jar.clear()
    late = await login(client, "lijun")
    again = await client.post(
        f"/console/alerts/{alert_id}/ack", data={"csrf_token": late}, allow_redirects=False
    )
    assert again.status == 303
    ticket = await client.app[appkeys.TICKETS].queries.get("puxiong", number)
    assert ticket.assignee is not None
    assert ticket.assignee.name == "王芳"
    missing = await client.post(
        "/console/alerts/999999/ack", data={"csrf_token": late}, allow_redirects=False
    )
    assert missing.status == 404


@EMBEDDED_ONLY
async def test_banner_shows_while_sends_fail_and_hides_once_delivered(
    backend: dict[str, str],
    settings_factory: Callable[..., Settings],
    aiohttp_client: Callable[..., Any],
    robot: tuple[Robot, str],
) -> None:
    stand_in, base = robot
    client = await start(backend, settings_factory, aiohttp_client, base, robot_key=ROBOT_KEY)
    await login(client)
    stand_in.down = True
    alert_id, _ = await raise_with_ticket(client, "puxiong:webhook:default:crisis-2")
    alerts = client.app[appkeys.ALERTS]
    assert (await alerts.get(alert_id)).status is AlertStatus.QUEUED  # type: ignore[union-attr]
    page = await (await client.get("/console/")).text()
    assert "员工提醒发送失败" in page
    health = await (await client.get("/healthz")).json()
    assert health["alerts"] == {"puxiong": "failing"}

    stand_in.down = False
    alerts.retry_base_s = 0.0  # due at once instead of after the backoff
    stored = await alerts.get(alert_id)
    assert stored is not None
    await alerts.store.update(stored, replace(stored, next_attempt_at=stored.created_at))
    assert await alerts.sweep() >= 1
    assert (await alerts.get(alert_id)).status is AlertStatus.SENT  # type: ignore[union-attr]
    page = await (await client.get("/console/")).text()
    assert "员工提醒发送失败" not in page
    assert "紧急提醒渠道不可用" not in page
    health = await (await client.get("/healthz")).json()
    assert health["alerts"] == {"puxiong": "ok"}


@EMBEDDED_ONLY
async def test_no_channel_banner_warning_and_healthz(
    backend: dict[str, str],
    settings_factory: Callable[..., Settings],
    aiohttp_client: Callable[..., Any],
    robot: tuple[Robot, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.app"):
        client = await start(backend, settings_factory, aiohttp_client, robot[1], robot_key="")
    warned = [r for r in caplog.records if "no staff alert channel" in r.getMessage()]
    assert [getattr(r, "committee", None) for r in warned] == ["puxiong"]

    alert_id, number = await raise_with_ticket(client, "puxiong:webhook:default:crisis-3")
    assert (await client.app[appkeys.ALERTS].get(alert_id)).status is AlertStatus.NO_CHANNEL  # type: ignore[union-attr]
    csrf = await login(client)
    for path in ("/console/", f"/console/tickets/{number}", "/console/faqs"):
        page = await (await client.get(path)).text()
        assert "紧急提醒渠道不可用" in page, path
        assert "committees.puxiong.staff_robot_key" in page, path
    # The alert is still on the inbox, with its button: the console is the only channel.
    assert (
        f'action="/console/alerts/{alert_id}/ack"' in await (await client.get("/console/")).text()
    )
    resp = await client.get("/healthz")
    assert resp.status == 200
    health = await resp.json()
    assert health["status"] == "ok"
    assert health["alerts"] == {"puxiong": "no_channel"}
    # The live feed's button posts with the CSRF header (fetch), not a form.
    taken = await client.post(f"/console/alerts/{alert_id}/ack", headers={"X-CSRF-Token": csrf})
    assert taken.status == 200  # followed the redirect to the inbox
    assert "已由 <strong>王芳</strong> 处理" in await taken.text()
    assert robot[0].posts == []


@EMBEDDED_ONLY
async def test_alert_api(
    backend: dict[str, str],
    settings_factory: Callable[..., Settings],
    aiohttp_client: Callable[..., Any],
    robot: tuple[Robot, str],
) -> None:
    client = await start(backend, settings_factory, aiohttp_client, robot[1], robot_key=ROBOT_KEY)
    accounts = client.app[ACCOUNTS]
    mine = {"Authorization": f"Bearer {(await accounts.create_token('wangfang'))[0]}"}
    theirs = {"Authorization": f"Bearer {(await accounts.create_token('lijun'))[0]}"}
    alert_id, number = await raise_with_ticket(client, "puxiong:webhook:default:crisis-4")

    listed = await (await client.get("/api/v1/alerts?status=sent", headers=mine)).json()
    assert [a["id"] for a in listed["alerts"]] == [alert_id]
    assert listed["alerts"][0]["recipients"] == ["王芳"]
    none = await (await client.get("/api/v1/alerts?status=acknowledged", headers=mine)).json()
    assert none["alerts"] == []
    bad = await client.get("/api/v1/alerts?status=whatever", headers=mine)
    assert bad.status == 400

    taken = await client.post(f"/api/v1/alerts/{alert_id}/ack", headers=mine)
    assert taken.status == 200, await taken.text()
    body = await taken.json()
    assert body["acknowledged_now"] is True
    assert body["status"] == "acknowledged"
    assert body["acknowledged_by"]["name"] == "王芳"
    again = await client.post(f"/api/v1/alerts/{alert_id}/ack", headers=mine)
    assert (await again.json())["acknowledged_now"] is False
    late = await client.post(f"/api/v1/alerts/{alert_id}/ack", headers=theirs)
    assert late.status == 409
    ticket = await client.app[appkeys.TICKETS].queries.get("puxiong", number)
    assert ticket.assignee is not None
    assert ticket.assignee.name == "王芳"
    for path in ("/api/v1/alerts/abc/ack", "/api/v1/alerts/424242/ack"):
        assert (await client.post(path, headers=mine)).status == 404
    assert AlertDelivery.SENT.value == "sent"
