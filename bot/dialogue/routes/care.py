"""Words of dying in a message the crisis layer judged calm: "刚才我发的不想活了 是在吐槽老板
不是真的 别担心", "想死 开玩笑的", "春晚小品里那句我不活了" — or a message of nothing but
distress ("撑不住了", ``CrisisRules.needs_care``). Such a message never gets a goodbye
("好的，再见！祝您生活愉快"), a chit-chat line or the fallback menu: it gets one caring line
with the hotlines and the offer of a caseworker. Nobody is alerted and no ticket is opened
(the crisis layer judged it calm), so the line never says anyone was told. A question asked
in the same words ("排队排得我想死 停车月卡怎么办") still gets its answer: the FAQ route
answers it when the FAQ has one clear answer (never a list of questions to choose from).

A message the crisis classifier read as possibly urgent but below its threshold (and not like a
look-alike: "我妈一天没出房门了", "楼道里好大的味道" in a writer's own words) gets a check-in in
place of a goodbye, small talk, the out-of-scope line or the menu (``CheckInRoute``): is
someone in danger now, with 110/119/120 and the hotlines. "是" makes it an emergency (the
pipeline's ``check_in`` step: the urgent ticket, the staff alert and the safety reply, as if
the rules had found it); "没事" ends it. Nothing is claimed before the resident says so."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.dialogue.routes.emergency import HOTLINES
from bot.dialogue.routes.faq import FaqRoute
from bot.dialogue.routes.smalltalk import INTENTS as SMALLTALK_INTENTS
from bot.dialogue.turn import Turn, state_time
from bot.domain import Reply, ReplyKind
from bot.nlu.crisis_model import SELF_HARM_CUE
from bot.nlu.service import CRISIS_READING
from bot.nlu.types import EmergencyCategory, EmergencyHit

CARE = (
    "听你这么说，我有点担心。如果只是随口说说，那就好；要是心里真的很难受、觉得撑不下去，"
    f"随时可以跟我说，也可以打{HOTLINES}，会有专业的人听你说；有危险请马上拨打 110 或 120。"
    "需要的话，回复“找社工”，请社工来联系你。"
)


class CareRoute:
    """Runs after the routes that act on a message (tickets, handoff, status) and before
    small talk: a self-harm phrase (or bare distress) the crisis layer judged calm gets
    ``CARE`` unless the FAQ has one clear answer to the message."""

    name = "care"
    capability = None

    def __init__(self, faq: FaqRoute, needs_care: Callable[[str], bool]) -> None:
        self._faq = faq
        self._needs_care = needs_care

    async def __call__(self, turn: Turn) -> list[Reply] | None:
        if not self._needs_care(turn.text):
            return None
        if await _faq_answers(self._faq, turn, ("answer",)):
            return None  # the FAQ route answers the question asked in these words
        return [Reply(CARE, ReplyKind.CARE)]


async def _faq_answers(faq: FaqRoute, turn: Turn, kinds: tuple[str, ...]) -> bool:
    """Whether the FAQ route would answer the turn with one of ``kinds`` of outcome (a
    message read as small talk is not searched)."""
    if turn.parse.intent in SMALLTALK_INTENTS:
        return False
    outcome = await faq.search(turn)
    return outcome is not None and outcome.kind in kinds


CHECK_IN = "crisis_check_in"
"""Conversation state: the message a check-in asked about, awaiting "是" or "没事"."""
CHECK_IN_DECLINED_AT = "crisis_check_in_declined_at"
"""When the resident last answered a check-in "没事": no other check-in for a while."""
CHECK_IN_TTL = timedelta(minutes=30)
"""How long a check-in waits for its answer, and how long "没事" holds off another."""

CHECK_IN_SELF = (
    "我想确认一下：你现在还好吗？是不是有伤害自己的念头，或者身边有人有危险？"
    f"心里难受可以打{HOTLINES}，会有专业的人听你说；有危险请马上拨打 110 或 120。"
    "如果是，回复“是”，我马上登记紧急工单请社工联系你；不是的话回复“没事”。"
)
CHECK_IN_DANGER = (
    "我想确认一下：现在是不是有人有危险，或者有紧急情况？如果是，请先拨打 110（火警 119，"
    "急救 120），再回复“是”，我马上登记紧急工单请社工联系您；心里难受也可以打"
    f"{HOTLINES}。不是的话回复“没事”，再说说您想问什么。"
)
CHECK_IN_SAFE = "好的，没事就好。有什么需要随时跟我说；遇到危险请直接拨打 110、119 或 120。"

_YES = (
    "是的", "是", "对的", "对", "有的", "有危险", "有", "嗯", "恩", "需要", "要", "危险", "救命",
    "快来", "快点", "快", "帮帮我", "帮我", "救救我", "求救", "求助", "真的", "确实", "yes", "y",
)  # fmt: skip
_NO = (
    "没事", "没有", "不是", "没危险", "不用", "不需要", "还好", "开玩笑", "放心", "都好", "挺好",
    "没", "不", "no", "n",
)  # fmt: skip
_FILLERS = ("谢谢", "麻烦了", "麻烦", "请", "了", "的", "啊", "呀", "啦", "呢", "哦", "噢", "喔")
_NOT_A_WORD = re.compile(r"[\W_]+")
_YES_THEN = re.compile(
    r"^\s*(?:是的|对的|有的|是|对|嗯+)\s*[，,。.！!、；;：:\s]+(?P<rest>.+)$", re.S
)
""""是的，我妈还是没开门": a yes, then what it is."""


def check_in_answer(text: str) -> bool | None:
    """The answer to a check-in: True ("是", "对的 快来"), False ("没事", "不是的 谢谢"), or
    None when the message is something else ("有人在吗", "没有人应门", a question), which is
    then answered as it is. An answer is made of nothing but its words and courtesies."""
    t = _NOT_A_WORD.sub("", text).lower()
    for words, answer in ((_NO, False), (_YES, True)):
        if t and _only(t, (*words, *_FILLERS)) and not _only(t, _FILLERS):
            return answer
    then = _YES_THEN.match(text)
    if then is not None and not _NOT_A_WORD.sub("", then["rest"]).startswith(_NO):
        return True
    return None


def _only(text: str, words: tuple[str, ...]) -> bool:
    """Whether ``text`` is made of ``words`` alone (the first that fits at each point)."""
    while text:
        word = next((w for w in words if text.startswith(w)), None)
        if word is None:
            return False
        text = text[len(word) :]
    return True


def check_in_reading(turn: Turn, floor: float) -> dict[str, Any] | None:
    """The crisis classifier's reading of the turn's message when it asks for a check-in:
    at ``floor`` or more (below the crisis threshold, not like a look-alike)."""
    reading = turn.parse.extra.get(CRISIS_READING)
    if not isinstance(reading, dict) or float(reading.get("p_urgent", 0.0)) < floor:
        return None
    return reading


def self_harm_leaning(reading: dict[str, Any]) -> bool:
    return (
        reading.get("category") == EmergencyCategory.SELF_HARM.value
        or float(reading.get("p_self_harm", 0.0)) >= SELF_HARM_CUE
    )


class CheckInRoute:
    """After ``CareRoute``, before small talk: a message the crisis classifier read at
    ``floor`` or more (and below its threshold) gets a check-in, unless the FAQ has an answer
    or choices for it or the resident said "没事" to one in the last ``CHECK_IN_TTL``. The
    message is remembered for the answer (``CHECK_IN``)."""

    name = "check_in"
    capability = None

    def __init__(self, faq: FaqRoute, floor: float) -> None:
        self._faq = faq
        self._floor = floor

    async def __call__(self, turn: Turn) -> list[Reply] | None:
        reading = check_in_reading(turn, self._floor)
        if reading is None or check_in_answer(turn.text) is not None:
            return None  # a bare "是" or "没事" tells nothing to ask about
        now = datetime.now(UTC)  # as the pipeline times the answer (``Pipeline._check_in``)
        declined = state_time(turn.state.get(CHECK_IN_DECLINED_AT))
        if declined is not None and now - declined < CHECK_IN_TTL:
            return None  # "没事" a moment ago
        if await _faq_answers(self._faq, turn, ("answer", "clarify")):
            return None  # the FAQ route answers the question asked (or offers choices)
        self_harm = self_harm_leaning(reading)
        turn.state[CHECK_IN] = {
            "text": turn.text,
            "category": str(reading.get("category", EmergencyCategory.OTHER.value)),
            "self_harm": self_harm,
            "at": now.isoformat(),
        }
        return [Reply(CHECK_IN_SELF if self_harm else CHECK_IN_DANGER, ReplyKind.CHECK_IN)]


def confirmed(pending: dict[str, Any]) -> EmergencyHit:
    """The crisis a check-in's "是" confirms: self-harm when the check-in asked about it,
    else the classifier's category (its safety advice, not the self-harm lines)."""
    if pending.get("self_harm"):
        return EmergencyHit(EmergencyCategory.SELF_HARM, "", 0, 0, source="check_in")
    try:
        category = EmergencyCategory(str(pending.get("category")))
    except ValueError:
        category = EmergencyCategory.OTHER
    if category is EmergencyCategory.SELF_HARM:
        category = EmergencyCategory.OTHER
    return EmergencyHit(category, "", 0, 0, source="check_in")
