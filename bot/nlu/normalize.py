"""Text normalisation with an offset map back to the original text.

Residents type full-width digits (４号楼), traditional characters (電梯), Chinese numerals
(二十号楼, 五零二室) and mixed case. ``normalize`` folds all of these to one form —
NFKC (full-width → ASCII), OpenCC t2s, lower-case ASCII, Chinese numerals before an address
or time counter → Arabic digits — and remembers, for every output character, which slice of
the input it came from, so entity spans found in the normalised text can be reported
against what the resident typed.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cn2an

_OPENCC_LOCK = threading.Lock()
_OPENCC: Any = None


def _t2s(text: str) -> str:
    global _OPENCC
    cc = _OPENCC
    if cc is None:
        with _OPENCC_LOCK:
            if _OPENCC is None:
                import opencc

                _OPENCC = opencc.OpenCC("t2s")
            cc = _OPENCC
    return str(cc.convert(text))


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """``text`` is the normalised form of ``original``; ``spans[i]`` is the ``[start, end)``
    slice of ``original`` that normalised character ``i`` came from."""

    original: str
    text: str
    spans: tuple[tuple[int, int], ...]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a ``[start, end)`` slice of ``text`` to a slice of ``original``."""
        if not self.spans or start >= end:
            pos = self.spans[start][0] if start < len(self.spans) else len(self.original)
            return pos, pos
        return self.spans[start][0], self.spans[end - 1][1]


_DIGITS = {
    "零": 0,
    "〇": 0,
    "○": 0,
    "一": 1,
    "幺": 1,
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
_NUMERAL = "零〇○一幺二两三四五六七八九十百千"
# Counters after which a Chinese numeral is a quantity we care about (addresses, floors,
# rooms, dates, clock times). "一点" alone is "a little", so 点 needs a clock context.
_COUNTER = r"(?:号楼|号|幢|栋|楼|层|单元|室|弄|座|门|月|日|点|分|个月|天|年)"
_CN_NUM_RE = re.compile(rf"(?<![{_NUMERAL}第])([{_NUMERAL}]{{1,8}})(?={_COUNTER})")
# Spoken room numbers after an address part: 3楼五零二, 4号楼一二零三
_ROOM_DIGITS_RE = re.compile(
    r"(?:(?<=号楼)|(?<=单元)|(?<=[幢栋楼层号]))([零〇○一幺二三四五六七八九]{3,4})"
    r"(?![零〇○一幺二三四五六七八九十百千])"
)
# A clock context makes "一点" a time: 下午一点, 凌晨一点, 夜里两点.
_CLOCK_ONE_RE = re.compile(r"(?<=[午晚上早晨夜里])(一|两)(?=点)")


@lru_cache(maxsize=4096)
def chinese_number(numeral: str) -> str | None:
    """``二十`` → ``20``, ``五零二`` → ``502``, ``一千二百零三`` → ``1203``; None if invalid."""
    if not numeral:
        return None
    if all(ch in _DIGITS for ch in numeral) and (len(numeral) == 1 or numeral[0] not in "两"):
        return "".join(str(_DIGITS[ch]) for ch in numeral)
    try:
        value = cn2an.cn2an(numeral.replace("幺", "一").replace("○", "零"), "smart")
    except (ValueError, KeyError, TypeError):
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    return str(value)


@lru_cache(maxsize=512)
def normalize(text: str) -> NormalizedText:
    """Normalise ``text`` (never raises; any str is accepted). Cached: one message is
    normalised by the classifier, the emergency layer and the entity extractor."""
    # 1. NFKC per character, keeping each output char's source index
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    for i, ch in enumerate(text):
        folded = unicodedata.normalize("NFKC", ch) if ord(ch) > 0x7F else ch
        if folded == "":
            continue
        for out in folded:
            chars.append(out)
            spans.append((i, i + 1))
    nfkc = "".join(chars)
    # 2. traditional → simplified; phrase conversion may change the length, then go per char
    simp = _t2s(nfkc) if nfkc else nfkc
    if len(simp) != len(nfkc):
        simp = "".join(_t2s(c) if len(_t2s(c)) == 1 else c for c in nfkc)
    # 3. ASCII lower-case (length-preserving for ASCII)
    simp = "".join(c.lower() if c.isascii() else c for c in simp)
    # 4. Chinese numerals before counters → digits
    out_chars: list[str] = []
    out_spans: list[tuple[int, int]] = []
    pos = 0
    for m in _iter_numerals(simp):
        s, e, digits = m
        out_chars.extend(simp[pos:s])
        out_spans.extend(spans[pos:s])
        src = (spans[s][0], spans[e - 1][1])
        out_chars.extend(digits)
        out_spans.extend([src] * len(digits))
        pos = e
    out_chars.extend(simp[pos:])
    out_spans.extend(spans[pos:])
    return NormalizedText(text, "".join(out_chars), tuple(out_spans))


def _iter_numerals(text: str) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    for m in _CN_NUM_RE.finditer(text):
        numeral = m.group(1)
        start = m.start(1)
        after = text[m.end(1) :]
        if (
            after.startswith("点")
            and numeral in ("一", "两")
            and not after.startswith(("点钟", "点半", "点整", "点前", "点后", "点左右"))
            and not _CLOCK_ONE_RE.match(text, start)
        ):
            continue  # a bare "一点"/"两点" is "a little"/"two points", not a clock time
        if numeral in ("一", "两") and after.startswith(("天", "年", "个月", "分")):
            continue  # 一天到晚, 一年, 两分钟: ordinary words, not data
        digits = chinese_number(numeral)
        if digits is not None:
            found.append((start, m.end(1), digits))
    taken = [(s, e) for s, e, _ in found]
    for m in _ROOM_DIGITS_RE.finditer(text):
        if any(s < m.end(1) and m.start(1) < e for s, e in taken):
            continue
        digits = chinese_number(m.group(1))
        if digits is not None:
            found.append((m.start(1), m.end(1), digits))
    found.sort()
    return found


_ASCII_WS = re.compile(r"\s+")


def classifier_text(text: str) -> str:
    """The form the intent classifier sees: normalised, whitespace collapsed, ≤ 200 chars."""
    norm = normalize(text[:400]).text
    return _ASCII_WS.sub(" ", norm).strip()[:200]
