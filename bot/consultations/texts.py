"""What residents and caseworkers read about consultations, in Chinese."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain.clock import SHANGHAI

WEEKDAYS = "一二三四五六日"


def when(at: datetime) -> str:
    """``12月5日（周六）16:20`` in Shanghai time."""
    local = at.astimezone(SHANGHAI)
    return f"{local.month}月{local.day}日（周{WEEKDAYS[local.weekday()]}）{local:%H:%M}"


def full_when(at: datetime) -> str:
    local = at.astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def choices(options: Sequence[str]) -> str:
    return " ".join(f"{i} {o}" for i, o in enumerate(options, 1))


def invitation(
    title: str, scope: str, opens: datetime, closes: datetime, options: Sequence[str]
) -> str:
    return (
        f"【征询意见】{title}\n"
        f"范围：{scope}\n"
        f"时间：{when(opens)} 至 {when(closes)}\n"
        f"请回复数字投票：{choices(options)}（例如回复“1”）。"
        "每户一票，由本户投票人投票，截止前可以修改。\n"
        "查看完整方案或在网页上投票，请回复“投票页面”。"
    )


def presented(
    title: str,
    scope: str,
    opens: datetime,
    closes: datetime,
    options: Sequence[str],
    is_open: bool,
    mine: str,
) -> str:
    head = f"“{title}”的征询意见（{scope}）：{when(opens)} 开始，{when(closes)} 截止。"
    if not is_open:
        return head + "\n还没有开始投票，开始后可以在这里投票。"
    return (
        head
        + f"\n{mine}\n投票请回复数字：{choices(options)}（例如“1”或“投票 1”），截止前可以修改。"
        "\n查看完整方案或在网页上投票，请回复“投票页面”。"
    )


def in_group(title: str, scope: str, opens: datetime, closes: datetime, now: datetime) -> str:
    """A consultation asked about in a group chat: when, and that votes go in private."""
    head = f"“{title}”的征询意见（{scope}）：{when(opens)} 开始，{when(closes)} 截止。"
    if now >= closes:
        return head + "\n已经截止，正在统计结果。"
    if now < opens:
        return head + "\n还没有开始投票，开始后请私聊我投票（需先绑定门牌并核实）。"
    return head + "\n正在征询，投票请私聊我（需先绑定门牌并核实）。"


def receipt(title: str, option: str, number: str, at: datetime, changed: bool) -> str:
    verb = "已改为" if changed else "已记录您家的投票"
    return (
        f"{verb}：{option}（{title}）。\n"
        f"回执号：{number}，时间：{full_when(at)}。\n"
        "截止前可以修改：再回复其他选项即可。"
    )


def voted(option: str, number: str, at: datetime, secret: bool) -> str:
    tail = "（不记名投票，只有您能看到自己的选择）" if secret else ""
    return f"您家已投票：{option}，回执号 {number}，时间 {full_when(at)}。{tail}"


NOT_VOTED = "您家还没有投票。"
NOT_BOUND = (
    "投票需要先绑定门牌并通过核实：请发送“绑定门牌”登记，再到居委会柜台领取验证码或请社工核实。"
)
CLAIMED = (
    "您的门牌绑定还没有核实，暂时不能投票。请到居委会柜台领取 8 位验证码后直接回复给我，"
    "或请社工在系统里为您核实；核实后就可以投票了。"
)
REJECTED = "您的门牌绑定没有通过核实，暂时不能投票。请发送“绑定门牌”重新登记，或到居委会柜台办理。"


def not_voter(voter_name: str) -> str:
    who = f"（{voter_name}）" if voter_name else ""
    return (
        f"谢谢您的参与！每户只能投一票，您家的票由本户投票人{who}投。"
        "如果需要改由您投票，请联系居委会社工更换投票人。"
    )


NOT_ELIGIBLE = "您家不在这次征询的范围内，不需要投票。"
NOTHING_OPEN = "您家目前没有正在进行的征询意见。"
NO_SUCH_OPTION = "没有这个选项，请回复选项前的数字。"
CLOSED = "这次征询已经截止，不能再投票或修改了。"
NOT_OPEN_YET = "这次征询还没有开始投票。"
WHICH = "您家有几项征询正在进行，请先问一下要投哪一项（例如“换电梯征询”），再回复数字投票。"


def page_link(title: str, url: str, hours: int) -> str:
    return f"“{title}”的投票页面（仅限本户使用，{hours} 小时内有效，投票一次后失效）：\n{url}"


def reminder(title: str, closes: datetime, options: Sequence[str]) -> str:
    return (
        f"【征询提醒】“{title}”将于 {when(closes)} 截止，您家还没有投票。\n"
        f"请回复数字投票：{choices(options)}。查看完整方案请回复“投票页面”。"
    )


def closed(title: str, summary: str) -> str:
    return f"“{title}”的征询已经结束。结果：{summary}"
