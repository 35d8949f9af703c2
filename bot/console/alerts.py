"""Staff alerts in the console: the "我来处理" action (acknowledge the alert and claim its
ticket), the inbox's list of urgent alerts, and the red banner every page shows while the
caseworker's committee has no working alert channel."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from bot import appkeys
from bot.accounts.http import ensure_committee, require_user
from bot.alerts import StaffAlerts
from bot.domain import Registry, StoreUnavailable
from bot.domain.accounts import Principal
from bot.domain.clock import SHANGHAI
from bot.domain.tickets import ActionNotAllowed, Actor, TicketNotFound
from bot.storage.alerts import AlertStatus, StaffAlert

log = logging.getLogger(__name__)

RECENT = timedelta(hours=24)
"""Acknowledged alerts stay on the inbox this long (who took it)."""

KIND_LABELS = {"crisis": "危机（自伤/自杀风险）", "emergency": "紧急求助", "handoff": "转人工"}
CATEGORY_LABELS = {
    "self_harm": "自伤/自杀风险",
    "welfare": "独居/联系不上",
    "medical": "急救",
    "fire": "火情",
    "gas": "燃气",
    "lift": "电梯",
    "flood": "漏水进水",
    "violence": "暴力/闯入",
    "missing_child": "儿童走失",
    "other": "紧急情况",
}

NO_CHANNEL_TEXT = (
    "紧急提醒没有推送给任何人：{name}尚未配置员工提醒渠道（企业微信群机器人），"
    "危机和紧急求助只会显示在本工作台，居民会被告知拨打值班电话。"
    "请管理员在配置文件中设置 committees.{id}.staff_robot_key（并填写值班表 "
    "committees.{id}.rota），在此之前请保持工作台常开。"
)
FAILING_TEXT = (
    "员工提醒发送失败：{name}最近一次紧急提醒未能推送到企业微信群（正在自动重试）。"
    "请检查 committees.{id}.staff_robot_key 和服务器网络；恢复前紧急提醒只显示在本工作台。"
)


def _alerts(request: web.Request) -> StaffAlerts | None:
    return request.config_dict.get(appkeys.ALERTS)


async def alert_banner(request: web.Request, registry: Registry, user: Principal | None) -> str:
    """The red banner's text for ``user`` ("" when every channel in their scope works)."""
    alerts = _alerts(request)
    if alerts is None or user is None:
        return ""
    committees = [c for c in registry.committees if user.committee in (None, c.id)]
    lines = []
    for committee in committees:
        try:
            state = await alerts.channel_state(committee.id)
        except StoreUnavailable:
            continue
        if state == "no_channel":
            lines.append(NO_CHANNEL_TEXT.format(name=committee.name, id=committee.id))
        elif state == "failing":
            lines.append(FAILING_TEXT.format(name=committee.name, id=committee.id))
    return "\n".join(lines)


def _local(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(SHANGHAI).strftime("%m-%d %H:%M")


def alert_row(alert: StaffAlert, query: str = "") -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": KIND_LABELS.get(alert.kind, alert.kind),
        "crisis": alert.kind == "crisis",
        "category": CATEGORY_LABELS.get(alert.category, alert.category),
        "text": alert.text,
        "status": alert.status.value,
        "status_label": alert.status.label,
        "open": alert.is_open,
        "level": alert.level,
        "recipients": "、".join(alert.recipients),
        "by": alert.acknowledged_by_name,
        "acked_at": _local(alert.acknowledged_at),
        "at": _local(alert.created_at),
        "ticket": alert.ticket_number or "",
        "ticket_href": (
            "/console/tickets/" + quote(alert.ticket_number, safe="") + query
            if alert.ticket_number
            else ""
        ),
        "conversation_href": (
            "/console/conversations/" + quote(alert.conversation_key, safe=":@")
            if alert.conversation_key
            else ""
        ),
        "action": f"/console/alerts/{alert.id}/ack",
    }


async def inbox_alerts(request: web.Request, committee: str, query: str) -> list[dict[str, Any]]:
    """Open alerts, then those acknowledged in the last day (newest first)."""
    alerts = _alerts(request)
    if alerts is None:
        return []
    since = datetime.now(UTC) - RECENT
    # Alerts whose ticket a caseworker claimed are acknowledged for them first.
    await alerts.open_alerts(committee)
    rows = [
        a
        for a in await alerts.store.search(committee, limit=100)
        if a.is_open or (a.acknowledged_at is not None and a.acknowledged_at >= since)
    ]
    rows.sort(key=lambda a: (not a.is_open, -a.id))
    return [alert_row(a, query) for a in rows]


async def acknowledge(request: web.Request) -> web.StreamResponse:
    """ "我来处理": acknowledge the alert (escalation stops) and claim its ticket."""
    principal = await require_user(request)
    alerts = _alerts(request)
    raw = request.match_info["alert_id"]
    if alerts is None or not raw.isdigit() or len(raw) > 18:
        raise web.HTTPNotFound()
    alert = await alerts.get(int(raw))
    if alert is None:
        raise web.HTTPNotFound()
    ensure_committee(principal, alert.committee)
    actor = Actor.caseworker(str(principal.user_id), principal.label)
    # Whoever acknowledges first takes the ticket; a late second click changes nothing.
    taken = alert.status is not AlertStatus.ACKNOWLEDGED and await alerts.acknowledge(
        alert.id, actor.id, actor.name
    )
    # Acknowledging linked the alert to its ticket when one was opened for the message.
    after = await alerts.get(alert.id) if taken else None
    number = after.ticket_number if after is not None else None
    if number is not None:
        try:
            await request.config_dict[appkeys.TICKETS].workflow.claim(
                alert.committee, number, actor=actor
            )
        except (ActionNotAllowed, TicketNotFound) as exc:
            log.info("alert's ticket not claimed", extra={"alert": alert.id, "reason": str(exc)})
    query = "" if principal.committee else "?" + urlencode({"committee": alert.committee})
    raise web.HTTPSeeOther("/console/" + query + "#alerts")


def add_alert_pages(console: web.Application) -> None:
    console.router.add_post("/alerts/{alert_id}/ack", acknowledge)
