"""Fixed Chinese texts the pipeline itself sends (routes keep their own texts)."""

from __future__ import annotations

from bot.domain import Committee

EMERGENCY_NUMBERS = "紧急情况请直接拨打 110（报警）、119（火警）、120（急救）。"


def fallback(committee: Committee, capabilities: list[str]) -> str:
    lines = ["抱歉，这个问题我暂时没能找到答案。"]
    if capabilities:
        lines.append("我是居委会的居民助手「邻里」，可以帮您：")
        lines.extend(f"{i}. {c}" for i, c in enumerate(capabilities, 1))
    lines.append(f"您也可以{committee.contact_line()}，工作人员会帮您办理。")
    lines.append(EMERGENCY_NUMBERS)
    return "\n".join(lines)


def welcome(committee: Committee, capabilities: list[str]) -> str:
    lines = [f"您好，欢迎关注{committee.name}！我是居民助手「邻里」。"]
    if capabilities:
        lines.append("我可以帮您：")
        lines.extend(f"{i}. {c}" for i, c in enumerate(capabilities, 1))
    lines.append("有事直接发消息给我就行。" + EMERGENCY_NUMBERS)
    return "\n".join(lines)


EMPTY = "您好，请问有什么可以帮您？直接把问题发给我就可以，比如“湿垃圾几点可以扔”。"
IMAGE = (
    "收到您的图片了。我暂时看不懂图片内容，麻烦用文字简单说一下需要帮什么忙，"
    "比如在哪个小区、几号楼、出了什么问题。"
)
VOICE = "收到您的语音了。我暂时听不了语音，麻烦打字告诉我需要帮什么忙。"
OTHER = "收到了。我目前只能看懂文字消息，麻烦用文字告诉我需要帮什么忙。"
TOO_LONG = "（您的消息比较长，我先按前面的内容回答；如有遗漏请分几条发送。）"
PHOTO_ATTACHED = "收到照片，已附到您正在登记的工单里，社工处理时能看到。请继续回答上面的问题。"
STILL_WAITING = (
    "您的消息已转给社工，社工看到后会在这里回复您，请稍候。"
    "如遇紧急情况请直接拨打 110（报警）、119（火警）或 120（急救）。"
)
"""Said to a resident who writes again while waiting for a person (at most every 30 minutes)."""
