"""Greetings, thanks, goodbyes and chit-chat: short, warm, and back to what Linli can do."""

from __future__ import annotations

import re

from bot.dialogue.turn import Turn
from bot.domain import Reply, ReplyKind

INTENTS = {"greet", "thank", "goodbye", "chitchat", "affirm", "deny", "give_feedback", "vote"}

UNSURE_PASSES = frozenset({"give_feedback", "chitchat", "vote"})
"""Intents whose unsure reading goes on to the FAQ rather than a canned line."""

# "不是这个", "不对呀", "答非所问", "都不是": the last answer missed. Not a plain "不用了".
MISSED = re.compile(
    r"^(?:不是这个|不是这样|不是这些|都不是|不是我要|不是我问|我问的不是|答非所问|"
    r"牛头不对马嘴|文不对题|不对|错了)(?:意思|个|问题|的)?[\s啊呀吧的嘛哦呢，,。.!！~～]*$"
)
# "收到", "收到了谢谢", "好的，知道了": a plain acknowledgement. A valid notice's route has had it
# first; here there was nothing to acknowledge, so it is answered like "好的".
ACKNOWLEDGED = re.compile(
    r"^(?:好的?|嗯+|哦+)?[，,、\s]*(?:我|我们)?(?:已经?|都)?(?:收到|知道|晓得|了解)"
    r"(?:了|啦|的|喽)?[，,、\s]*(?:谢谢(?:你|您|居委会)?|多谢|感谢)?[。！!~～.]*$"
)
REPAIR = (
    "抱歉，没答到您想问的。您能换个说法再说一次吗？比如具体要办什么事、在哪个小区，"
    "我再帮您找；也可以回复“找社工”，请社工来回答。"
)


class SmallTalkRoute:
    name = "smalltalk"
    capability = None

    async def __call__(self, turn: Turn) -> list[Reply] | None:
        intent = turn.parse.intent
        if len(turn.text) <= 20 and ACKNOWLEDGED.match(turn.text.strip()):
            intent = "affirm"
        elif intent not in INTENTS or turn.parse.confidence < 0.5:
            return None
        if intent in UNSURE_PASSES and turn.parse.confidence < 0.6:
            # A bare topic ("大件垃圾") the classifier half-reads as feedback or chat is a
            # question: the FAQ gets it.
            return None
        name = turn.committee.name
        if intent == "deny" and MISSED.match(turn.text.strip()):
            return [Reply(REPAIR, ReplyKind.SMALLTALK)]
        text = {
            "greet": f"您好！我是{name}的居民助手「邻里」。有什么可以帮您？"
            "可以问我政策办事、垃圾分类，也可以报修、投诉。",
            "thank": "不客气！还有其他需要随时找我。",
            "goodbye": "好的，再见！祝您生活愉快。",
            "chitchat": "哈哈，我是居委会的居民助手，闲聊不太在行～办事、报修、政策问题尽管问我。",
            "affirm": "好的。还有什么需要帮忙的吗？",
            "deny": "好的，明白了。有需要随时找我。",
            # Nothing is passed on from here: only a ticket or a person carries it further.
            "give_feedback": "谢谢您的意见！需要居委会跟进的话，请把具体情况告诉我"
            "（哪个小区、什么事），我帮您登记工单交给社工；也可以回复“找社工”。",
            "vote": "感谢参与！目前没有需要您回复的征询。有意见或建议需要居委会跟进的，"
            "告诉我具体情况，我帮您登记工单交给社工。",
        }[intent]
        return [Reply(text, ReplyKind.SMALLTALK)]
