"""The Chinese texts of notices, as residents and groups read them."""

from __future__ import annotations

from datetime import datetime

from bot.domain.clock import SHANGHAI
from bot.storage.notices import Notice

ASK_ACK = "请回复“收到”，让居委会知道您已看到这条通知。"


def when(value: datetime) -> str:
    local = value.astimezone(SHANGHAI)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def period(notice: Notice) -> str:
    return f"{when(notice.valid_from)} 至 {when(notice.valid_until)}"


def message(notice: Notice, committee_name: str, *, private: bool, link: str = "") -> str:
    """The notice as it goes out: into a group, or privately (asking for "收到", with the
    link to the notice's page when there is one)."""
    lines = [
        f"【{notice.kind.label}通知】{notice.title}",
        notice.body,
        f"时间：{period(notice)}",
        f"——{committee_name}",
    ]
    if private and link:
        lines.append(f"查看通知全文并点“收到”：{link}")
    if private:
        lines.append(ASK_ACK)
    return "\n".join(lines)


def answer(notices: list[Notice], committee_name: str) -> str:
    """A question a valid notice answers: the notice first."""
    head = (
        "居委会发布了这条通知，可能就是您问的情况："
        if len(notices) == 1
        else ("居委会发布了以下通知，可能就是您问的情况：")
    )
    parts = [head]
    for n in notices:
        parts.append(f"【{n.kind.label}】{n.title}\n{n.body}\n时间：{period(n)}")
    parts.append(
        f"——{committee_name}\n如果不是这个原因，或需要报修，请直接告诉我（例如“我要报修”）。"
    )
    return "\n\n".join(parts)


def acknowledged(notices: list[Notice]) -> str:
    titles = "、".join(f"《{n.title}》" for n in notices)
    return f"好的，已记录您收到通知{titles}，谢谢！如有问题可以随时问我。"


def already(notices: list[Notice]) -> str:
    titles = "、".join(f"《{n.title}》" for n in notices)
    return f"您已经确认过收到通知{titles}，谢谢！"
