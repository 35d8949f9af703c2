"""The Chinese texts of notices, as residents and groups read them."""

from __future__ import annotations

from datetime import datetime

from bot.domain import Committee
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


def answer_unplaced(notices: list[Notice], committee: Committee) -> str:
    """A question a valid notice may answer, from someone whose compound is unknown: the
    notices with where each applies, and how to get only one's own."""
    parts = [
        "不知道您住哪个小区，目前有这条通知，请看是不是您那里："
        if len(notices) == 1
        else "不知道您住哪个小区，目前有这几条通知，请看哪条是您那里的："
    ]
    for n in notices:
        parts.append(
            f"【{n.kind.label}】{n.title}\n范围：{scope(n, committee)}\n{n.body}\n时间：{period(n)}"
        )
    parts.append(
        f"——{committee.name}\n告诉我您住哪个小区（私聊发“绑定门牌”可以只收到您家的通知）；"
        "如果不是通知里的原因，或需要报修，请直接告诉我（例如“我要报修”）。"
    )
    return "\n\n".join(parts)


def scope(notice: Notice, committee: Committee) -> str:
    """Where a notice applies, in words: "普雄馨苑20号楼", "燕宁苑", "全居委会"."""
    audience = notice.audience
    if not audience.compounds and not audience.buildings:
        return f"{committee.name}各小区"

    def name(compound_id: str) -> str:
        found = committee.compound(compound_id)
        return found.name if found is not None else compound_id

    places = [name(c) for c in audience.compounds]
    places += [f"{name(c)}{b}" for c, b in audience.buildings if c not in audience.compounds]
    return "、".join(places)


def acknowledged(notices: list[Notice]) -> str:
    titles = "、".join(f"《{n.title}》" for n in notices)
    return f"好的，已记录您收到通知{titles}，谢谢！如有问题可以随时问我。"


def already(notices: list[Notice]) -> str:
    titles = "、".join(f"《{n.title}》" for n in notices)
    return f"您已经确认过收到通知{titles}，谢谢！"
