"""Letters, not questions: a long complaint, suggestion or petition is heard and sent on.

The reply says in one or two sentences what Linli understood (the kind of letter and its
topic), whether it is the committee's matter, and where it goes:
- the committee's own matter (the estate, neighbours, a named compound): a complaint or
  suggestion ticket the committee follows up — registered at once when the resident is
  clearly reporting something, otherwise offered ("登记");
- anything else: a referral to the 12345 citizens' hotline or 随申办, with the letter prepared
  to forward, and the offer to have the committee record it too ("登记") or to talk to a
  caseworker ("转人工");
- a long question the committee's FAQ answers: the answer, then where the matter goes if the
  answer does not settle it (the same ticket or referral, "登记" records it).
Never the generic "not found" menu."""

from __future__ import annotations

import re

from bot.dialogue.letters import Letter, LetterKind, read_letter
from bot.dialogue.routes.faq import CHOICES
from bot.dialogue.routes.intake import DRAFT, IntakeRoute
from bot.dialogue.turn import Route, Turn
from bot.domain import Reply, ReplyKind
from bot.domain.tickets import TicketCategory

PENDING = "letter"
"""Conversation state: the letter last read, waiting for "登记"."""
KEPT_CHARS = 1000
RECORD = re.compile(
    r"^(好的?|嗯|行|可以|麻烦|请|要)?[，, ]*(帮我)?(登记|记录|记下来|记一下|留个记录|立案)"
)
CATEGORY = {
    LetterKind.COMPLAINT: TicketCategory.COMPLAINT,
    LetterKind.SUGGESTION: TicketCategory.SUGGESTION,
    LetterKind.REQUEST: TicketCategory.CONSULTATION,
    LetterKind.QUESTION: TicketCategory.CONSULTATION,
}
REPORTING = {"report_repair", "complain"}


class LetterRoute:
    name = "letter"
    capability = (
        "收下您的长篇投诉、建议或求助：说明由谁处理，能登记的登记工单，其他的整理好转 12345"
    )

    def __init__(self, intake: IntakeRoute, faq: Route | None = None) -> None:
        self._intake = intake
        self._faq = faq

    async def __call__(self, turn: Turn) -> list[Reply] | None:
        pending = turn.state.pop(PENDING, None)
        if isinstance(pending, dict) and RECORD.match(turn.text.strip()):
            return await self._record(turn, pending)
        if isinstance(turn.state.get(DRAFT), dict):
            return None  # a ticket being registered: the message answers its questions
        names = [turn.committee.name, *(c.name for c in turn.committee.compounds)]
        letter = read_letter(turn.msg.text.strip(), local_names=names)
        if letter is None:
            return None
        if letter.kind is LetterKind.QUESTION and self._faq is not None:
            # A long question the committee's FAQ answers is answered, not referred.
            answered = await self._faq(turn)
            if answered and all(r.kind is ReplyKind.FAQ for r in answered):
                # The answer may not settle a letter: say where the matter goes if not.
                turn.state[PENDING] = {"kind": letter.kind.value, "text": _kept(letter)}
                return [*answered, Reply(_if_unsettled(letter), ReplyKind.LETTER)]
            turn.state.pop(CHOICES, None)
        understood = _understood(letter)
        if letter.local and turn.parse.intent in REPORTING:
            category = CATEGORY[letter.kind]
            lead = Reply(
                f"{understood}这是居委会可以跟进的事，我来帮您登记成{category.label}工单，"
                "社工会跟进处理并答复您。",
                ReplyKind.LETTER,
            )
            return [lead, *await self._intake.start(turn, category, _kept(letter))]
        turn.state[PENDING] = {"kind": letter.kind.value, "text": _kept(letter)}
        if letter.local:
            return [
                Reply(
                    f"{understood}这是居委会可以跟进的事：回复“登记”，我把它记成"
                    f"{CATEGORY[letter.kind].label}工单，社工会跟进处理并答复您；"
                    "想直接和社工说，回复“转人工”。",
                    ReplyKind.LETTER,
                )
            ]
        return [
            Reply(
                f"{understood}这件事不归居委会直接办理，一般由{letter.topic.handler}处理："
                "请拨打 12345 市民服务热线，或在“随申办”里找到 12345 市民服务热线留言，"
                "下面这段已经为您整理好，可以直接复制转发。"
                "需要居委会记下来协助反映，回复“登记”；想和社工当面说，回复“转人工”。",
                ReplyKind.LETTER,
            ),
            Reply(letter.forward_text(), ReplyKind.LETTER),
        ]

    async def _record(self, turn: Turn, pending: dict[str, object]) -> list[Reply]:
        try:
            kind = LetterKind(str(pending.get("kind")))
        except ValueError:
            kind = LetterKind.COMPLAINT
        return await self._intake.start(turn, CATEGORY[kind], str(pending.get("text") or ""))


def _understood(letter: Letter) -> str:
    about = f"{letter.topic.label}的{letter.kind.label}"
    return f"收到您反映的情况。我理解这是一条关于{about}：“{letter.subject}”。"


def _if_unsettled(letter: Letter) -> str:
    if letter.local:
        return (
            "如果这没有解决您反映的事，回复“登记”，我把它记成"
            f"{CATEGORY[letter.kind].label}工单，社工会跟进答复您；想直接和社工说，回复“转人工”。"
        )
    return (
        f"如果这没有解决您反映的事：它一般由{letter.topic.handler}处理，可以拨打 12345 "
        "市民服务热线或在“随申办”里留言；需要居委会记下来协助反映，回复“登记”。"
    )


def _kept(letter: Letter) -> str:
    return letter.text.replace("_x000D_", "")[:KEPT_CHARS]
