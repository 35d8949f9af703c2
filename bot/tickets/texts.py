"""Every Chinese text of the ticket service: what the resident is told, and the one-line
summaries of the history. Summaries never carry a full phone number."""

from __future__ import annotations

from datetime import datetime

from bot.domain.clock import SHANGHAI
from bot.domain.registry import Committee
from bot.domain.tickets import (
    Actor,
    Satisfaction,
    Ticket,
    TicketPriority,
    TicketStatus,
)
from bot.logs import mask

RESIDENT_REPLIED = "居民已补充信息，恢复处理"
RATED_CLOSE = "居民评价后关闭"
RATING_QUESTION = "请对本次办理进行评价，直接回复数字：1 满意　2 基本满意　3 不满意。"


def place(ticket: Ticket, committee: Committee | None) -> str:
    """``燕宁苑 3号楼 1单元 1201室`` (parts the resident did not give are left out)."""
    compound = committee.compound(ticket.compound) if committee and ticket.compound else None
    parts = [compound.name if compound else (ticket.compound or "")]
    parts.append(_suffixed(ticket.building, "号楼"))
    parts.append(_suffixed(ticket.unit, "单元"))
    parts.append(_suffixed(ticket.room, "室"))
    return " ".join(p for p in parts if p)


def _suffixed(value: str, suffix: str) -> str:
    return f"{value}{suffix}" if value.isdigit() else value


def _brief(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sentence(text: str) -> str:
    """``text`` ending in a full stop (unless it already ends in sentence punctuation)."""
    text = text.strip()
    return text if not text or text[-1] in "。！？!?.…；;" else f"{text}。"


def _label(ticket: Ticket) -> str:
    return f"{ticket.category.label}工单 {ticket.number}"


def when(moment: datetime) -> str:
    """``11月25日 16:00`` in Asia/Shanghai."""
    local = moment.astimezone(SHANGHAI)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


# -- to the resident (outbox and replies) -----------------------------------------------------


def created(ticket: Ticket, committee: Committee | None) -> str:
    """The confirmation the dialogue may send when a ticket is opened."""
    where = place(ticket, committee)
    at = f"（{where}）" if where else ""
    return (
        f"已为您登记{_label(ticket)}{at}。社工会尽快受理，"
        f"预计 {when(ticket.first_response_due)} 前给您回复。"
    )


def status_line(ticket: Ticket, committee: Committee | None) -> str:
    """One line per ticket for "我报的修怎么样了"."""
    where = place(ticket, committee)
    at = f"（{where}）" if where else ""
    state = ticket.status.label
    if ticket.assignee is not None and ticket.is_open and ticket.assignee.name:
        state += f"，承办社工：{ticket.assignee.name}"
    if ticket.rating_pending:
        state += "，请回复数字 1/2/3 评价"
    elif ticket.is_open:
        state += f"，预计 {when(ticket.resolution_due)} 前办结"
    return f"{_label(ticket)}{at}：{state}。"


def claimed(ticket: Ticket, by: Actor, *, again: bool = False) -> str:
    who = f"社工{by.name}" if by.name else "社工"
    if again:
        return f"您的{_label(ticket)} 已由{who}重新受理，我们会尽快处理，有进展会再告诉您。"
    return f"您的{_label(ticket)} 已由{who}受理，我们会尽快处理，有进展会再告诉您。"


def progress(ticket: Ticket, note: str) -> str:
    return f"您的{_label(ticket)} 有新进展：{_sentence(note)}"


def waiting(ticket: Ticket, note: str) -> str:
    need = f"：{_sentence(note)}" if note.strip() else "。"
    return f"您的{_label(ticket)} 需要您补充信息{need}请直接回复本消息。"


def resolved(ticket: Ticket, summary: str) -> str:
    result = f"：{_sentence(summary)}" if summary.strip() else "。"
    return f"您的{_label(ticket)} 已办结{result}\n{RATING_QUESTION}"


def closed(ticket: Ticket, reason: str) -> str:
    why = f"：{_sentence(reason)}" if reason.strip() else "。"
    return f"您的{_label(ticket)} 已关闭{why}如仍有问题，可以随时再联系我们。"


def reopened(ticket: Ticket) -> str:
    return f"您的{_label(ticket)} 已重新打开，社工会尽快与您联系。"


def rating_thanks(ticket: Ticket, score: Satisfaction) -> str:
    if score is Satisfaction.DISSATISFIED:
        return (
            f"很抱歉这次办理没有让您满意。{_label(ticket)} 已重新打开，"
            "社工会尽快与您联系，继续处理。"
        )
    return f"感谢您的评价（{score.label}）！{_label(ticket)} 已关闭。"


# -- history summaries (caseworkers; masked) --------------------------------------------------


def created_summary(ticket: Ticket, committee: Committee | None) -> str:
    r = ticket.reporter
    who = r.name or "居民"
    where = place(ticket, committee)
    parts = [f"{who}（{r.channel}）提交{ticket.category.label}"]
    if where:
        parts.append(f"地点：{where}")
    parts.append(f"内容：{_brief(ticket.description, 80)}")
    if r.phone:
        parts.append(f"联系电话：{r.masked_phone}")
    if ticket.priority is not ticket.category.default_priority:
        parts.append(f"优先级：{ticket.priority.label}")
    return mask("；".join(parts))


def claimed_summary(by: Actor, previous: Actor | None) -> str:
    if previous is not None and previous.id != by.id:
        return f"{by.display} 接手工单（原处理人：{previous.display}）"
    return f"{by.display} 受理工单"


def transferred_summary(by: Actor, to: Actor, previous: Actor | None, note: str) -> str:
    origin = f"（原处理人：{previous.display}）" if previous is not None else ""
    text = f"{by.display} 将工单转给 {to.display}{origin}"
    return mask(f"{text}：{note.strip()}" if note.strip() else text)


def status_summary(by: Actor, old: TicketStatus, new: TicketStatus, note: str) -> str:
    text = f"{by.display} 将状态由「{old.label}」改为「{new.label}」"
    return mask(f"{text}：{note.strip()}" if note.strip() else text)


def note_summary(by: Actor, text: str, public: bool) -> str:
    scope = "公开" if public else "内部"
    return mask(f"{by.display} 备注（{scope}）：{text.strip()}")


def linked_summary(other: Ticket, reason: str) -> str:
    return f"与工单 {other.number} 关联：{reason}"


def satisfaction_summary(score: Satisfaction, comment: str) -> str:
    text = f"居民评价：{score.label}"
    return mask(f"{text}；意见：{comment.strip()}" if comment.strip() else text)


def reopened_summary(by: Actor, reason: str) -> str:
    text = f"{by.display} 重新打开工单"
    return mask(f"{text}：{reason.strip()}" if reason.strip() else text)


def priority_summary(by: Actor, old: TicketPriority, new: TicketPriority, reason: str) -> str:
    text = f"{by.display} 将优先级由「{old.label}」改为「{new.label}」"
    return mask(f"{text}：{reason.strip()}" if reason.strip() else text)


def attachment_summary(by: Actor, media_id: str) -> str:
    return f"{by.display} 添加附件（媒体 {media_id}）"


def location_summary(by: Actor, where: str) -> str:
    return f"{by.display} 补充地址：{where}"


def auto_close_reason(days: float) -> str:
    amount = int(days) if days == int(days) else round(days, 1)
    return f"居民 {amount} 天内未评价，系统自动关闭"
