"""What residents read about their household binding, in Chinese."""

from __future__ import annotations

PRIVATE_ONLY = "为保护您的隐私，门牌号请不要在群里发。请私聊我，发送“绑定门牌”即可绑定。"


def consent(committee_name: str, retention_days: int) -> str:
    return (
        "绑定门牌前，请您了解：\n"
        f"· 用途：{committee_name}用您绑定的门牌，向您推送所在楼栋的通知（如停水、电梯维保），"
        "并在征询意见时确认您是该户居民；\n"
        "· 保存：绑定信息只保存在居委会的系统里，只有本居委会工作人员能看到，"
        f"保存 {retention_days} 天，"
        "期满自动删除，您也可以随时发送“解除绑定”删除；\n"
        "· 查看或更正：发送“我的门牌”查看，重新发送“绑定门牌”更正。\n"
        "同意请回复“同意”；不想绑定请回复“取消”。"
    )


CANCELLED = "好的，已取消，没有绑定门牌。需要时随时发送“绑定门牌”。"
NOT_UNDERSTOOD = "抱歉，我没看明白。"
TOO_MANY_MISSES = "这次没能完成绑定，已取消。您可以到居委会柜台办理，或稍后重新发送“绑定门牌”。"
EXPIRED = "上次的门牌绑定因为太久没有回复，已经取消了。需要时请重新发送“绑定门牌”。"
ASK_CONSENT_AGAIN = "同意请回复“同意”；不想绑定请回复“取消”。"
NO_ROOMS = "这个小区的门牌还没有录入系统，暂时不能在线绑定，请到居委会柜台办理。"


def ask_compound(names: list[str]) -> str:
    listed = "\n".join(f"{i}. {n}" for i, n in enumerate(names, 1))
    return f"请问您住在哪个小区？回复数字或小区名：\n{listed}"


def ask_building(compound: str, buildings: list[str]) -> str:
    listed = "、".join(buildings[:40])
    more = "……" if len(buildings) > 40 else ""
    return f"请问您住在{compound}几号楼？（比如“{buildings[0]}”）\n已录入的楼：{listed}{more}"


def no_building(compound: str, building: str) -> str:
    return f"{compound}没有“{building}”。"


def ask_room(compound: str, building: str) -> str:
    return f"请问{compound}{building}的门牌号是多少？（比如“1201”）"


def no_room(compound: str, building: str, room: str) -> str:
    return f"{compound}{building}没有“{room}”，请核对门牌号后再回复。"


def ask_unit(units: list[str]) -> str:
    return "这个门牌号在几个单元都有，请问是几单元？（" + "、".join(units) + "）"


def claimed(address: str) -> str:
    return (
        f"已为您登记门牌：{address}（待核实）。\n"
        "居委会社工核实后即生效；"
        "如果您在居委会柜台拿到了验证码，直接回复 8 位验证码即可完成核实。\n"
        "查看请发送“我的门牌”，删除请发送“解除绑定”。"
    )


def mine(address: str, status: str, voter: bool) -> str:
    lines = [f"您绑定的门牌：{address}", f"状态：{status}"]
    if voter:
        lines.append("您是本户的投票人（征询意见时代表本户投票）。")
    lines.append("更正请发送“绑定门牌”，删除请发送“解除绑定”。")
    return "\n".join(lines)


NOT_BOUND = "您还没有绑定门牌。发送“绑定门牌”即可开始。"


def unbound(address: str) -> str:
    return f"已解除您与 {address} 的绑定，您的绑定信息已删除。需要时可以重新发送“绑定门牌”。"


def code_verified(address: str, voter: bool) -> str:
    tail = "您是本户的投票人。" if voter else ""
    return f"验证成功！您与 {address} 的绑定已核实。{tail}"


CODE_NO_BINDING = "请先发送“绑定门牌”登记您的门牌，再回复验证码。"
CODE_ALREADY = "您的门牌绑定已经核实过了，不需要再输入验证码。"
CODE_WRONG = "验证码不正确或已失效，请核对后重新输入（验证码只能用一次）。"
CODE_LOCKED = "验证码错误次数过多，请到居委会柜台请工作人员为您核实。"
