"""What a resident reads: an FAQ answer, a "did you mean" question, and reading the reply to it.

Pure functions over domain types; every text is Chinese.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date

from bot.domain.faq import FaqEntry
from bot.domain.registry import Committee
from bot.retrieval.service import Hit

CONTACT_TAG = "联系方式"
"""Entries with this tag get the committee's contact line appended (from configuration)."""

_CN_DIGITS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CHOICE = re.compile(
    r"^(?:我|就)?(?:选|要|看|是)?\s*(?:第)?\s*([1-9]|[一二两三四五六七八九])\s*(?:个|条|项|号|种)?\s*"
    r"(?:吧|啊|呀|哦|的|呢|嘛|就行|就好|好了)?\s*(?:谢谢|谢啦|多谢)?\s*[.。、,，!！~～]*$"
)
_KEYCAP = re.compile("[\ufe0f\u20e3]")
"""What turns a digit into an emoji keycap ("1️⃣"): dropped before reading the number."""


def format_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _compound_name(committee: Committee | None, compound_id: str) -> str:
    if committee is not None:
        comp = committee.compound(compound_id)
        if comp is not None:
            return comp.name
    return compound_id


def format_answer(
    entry: FaqEntry,
    compound_id: str | None = None,
    *,
    committee: Committee | None = None,
    as_of: date | None = None,
) -> str:
    """The full answer for a resident of ``compound_id`` (``None``: compound unknown).

    Starts with the FAQ's question (so a resident sees at once what is being answered), then
    the answer (the compound's variant if it has one; with the compound unknown, the
    general answer followed by every compound's variant), the numbered materials to bring
    (需携带材料), the compound(s) it applies to, the source where there is one, the
    committee's contacts for entries tagged 联系方式, and the date the information is as of
    (``entry.updated``, else ``as_of``).
    """
    chosen = entry.answer_for(compound_id)
    parts: list[str] = [f"【{entry.question}】\n{chosen.answer}"]
    if compound_id is None and entry.variants:
        lines = ["各小区的具体情况："]
        order = [c.id for c in committee.compounds] if committee is not None else []
        for cid, variant in sorted(
            entry.variants.items(),
            key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0]),
        ):
            lines.append(f"【{_compound_name(committee, cid)}】{variant.answer}")
        parts.append("\n".join(lines))
    materials = chosen.materials
    if materials:
        parts.append(
            "需携带材料：\n" + "\n".join(f"{i}. {m}" for i, m in enumerate(materials, start=1))
        )
    if compound_id is not None:
        parts.append(f"适用小区：{_compound_name(committee, compound_id)}")
    elif entry.compounds:
        names = "、".join(_compound_name(committee, c) for c in entry.compounds)
        parts.append(f"适用小区：{names}")
    elif committee is not None and committee.compounds:
        parts.append(f"适用小区：{committee.name}各小区")
    if entry.source:
        parts.append(f"依据：{entry.source}")
    if committee is not None and CONTACT_TAG in entry.tags:
        parts.append(f"联系方式：{committee.contact_line()}")
    day = entry.updated or as_of
    text = "\n\n".join(parts)
    if day is not None:
        text += f"\n（信息更新于{format_date(day)}）"
    return text


def format_clarify(choices: Sequence[FaqEntry | Hit]) -> str:
    """ "Did you mean": the choices' questions, numbered, and how to answer."""
    entries = [c.entry if isinstance(c, Hit) else c for c in choices]
    if not entries:
        raise ValueError("format_clarify needs at least one choice")
    if len(entries) == 1:
        return f"您是想问：{entries[0].question}\n回复数字 1 即可查看。"
    lines = [f"{i}. {e.question}" for i, e in enumerate(entries, start=1)]
    return "您想问的是哪一个？回复数字即可：\n" + "\n".join(lines)


def parse_choice(text: str, n_choices: int) -> int | None:
    """The 0-based choice a reply like ``2``, ``２``, ``第二个``, ``选1``, ``1️⃣``, ``第一个吧``
    or ``1 谢谢`` picks, else None."""
    cleaned = _KEYCAP.sub("", unicodedata.normalize("NFKC", text)).strip()
    m = _CHOICE.match(cleaned)
    if not m:
        return None
    token = m.group(1)
    number = int(token) if token.isdigit() else _CN_DIGITS[token]
    return number - 1 if 1 <= number <= n_choices else None
