"""Emergencies skip everything: safety advice and the right numbers at once, an urgent ticket,
and the committee's on-duty caseworkers alerted (staff group robot + console) — before the
reply goes back, and never held up by slot filling, a handoff or a slow store."""

from __future__ import annotations

import asyncio
import logging
import time

from bot.background import BackgroundTasks
from bot.dialogue.events import LiveEvents
from bot.dialogue.turn import AlertStaff
from bot.domain import Committee, Compound, IncomingMessage, Reply, ReplyKind
from bot.domain.tickets import Reporter, Ticket, TicketCategory, TicketDraft, TicketPriority
from bot.logs import mask
from bot.nlu.types import EmergencyCategory, ParseResult
from bot.tickets import TicketService

log = logging.getLogger(__name__)


ADVICE: dict[EmergencyCategory, str] = {
    EmergencyCategory.LIFT: (
        "【电梯紧急情况】如果有人被困在电梯里：请保持冷静，不要扒门，不要尝试自己爬出来；"
        "立即按轿厢里的警铃或对讲按钮联系值班人员，或拨打电梯内告示牌上的救援电话；"
        "联系不上请拨打 110。电梯如出现溜梯、门变形等情况，请不要再乘坐，并提醒邻居。"
    ),
    EmergencyCategory.GAS: (
        "【燃气泄漏】请立即：不要开关任何电器和电灯，不要点火，不要在屋里打电话；"
        "关闭燃气总阀，打开门窗通风，人员马上撤到室外；到安全地方后拨打 119 "
        "或燃气公司抢修电话（见燃气表或缴费单）。"
    ),
    EmergencyCategory.FIRE: (
        "【火情】请立即拨打 119。用湿毛巾捂住口鼻，弯腰沿安全出口撤离，不要乘电梯，"
        "不要返回取东西；火很小且确有把握时才用灭火器扑救。"
    ),
    EmergencyCategory.FLOOD: (
        "【漏水/进水】请先关闭家里的总水阀，断开进水区域的电源，防止触电；"
        "把电器和贵重物品移到高处；如果是楼上或公共管道漏水，请马上通知楼上邻居和物业。"
        "有触电危险或情况无法控制时请拨打 110。"
    ),
    EmergencyCategory.MEDICAL: (
        "【急救】请立即拨打 120，说清小区、楼号、门牌号和病人情况；不要随意搬动病人；"
        "病人没有意识、没有呼吸时，按 120 调度员的指导做心肺复苏；安排人到楼下接救护车。"
    ),
    EmergencyCategory.OTHER: (
        "【紧急情况】如有危险请立即拨打 110（报警）、119（火警）、120（急救）。"
    ),
}

LABEL: dict[EmergencyCategory, str] = {
    EmergencyCategory.LIFT: "电梯险情",
    EmergencyCategory.GAS: "燃气泄漏",
    EmergencyCategory.FIRE: "火情",
    EmergencyCategory.FLOOD: "漏水进水",
    EmergencyCategory.MEDICAL: "有人需要急救",
    EmergencyCategory.OTHER: "紧急情况",
}


class EmergencyResponder:
    def __init__(
        self,
        tickets: TicketService,
        alert_staff: AlertStaff,
        events: LiveEvents,
        tasks: BackgroundTasks,
        *,
        budget_s: float = 0.8,
    ) -> None:
        self._tickets = tickets
        self._alert_staff = alert_staff
        self._events = events
        self._tasks = tasks
        self._budget_s = budget_s

    async def respond(
        self,
        msg: IncomingMessage,
        committee: Committee,
        compound: Compound | None,
        parse: ParseResult,
    ) -> list[Reply]:
        category = parse.emergency.category if parse.emergency else EmergencyCategory.OTHER
        draft = TicketDraft(
            committee=committee.id,
            category=TicketCategory.EMERGENCY,
            description=msg.text[:1000],
            reporter=Reporter.from_message(msg, phone=parse.value("phone")),
            compound=compound.id if compound else None,
            building=parse.value("building") or "",
            unit=parse.value("unit") or "",
            room=parse.value("room") or "",
            priority=TicketPriority.URGENT,
        )
        where = " ".join(
            p for p in (compound.name if compound else "", draft.building, draft.room) if p
        )
        who = msg.sender.name or "居民"
        alert_text = (
            f"【紧急】{committee.name}{('·' + where) if where else ''}：{LABEL[category]}。"
            f"{who}：“{mask(msg.text[:200])}”。请值班社工立即处置。"
        )
        # Both start now and run on even if they outlast the budget.
        started = time.perf_counter()
        created = self._tasks.spawn(self._create(draft, msg.dedup_key), name="emergency ticket")
        alerted = self._tasks.spawn(self._alert(committee.id, alert_text), name="emergency alert")
        await asyncio.wait({created, alerted}, timeout=self._budget_s)
        ticket = created.result() if created.done() and not created.exception() else None
        log.info(
            "emergency handled",
            extra={
                "category": category.value,
                "ticket": ticket.number if ticket else None,
                "staff_alerted": alerted.done() and not alerted.exception() and alerted.result(),
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        await self._events.publish(
            committee.id,
            "emergency",
            category=category.value,
            conversation=msg.conversation_key,
            ticket=ticket.number if ticket else None,
            where=where,
            text=mask(msg.text[:200]),
            sender=who,
        )
        lines = [ADVICE[category]]
        if ticket is not None:
            lines.append(
                f"已为您登记紧急工单 {ticket.number}，并通知值班社工，社工会尽快与您联系。"
            )
        else:
            lines.append("已通知值班社工，紧急工单正在登记，社工会尽快与您联系。")
        ref = ticket.ref() if ticket is not None else None
        return [Reply("\n".join(lines), ReplyKind.EMERGENCY, ticket=ref)]

    async def _create(self, draft: TicketDraft, source_key: str) -> Ticket:
        attempt = 0
        while True:
            try:
                result = await self._tickets.create(draft, source_message_key=source_key)
                return result.ticket
            except Exception:
                attempt += 1
                if attempt >= 5:
                    log.exception("emergency ticket could not be written")
                    raise
                await asyncio.sleep(0.5 * attempt)

    async def _alert(self, committee: str, text: str) -> bool:
        sent = await self._alert_staff(committee, text)
        if not sent:
            log.warning("staff alert not sent (no staff robot configured or push failed)")
        return sent
