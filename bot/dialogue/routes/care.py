"""Words of dying in a message the crisis layer judged calm: "刚才我发的不想活了 是在吐槽老板
不是真的 别担心", "想死 开玩笑的", "春晚小品里那句我不活了" — or a message of nothing but
distress ("撑不住了", ``CrisisRules.needs_care``). Such a message never gets a goodbye
("好的，再见！祝您生活愉快"), a chit-chat line or the fallback menu: it gets one caring line
with the hotlines and the offer of a caseworker. Nobody is alerted and no ticket is opened
(the crisis layer judged it calm), so the line never says anyone was told. A question asked
in the same words ("排队排得我想死 停车月卡怎么办") still gets its answer: the FAQ route
answers it when the FAQ has one clear answer (never a list of questions to choose from)."""

from __future__ import annotations

from collections.abc import Callable

from bot.dialogue.routes.emergency import HOTLINES
from bot.dialogue.routes.faq import FaqRoute
from bot.dialogue.routes.smalltalk import INTENTS as SMALLTALK_INTENTS
from bot.dialogue.turn import Turn
from bot.domain import Reply, ReplyKind

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
        if turn.parse.intent not in SMALLTALK_INTENTS:
            outcome = await self._faq.search(turn)
            if outcome is not None and outcome.kind == "answer":
                return None  # the FAQ route answers the question asked in these words
        return [Reply(CARE, ReplyKind.CARE)]
