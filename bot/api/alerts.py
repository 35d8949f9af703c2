"""Staff alerts: the committee's alerts (``?status=`` to filter) and "我来处理" — acknowledge
an alert (its escalation stops) and claim its ticket for the caller."""

from __future__ import annotations

import logging

from aiohttp import web

from bot import appkeys
from bot.accounts.http import ApiError
from bot.api import models
from bot.api.common import acting, actor_of, ok
from bot.domain.tickets import ActionNotAllowed, TicketNotFound
from bot.storage.alerts import AlertStatus, StaffAlert

log = logging.getLogger(__name__)

MAX_ALERTS = 200
STATUSES = [s.value for s in AlertStatus]


async def list_alerts(request: web.Request) -> web.Response:
    """Alerts of the committee, newest first (at most 200)."""
    _, committee = await acting(request)
    wanted = request.query.get("status", "")
    statuses = None
    if wanted:
        if wanted not in STATUSES:
            raise ApiError(400, "bad_status", "status 取值应为：" + "、".join(STATUSES))
        statuses = frozenset({AlertStatus(wanted)})
    found = await request.config_dict[appkeys.ALERTS].store.search(
        committee, statuses, limit=MAX_ALERTS
    )
    return ok(models.AlertList(alerts=[models.Alert.model_validate(a.to_dict()) for a in found]))


async def _alert(request: web.Request, committee: str) -> StaffAlert:
    raw = request.match_info["alert_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError(404, "not_found", "没有找到该提醒。")
    alert = await request.config_dict[appkeys.ALERTS].get(int(raw))
    if alert is None or alert.committee != committee:
        raise ApiError(404, "not_found", "没有找到该提醒。")
    return alert


async def acknowledge(request: web.Request) -> web.Response:
    """The caller takes the alert and its ticket; 409 when someone else took it first."""
    principal, committee = await acting(request)
    alert = await _alert(request, committee)
    actor = actor_of(principal)
    alerts, tickets = (
        request.config_dict[appkeys.ALERTS],
        request.config_dict[appkeys.TICKETS].workflow,
    )
    taken = await alerts.acknowledge(alert.id, actor.id, actor.name)
    after = await alerts.get(alert.id) or alert
    if not taken and after.acknowledged_by != actor.id:
        raise ApiError(409, "already_acknowledged", f"该提醒已由{after.acknowledged_by_name}处理。")
    # Acknowledging linked the alert to its ticket when one was opened for the message.
    if taken and after.ticket_number is not None:
        try:
            await tickets.claim(committee, after.ticket_number, actor=actor)
        except (ActionNotAllowed, TicketNotFound) as exc:
            log.info("alert's ticket not claimed", extra={"alert": alert.id, "reason": str(exc)})
    return ok(models.AlertAck.model_validate({**after.to_dict(), "acknowledged_now": taken}))
