"""Mentions of the bot ("@邻里 湿垃圾几点扔", "＠邻里小助手：…", "…@邻里") are removed
before the message is understood, on every channel, so the same question gets the same
route with or without them; a mention of one of the bot's names also counts as being
addressed (a gateway that does not set ``mentioned`` still gets an answer).

A resident's repair ("不对，我问的是敬老卡怎么充值", "我是说大件垃圾") is read as the
question it restates: the lead-in is removed the same way (``restated``)."""

from __future__ import annotations

import re
from collections.abc import Iterable

# WeChat puts U+2005 (four-per-em space) after a mention; residents type spaces, colons
# and commas.
_GAP = r"[\s\u2005\u2002\u2003\u3000:：,，、]*"


class Mentions:
    def __init__(self, names: Iterable[str]) -> None:
        # Longest first, so "邻里小助手" is removed whole rather than leaving "小助手".
        clean = sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True)
        self.names = tuple(clean)
        alternatives = "|".join(re.escape(n) for n in clean) or r"(?!)"
        self._rx = re.compile(rf"[@＠]\s*(?:{alternatives}){_GAP}", re.IGNORECASE)

    def strip(self, text: str) -> tuple[str, bool]:
        """``text`` without mentions of the bot, and whether there was one."""
        stripped, n = self._rx.subn(" ", text)
        if not n:
            return text, False
        return re.sub(r"[ \t]{2,}", " ", stripped).strip(), True


# "不是这个，我问的是…", "不对 我是说…", "我想问的是…": the lead-in of a restated question.
_REPAIR = re.compile(
    r"^(?:(?:不是这个(?:意思)?|不是问这个|不是|不对|错了|(?:搞|弄)错了)[\s,，。.!！~～]*)?"
    r"(?:我(?:是|想|要|刚才|其实)?(?:想|要)?(?:问|说|讲)的(?:是|其实是)|我是(?:说|问)(?![问说]))"
    r"[\s:：,，]*"
)


def restated(text: str) -> str:
    """The question a repair restates ("不对，我问的是敬老卡怎么充值" → "敬老卡怎么充值"),
    else ``text`` as it is (also when nothing is left after the lead-in)."""
    m = _REPAIR.match(text)
    if m is None:
        return text
    rest = text[m.end() :].strip()
    return rest if len(rest) >= 2 else text
