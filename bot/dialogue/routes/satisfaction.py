"""回访: after a ticket is resolved the resident answers 满意/基本满意/不满意 (1/2/3);
不满意 reopens the ticket and alerts the assignee."""

from __future__ import annotations

import re

from bot.dialogue.events import LiveEvents
from bot.dialogue.turn import AlertStaff, Turn
from bot.domain import Reply, ReplyKind
from bot.domain.tickets import Actor, Reporter, ResidentId, Satisfaction
from bot.tickets import SatisfactionSurvey

_SCORES = (
    (
        re.compile(r"^\s*(3|三|不满意|很不满意|非常不满意|差评|不行|没解决|没有解决)"),
        Satisfaction(3),
    ),
    (re.compile(r"^\s*(2|二|基本满意|还行|一般|还可以|凑合)"), Satisfaction(2)),
    (re.compile(r"^\s*(1|一|满意|非常满意|很满意|好评|挺好|解决了|谢谢)"), Satisfaction(1)),
)


def read_score(text: str) -> tuple[Satisfaction, str] | None:
    """The score in a reply like "3 师傅没来" and the rest as the comment."""
    for pattern, score in _SCORES:
        m = pattern.match(text)
        if m:
            return score, text[m.end() :].strip(" ，,。.")
    return None


class SatisfactionRoute:
    name = "satisfaction"
    capability = None

    def __init__(
        self, tickets: SatisfactionSurvey, alert_staff: AlertStaff, events: LiveEvents
    ) -> None:
        self._tickets = tickets
        self._alert = alert_staff
        self._events = events

    async def __call__(self, turn: Turn) -> list[Reply] | None:
        read = read_score(turn.text)
        if read is None or len(turn.text) > 60:
            return None
        resident = ResidentId.from_message(turn.msg)
        pending = await self._tickets.rating_pending_for(turn.committee.id, resident)
        if pending is None:
            return None
        score, comment = read
        actor = Actor.resident(Reporter.from_message(turn.msg))
        result = await self._tickets.rate(
            turn.committee.id, pending.number, score, comment, actor=actor
        )
        if result.reopened:
            who = result.alert.name if result.alert and result.alert.name else "承办社工"
            await self._alert(
                turn.committee.id,
                f"【回访不满意】工单 {pending.number} 居民评价不满意，已重新打开，"
                f"请{who}尽快联系居民。" + (f"意见：{comment}" if comment else ""),
            )
            await self._events.publish(
                turn.committee.id,
                "ticket_reopened",
                ticket=pending.number,
                assignee=result.alert.id if result.alert else None,
            )
        return [Reply(result.reply, ReplyKind.FEEDBACK, ticket=result.ticket.ref())]
