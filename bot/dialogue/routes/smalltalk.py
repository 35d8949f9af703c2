"""Greetings, thanks, goodbyes and chit-chat: short, warm, and back to what Linli can do."""

from __future__ import annotations

from bot.dialogue.turn import Turn
from bot.domain import Reply, ReplyKind

INTENTS = {"greet", "thank", "goodbye", "chitchat", "affirm", "deny", "give_feedback", "vote"}


class SmallTalkRoute:
    name = "smalltalk"
    capability = None

    async def __call__(self, turn: Turn) -> list[Reply] | None:
        intent = turn.parse.intent
        if intent not in INTENTS or turn.parse.confidence < 0.5:
            return None
        name = turn.committee.name
        text = {
            "greet": f"您好！我是{name}的居民助手「邻里」。有什么可以帮您？"
            "可以问我政策办事、垃圾分类，也可以报修、投诉。",
            "thank": "不客气！还有其他需要随时找我。",
            "goodbye": "好的，再见！祝您生活愉快。",
            "chitchat": "哈哈，我是居委会的居民助手，闲聊不太在行～办事、报修、政策问题尽管问我。",
            "affirm": "好的。还有什么需要帮忙的吗？",
            "deny": "好的，明白了。有需要随时找我。",
            "give_feedback": "谢谢您的反馈！我们会转告居委会，继续改进。",
            "vote": "感谢参与！目前没有需要您回复的征询。有意见或建议可以直接告诉我，"
            "我会转给居委会。",
        }[intent]
        return [Reply(text, ReplyKind.SMALLTALK)]
