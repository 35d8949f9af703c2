"""“我报的修怎么样了”: the resident's open tickets and where each stands."""

from __future__ import annotations

import re

from bot.dialogue.turn import Turn
from bot.domain import Reply, ReplyKind
from bot.domain.tickets import ResidentId, find_number
from bot.tickets import TicketQueries
from bot.tickets import texts as ticket_texts

# "换电梯的事进展到哪一步了": a question about a building's project or a consultation asks
# the FAQ (how such projects go), not the resident's own tickets; so does one about a public
# matter pointed at from outside ("上个月着火那栋楼现在修好了吗", "门口那条路修好了伐"):
# a building or road named as "that one", a fire or an accident
PROJECT = re.compile(
    r"征询|征求意见|意见征求|换电梯|加装电梯|电梯(?:更新|改造|更换)|旧改|改造|工程|项目|规划|"
    r"维修基金|维修资金|业主大会|表决|公示|"
    r"那(?:栋|幢|座|个)楼|那条(?:路|马路|街)|马路|着火|失火|火灾|烧掉|事故"
)
OWN_REPORT = re.compile(r"工单|单号|报修|我(?:报|反映|投诉|登记|提交|申请|提)的|我报了|我反映了")


# A question about one's own ticket points at something reported or awaited: the report, its
# progress, a visit, a result ("我报的修怎么样了", "师傅什么时候来", "你们派人了没有"). Without
# any of it, a message the classifier read as a status question asks for something new
# ("热死了 空调谁会修伐": who can repair an air conditioner) and goes on to the FAQ.
STATUS_CUE = re.compile(
    r"工单|单子|单号|记录|状态|进度|进展|结果|动静|下文|接单|登记上|派人|派了|转给|"
    r"报(?:修|了|的|过)|反映|投诉的|提交|申请的|"
    r"怎么样了|咋样了|哪能了|到哪|哪一步|啥情况|什么情况|怎么处理|处理(?:了|好|得)|"
    r"(?:修|弄|搞|办)(?:好|完)了|修不修|管不管|有没有人|还没|没人|人呢|"
    r"什么时候(?:来|上门|修|到)|啥辰光|几时来|上门|来修|上次|上个|前天|昨天|上礼拜|上周"
)


def asks_after_a_report(text: str) -> bool:
    """The message points at an earlier report or an awaited visit (a ticket number too)."""
    return find_number(text) is not None or bool(STATUS_CUE.search(text))


def is_project_question(text: str) -> bool:
    """A question about a consultation, a building's project or a public matter, not about
    one's own report."""
    return bool(PROJECT.search(text)) and not OWN_REPORT.search(text)


class StatusRoute:
    name = "status"
    capability = "查询您登记过的工单进度"

    def __init__(self, tickets: TicketQueries) -> None:
        self._tickets = tickets

    async def __call__(self, turn: Turn) -> list[Reply] | None:
        number = find_number(turn.text)
        if turn.parse.intent != "ticket_status" and number is None:
            return None
        if number is None and not asks_after_a_report(turn.text):
            return None
        if number is None and is_project_question(turn.text):
            return None
        resident = ResidentId.from_message(turn.msg)
        if number is not None:
            mine = await self._tickets.for_resident(
                turn.committee.id, resident, include_closed=True, limit=50
            )
            found = [t for t in mine if t.number == number]
            if not found:
                # Only the resident's own tickets are shown; never confirm another's.
                return [
                    Reply(
                        f"没有找到您登记的工单 {number}。"
                        "请核对编号，或问“我的工单怎么样了”查看全部。",
                        ReplyKind.STATUS,
                    )
                ]
            return [Reply(ticket_texts.status_line(found[0], turn.committee), ReplyKind.STATUS)]
        tickets = await self._tickets.for_resident(turn.committee.id, resident)
        if not tickets:
            return [
                Reply(
                    "您目前没有正在办理的工单。需要报修或反映问题，直接告诉我就行。",
                    ReplyKind.STATUS,
                )
            ]
        lines = [f"您有 {len(tickets)} 个正在办理的工单："]
        lines += [ticket_texts.status_line(t, turn.committee) for t in tickets[:5]]
        if len(tickets) > 5:
            lines.append(f"……另有 {len(tickets) - 5} 个，请到居委会查询。")
        return [Reply("\n".join(lines), ReplyKind.STATUS)]
