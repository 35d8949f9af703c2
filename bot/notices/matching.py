"""What a resident's words mean for a notice: an acknowledgement ("收到", "好的收到", "已收到",
"知道了" …), or a question the notice answers ("怎么没水了" for a 停水 notice, "电梯怎么停了" for
电梯维保). A crisis never reaches here: the pipeline's emergency step runs before every route,
so "电梯里关了人" is answered as the emergency it is."""

from __future__ import annotations

import re

from bot.storage.notices import Notice, NoticeKind

ACK = re.compile(
    r"^(?:好的?|嗯+|哦+|OK|ok)?[，,、\s]*(?:我|我们)?(?:已经?|都)?(?:收到|知道|晓得|了解)"
    r"(?:了|啦|的|喽)?[，,、\s]*(?:谢谢(?:你|您|居委会)?|多谢|感谢)?[。！!~～.]*$"
)
"""The whole message acknowledges (short: "收到" inside a longer question does not)."""

KIND_QUESTIONS: dict[NoticeKind, re.Pattern[str]] = {
    NoticeKind.WATER: re.compile(
        r"停水|断水|没水|没有水|无水|不来水|来水|水停|水.{0,4}(?:停|断|没了|不出|出不来|很小|小了)"
        r"|自来水|水压"
    ),
    NoticeKind.POWER: re.compile(r"停电|断电|没电|没有电|来电|电.{0,3}(?:停|断)了?"),
    NoticeKind.LIFT: re.compile(r"电梯|升降梯"),
    NoticeKind.BINS: re.compile(r"撤桶|垃圾桶|扔垃圾|倒垃圾|丢垃圾|垃圾.{0,6}(?:哪|扔|放|倒|丢)"),
    NoticeKind.VACCINE: re.compile(r"疫苗|接种|打针|预防针"),
}
_WORDS = re.compile(r"[\u4e00-\u9fffA-Za-z]+")
"""A title's words without its numbers: "20号楼" names a place, not what the notice is about."""
_PLACE = re.compile(r"^(?:号楼|号|幢|栋|单元|室)+")
"""What a number leaves at a word's start ("20号楼今日…" → "号楼今日…")."""
_COMMON = frozenset({"通知", "关于", "居民", "小区", "今天", "明天", "的通知", "社区"})


def is_ack(text: str) -> bool:
    return len(text) <= 20 and ACK.match(text.strip()) is not None


def answers(notice: Notice, text: str) -> bool:
    """Whether ``text`` asks about what ``notice`` tells."""
    pattern = KIND_QUESTIONS.get(notice.kind)
    if pattern is not None and pattern.search(text):
        return True
    return any(piece in text for piece in _title_pieces(notice.title))


def _title_pieces(title: str) -> set[str]:
    """Three-character windows of the title's words (two-character words whole), without
    words every notice has: "燃气管道检修" → 燃气管, 气管道, 管道检, 道检修."""
    pieces: set[str] = set()
    for found in _WORDS.findall(title):
        word = _PLACE.sub("", found)
        if len(word) == 2 and word not in _COMMON:
            pieces.add(word)
        for i in range(len(word) - 2):
            window = word[i : i + 3]
            if window not in _COMMON and not any(c in window for c in "的了在和"):
                pieces.add(window)
    return pieces
