"""Ticket intake by conversation (马上办、一次办): a repair or complaint becomes a ticket after a
short dialogue that asks only for what is missing — what, where, how to reach the resident —
accepts corrections ("不对，是5号楼"), can be cancelled, times out politely, and never collects
personal details in a group chat. A resident who gets stuck is handed to a caseworker."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.dialogue.turn import HandOver, Turn
from bot.domain import Reply, ReplyKind
from bot.domain.tickets import Reporter, TicketCategory, TicketDraft
from bot.tickets import TicketIntake
from bot.tickets import texts as ticket_texts

START_INTENTS = {"report_repair": TicketCategory.REPAIR, "complain": TicketCategory.COMPLAINT}
CANCEL = re.compile(r"^(算了|取消|不用了|不报了|不修了|不投诉了|先不用|不要了|撤销|cancel)")
SKIP = re.compile(r"^(不用|不留|跳过|不方便|没有|不想留|免了|skip)")
PUBLIC_AREA = re.compile(
    r"楼道|走廊|电梯|路灯|公共|小区门|大门|绿化|道路|路面|楼顶|屋顶|地下室|车棚|垃圾房|楼梯|单元门|门禁|外墙|停车|消防"
)
FILLER = re.compile(
    r"我要|我想|想要|要|帮我|帮忙|麻烦|请问|请|你好|您好|报修|报个修|修一下|投诉|反映|一下|"
    r"@\S+|[了的吗呢啊呀吧哦嘛嗯噢呃额哈唉哎啦呵好是对行，。！？!?,.~～\s]"
)
OFFER_TICKET = "faq_offer_ticket"
"""State: a report or complaint the FAQ's answer was just given for (``RuleFirstRoute``); an
accepting reply on the next turn ("登记", "报修") turns it into a ticket."""
OFFER_CATEGORY = "faq_offer_category"
"""State: the category of the ticket offered with ``OFFER_TICKET`` (``repair``/``complaint``)."""
ACCEPT_OFFER = re.compile(
    r"^(?:那就|那|请|麻烦|好的?|嗯|对)?[，,\s]*(?:帮我|帮忙|侬帮我)?"
    r"(?:登记|记下来|记一下|要登记|需要登记|需要|要的?|好的?|是的?|可以|行|"
    r"报修|报个修|要报修|修|要修|帮我修|派人来修|派人|来修)"
    r"(?:吧|的|一下|了|呀|啊|伐)?[。！!.～~]*$"
)
OK_ONLY = re.compile(r"^(?:好的?|行|可以|嗯+|哦+|是的?)(?:吧|的|了|呀|啊)?[。！!.～~]*$")
TIMEOUT = timedelta(minutes=30)
MAX_MISSES = 3
DRAFT = "draft"


class IntakeRoute:
    name = "intake"
    capability = "登记报修、投诉，生成工单并跟进办理"

    def __init__(self, tickets: TicketIntake, handoff: HandOver) -> None:
        self._tickets = tickets
        self._handoff = handoff

    async def __call__(self, turn: Turn) -> list[Reply] | None:
        draft = turn.state.get(DRAFT)
        now = datetime.now(UTC)
        prefix: list[Reply] = []
        if isinstance(draft, dict) and _expired(draft, now):
            turn.state.pop(DRAFT, None)
            draft = None
            prefix.append(
                Reply(
                    "上次的登记因为太久没有回复，已经自动取消了。如还需要，请重新告诉我。",
                    ReplyKind.SLOT,
                )
            )
        if isinstance(draft, dict):
            if _other_topic(turn):
                return None
            return prefix + await self._continue(turn, draft, now)
        offered = turn.state.pop(OFFER_TICKET, None)
        offered_category = turn.state.pop(OFFER_CATEGORY, None)
        accepted = isinstance(offered, str) and bool(ACCEPT_OFFER.match(turn.text.strip()))
        if accepted and offered_category == TicketCategory.REPAIR.value:
            # after a repair answer "好的" is thanks for it, not "please register"
            accepted = not OK_ONLY.match(turn.text.strip())
        if isinstance(offered, str) and CANCEL.match(turn.text.strip()):
            return [*prefix, Reply("好的，这次不登记。有需要随时告诉我。", ReplyKind.SLOT)]
        if (
            isinstance(offered, str)
            and turn.parse.intent in START_INTENTS
            and not _meaningful(turn.text, turn)
        ):
            accepted = True  # "我要报修" right after the offer: the report just answered
        category = (
            TicketCategory(offered_category or TicketCategory.COMPLAINT.value)
            if accepted
            else START_INTENTS.get(turn.parse.intent)
        )
        if category is None:
            return prefix or None
        if accepted and isinstance(offered, str):
            description = offered  # the complaint the resident agreed to record
        else:
            description = turn.text if _meaningful(turn.text, turn) else ""
        return prefix + await self.start(turn, category, description)

    async def start(self, turn: Turn, category: TicketCategory, description: str) -> list[Reply]:
        """Begin a ticket of ``category`` whose description is already known (may be empty);
        asks for what is still missing, or creates it at once."""
        now = datetime.now(UTC)
        draft: dict[str, Any] = {
            "category": category.value,
            "description": "",
            "started": now.isoformat(),
            "misses": 0,
            "phone_asked": False,
        }
        self._absorb(turn, draft)
        if description:
            draft["description"] = description
        turn.state[DRAFT] = draft
        return await self._next(turn, draft)

    async def _continue(self, turn: Turn, draft: dict[str, Any], now: datetime) -> list[Reply]:
        if CANCEL.match(turn.text):
            turn.state.pop(DRAFT, None)
            return [Reply("好的，已取消，这次没有登记工单。有需要随时找我。", ReplyKind.SLOT)]
        awaiting = draft.get("awaiting")
        before = dict(draft)
        changed = self._absorb(turn, draft)
        filled = self._fill_awaited(turn, draft, awaiting)
        if not (changed or filled):
            draft["misses"] = int(draft.get("misses", 0)) + 1
            if draft["misses"] >= MAX_MISSES:
                turn.state.pop(DRAFT, None)
                turn.state["handoff_draft"] = draft
                return await self._handoff(turn, "slot_failure")
            return [Reply("抱歉，我没看明白。" + _prompt(turn, draft, awaiting), ReplyKind.SLOT)]
        draft["misses"] = 0
        replies: list[Reply] = []
        if changed and awaiting not in changed:
            # "已改为" only for what was said before; what is new is just noted.
            fixed = [slot for slot in changed if before.get(slot)]
            added = [slot for slot in changed if not before.get(slot)]
            said = []
            if fixed:
                said.append("已改为" + "、".join(_describe(turn, draft, s) for s in fixed))
            if added:
                said.append("已记下" + "、".join(_describe(turn, draft, s) for s in added))
            replies.append(Reply(f"好的，{'，'.join(said)}。", ReplyKind.SLOT))
        return replies + await self._next(turn, draft)

    def _absorb(self, turn: Turn, draft: dict[str, Any]) -> list[str]:
        """Take every slot the message states (a correction overwrites); returns the changed."""
        changed: list[str] = []
        parse = turn.parse
        compound_id = parse.value("compound")
        if compound_id and turn.committee.compound(compound_id) is not None:
            found = turn.committee.compound(compound_id)
            if found is not None and draft.get("compound") != found.id:
                draft["compound"] = found.id
                changed.append("compound")
        for slot in ("building", "unit", "room", "phone"):
            value = parse.value(slot)
            if value and draft.get(slot) != value:
                had = bool(draft.get(slot))
                draft[slot] = value
                if had or slot != "phone":
                    changed.append(slot)
        return changed

    def _fill_awaited(self, turn: Turn, draft: dict[str, Any], awaiting: object) -> bool:
        text = turn.text.strip()
        if awaiting == "description":
            if _meaningful(text, turn):
                draft["description"] = text
                return True
            return False
        if awaiting == "compound":
            choice = _number(text)
            compounds = turn.committee.compounds
            if choice is not None and 1 <= choice <= len(compounds):
                draft["compound"] = compounds[choice - 1].id
                return True
            found = turn.committee.compound(text)
            if found is not None:
                draft["compound"] = found.id
                return True
            return bool(draft.get("compound"))
        if awaiting == "building":
            if draft.get("building"):
                return True
            number = _number(text)
            if number is not None:
                draft["building"] = f"{number}号楼"
                return True
            return False
        if awaiting == "room":
            if draft.get("room"):
                return True
            if PUBLIC_AREA.search(text) or re.search(r"公共|不是家里|不在家里", text):
                draft["room"] = "公共区域"
                return True
            number = _number(text)
            if number is not None:
                draft["room"] = f"{number}室"
                return True
            return False
        if awaiting == "phone":
            if draft.get("phone"):
                return True
            if SKIP.match(text):
                draft["phone_skipped"] = True
                return True
            if re.search(r"\d{5,}", text):
                # Digits that are not a valid phone number: ask again, kindly.
                return False
            return False
        return False

    async def _next(self, turn: Turn, draft: dict[str, Any]) -> list[Reply]:
        missing = _missing(turn, draft)
        if missing is None:
            return await self._create(turn, draft)
        draft["awaiting"] = missing
        if missing == "phone":
            draft["phone_asked"] = True
        return [Reply(_prompt(turn, draft, missing), ReplyKind.SLOT)]

    async def _create(self, turn: Turn, draft: dict[str, Any]) -> list[Reply]:
        category = TicketCategory(draft["category"])
        ticket_draft = TicketDraft(
            committee=turn.committee.id,
            category=category,
            description=str(draft.get("description") or turn.text)[:1000],
            reporter=Reporter.from_message(turn.msg, phone=draft.get("phone") or None),
            compound=draft.get("compound") or (turn.compound.id if turn.compound else None),
            building=str(draft.get("building") or ""),
            unit=str(draft.get("unit") or ""),
            room=str(draft.get("room") or ""),
            attachments=tuple(str(a) for a in draft.get("attachments", [])),
        )
        # Written (with its first event) before anything is replied.
        result = await self._tickets.create(ticket_draft, source_message_key=turn.msg.dedup_key)
        turn.state.pop(DRAFT, None)
        compound = turn.committee.compound(ticket_draft.compound or "")
        if compound is not None and turn.compound is None:
            turn.remember_compound(compound)
        ticket = result.ticket
        turn.conversation.ticket_number = ticket.number
        lines = [ticket_texts.created(ticket, turn.committee)]
        lines.append(
            "接下来：社工受理后会通知您；办结后请您评价。想查进度，随时问我“我的工单怎么样了”。"
        )
        if result.linked_to:
            lines.append(f"（已有邻居反映过同样的问题，工单 {result.linked_to}，社工会一并处理。）")
        if turn.is_group:
            lines.append("为保护隐私，门牌号、联系电话请私聊邻里补充，不要在群里发。")
        return [Reply("\n".join(lines), ReplyKind.TICKET, ticket=ticket.ref())]


def _missing(turn: Turn, draft: dict[str, Any]) -> str | None:
    if not draft.get("description"):
        return "description"
    if not draft.get("compound") and turn.compound is None:
        return "compound"
    if draft["category"] == TicketCategory.REPAIR.value:
        public = bool(PUBLIC_AREA.search(str(draft.get("description", ""))))
        if not draft.get("building") and not _whole_compound(draft):
            return "building"
        if not turn.is_group and not public and not draft.get("room"):
            return "room"
    if not turn.is_group and not draft.get("phone") and not draft.get("phone_skipped"):
        return "phone"
    return None


def _whole_compound(draft: dict[str, Any]) -> bool:
    return bool(
        re.search(r"小区门|大门|绿化|道路|路面|车棚|垃圾房|停车", draft.get("description", ""))
    )


def _prompt(turn: Turn, draft: dict[str, Any], slot: object) -> str:
    kind = TicketCategory(draft["category"]).label
    if slot == "description":
        return f"好的，我来帮您登记{kind}。请简单说一下是什么问题？（回复“取消”可以不登记）"
    if slot == "compound":
        names = "\n".join(f"{i}. {c.name}" for i, c in enumerate(turn.committee.compounds, 1))
        return f"请问是哪个小区？回复数字或小区名：\n{names}"
    if slot == "building":
        return "请问是几号楼？（比如“5号楼”）"
    if slot == "room":
        return "请问门牌号是多少？（比如“302室”；如果是楼道、电梯等公共区域，回复“公共区域”）"
    if slot == "phone":
        return "方便留个联系电话吗？社工上门前会先联系您。（不想留可以回复“不用”）"
    return "请再说一下？"


def _describe(turn: Turn, draft: dict[str, Any], slot: str) -> str:
    value = str(draft.get(slot) or "")
    if slot == "compound":
        found = turn.committee.compound(value)
        return found.name if found else value
    if slot == "phone":
        return "新的联系电话"
    return value


NOT_A_PROBLEM = {"affirm", "deny", "greet", "thank", "goodbye"}


def _meaningful(text: str, turn: Turn) -> bool:
    """Whether ``text`` says what the problem is (not just "我要报修", "嗯嗯" or a slot answer)."""
    if turn.parse.intent in NOT_A_PROBLEM and turn.parse.confidence >= 0.5:
        return False
    rest = text
    for entity in turn.parse.entities:
        rest = rest.replace(entity.text, "")
    rest = FILLER.sub("", rest)
    return len(re.findall(r"[\u4e00-\u9fffA-Za-z]", rest)) >= 2


def _number(text: str) -> int | None:
    m = re.fullmatch(r"\s*(\d{1,4})\s*(号楼|号|幢|栋|室|楼)?\s*", text)
    return int(m[1]) if m else None


def _expired(draft: dict[str, Any], now: datetime) -> bool:
    try:
        started = datetime.fromisoformat(str(draft.get("started")))
    except ValueError:
        return True
    return now - started > TIMEOUT


def _other_topic(turn: Turn) -> bool:
    """A clearly different request mid-intake (a question, "转人工", a status check) is
    answered by its own route; the draft waits."""
    parse = turn.parse
    has_slot = any(
        e.entity in {"compound", "building", "unit", "room", "phone"} for e in parse.entities
    )
    return (
        parse.intent in {"request_human", "ticket_status"}
        and parse.confidence >= 0.6
        and not has_slot
    )
