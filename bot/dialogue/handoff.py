"""Handing a conversation to a caseworker (转人工) and back.

A handoff puts the conversation in ``waiting`` mode: the bot goes silent in it (the mode lives
in the conversation store, so every worker sees it), the console shows it waiting, and the
resident's messages reach the caseworker. A caseworker's takeover makes it ``human``; their
replies go out through the resident's channel; release returns it to the bot. When nobody
takes it within the configured time the resident is told honestly when they will hear back
and a ticket carries the conversation. Out of office hours the ticket is opened at once and
the conversation keeps waiting for the morning. The ticket's category is the one the
resident's words imply (a complaint stays 投诉)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bot.dialogue.events import LiveEvents
from bot.dialogue.turn import Turn
from bot.domain import ChatType, Registry, Reply, ReplyKind
from bot.domain.clock import SHANGHAI
from bot.domain.once import DeliveryReport
from bot.domain.tickets import (
    Actor,
    Reporter,
    TicketCategory,
    TicketDraft,
)
from bot.storage import keys
from bot.storage.conversations import Conversation, ConversationStore, Mode
from bot.storage.messages import MessageLog
from bot.storage.state import StateStore
from bot.tickets import TicketIntake
from bot.tickets.sla import WorkingCalendar

log = logging.getLogger(__name__)

Push = Callable[[Conversation, str, str], Awaitable[DeliveryReport]]
"""Send a text to the resident of a conversation (text, kind) → how it was delivered."""
Moved = Callable[[Conversation], Awaitable[None]]
"""Tell the conversation's platform that it changed hands (taken over, given back)."""

REASONS = {
    "request_human": "居民要求转人工",
    "not_understood": "连续多次没能理解",
    "slot_failure": "登记信息时多次没能理解",
    "angry": "居民情绪激动",
    "caseworker": "社工主动接管",
    "crisis": "自伤风险，需社工跟进",
}


PROMISE = "handoff_promise"
"""Conversation state: what the resident was told when handed over (the console shows it)."""
CATEGORY = "handoff_category"
"""Conversation state: the ticket category the resident's words imply (``TicketCategory``)."""
OFF_HOURS = "handoff_off_hours"
"""Conversation state: handed over out of office hours. A ticket was opened at once and the
resident was promised a call when the office opens; the conversation waits for a caseworker
(the sweep leaves it alone) and heads the console's list of waiting conversations."""

COMPLAINT_WORDS = re.compile(
    r"投诉|举报|曝光|扰民|不作为|乱收费|乱停|乱扔|乱堆|态度(太|很|极)?差|太差|恶劣|敷衍|推诿|"
    r"没人管|无人管|不管不问|欺负|吵死|吵得|太吵|噪音|气死|太过分|受够了|(?<!\d)12345(?!\d)"
)
REPAIR_WORDS = re.compile(r"报修|坏了|漏水|不亮|堵了|堵住|修一下|维修|渗水")
RECENT_WORDS = 3
"""How many of the resident's latest messages count for the implied category."""


def implied_category(turn: Turn, earlier: list[str]) -> TicketCategory:
    """The ticket category the resident's words imply: a complaint (the NLU read one, or
    complaint words in this message or the latest ones before it) stays 投诉, a repair
    报修; anything else is a consultation."""
    top = {s.name for s in turn.parse.ranking[:2] if s.confidence >= 0.25}
    texts = [turn.text, *earlier[-RECENT_WORDS:]]
    if turn.parse.intent == "complain" or "complain" in top:
        return TicketCategory.COMPLAINT
    if any(COMPLAINT_WORDS.search(t) for t in texts):
        return TicketCategory.COMPLAINT
    if turn.parse.intent == "report_repair" or any(REPAIR_WORDS.search(t) for t in texts):
        return TicketCategory.REPAIR
    return TicketCategory.CONSULTATION


class ConversationNotFound(LookupError):
    """No such conversation in the acting committee (never reveals another committee's)."""


class MessageNotFound(LookupError):
    """No such caseworker message in the conversation."""


class Handoff:
    def __init__(
        self,
        conversations: ConversationStore,
        tickets: TicketIntake,
        registry: Registry,
        events: LiveEvents,
        push: Push,
        message_log: MessageLog,
        state: StateStore,
        *,
        wait_s: float,
        calendar: WorkingCalendar | None = None,
        around_the_clock: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        moved: Moved | None = None,
    ) -> None:
        self._conversations = conversations
        self._moved = moved
        self._tickets = tickets
        self._registry = registry
        self._events = events
        self._push = push
        self._log = message_log
        self._state = state
        self._wait = timedelta(seconds=wait_s)
        self._calendar = calendar or WorkingCalendar()
        self._around_the_clock = around_the_clock
        self._now = clock

    def office_open(self, at: datetime) -> bool:
        """Whether a caseworker can be expected now (working hours, or a 24-hour duty)."""
        return self._around_the_clock or self._calendar.add(at, timedelta(0)) <= at

    def next_opening(self, at: datetime) -> str:
        local = self._calendar.add(at, timedelta(0)).astimezone(SHANGHAI)
        return f"{local.month}月{local.day}日 {local:%H:%M}"

    async def begin(self, turn: Turn, reason: str) -> list[Reply]:
        """Hand the turn's conversation over (called by routes under the conversation lock).

        In office hours the conversation waits for a caseworker (the sweep carries it into a
        ticket when nobody takes it in time). Out of office hours a ticket of the category
        the resident's words imply is opened at once, the resident is told when a
        caseworker will be back, and the conversation still waits: it heads the console's
        waiting list when the office opens."""
        now = self._now()
        conv = turn.conversation
        why = REASONS.get(reason, reason)
        earlier = [
            m.text
            for m in await self._log.conversation(conv.key, limit=RECENT_WORDS + 1)
            if m.direction == "in" and m.text != turn.text
        ]
        category = implied_category(turn, earlier)
        conv.mode = Mode.WAITING
        conv.handoff_reason = reason
        conv.handoff_at = now
        conv.assignee_id = None
        conv.assignee_name = ""
        conv.state[CATEGORY] = category.value
        if not self.office_open(now):
            number = await self._carry(conv, turn.text, reason, turn.msg.dedup_key, category)
            promise = (
                f"现在是非工作时间，社工暂时不在岗。已为您登记{category.label}工单 {number}，"
                f"社工会在 {self.next_opening(now)} 上班后第一时间在这里回复您。"
                "如遇紧急情况请直接拨打 110、119 或 120。"
            )
            conv.state[OFF_HOURS] = True
        else:
            minutes = max(int(self._wait.total_seconds() // 60), 1)
            promise = (
                f"好的，已为您转接社工，请稍等，社工看到后会直接在这里回复您。"
                f"如果 {minutes} 分钟内没有社工接手，我会为您登记工单并告诉您什么时候会有人联系。"
            )
            conv.state.pop(OFF_HOURS, None)
        conv.state[PROMISE] = promise
        await self._events.publish(
            conv.committee,
            "handoff",
            conversation=conv.key,
            reason=why,
            sender=conv.sender_name,
            text=turn.text[:200],
        )
        return [Reply(promise, ReplyKind.HANDOFF)]

    async def resident_message(self, conv: Conversation, text: str) -> None:
        """A resident wrote while a caseworker has (or is about to have) the conversation."""
        await self._events.publish(
            conv.committee,
            "resident_message",
            conversation=conv.key,
            sender=conv.sender_name,
            text=text[:500],
            assignee=conv.assignee_id,
        )

    async def takeover(self, committee: str, key: str, actor: Actor) -> Conversation:
        async with self._state.lock(keys.lock(key)) as lease:
            conv = await self._get(committee, key)
            conv.mode = Mode.HUMAN
            conv.assignee_id, conv.assignee_name = actor.id, actor.name
            if conv.handoff_at is None:
                conv.handoff_at, conv.handoff_reason = self._now(), "caseworker"
            await self._conversations.save(conv, fence=lease.token)
        if self._moved is not None:
            await self._moved(conv)
        await self._events.publish(committee, "takeover", conversation=key, assignee=actor.id)
        return conv

    async def reply(self, committee: str, key: str, actor: Actor, text: str) -> DeliveryReport:
        """Send a caseworker's reply to the resident; returns how it was delivered."""
        text = text.strip()
        if not text:
            raise ValueError("reply is empty")
        conv = await self._get(committee, key)
        if conv.mode is not Mode.HUMAN or conv.assignee_id != actor.id:
            conv = await self.takeover(committee, key, actor)
        report = await self._push(conv, text, "human")
        await self._log.record_proactive(
            conv,
            text,
            kind="human",
            direction="staff",
            sender_name=actor.name,
            delivery=report.status,
            error_code=report.error_code,
            error=report.error,
        )
        return report

    async def retry(
        self, committee: str, key: str, message_id: int, actor: Actor
    ) -> DeliveryReport | None:
        """Send a caseworker's failed reply again through the conversation's channel and
        record how it went. None when it is not (or no longer) failed: sent meanwhile, or
        another retry holds it; each failed message is sent again by one retry only."""
        conv = await self._get(committee, key)
        logged = await self._log.message(message_id)
        if logged is None or logged.conversation_key != conv.key or logged.direction != "staff":
            raise MessageNotFound(message_id)
        if not await self._log.hold_for_retry(conv.key, message_id):
            return None
        report = await self._push(conv, logged.text, "human")
        await self._log.record_delivery(message_id, report)
        log.info(
            "caseworker reply retried",
            extra={"message_id": message_id, "delivery": report.status.value, "by": actor.id},
        )
        return report

    async def release(self, committee: str, key: str, actor: Actor) -> Conversation:
        async with self._state.lock(keys.lock(key)) as lease:
            conv = await self._get(committee, key)
            conv.mode = Mode.BOT
            conv.assignee_id, conv.assignee_name = None, ""
            conv.handoff_at, conv.handoff_reason = None, ""
            for key in ("fallbacks", PROMISE, CATEGORY, OFF_HOURS):
                conv.state.pop(key, None)
            await self._conversations.save(conv, fence=lease.token)
        if self._moved is not None:
            await self._moved(conv)
        text = "社工已结束本次对话，接下来由居民助手「邻里」继续为您服务。有需要随时找我。"
        await self._send(conv, text, "notice")
        await self._events.publish(committee, "release", conversation=key, by=actor.id)
        return conv

    async def sweep(self) -> int:
        """Conversations nobody took in time: a ticket carries them and the resident is told
        honestly when they will hear back. Returns how many were carried."""
        now = self._now()
        carried = 0
        for stale in await self._conversations.waiting_since(now - self._wait):
            async with self._state.lock(keys.lock(stale.key)) as lease:
                conv = await self._conversations.get(stale.key)
                if conv is None or conv.mode is not Mode.WAITING:
                    continue
                if conv.handoff_reason == "crisis":
                    # A person in crisis stays with a person: the urgent ticket and its
                    # escalating alert carry it, never a consultation ticket and the bot.
                    continue
                if conv.state.get(OFF_HOURS):
                    # Its ticket exists and the resident was promised a caseworker when the
                    # office opens: it waits at the top of the console's list.
                    continue
                number = await self._carry(
                    conv,
                    "转人工后无人接手",
                    conv.handoff_reason,
                    f"handoff:{conv.key}:{conv.version}",
                    _category(conv.state.get(CATEGORY)),
                )
                conv.mode = Mode.BOT
                conv.handoff_at = None
                conv.state.pop(PROMISE, None)
                await self._conversations.save(conv, fence=lease.token)
            if self.office_open(now):
                when = "社工忙完手头的事会尽快联系您，一般在 1 个工作日内"
            else:
                when = f"社工会在 {self.next_opening(now)} 上班后尽快联系您"
            text = (
                f"抱歉，社工暂时都在忙，没能及时接手。已为您登记工单 {number}，{when}。"
                "在此期间有别的问题也可以继续问我。"
            )
            await self._send(conv, text, "handoff")
            await self._events.publish(
                conv.committee, "handoff_timeout", conversation=conv.key, ticket=number
            )
            carried += 1
        return carried

    async def _carry(
        self,
        conv: Conversation,
        text: str,
        reason: str,
        source_key: str,
        category: TicketCategory,
    ) -> str:
        """A ticket of ``category`` carrying the conversation; returns its number."""
        history = await self._log.conversation(conv.key, limit=20)
        transcript = "\n".join(
            f"{'居民' if m.direction == 'in' else '邻里'}：{m.text}" for m in history[-10:]
        )
        description = f"{REASONS.get(reason, reason)}。\n{transcript or text}"[:1000]
        reporter = Reporter(
            channel=conv.channel,
            account=conv.account,
            chat_id=conv.chat_id,
            sender_id=conv.sender_id,
            conversation_key=conv.key,
            name=conv.sender_name,
            chat_type=ChatType(conv.chat_type),
        )
        draft = TicketDraft(
            committee=conv.committee,
            category=category,
            description=description,
            reporter=reporter,
            compound=conv.compound,
        )
        result = await self._tickets.create(draft, source_message_key=source_key)
        conv.ticket_number = result.ticket.number
        return result.ticket.number

    async def _send(self, conv: Conversation, text: str, kind: str) -> DeliveryReport:
        """A message from 邻里 into the conversation, logged with how it went out."""
        report = await self._push(conv, text, kind)
        await self._log.record_proactive(
            conv,
            text,
            kind=kind,
            direction="out",
            sender_name="邻里",
            delivery=report.status,
            error_code=report.error_code,
            error=report.error,
        )
        return report

    async def _get(self, committee: str, key: str) -> Conversation:
        conv = await self._conversations.get(key)
        if conv is None or conv.committee != committee:
            raise ConversationNotFound(key)
        return conv


def _category(value: object) -> TicketCategory:
    """The category recorded at the handoff (a consultation when none was)."""
    try:
        return TicketCategory(value) if isinstance(value, str) else TicketCategory.CONSULTATION
    except ValueError:
        return TicketCategory.CONSULTATION


ANGRY = re.compile(
    r"[!！]{2,}|气死|太过分|忍无可忍|受够了|什么破|垃圾物业|不作为|没人管|欺负人|骂人|"
    r"要去(市长热线|12345)|打12345|曝光|媒体|再不(处理|解决)"
)


class HandoffRoute:
    """转人工 on request, or when a complaint is angry."""

    name = "handoff"
    capability = "转接人工社工"

    def __init__(self, handoff: Handoff) -> None:
        self._handoff = handoff

    async def __call__(self, turn: Turn) -> list[Reply] | None:
        if turn.parse.intent == "request_human" and turn.parse.confidence >= 0.5:
            return await self._handoff.begin(turn, "request_human")
        if turn.parse.intent == "complain" and ANGRY.search(turn.text):
            replies = await self._handoff.begin(turn, "angry")
            return [Reply("非常理解您的心情，给您添麻烦了。", ReplyKind.HANDOFF), *replies]
        return None
