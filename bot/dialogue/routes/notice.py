"""Notices first: while a notice is valid, "收到" (收到了, 好的收到, 已收到, 知道了 …) in a private
chat acknowledges the notices the resident received, any other private message marks them
read, and a question a notice answers ("怎么没水了", "电梯怎么停了") gets the notice before the
FAQ — for a resident of a targeted household, or (not bound) in the compound's group or
naming the compound. Emergencies never reach a route: the pipeline's emergency step answers
"电梯里关了人" before any of this."""

from __future__ import annotations

from bot.dialogue.turn import Turn
from bot.domain import Reply, ReplyKind
from bot.domain.tickets import ResidentId
from bot.notices import Notices, matching, texts


class NoticeRoute:
    name = "notice"
    capability = "居委会通知（停水、停电、电梯维保等）：有效期内问起时先告诉您，回复“收到”确认"

    def __init__(self, notices: Notices) -> None:
        self._notices = notices

    async def __call__(self, turn: Turn) -> list[Reply] | None:
        committee = turn.committee.id
        valid = await self._notices.current(committee)
        if not valid:
            return None
        text = turn.text.strip()
        resident = None if turn.is_group else ResidentId.from_message(turn.msg)
        if resident is not None:
            acked = await self._notices.wrote(committee, resident, text, valid)
            if acked:
                return [Reply(texts.acknowledged(acked), ReplyKind.NOTICE)]
            if acked is not None:  # an acknowledgement of notices acknowledged before
                got = await self._notices.received_notices(committee, resident, valid)
                return [Reply(texts.already(got), ReplyKind.NOTICE)]
        asked = [n for n in valid if matching.answers(n, text)]
        if not asked:
            return None
        value = turn.parse.value("compound")
        named = turn.committee.compound(value) if value else None
        found = await self._notices.relevant(
            committee,
            asked,
            resident=resident,
            named=named.id if named is not None else None,
            around=turn.compound.id if turn.compound is not None else None,
            buildings=self._notices.buildings_of(committee, turn.msg.chat.id)
            if turn.is_group
            else (),
        )
        if found:
            return [Reply(texts.answer(found, turn.committee.name), ReplyKind.NOTICE)]
        if turn.is_group or named is not None or turn.compound is not None:
            return None
        # Nobody knows where the asker lives ("20号楼几点来水啊", not bound): the notices
        # that may be theirs, each with where it applies, rather than nothing.
        maybe = await self._notices.for_unplaced(
            committee, asked, resident=resident, building=turn.parse.value("building")
        )
        if not maybe:
            return None
        return [Reply(texts.answer_unplaced(maybe, turn.committee), ReplyKind.NOTICE)]
