"""The one normaliser for how residents write, shared by the NLU and retrieval.

Two layers:

1. ``normalize`` — the base form, with an offset map back to the original text. Residents
   type full-width digits (４号楼), traditional characters (電梯), Chinese numerals (二十号楼,
   五零二室) and mixed case; all are folded to one form — NFKC (full-width → ASCII), OpenCC
   t2s, lower-case ASCII, Chinese numerals before an address, time, age or money counter →
   Arabic digits — and every output character remembers which slice of the input it came
   from, so entity spans found in the normalised text can be reported against what the
   resident typed. The crisis rules and the entity extractor match on this form.
2. ``PhrasingRules`` (data: ``knowledge/language/resident_phrasing.yml``) — how residents
   *phrase* things: Shanghainese words and particles (伐→吗, 哪能→怎么, 阿拉→我们), common
   typos and homophones (拉圾→垃圾, 电平车→电瓶车), everyday names for the corpus's words
   (泰迪→狗), and the politeness or complaint padding around a question ("请问一下哈",
   "烦死了", "你们到底管不管"). ``resident_form`` folds words and keeps the tone (what the
   intent classifier sees); ``query_form`` also strips the padding (what retrieval ranks
   on, with ``loose_numerals``); ``padding_in`` says which padding a message carried.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cn2an

_OPENCC_LOCK = threading.Lock()
_OPENCC: Any = None


_TRIGGERS: frozenset[str] = frozenset()


def _t2s(text: str) -> str:
    global _OPENCC, _TRIGGERS
    cc = _OPENCC
    if cc is None:
        with _OPENCC_LOCK:
            if _OPENCC is None:
                import opencc

                _TRIGGERS = _t2s_triggers(Path(opencc.__file__).parent / "dictionary")
                _OPENCC = opencc.OpenCC("t2s")
            cc = _OPENCC
    if _TRIGGERS and _TRIGGERS.isdisjoint(text):
        return text  # conversion is slow (pure Python); most texts are simplified already
    return str(cc.convert(text))


def _t2s_triggers(dictionaries: Path) -> frozenset[str]:
    """Characters whose presence means OpenCC t2s may change a text: every traditional
    character, and every character of the few phrase keys made of none. Empty (meaning
    "always convert") when the dictionaries cannot be read."""
    try:
        chars: set[str] = set()
        for line in (dictionaries / "TSCharacters.txt").read_text("utf-8").splitlines():
            chars.update(line.split("\t", 1)[0])
        phrases: set[str] = set()
        for line in (dictionaries / "TSPhrases.txt").read_text("utf-8").splitlines():
            key, _, value = line.partition("\t")
            if key != value.split(" ")[0] and chars.isdisjoint(key):
                phrases.update(key)
    except OSError:
        return frozenset()
    return frozenset(chars | phrases)


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
_COUNTER = r"(?:号楼|号|幢|栋|楼|层|单元|室|弄|座|门|月|日|点|分|个月|天|年|周岁|岁|元|块)"
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
        if numeral in ("一", "两") and after.startswith(("天", "年", "个月", "分", "块")):
            continue  # 一天到晚, 一年, 两分钟, 一块去: ordinary words, not data
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


# ---------------------------------------------------------------------------------------
# how residents phrase things (data: knowledge/language/resident_phrasing.yml)

DEFAULT_PHRASING = (
    Path(__file__).resolve().parents[2] / "knowledge" / "language" / "resident_phrasing.yml"
)
_WORD_SECTIONS = ("shanghainese", "typos", "synonyms")
_CLAUSE_END = r"(?=[啦呀啊哦]?(?:$|[\s,.!?;:~…、]))"
_HAS_CORE = re.compile(r"[^\W_]")
_SPACES = re.compile(r"\s+")


class PhrasingRulesError(ValueError):
    """The phrasing rules file is malformed."""


class PhrasingRules:
    """Word folds, clause-final particle folds and padding phrases (see the module doc).
    Immutable once built; safe to share between threads."""

    def __init__(
        self,
        words: dict[str, str],
        particles: dict[str, str],
        lead: tuple[str, ...],
        keep: frozenset[str] = frozenset(),
        tail: tuple[str, ...] = (),
    ) -> None:
        self.words = dict(words)
        self.particles = dict(particles)
        self.lead = tuple(lead)
        self.tail = tuple(tail)
        self.keep = frozenset(keep)
        payload = repr(
            (sorted(self.words.items()), sorted(self.particles.items()), self.lead, self.tail)
        )
        self.fingerprint = hashlib.sha256((payload + repr(sorted(self.keep))).encode()).hexdigest()
        self._fold_re = _compile_fold(self.words, self.keep, self.particles)
        self._pad_re = _compile_padding(self.lead, self.tail)

    @classmethod
    def from_mapping(cls, data: object, where: str = "phrasing rules") -> PhrasingRules:
        if not isinstance(data, dict):
            raise PhrasingRulesError(f"{where}: expected a mapping")
        words: dict[str, str] = {}
        for section in _WORD_SECTIONS:
            words.update(_pairs(data.get(section), f"{where}: {section}"))
        keep = _phrases(data.get("keep"), f"{where}: keep")
        particles = _pairs(data.get("particles"), f"{where}: particles")
        padding = data.get("padding") or {}
        if not isinstance(padding, dict):
            raise PhrasingRulesError(f"{where}: padding: expected 'lead' and 'tail' lists")
        lead = _phrases(padding.get("lead"), f"{where}: padding: lead")
        tail = _phrases(padding.get("tail"), f"{where}: padding: tail")
        return cls(words, particles, tuple(lead), frozenset(keep), tuple(tail))

    @classmethod
    def load(cls, path: Path) -> PhrasingRules:
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise PhrasingRulesError(f"{path}: not valid YAML ({exc})") from exc
        return cls.from_mapping(data, str(path))

    def fold(self, base: str) -> str:
        """Fold dialect words, typos and everyday names in a base-normalised text."""
        if not base or self._fold_re is None:
            return base
        return self._fold_re.sub(self._replace, base)

    def _replace(self, m: re.Match[str]) -> str:
        word = m.group(0)
        if word in self.keep:
            return word
        got = self.words.get(word)
        if got is not None:
            return got
        return self.particles.get(word, word)

    def strip_padding(self, folded: str) -> str:
        """``folded`` without its padding phrases; unchanged when nothing else is left."""
        if self._pad_re is None:
            return folded
        stripped = self._pad_re.sub(" ", folded)
        return stripped if _HAS_CORE.search(stripped) else folded

    def padding_in(self, folded: str) -> tuple[str, ...]:
        if self._pad_re is None:
            return ()
        return tuple(m.group(0) for m in self._pad_re.finditer(folded))


def _pairs(section: object, where: str) -> dict[str, str]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise PhrasingRulesError(f"{where}: expected a mapping of word: replacement")
    out: dict[str, str] = {}
    for key, value in section.items():
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise PhrasingRulesError(f"{where}: {key!r} must map a word to a word")
        out[key] = value
    return out


def _phrases(section: object, where: str) -> list[str]:
    if section is None:
        return []
    if not isinstance(section, list) or not all(isinstance(p, str) and p for p in section):
        raise PhrasingRulesError(f"{where}: expected a list of phrases")
    return list(section)


def _compile_fold(
    words: dict[str, str], keep: frozenset[str], particles: dict[str, str]
) -> re.Pattern[str] | None:
    ordered = sorted(set(words) | keep, key=lambda w: (-len(w), w))
    parts = [re.escape(w) for w in ordered]
    if particles:
        alts = "|".join(re.escape(p) for p in sorted(particles, key=lambda w: (-len(w), w)))
        parts.append(f"(?:{alts}){_CLAUSE_END}")
    return re.compile("|".join(parts)) if parts else None


_CLAUSE_START = r"(?:^|(?<=[\s,.!?;:~…、]))"


def _compile_padding(lead: tuple[str, ...], tail: tuple[str, ...]) -> re.Pattern[str] | None:
    def alternation(phrases: tuple[str, ...]) -> str:
        return "|".join(re.escape(p) for p in sorted(phrases, key=lambda w: (-len(w), w)))

    parts = []
    if lead:
        parts.append(f"{_CLAUSE_START}(?:{alternation(lead)})")
    if tail:
        parts.append(rf"(?:{alternation(tail)})(?=[啊呀哦了]?(?:$|[\s,.!?;:~…、]))")
    return re.compile("|".join(parts)) if parts else None


_DEFAULT_LOCK = threading.Lock()
_DEFAULT: PhrasingRules | None = None


def default_phrasing() -> PhrasingRules:
    """The rules shipped in ``knowledge/language/resident_phrasing.yml`` (loaded once)."""
    global _DEFAULT
    rules = _DEFAULT
    if rules is None:
        with _DEFAULT_LOCK:
            if _DEFAULT is None:
                _DEFAULT = PhrasingRules.load(DEFAULT_PHRASING)
            rules = _DEFAULT
    return rules


# Retrieval compares texts, not data: a numeral before any counter (第二部, 三个字, 五户)
# becomes digits on both sides, so 第2部 and 第二部 match. The base form converts only the
# numerals whose value matters (addresses, times, ages, money) and keeps 第一次, 一个.
_LOOSE_NUMERAL = re.compile(
    r"[零〇一二两三四五六七八九十百]+(?=[号楼层室幢栋点岁元块年月日个户部])"
)


def loose_numerals(text: str) -> str:
    """Chinese numerals before any counter → digits (except a bare 一/两: 一个, 两户)."""
    return _LOOSE_NUMERAL.sub(_loose_digits, text)


def _loose_digits(m: re.Match[str]) -> str:
    numeral = m.group(0)
    if numeral in {"一", "两"}:
        return numeral
    return chinese_number(numeral.replace("两", "二")) or numeral


def resident_form(text: str, rules: PhrasingRules | None = None) -> str:
    """Base form with dialect words, particles, typos and everyday names folded; tone and
    padding kept (what the intent classifier sees)."""
    return (rules or default_phrasing()).fold(normalize(text).text)


def query_form(text: str, rules: PhrasingRules | None = None) -> str:
    """``resident_form`` without politeness and complaint padding, whitespace collapsed
    (what retrieval ranks on)."""
    r = rules or default_phrasing()
    folded = r.strip_padding(r.fold(loose_numerals(normalize(text).text)))
    return _SPACES.sub(" ", folded).strip()


def padding_in(text: str, rules: PhrasingRules | None = None) -> tuple[str, ...]:
    """The padding phrases a message carries (its tone: "烦死了", "到底管不管")."""
    r = rules or default_phrasing()
    return r.padding_in(r.fold(normalize(text).text))
