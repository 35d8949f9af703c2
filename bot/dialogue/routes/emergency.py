"""Crises skip everything: a safety reply at once, an urgent ticket, and the on-duty
caseworker alerted — before the reply goes back, never held up by slot filling, a handoff
or a slow store.

The reply never claims what did not happen: it says staff were told only when the alert
service reports the alert sent or durably queued to a configured channel; otherwise it
gives the committee's duty phone and the emergency numbers. Self-harm gets a human reply
(kind ``crisis``): a caring word, "are you safe now?", the hotlines (12356, Shanghai's
962525) and 110/120 for immediate danger — never a script, a menu or a goodbye. Another
danger with a sign of self-harm (an overdose read as first aid, a person on a roof read as
"other") keeps that danger's advice and adds the hotlines and 110/120."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TypeVar

from bot.alerts import AlertResult, StaffAlerts
from bot.background import BackgroundTasks
from bot.dialogue.events import LiveEvents
from bot.domain import ChatType, Committee, Compound, IncomingMessage, Reply, ReplyKind
from bot.domain.tickets import Reporter, Ticket, TicketCategory, TicketDraft, TicketPriority
from bot.logs import mask
from bot.nlu.types import EmergencyCategory, ParseResult
from bot.tickets import TicketIntake

log = logging.getLogger(__name__)

T = TypeVar("T")

HOTLINES = "全国心理援助热线 12356、上海心理热线 962525"

ADVICE: dict[EmergencyCategory, str] = {
    EmergencyCategory.LIFT: (
        "【电梯紧急情况】如果有人被困在电梯里：请保持冷静，不要扒门，不要尝试自己爬出来；"
        "立即按轿厢里的警铃或对讲按钮联系值班人员，或拨打电梯内告示牌上的救援电话；"
        "联系不上请拨打 110。电梯如出现溜梯、开着门运行、门变形等情况，请不要再乘坐，并提醒邻居。"
        "电梯门开着却看不到轿厢时，千万不要靠近或探头，看住身边的孩子，守在门口提醒别人，"
        "并拨打告示牌上的救援电话或 110。"
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
        "【漏水/进水】请先关闭家里的总水阀；水碰到插座、电线或电箱时，先拉下电闸、远离积水，"
        "防止触电；把电器和贵重物品移到高处；如果是楼上或公共管道漏水，请马上通知楼上邻居和物业。"
        "有触电危险或情况无法控制时请拨打 110。"
    ),
    EmergencyCategory.MEDICAL: (
        "【急救】请立即拨打 120，说清小区、楼号、门牌号和病人情况；不要随意搬动病人；"
        "病人没有意识、没有呼吸时，按 120 调度员的指导做心肺复苏；安排人到楼下接救护车。"
    ),
    EmergencyCategory.WELFARE: (
        "【上门查看】请先再试着联系本人或他/她的家人，或请住得近的亲友、邻居去敲门看看。"
        "如果听到呼救、闻到异味，或担心人有生命危险，请立即拨打 110（民警可以协助开门）或 120。"
        "小孩、卧床或糊涂的老人被独自留在家里没人照看时，也请拨打 110，"
        "民警会协助联系家人、上门处置。"
    ),
    EmergencyCategory.VIOLENCE: (
        "【人身安全】请先保护好自己：离开危险的人，躲到安全的地方并锁好门，不要正面冲突；"
        "立即拨打 110 报警，有人受伤请拨打 120。遭受家庭暴力也可以拨打妇女维权热线 12338。"
    ),
    EmergencyCategory.MISSING_CHILD: (
        # A child or a confused elder who wandered off: the same first steps.
        "【有人走失】请立即拨打 110 报警，不需要等 24 小时；说清走失的人的年龄、长相、衣着和"
        "最后出现的地点、时间，老人糊涂、有认知障碍的也请说明。请身边的人分头寻找，"
        "同时留一个人在家或原地等，手机保持畅通。"
    ),
    EmergencyCategory.OTHER: (
        "【紧急情况】如有危险请立即拨打 110（报警）、119（火警）、120（急救）。"
    ),
}

FIRST_STEP: dict[EmergencyCategory, str] = {
    EmergencyCategory.SELF_HARM: f"你可以随时打{HOTLINES}；有危险请马上拨打 110 或 120",
    EmergencyCategory.LIFT: "被困请按轿厢警铃，联系不上拨打 110",
    EmergencyCategory.GAS: "关燃气阀、开窗、马上撤到室外再拨打 119",
    EmergencyCategory.FIRE: "请立即拨打 119，弯腰捂口鼻撤离，不要乘电梯",
    EmergencyCategory.FLOOD: "先关总水阀、拉电闸，远离积水",
    EmergencyCategory.MEDICAL: "请立即拨打 120",
    EmergencyCategory.WELFARE: "担心有生命危险请立即拨打 110 或 120",
    EmergencyCategory.VIOLENCE: "请先躲到安全的地方，立即拨打 110",
    EmergencyCategory.MISSING_CHILD: "请立即拨打 110 报警",
    EmergencyCategory.OTHER: "如有危险请立即拨打 110、119 或 120",
}
"""One line of the most important advice, for a conversation a caseworker already holds."""

LABEL: dict[EmergencyCategory, str] = {
    EmergencyCategory.SELF_HARM: "自伤风险",
    EmergencyCategory.LIFT: "电梯险情",
    EmergencyCategory.GAS: "燃气泄漏",
    EmergencyCategory.FIRE: "火情",
    EmergencyCategory.FLOOD: "漏水进水",
    EmergencyCategory.MEDICAL: "有人需要急救",
    EmergencyCategory.WELFARE: "独居/失联需上门查看",
    EmergencyCategory.VIOLENCE: "暴力/人身安全",
    EmergencyCategory.MISSING_CHILD: "有人走失",
    EmergencyCategory.OTHER: "紧急情况",
}

SELF_HARM_CUE_LINE = (
    "如果您或身边的人有伤害自己的念头，有危险请马上拨打 110 或 120，"
    "尽量有人陪着，把药、刀、绳子等先收起来；"
    f"也可以随时打{HOTLINES}，会有专业的人认真听。"
)
"""Added to the reply for another danger when the message carries a sign of self-harm
(``EmergencyHit.self_harm_cue``): an overdose answered as first aid, a person on a roof
answered as "other" still get the hotlines and 110/120."""
SELF_HARM_CUE_SHORT = f"如有人想伤害自己，有危险请拨打 110 或 120，也可打{HOTLINES}"
SELF_HARM_CUE_ALERT = "（疑有自伤风险）"

ASK_LOCATION = "为了让社工尽快找到您，请告诉我具体地址：哪个小区、几号楼、几室？"
ASK_LOCATION_CALM = "方便的话，告诉我你现在在哪个小区、几号楼，社工可以更快找到你。"


def self_harm_text(*, someone_else: bool) -> str:
    """The self-harm reply. ``someone_else``: the message tells of another person at risk
    ("我爸说要跳楼"), so it speaks to the reporter: stay with them if it is safe, 110/120 for
    an immediate danger, the hotlines to call or to pass on."""
    if someone_else:
        return (
            "谢谢你告诉我。如果你那边安全，请尽量陪着他/她，别让他/她一个人待着，"
            "把药、刀、绳子等先收起来。\n"
            "如果他/她已经服药、受伤，或在窗台、楼顶等高处，请马上拨打 110 或 120。\n"
            f"{HOTLINES}，你可以打去问怎么帮他/她，也可以转给他/她。你也别一个人扛着。"
        )
    return (
        "听到你这么说，我很担心你。你现在安全吗？身边有人陪着你吗？\n"
        "如果你已经服了药、受了伤，或者此刻有危险，请马上拨打 110 或 120。\n"
        f"想找人说说话，可以打{HOTLINES}，会有专业的人认真听你说。"
        "你愿意的话，也可以继续跟我说说发生了什么。"
    )


def self_harm_follow_up(duty_phone: str, *, someone_else: bool) -> str:
    """The short line for a resident who writes again after a self-harm reply while no staff
    alert got through and nobody has taken the conversation yet: the hotlines, the duty
    phone, and that a person will answer here (the conversation waits in the console)."""
    lines = ["我在。你发的消息都会留给社工，社工看到后会在这里回复你。"]
    if someone_else:
        lines.append(
            f"请尽量陪着他/她；{HOTLINES}你和他/她都可以打；他/她有危险请马上拨打 110 或 120。"
        )
    else:
        lines.append(f"想找人说说话，可以打{HOTLINES}；你有危险请马上拨打 110 或 120。")
    if duty_phone:
        lines.append(f"也可以直接打居委会值班电话 {duty_phone}。")
    return "".join(lines)


GROUP_SELF_HARM = (
    "看到你的消息，我们很担心你。想找人说说话可以打{hotlines}；有危险请马上拨打 110 或 120。"
    "也可以私信我。{staff}"
)
GROUP_SELF_HARM_OTHER = (
    "谢谢你告诉我们。安全的话请尽量陪着他/她；有危险请马上拨打 110 或 120。"
    "{hotlines}可以转给他/她。{staff}"
)
"""The one line a group sees (``GROUP_SELF_HARM_OTHER`` when the message tells of another
person at risk: it speaks to the reporter). It promises nothing the channel may not do: where
the platform can, the full reply also goes privately (a ``private`` reply); a group never sees
it."""


@dataclass(frozen=True, slots=True)
class CrisisOutcome:
    """What the responder did, for the pipeline to remember on the conversation."""

    replies: list[Reply]
    category: EmergencyCategory
    ticket: str | None
    staff_told: bool
    location_asked: bool
    follow_up: str = ""
    """Self-harm with no staff alert through: what the resident is told on every later
    message while nobody has taken the conversation (never silence)."""


class EmergencyResponder:
    def __init__(
        self,
        tickets: TicketIntake,
        alerts: StaffAlerts,
        events: LiveEvents,
        tasks: BackgroundTasks,
        *,
        budget_s: float = 1.5,
    ) -> None:
        """``budget_s``: how long the reply waits for the ticket and the alert; whatever is
        not done by then goes on in the background, and the reply claims only what is."""
        self._tickets = tickets
        self._alerts = alerts
        self._events = events
        self._tasks = tasks
        self._budget_s = budget_s

    async def respond(
        self,
        msg: IncomingMessage,
        committee: Committee,
        compound: Compound | None,
        parse: ParseResult,
        *,
        holder: str | None = None,
        someone_else: bool = False,
    ) -> CrisisOutcome:
        """The safety reply for a crisis message. ``holder``: the console user id of the
        caseworker who holds the conversation (they are alerted; the reply stays short)."""
        hit = parse.emergency
        category = hit.category if hit else EmergencyCategory.OTHER
        categories = hit.categories if hit else (category,)
        self_harm = EmergencyCategory.SELF_HARM in categories
        if self_harm:
            category = EmergencyCategory.SELF_HARM
        cue = not self_harm and hit is not None and hit.self_harm_cue
        building, room = parse.value("building") or "", parse.value("room") or ""
        draft = TicketDraft(
            committee=committee.id,
            category=TicketCategory.EMERGENCY,
            description=f"【{LABEL[category]}】{msg.text}"[:1000],
            reporter=Reporter.from_message(msg, phone=parse.value("phone")),
            compound=compound.id if compound else None,
            building=building,
            unit=parse.value("unit") or "",
            room=room,
            priority=TicketPriority.URGENT,
        )
        where = " ".join(p for p in (compound.name if compound else "", building, room) if p)
        who = msg.sender.name or "居民"
        held = "（该居民正由社工跟进）" if holder else ""
        quote = mask(_excerpt(msg.text, hit.start if hit and hit.source == "rules" else 0))
        alert_text = (
            f"【紧急·{LABEL[category]}{SELF_HARM_CUE_ALERT if cue else ''}】"
            f"{committee.name}{('·' + where) if where else ''}：{who}"
            f"{held}：“{quote}”。请值班社工立即处置，并在工作台点“我来处理”。"
        )
        started = time.perf_counter()
        created = self._tasks.spawn(self._create(draft, msg.dedup_key), name="emergency ticket")
        alerted = self._tasks.spawn(
            self._alerts.raise_alert(
                committee=committee.id,
                source_key=msg.dedup_key,
                kind="crisis" if self_harm else "emergency",
                category=category.value,
                text=alert_text,
                conversation_key=msg.conversation_key,
                holder=holder,
            ),
            name="emergency alert",
        )
        await asyncio.wait({created, alerted}, timeout=self._budget_s)
        ticket = _result(created)
        alert = _result(alerted)
        if ticket is not None and alert is not None:
            self._tasks.spawn(self._attach(msg.dedup_key, ticket.number), name="alert ticket")
        elif not created.done():
            self._tasks.spawn(self._attach_later(created, msg.dedup_key), name="alert ticket")
        staff_told = alert is not None and alert.staff_told
        log.info(
            "emergency handled",
            extra={
                "category": category.value,
                "ticket": ticket.number if ticket else None,
                "staff_alerted": staff_told,
                "alert": alert.delivery.value if alert else "pending",
                "ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        await self._events.publish(
            committee.id,
            "emergency",
            category=category.value,
            label=LABEL[category],
            conversation=msg.conversation_key,
            ticket=ticket.number if ticket else None,
            alert=alert.alert_id if alert else None,
            where=where,
            text=quote,
            sender=who,
        )
        private = msg.chat.type is ChatType.PRIVATE
        known = compound is not None and bool(building)
        # Where is it? Asked after the advice, in a private chat, when not known yet; a
        # person in distress is asked gently, and only where they are.
        ask = private and not holder and not known
        gentle = self_harm and not someone_else
        honest = self._honest_line(
            committee, ticket, alert, familiar=self_harm and not someone_else
        )
        ref = ticket.ref() if ticket is not None else None
        kind = ReplyKind.CRISIS if self_harm else ReplyKind.EMERGENCY
        if holder:
            first = f"{FIRST_STEP[category]}。" + (f"{SELF_HARM_CUE_SHORT}。" if cue else "")
            text = f"{first}已提醒正在跟进您的社工。" if staff_told else f"{first}{honest}"
            replies = [Reply(text, kind, ticket=ref)]
        elif self_harm and not private:
            # In a group: one short caring line; the rest goes privately where it can.
            line = GROUP_SELF_HARM_OTHER if someone_else else GROUP_SELF_HARM
            group = line.format(hotlines=HOTLINES, staff="社工会尽快联系你。" if staff_told else "")
            full = "\n".join([self_harm_text(someone_else=someone_else), honest])
            replies = [Reply(group, kind, ticket=ref), Reply(full, kind, private=True)]
        else:
            lines = [self_harm_text(someone_else=someone_else)] if self_harm else []
            lines += [ADVICE[c] for c in _advice_order(categories, category, self_harm)]
            if cue:
                lines.append(SELF_HARM_CUE_LINE)
            lines.append(honest)
            if ask:
                lines.append(ASK_LOCATION_CALM if gentle else ASK_LOCATION)
            replies = [Reply("\n".join(line for line in lines if line), kind, ticket=ref)]
        follow_up = ""
        if self_harm and not staff_told and not holder:
            phone = (alert.duty_phone if alert is not None else "") or self._alerts.duty_phone(
                committee.id
            )
            follow_up = self_harm_follow_up(phone, someone_else=someone_else)
        return CrisisOutcome(
            replies,
            category,
            ticket.number if ticket else None,
            staff_told,
            location_asked=ask,
            follow_up=follow_up,
        )

    def _honest_line(
        self,
        committee: Committee,
        ticket: Ticket | None,
        alert: AlertResult | None,
        *,
        familiar: bool = False,
    ) -> str:
        """What was done, and only that. ``familiar``: speak as to a person in distress
        (你, no office words)."""
        you = "你" if familiar else "您"
        number = f"紧急工单 {ticket.number}" if ticket is not None else "紧急工单"
        if alert is not None and alert.staff_told:
            return f"已为{you}登记{number}，并通知了居委会值班社工，社工会尽快与{you}联系。"
        phone = (alert.duty_phone if alert is not None else "") or self._alerts.duty_phone(
            committee.id
        )
        registered = f"已为{you}登记{number}。" if ticket is not None else ""
        if familiar:
            reach = f"居委会值班电话 {phone}" if phone else "110"
            return f"{registered}值班社工还没收到提醒，{you}可以直接打{reach}，找人帮忙。"
        if phone:
            return (
                f"{registered}值班社工暂时没能收到提醒，"
                f"请直接拨打{committee.name}值班电话 {phone}；有危险请先拨打 110、119 或 120。"
            )
        return (
            f"{registered}值班社工暂时没能收到提醒，请直接拨打 110、119 或 120，"
            f"并{committee.contact_line()}。"
        )

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

    async def _attach(self, source_key: str, number: str) -> None:
        try:
            await self._alerts.attach_ticket(source_key, number)
        except Exception:
            log.exception("could not link the alert to its ticket")

    async def _attach_later(self, created: asyncio.Task[Ticket], source_key: str) -> None:
        try:
            ticket = await created
        except Exception:
            return
        await self._attach(source_key, ticket.number)


def _result(task: asyncio.Task[T]) -> T | None:
    if not task.done() or task.cancelled() or task.exception() is not None:
        return None
    return task.result()


def _excerpt(text: str, at: int, width: int = 200) -> str:
    """The part of a message around its crisis phrase (a long letter's first lines may be
    about something else entirely)."""
    if len(text) <= width or at < width // 2:
        return text[:width] + ("…" if len(text) > width else "")
    start = at - width // 3
    return "…" + text[start : start + width] + ("…" if start + width < len(text) else "")


def _advice_order(
    categories: tuple[EmergencyCategory, ...], first: EmergencyCategory, self_harm: bool
) -> list[EmergencyCategory]:
    """Advice paragraphs: the message's category first, then the others it mentions
    (self-harm text already covers medical help, so medical advice is not repeated)."""
    out: list[EmergencyCategory] = []
    for c in (first, *categories):
        if c is EmergencyCategory.SELF_HARM or c in out:
            continue
        if self_harm and c in {EmergencyCategory.MEDICAL, EmergencyCategory.OTHER}:
            continue
        out.append(c)
    return out
