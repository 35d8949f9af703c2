"""Staff alerts that are true: recorded before they are sent, sent to a configured channel,
retried until delivered, escalated until a caseworker acknowledges them.

Contracts:

* **Idempotent.** One alert per ``(source_key, kind)``: raising it again (a retried or
  recovered message) returns the first alert's result and sends nothing.
* **Durable first.** The alert row is committed before anything is sent; a worker that dies
  mid-send leaves a queued row that :meth:`StaffAlerts.sweep` takes up after a short lease.
* **Honest.** ``SENT`` only when the WeCom robot answered errcode 0; ``QUEUED`` when the
  send failed or timed out and will be retried; ``NO_CHANNEL`` when the committee (and the
  street office) has no robot configured — then nothing is claimed, and the caller gives
  the duty phone instead.
* **Escalation.** An alert not acknowledged ("我来处理" in the console) within the rota's
  ``ack_timeout_s`` is re-sent mentioning the next person on the rota, and after another
  timeout goes to the street office's duty contact. A ticket claimed by a caseworker
  counts as acknowledged.
* **History.** Every step is kept on the alert and put on the ticket's internal history as
  soon as the ticket is known (at once, or when :meth:`attach_ticket` or the sweep finds it).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.alerts.rota import Person, next_on_rota, on_duty, person_for_user, street_contact
from bot.background import BackgroundTasks
from bot.domain import LinliError, Registry, RegistryError, StoreUnavailable
from bot.domain.tickets import Actor, TicketError
from bot.settings import CommitteeConfig, Settings
from bot.storage.alerts import (
    AlertStatus,
    AlertStore,
    NewAlert,
    StaffAlert,
)
from bot.tickets import TicketQueries, TicketWorkflow

log = logging.getLogger(__name__)

MAX_SOURCE_KEY = 300
MAX_TEXT = 2000
MAX_LABEL = 32
COMMITTEE_LEVEL = 1
"""Levels 0 and 1 go to the committee's staff group; level 2 to the street office."""
STREET_LEVEL = 2


class AlertDelivery(enum.StrEnum):
    SENT = "sent"
    """The robot API accepted the alert (errcode 0)."""
    QUEUED = "queued"
    """Recorded durably for a configured channel; the send is being retried."""
    NO_CHANNEL = "no_channel"
    """No working channel: staff were NOT told (only the console shows it)."""


@dataclass(frozen=True)
class AlertResult:
    delivery: AlertDelivery
    alert_id: int | None
    duty_phone: str
    """The committee's duty phone (else its office phone, else ""): give it to the resident
    whenever ``staff_told`` is False."""
    recipients: tuple[str, ...]
    """Who was mentioned (names from the rota), for logs and the console."""

    @property
    def staff_told(self) -> bool:
        """True when a reply may say that staff were alerted."""
        return self.delivery in {AlertDelivery.SENT, AlertDelivery.QUEUED}


class RobotSender(Protocol):
    """What sends into a WeCom group (``bot.channels.outbound.OutboundSender``)."""

    async def send_group_robot_text(
        self,
        key: str,
        text: str,
        *,
        mentioned_list: Sequence[str] = (),
        mentioned_mobiles: Sequence[str] = (),
        retries: int | None = None,
    ) -> int: ...


UserNames = Callable[[str], Awaitable[str | None]]
"""A console user id → that user's login name (None when unknown)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Plan:
    """One step's delivery: which robot, whom to mention, what to say, what to record."""

    key: str
    people: tuple[Person, ...]
    mention_all: bool
    message: str
    summary: str
    step: str


class StaffAlerts:
    def __init__(
        self,
        store: AlertStore,
        settings: Settings,
        sender: RobotSender,
        tickets: TicketQueries,
        workflow: TicketWorkflow,
        registry: Registry | None = None,
        *,
        user_names: UserNames | None = None,
        tasks: BackgroundTasks | None = None,
        clock: Callable[[], datetime] = _utcnow,
        max_attempts: int = 10,
        retry_base_s: float = 5.0,
        retry_max_s: float = 300.0,
    ) -> None:
        self._store = store
        self._settings = settings
        self._sender = sender
        self._tickets = tickets
        self._workflow = workflow
        self._registry = registry
        self._user_names = user_names
        self._tasks = tasks
        self._clock = clock
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s

    @property
    def store(self) -> AlertStore:
        return self._store

    # -- configuration -------------------------------------------------------------------------

    def _conf(self, committee: str) -> CommitteeConfig:
        return self._settings.committees.get(committee) or CommitteeConfig()

    def _committee_key(self, committee: str) -> str:
        """The robot of the committee's staff group, else the street office's."""
        return self._conf(committee).staff_robot_key or self._settings.street.staff_robot_key

    def has_channel(self, committee: str) -> bool:
        """True when an alert for ``committee`` has somewhere to go (its staff group robot,
        or the street office's)."""
        return bool(self._committee_key(committee))

    def duty_phone(self, committee: str) -> str:
        conf = self._conf(committee)
        return conf.duty_phone or conf.office_phone or ""

    def ack_timeout(self, committee: str) -> timedelta:
        return timedelta(seconds=self._conf(committee).rota.ack_timeout_s)

    async def channel_state(self, committee: str) -> str:
        """``ok``, ``no_channel`` (nothing configured) or ``failing`` (the last alert send
        failed and is not delivered yet)."""
        if not self.has_channel(committee):
            return "no_channel"
        last = await self._store.last_attempted(committee)
        if (
            last is not None
            and last.last_error
            and last.status in {AlertStatus.QUEUED, AlertStatus.FAILED}
        ):
            return "failing"
        return "ok"

    def _top_level(self) -> int:
        return STREET_LEVEL if street_contact(self._settings.street) else COMMITTEE_LEVEL

    # -- raising -------------------------------------------------------------------------------

    async def raise_alert(
        self,
        *,
        committee: str,
        source_key: str,
        kind: str,
        category: str,
        text: str,
        conversation_key: str | None = None,
        ticket_number: str | None = None,
        holder: str | None = None,
    ) -> AlertResult:
        """Record the alert, then send it to the committee's channel (waiting at most
        ``alert_send_timeout_s``). ``text`` must be masked already (no full phone numbers).
        ``holder``: the console user id (or user name) of the caseworker holding the
        conversation; they are mentioned too. Raises ValueError for an empty or oversized
        key, kind or text; StoreUnavailable when the alert cannot be recorded."""
        source_key = source_key.strip()
        if not source_key or len(source_key) > MAX_SOURCE_KEY:
            raise ValueError(f"source_key must be 1 to {MAX_SOURCE_KEY} characters")
        if not kind or len(kind) > MAX_LABEL or len(category) > MAX_LABEL:
            raise ValueError(f"kind and category must be at most {MAX_LABEL} characters")
        text = text.replace("\x00", "").strip()[:MAX_TEXT]
        if not text:
            raise ValueError("alert text is empty")
        now = self._now()
        channel = self.has_channel(committee)
        lease = timedelta(seconds=self._settings.alert_send_timeout_s + 30)
        steps: tuple[Mapping[str, Any], ...] = ()
        if not channel:
            steps = (
                _step(
                    now,
                    "no_channel",
                    "未配置员工提醒渠道（企业微信群机器人），本次提醒只显示在工作台，"
                    "没有推送给任何人。",
                    0,
                ),
            )
        alert, created = await self._store.insert(
            NewAlert(
                committee=committee,
                source_key=source_key,
                kind=kind,
                category=category,
                text=text,
                conversation_key=conversation_key,
                ticket_number=ticket_number or None,
                holder=(holder or "").strip()[:128] or None,
                status=AlertStatus.QUEUED if channel else AlertStatus.NO_CHANNEL,
                created_at=now,
                next_attempt_at=now + lease if channel else None,
                steps=steps,
            )
        )
        if not created:
            log.info("staff alert already raised", extra={"alert": alert.id, "kind": kind})
            return self._result(alert)
        if not channel:
            log.warning(
                "staff alert has no channel: only the console shows it",
                extra={"alert": alert.id, "committee": committee, "kind": kind},
            )
            await self._flush(alert)
            return self._result(alert)
        alert = await self._first_send(alert, now)
        log.info(
            "staff alert raised",
            extra={
                "alert": alert.id,
                "committee": committee,
                "kind": kind,
                "category": category,
                "status": alert.status.value,
            },
        )
        return self._result(alert)

    async def _first_send(self, alert: StaffAlert, now: datetime) -> StaffAlert:
        """Send now, waiting at most ``alert_wait_s`` for the robot's answer; a slower send
        goes on in the background (the alert is durably queued meanwhile, and its lease
        keeps the sweep from sending it twice)."""
        if self._tasks is None:
            return await self._deliver(alert, now)
        try:
            sending = self._tasks.spawn(self._deliver(alert, now), name="staff alert send")
        except RuntimeError:  # shutting down: no background work, send inline
            return await self._deliver(alert, now)
        done, _ = await asyncio.wait({sending}, timeout=self._settings.alert_wait_s)
        if sending in done and sending.exception() is None:
            return sending.result()
        return alert

    def _result(self, alert: StaffAlert) -> AlertResult:
        if alert.status in {AlertStatus.SENT, AlertStatus.ACKNOWLEDGED}:
            delivery = AlertDelivery.SENT
        elif alert.status is AlertStatus.QUEUED:
            delivery = AlertDelivery.QUEUED
        else:
            delivery = AlertDelivery.NO_CHANNEL
        return AlertResult(delivery, alert.id, self.duty_phone(alert.committee), alert.recipients)

    # -- delivery ------------------------------------------------------------------------------

    async def _holder(self, committee: str, holder: str | None) -> Person | None:
        if not holder:
            return None
        name = holder
        if self._user_names is not None:
            try:
                name = await self._user_names(holder) or holder
            except (LinliError, StoreUnavailable):
                log.warning("holder of an alert could not be looked up")
        rota = self._conf(committee).rota
        found = person_for_user(rota, name)
        if found is not None:
            return found
        # Not on the rota: named in the alert, but no mobile to mention.
        return Person("接待社工" if name.isdigit() else name, name, "")

    async def _plan(self, alert: StaffAlert, now: datetime) -> _Plan:
        rota = self._conf(alert.committee).rota
        current = on_duty(rota, now)
        holder = await self._holder(alert.committee, alert.holder)
        people = [p for p in ([holder] if holder else []) + current]
        minutes = max(round(rota.ack_timeout_s / 60), 1)
        ref = f"（提醒 #{alert.id}" + (
            f"，工单 {alert.ticket_number}" if alert.ticket_number else ""
        )
        ref += "）"
        ask = f"请在工作台点「我来处理」确认；{minutes}分钟内无人确认将升级提醒。"
        key = self._committee_key(alert.committee)
        if alert.level == 0:
            return _Plan(
                key,
                tuple(_dedup(people)),
                not current,
                f"{alert.text}\n{ref}{ask}",
                "已在员工群提醒" + _names(people, "值班社工（未排班，已@所有人）"),
                "sent",
            )
        if alert.level == 1:
            alerted = {p.key for p in people} | set(alert.recipients)
            following = next_on_rota(rota, now, alerted)
            everyone = _dedup(people + ([following] if following else []))
            more = f"已升级至：{following.name}。" if following else ""
            return _Plan(
                key,
                tuple(everyone),
                not everyone,
                f"【再次提醒·{minutes}分钟无人确认】{more}\n{alert.text}\n{ref}{ask}",
                f"{minutes}分钟内无人确认，已再次提醒"
                + (f"并升级至下一位值班：{following.name}" if following else _names(people, "")),
                "escalated" if following else "resent",
            )
        street = self._settings.street
        contact = street_contact(street) or Person("街道值班")
        committee_name = self._committee_name(alert.committee)
        phone = self.duty_phone(alert.committee)
        if street.staff_robot_key:
            message = (
                f"【街道值班请注意】{committee_name}的紧急提醒{minutes * 2}分钟内无人确认，"
                f"请{contact.name}跟进。\n{alert.text}\n{ref}"
                + (f"居委会值班电话：{phone}" if phone else "")
            )
            return _Plan(
                street.staff_robot_key,
                (contact,) if contact.mobile else (),
                False,
                message,
                f"仍无人确认，已升级至街道值班：{contact.name}",
                "street",
            )
        phone_line = f"（电话 {street.duty_phone}）" if street.duty_phone else ""
        return _Plan(
            key,
            tuple(_dedup(people)),
            True,
            f"【仍无人确认】请立即联系街道值班 {contact.name}{phone_line}。\n{alert.text}\n{ref}",
            f"仍无人确认；街道未配置提醒机器人，已在员工群提醒联系街道值班：{contact.name}",
            "street",
        )

    async def _deliver(self, alert: StaffAlert, now: datetime) -> StaffAlert:
        """Send the alert's current level once; record the outcome (sent, or queued for a
        retry with backoff, or failed after ``max_attempts``)."""
        plan = await self._plan(alert, now)
        error = ""
        try:
            await asyncio.wait_for(
                self._sender.send_group_robot_text(
                    plan.key,
                    plan.message,
                    mentioned_list=("@all",) if plan.mention_all else (),
                    mentioned_mobiles=tuple(p.mobile for p in plan.people if p.mobile),
                    retries=0,
                ),
                timeout=self._settings.alert_send_timeout_s,
            )
        except TimeoutError:
            error = "timeout"
        except (LinliError, StoreUnavailable, OSError) as exc:
            error = str(exc)[:300] or type(exc).__name__
        at = self._now()
        attempts = alert.attempts + 1
        if not error:
            escalate = None
            if alert.level < self._top_level():
                escalate = at + self.ack_timeout(alert.committee)
            after = replace(
                alert,
                status=AlertStatus.SENT,
                attempts=0,
                last_error="",
                last_attempt_at=at,
                next_attempt_at=None,
                escalate_at=escalate,
                recipients=tuple(
                    dict.fromkeys([*alert.recipients, *(p.name for p in plan.people)])
                ),
                updated_at=at,
                steps=(*alert.steps, _step(at, plan.step, plan.summary, alert.level)),
            )
        else:
            give_up = attempts >= self.max_attempts
            delay = min(self.retry_base_s * 2 ** (attempts - 1), self.retry_max_s)
            steps = alert.steps
            if attempts == 1 or give_up:
                summary = (
                    f"提醒发送失败，已放弃重试（共{attempts}次）"
                    if give_up
                    else "提醒发送失败，将自动重试"
                )
                steps = (
                    *steps,
                    _step(at, "failed" if give_up else "send_failed", summary, alert.level),
                )
            after = replace(
                alert,
                status=AlertStatus.FAILED if give_up else AlertStatus.QUEUED,
                attempts=attempts,
                last_error=error,
                last_attempt_at=at,
                next_attempt_at=None if give_up else at + timedelta(seconds=delay),
                escalate_at=None,
                updated_at=at,
                steps=steps,
            )
            log.warning(
                "staff alert not delivered",
                extra={
                    "alert": alert.id,
                    "committee": alert.committee,
                    "level": alert.level,
                    "attempts": attempts,
                    "error": error,
                    "gave_up": give_up,
                },
            )
        written = await self._store.update(alert, after)
        if written is None:
            # Acknowledged (or otherwise changed) meanwhile: the stored row decides.
            current = await self._store.get(alert.id)
            return await self._flush(current) if current is not None else after
        return await self._flush(written)

    # -- sweep ---------------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Retry queued sends that are due, escalate sent alerts nobody acknowledged in time,
        and link alerts to their tickets. Safe to run in every worker at once (each step is
        claimed with an optimistic update first). Returns how many alerts were acted on."""
        now = self._now()
        acted = 0
        lease = timedelta(seconds=self._settings.alert_send_timeout_s + 30)
        for alert in await self._store.due(now):
            try:
                if alert.status is AlertStatus.SENT:
                    if await self._claimed_ticket(alert):
                        acted += 1
                        continue
                    if alert.level >= self._top_level():
                        claimed = replace(alert, escalate_at=None, updated_at=now)
                    else:
                        claimed = replace(
                            alert,
                            status=AlertStatus.QUEUED,
                            level=alert.level + 1,
                            attempts=0,
                            escalate_at=None,
                            next_attempt_at=now + lease,
                            updated_at=now,
                        )
                else:
                    claimed = replace(alert, next_attempt_at=now + lease, updated_at=now)
                written = await self._store.update(alert, claimed)
                if written is None or written.status is not AlertStatus.QUEUED:
                    continue
                await self._deliver(written, now)
                acted += 1
            except StoreUnavailable:
                raise
            except Exception:
                log.exception("staff alert sweep step failed", extra={"alert": alert.id})
        since = now - timedelta(days=1)
        for alert in await self._store.unlinked():
            if alert.created_at < since and alert.ticket_number is None:
                continue
            before = alert.steps_posted, alert.ticket_number
            linked = await self._link(alert)
            if (linked.steps_posted, linked.ticket_number) != before:
                acted += 1
        return acted

    async def _claimed_ticket(self, alert: StaffAlert) -> bool:
        """A caseworker who claimed the alert's ticket has taken it: acknowledge for them."""
        alert = await self._link(alert)
        if alert.ticket_number is None:
            return False
        try:
            ticket = await self._tickets.get(alert.committee, alert.ticket_number)
        except TicketError:
            return False
        if ticket.assignee is None:
            return False
        return await self._acknowledge(
            alert.id,
            ticket.assignee.id,
            ticket.assignee.display,
            f"工单已由{ticket.assignee.display}受理，停止升级提醒",
        )

    # -- acknowledgement and tickets -----------------------------------------------------------

    async def get(self, alert_id: int) -> StaffAlert | None:
        return await self._store.get(alert_id)

    async def open_alerts(self, committee: str, limit: int = 100) -> list[StaffAlert]:
        """The committee's alerts not acknowledged yet, newest first. An alert whose ticket a
        caseworker has claimed is acknowledged for them here at once (the sweep would do it
        only when the alert is next due), so the inbox never shows it as waiting."""
        out = []
        for alert in await self._store.search(committee, limit=limit):
            if alert.is_open and not await self._claimed_ticket(alert):
                out.append(alert)
        return out

    async def acknowledge(self, alert_id: int, user_id: str, user_name: str) -> bool:
        """ "我来处理": ``user_id`` takes the alert; escalation stops. False when the alert does
        not exist or was acknowledged already (by anyone)."""
        name = user_name.strip() or user_id
        return await self._acknowledge(alert_id, user_id, name, f"{name} 已确认处理（我来处理）")

    async def _acknowledge(self, alert_id: int, user_id: str, name: str, summary: str) -> bool:
        for _ in range(8):
            alert = await self._store.get(alert_id)
            if alert is None or alert.status is AlertStatus.ACKNOWLEDGED:
                return False
            at = self._now()
            after = replace(
                alert,
                status=AlertStatus.ACKNOWLEDGED,
                acknowledged_by=user_id[:128],
                acknowledged_by_name=name[:200],
                acknowledged_at=at,
                next_attempt_at=None,
                escalate_at=None,
                updated_at=at,
                steps=(*alert.steps, _step(at, "acknowledged", summary, alert.level, by=user_id)),
            )
            written = await self._store.update(alert, after)
            if written is None:
                continue
            log.info(
                "staff alert acknowledged",
                extra={"alert": alert.id, "committee": alert.committee, "level": alert.level},
            )
            await self._link(written)
            if alert.status is AlertStatus.SENT:
                await self._tell_group(written, name)
            return True
        return False

    async def _tell_group(self, alert: StaffAlert, name: str) -> None:
        """Tell the staff group who took it, so the others stand down (best effort)."""
        key = self._committee_key(alert.committee)
        if not key:
            return
        try:
            await asyncio.wait_for(
                self._sender.send_group_robot_text(
                    key, f"【已有人处理】提醒 #{alert.id} 已由{name}确认处理。", retries=0
                ),
                timeout=self._settings.alert_send_timeout_s,
            )
        except (TimeoutError, LinliError, StoreUnavailable, OSError) as exc:
            log.warning(
                "acknowledgement not posted to the staff group",
                extra={"alert": alert.id, "error": str(exc)[:200]},
            )

    async def attach_ticket(self, source_key: str, ticket_number: str) -> None:
        """Link the alerts of an inbound message to the ticket opened for it and put their
        steps so far on its history."""
        for alert in await self._store.by_source_key(source_key):
            for _ in range(8):
                if alert.ticket_number is not None:
                    break
                written = await self._store.update(
                    alert, replace(alert, ticket_number=ticket_number, updated_at=self._now())
                )
                if written is not None:
                    alert = written
                    break
                fresh = await self._store.get(alert.id)
                if fresh is None:
                    break
                alert = fresh
            await self._flush(alert)

    async def _link(self, alert: StaffAlert) -> StaffAlert:
        """Find the alert's ticket by its source key when it is not known yet; flush steps."""
        if alert.ticket_number is None:
            ticket = await self._tickets.by_source_key(alert.committee, alert.source_key)
            if ticket is None:
                return alert
            written = await self._store.update(
                alert, replace(alert, ticket_number=ticket.number, updated_at=self._now())
            )
            if written is None:
                fresh = await self._store.get(alert.id)
                return fresh if fresh is not None else alert
            alert = written
        return await self._flush(alert)

    async def _flush(self, alert: StaffAlert) -> StaffAlert:
        """Put the steps not yet on the ticket's history there (at least once)."""
        if alert.ticket_number is None or alert.steps_posted >= len(alert.steps):
            return alert
        posted = alert.steps_posted
        for step in alert.steps[posted:]:
            by = str(step.get("by") or "")
            actor = Actor.caseworker(by, alert.acknowledged_by_name) if by else None
            try:
                await self._workflow.record_alert(
                    alert.committee,
                    alert.ticket_number,
                    str(step.get("summary", "")) or "员工提醒",
                    actor=actor,
                    data={
                        "alert": alert.id,
                        "step": step.get("step"),
                        "level": step.get("level"),
                        "kind": alert.kind,
                    },
                )
            except TicketError as exc:
                log.warning(
                    "alert step not put on the ticket",
                    extra={"alert": alert.id, "ticket": alert.ticket_number, "error": str(exc)},
                )
            posted += 1
        for _ in range(8):
            written = await self._store.update(alert, replace(alert, steps_posted=posted))
            if written is not None:
                return written
            fresh = await self._store.get(alert.id)
            if fresh is None or fresh.steps_posted >= posted:
                return fresh or alert
            alert = fresh
        return alert

    # -- internals -----------------------------------------------------------------------------

    def _committee_name(self, committee: str) -> str:
        if self._registry is None:
            return committee
        try:
            return self._registry.committee(committee).name
        except RegistryError:
            return committee

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError("the clock must return aware datetimes")
        return now.astimezone(UTC)


def _step(at: datetime, step: str, summary: str, level: int, *, by: str = "") -> dict[str, Any]:
    entry: dict[str, Any] = {"at": at.isoformat(), "step": step, "summary": summary, "level": level}
    if by:
        entry["by"] = by
    return entry


def _dedup(people: list[Person]) -> list[Person]:
    seen: set[str] = set()
    out = []
    for p in people:
        if p.key not in seen:
            seen.add(p.key)
            out.append(p)
    return out


def _names(people: Sequence[Person], default: str) -> str:
    names = "、".join(p.name for p in _dedup(list(people)))
    return f"：{names}" if names else (f"：{default}" if default else "")
