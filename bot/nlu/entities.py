"""Rule-based entity extraction: where (compound, building, unit, floor, room), when (date,
time), who (person name) and how to reach them (phone), plus ticket numbers.

Compounds come from the committee registry (names and aliases, longest match first); the
training data adds synonyms, lookup tables and regexes. Everything runs on the normalised
text (二十号楼 → 20号楼, ４ → 4, traditional → simplified) and reports spans in the
original text. Values are canonical: ``4号楼``, ``2单元``, ``502室``, ``3楼``, a compound's
id, a phone's digits (landlines ``021-XXXXXXXX``), ISO dates, ``HH:MM`` times.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from bot.domain import Registry
from bot.domain.clock import shanghai_today
from bot.nlu.normalize import NormalizedText, normalize
from bot.nlu.types import Entity

ENTITY_NAMES: tuple[str, ...] = (
    "compound",
    "building",
    "unit",
    "floor",
    "room",
    "phone",
    "date",
    "time",
    "ticket_id",
    "person",
)

# --- phones -------------------------------------------------------------------------
# Mainland mobile prefixes (MIIT allocation): 13x, 145-149, 15x but 154, 162/165/166/167,
# 17x but 179, 18x, 19x but 194.
_MOBILE_PREFIX = re.compile(r"^1(?:3\d|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8\d|9[0-35-9])")


def validate_phone(raw: str) -> str | None:
    """A canonical phone number, or None if ``raw`` is not a plausible mainland number.

    Mobiles → 11 digits; landlines → ``0AA(A)-NNNNNNN(N)``; an 8-digit number without an
    area code is taken as a Shanghai (021) line.
    """
    digits = re.sub(r"[\s\-()（）]", "", normalize(raw).text)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not digits.isdigit():
        return None
    if len(digits) == 11 and _MOBILE_PREFIX.match(digits):
        return digits
    if digits.startswith("0") and 10 <= len(digits) <= 12:
        area = digits[:3] if digits[1] in "12" else digits[:4]
        local = digits[len(area) :]
        if len(local) in (7, 8) and local[0] in "23456789":
            return f"{area}-{local}"
        return None
    if len(digits) == 8 and digits[0] in "23456789":
        return f"021-{digits}"
    return None


_MOBILE_RE = re.compile(r"(?<!\d)(?:\+?86[\s\-]?)?1[3-9]\d(?:[\s\-]?\d){8}(?!\d)")
_LANDLINE_RE = re.compile(r"(?<!\d)0\d{2,3}[\s\-]?[2-9]\d{6,7}(?!\d)")
_LOCAL_RE = re.compile(r"(?<!\d)[2-9]\d{3}[\s\-]?\d{4}(?!\d)")
_PHONE_CUE = re.compile(r"电话|手机|号码|联系|打我|call|tel|微信同号|座机|拨")

# --- tickets, places ------------------------------------------------------------------
_TICKET_RE = re.compile(r"(?<![a-z0-9])([a-z]{2,4})[\s\-_]?(20\d{6})[\s\-_]?(\d{4})(?!\d)")
_BUILDING_RE = re.compile(r"(?<![\d.\-])(\d{1,3})\s*(?:号楼|号栋|号幢|幢楼|栋楼|幢|栋|座)")
# "20号" followed by a room, unit or floor: 20号502, 20号2单元, 20号3楼
_BUILDING_HAO_RE = re.compile(
    r"(?<![\d.\-月])(\d{1,3})\s*号(?=\s*(?:\d{3,4}|\d{1,2}\s*单元|\d{1,2}\s*(?:楼|层)|"
    r"[,， ]*(?:\d{3,4})\s*室))"
)
# "26弄4号", "普陀一村12号": a number right after a lane or compound is a building
_LANE_HAO_RE = re.compile(r"(?:弄|苑|村|小区|新村)\s*(\d{1,3})\s*号(?![楼线])")
_BARE_HAO_RE = re.compile(r"(?<![\d.\-月/])(\d{1,3})\s*号(?![楼线码])")
_DASH_ROOM_RE = re.compile(r"(?<![\d\-.:/])(\d{1,3})\s*[-—–]\s*(\d{3,4})(?![\d\-.:/])")
_UNIT_RE = re.compile(r"(?<!\d)(\d{1,2})\s*(?:单元|号门)")
_ROOM_RE = re.compile(r"(?<![\d\-])(\d{2,4})\s*(?:室|房间|号房)")
_ROOM_AFTER_RE = re.compile(
    r"(?:号楼|幢|栋|单元|号|座|楼|层)\s*(\d{3,4})(?!\s*(?:号|楼|层|幢|栋|单元|\d|元|块|年|月|日|点))"
)
_ROOM_CUE_RE = re.compile(r"(?:房间号|门牌号|门牌|房号|室号)[是:：\s]*(\d{2,4})(?!\d)")
_FLOOR_RE = re.compile(r"(?<![\d号])(\d{1,2})\s*(?:楼|层)(?![号栋幢])(?!上|下|道|梯|里|面)")
_FLOOR_WORD_RE = re.compile(r"顶楼|底楼|一楼|地下室|地下车库")
_NUMBER_ONLY_RE = re.compile(r"^\s*(\d{1,4})\s*$")

# --- when -----------------------------------------------------------------------------
_WEEKDAY = {
    "一": 0,
    "二": 1,
    "三": 2,
    "四": 3,
    "五": 4,
    "六": 5,
    "日": 6,
    "天": 6,
    "1": 0,
    "2": 1,
    "3": 2,
    "4": 3,
    "5": 4,
    "6": 5,
    "7": 6,
}
_REL_DAY = {
    "今天": 0,
    "今朝": 0,
    "今日": 0,
    "明天": 1,
    "明朝": 1,
    "明早": 1,
    "明晚": 1,
    "明儿": 1,
    "后天": 2,
    "后日": 2,
    "大后天": 3,
    "昨天": -1,
    "昨日": -1,
    "昨晚": -1,
    "前天": -2,
}
_DATE_RE = re.compile(
    r"(?P<ymd>(?P<y>20\d{2})\s*[年\-/.]\s*(?P<m>\d{1,2})\s*[月\-/.]\s*(?P<d>\d{1,2})\s*[日号]?)"
    r"|(?P<md>(?P<m2>\d{1,2})\s*月\s*(?P<d2>\d{1,2})\s*[日号]?)"
    r"|(?P<wk>(?P<pre>下下|下个?|这个?|本|上个?)?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天1-7]))"
    r"|(?P<rel>大后天|今天|今朝|今日|明天|明朝|明早|明晚|明儿|后天|后日|昨天|昨日|昨晚|前天)"
)
_PERIOD = r"上午|下午|晚上|早上|早晨|中午|傍晚|夜里|夜间|凌晨|半夜|明早|明晚|今晚|昨晚|白天"
_AFTERNOON = frozenset({"下午", "晚上", "傍晚", "今晚", "明晚", "昨晚", "夜里", "夜间"})
_TIME_RE = re.compile(
    rf"(?P<period>{_PERIOD})?\s*(?P<h>\d{{1,2}})\s*(?:点|:|：|时)\s*"
    r"(?P<mm>半|一刻|三刻|\d{1,2}\s*分?)?"
    rf"|(?P<only>{_PERIOD})"
)

# --- people ---------------------------------------------------------------------------
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方邹熊白孟秦邱侯江尹薛闫段雷侯龙史陶黎贺"
    "顾毛郝龚邵万钱严覃武戴莫孔汤庞殷倪葛施褚顾"
)
_HONORIFIC = (
    r"阿姨|叔叔|先生|女士|老师|师傅|阿婆|老伯|伯伯|小姐|爷爷|奶奶|大爷|大妈|阿姐|阿哥|"
    r"老太|老头|医生|书记|主任|经理|社工|警官|老板|工"
)
_PERSON_RE = re.compile(
    rf"(?P<hon>[{_SURNAMES}](?:{_HONORIFIC}))"
    rf"|(?P<pet>[老小][{_SURNAMES}](?![\u4e00-\u9fff]{{2}}|[层车路历菜狗猫区]))"
    r"|(?:我叫|我是|名字是|名字叫|联系人|联系人是|姓名)[:：\s]*"
    rf"(?P<name>[{_SURNAMES}][\u4e00-\u9fff]{{1,2}}?)(?=$|[,，。.!！?？\s、]|的|电话|手机|住|在)"
    rf"|我姓(?P<sur>[{_SURNAMES}])"
)


@dataclass(frozen=True, slots=True)
class _Cand:
    entity: str
    value: str
    start: int
    end: int
    priority: int


class EntityExtractor:
    """Entity extraction for one registry and (optionally) the training data's synonyms,
    lookup tables and regexes. Thread-safe; construction compiles the patterns once."""

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        synonyms: Mapping[str, str] | None = None,
        lookups: Mapping[str, Iterable[str]] | None = None,
        regexes: Mapping[str, Iterable[str]] | None = None,
        committee: str | None = None,
    ) -> None:
        names: dict[str, str] = {}
        if registry is not None:
            committees = (
                [registry.committee(committee)] if committee is not None else registry.committees
            )
            for c in committees:
                for comp in c.compounds:
                    for n in comp.names:
                        names.setdefault(normalize(n).text, comp.id)
        self._compounds = names
        self._compound_re = _alternation(names)
        self._synonyms = {normalize(k).text: v for k, v in (synonyms or {}).items()}
        self._lookups: list[tuple[str, re.Pattern[str]]] = []
        for name, entries in (lookups or {}).items():
            if name == "compound" and names:
                continue  # the registry is the source of truth for compounds
            pat = _alternation({normalize(e).text: e for e in entries})
            if pat is not None:
                self._lookups.append((name, pat))
        self._regexes: list[tuple[str, re.Pattern[str]]] = []
        for name, pats in (regexes or {}).items():
            if name in ENTITY_NAMES:
                continue  # built-in extractors validate and canonicalise these
            for p in pats:
                self._regexes.append((name, re.compile(p)))

    def extract(
        self,
        text: str,
        *,
        expected: Collection[str] = (),
        today: date | None = None,
    ) -> list[Entity]:
        """Entities in ``text``, in text order, without overlaps.

        ``expected``: entity names the dialogue just asked for; a bare number then counts
        as that entity (``"5"`` → ``5号楼`` when a building is expected, ``"502"`` → room).
        ``today`` resolves relative dates (default: today in Shanghai).
        """
        if not text or not text.strip():
            return []
        norm = normalize(text[:2000])
        t = norm.text
        cands: list[_Cand] = []
        self._tickets(t, cands)
        self._phones(t, cands)
        self._compound(t, cands)
        self._places(t, cands, expected)
        self._when(t, cands, today or shanghai_today(), expected)
        self._people(t, cands)
        for priority, tables in ((6, self._lookups), (7, self._regexes)):
            for name, pat in tables:
                for m in pat.finditer(t):
                    if m.end() > m.start():
                        value = self._table_value(norm, m.start(), m.end())
                        cands.append(_Cand(name, value, m.start(), m.end(), priority))
        return self._resolve(norm, cands)

    # -- helpers -------------------------------------------------------------------------
    def _table_value(self, norm: NormalizedText, start: int, end: int) -> str:
        """A synonym's canonical value, else the text as the resident wrote it."""
        found = self._synonyms.get(norm.text[start:end])
        if found is not None:
            return found
        s, e = norm.to_original(start, end)
        return norm.original[s:e]

    def _resolve(self, norm: NormalizedText, cands: list[_Cand]) -> list[Entity]:
        chosen: list[_Cand] = []
        for c in sorted(cands, key=lambda c: (c.priority, c.start, -(c.end - c.start))):
            if any(c.start < o.end and o.start < c.end for o in chosen):
                continue
            chosen.append(c)
        out = []
        for c in sorted(chosen, key=lambda c: c.start):
            s, e = norm.to_original(c.start, c.end)
            out.append(Entity(c.entity, c.value, s, e, norm.original[s:e]))
        return out

    @staticmethod
    def _tickets(t: str, out: list[_Cand]) -> None:
        for m in _TICKET_RE.finditer(t):
            value = f"{m.group(1).upper()}-{m.group(2)}-{m.group(3)}"
            out.append(_Cand("ticket_id", value, m.start(), m.end(), 0))

    @staticmethod
    def _phones(t: str, out: list[_Cand]) -> None:
        for rx, needs_cue in ((_MOBILE_RE, False), (_LANDLINE_RE, False), (_LOCAL_RE, True)):
            for m in rx.finditer(t):
                if needs_cue and not _PHONE_CUE.search(t[max(0, m.start() - 12) : m.start()]):
                    continue
                value = validate_phone(m.group(0))
                if value is not None:
                    out.append(_Cand("phone", value, m.start(), m.end(), 1))

    def _compound(self, t: str, out: list[_Cand]) -> None:
        if self._compound_re is None:
            return
        for m in self._compound_re.finditer(t):
            out.append(_Cand("compound", self._compounds[m.group(0)], m.start(), m.end(), 2))

    def _places(self, t: str, out: list[_Cand], expected: Collection[str]) -> None:
        for m in _BUILDING_RE.finditer(t):
            out.append(_Cand("building", f"{int(m.group(1))}号楼", m.start(), m.end(), 3))
        for rx in (_BUILDING_HAO_RE, _LANE_HAO_RE):
            for m in rx.finditer(t):
                out.append(_Cand("building", f"{int(m.group(1))}号楼", m.start(1), m.end(), 3))
        for m in _DASH_ROOM_RE.finditer(t):
            out.append(_Cand("building", f"{int(m.group(1))}号楼", m.start(1), m.end(1), 3))
            out.append(_Cand("room", f"{int(m.group(2))}室", m.start(2), m.end(2), 3))
        for m in _UNIT_RE.finditer(t):
            out.append(_Cand("unit", f"{int(m.group(1))}单元", m.start(), m.end(), 3))
        for m in _ROOM_RE.finditer(t):
            out.append(_Cand("room", f"{int(m.group(1))}室", m.start(), m.end(), 3))
        for rx in (_ROOM_AFTER_RE, _ROOM_CUE_RE):
            for m in rx.finditer(t):
                out.append(_Cand("room", f"{int(m.group(1))}室", m.start(1), m.end(1), 4))
        for m in _FLOOR_RE.finditer(t):
            out.append(_Cand("floor", f"{int(m.group(1))}楼", m.start(), m.end(), 4))
        for m in _FLOOR_WORD_RE.finditer(t):
            out.append(_Cand("floor", m.group(0), m.start(), m.end(), 4))
        if "building" in expected:
            for m in _BARE_HAO_RE.finditer(t):
                out.append(_Cand("building", f"{int(m.group(1))}号楼", m.start(), m.end(), 4))
        only = _NUMBER_ONLY_RE.match(t)
        if only is not None:
            n = int(only.group(1))
            s, e = only.start(1), only.end(1)
            if "room" in expected and n >= 100:
                out.append(_Cand("room", f"{n}室", s, e, 5))
            elif "building" in expected and n < 1000:
                out.append(_Cand("building", f"{n}号楼", s, e, 5))
            elif "floor" in expected and n < 100:
                out.append(_Cand("floor", f"{n}楼", s, e, 5))
            elif "unit" in expected and n < 100:
                out.append(_Cand("unit", f"{n}单元", s, e, 5))

    @staticmethod
    def _when(t: str, out: list[_Cand], today: date, expected: Collection[str]) -> None:
        for m in _DATE_RE.finditer(t):
            value = _resolve_date(m, today)
            if value is not None:
                out.append(_Cand("date", value, m.start(), m.end(), 5))
        if "building" not in expected:
            for m in _BARE_HAO_RE.finditer(t):
                day = int(m.group(1))
                if 1 <= day <= 31 and not re.match(r"\s*(?:\d|单元)", t[m.end() :]):
                    value = _safe_date(today.year, today.month, day)
                    if value is not None:
                        out.append(_Cand("date", value, m.start(), m.end(), 6))
        for m in _TIME_RE.finditer(t):
            if m.group("only"):
                out.append(_Cand("time", m.group("only"), m.start(), m.end(), 6))
                continue
            hour = int(m.group("h"))
            if hour > 24:
                continue
            mm = (m.group("mm") or "").replace("分", "").strip()
            minute = {"半": 30, "一刻": 15, "三刻": 45, "": 0}.get(mm)
            if minute is None:
                minute = int(mm) if mm.isdigit() else 0
            if minute >= 60:
                continue
            period = m.group("period") or ""
            if (
                period in ("下午", "晚上", "傍晚", "今晚", "明晚", "昨晚", "夜里", "夜间")
                and hour < 12
            ):
                hour += 12
            if period in ("中午",) and hour < 6:
                hour += 12
            out.append(_Cand("time", f"{hour % 24:02d}:{minute:02d}", m.start(), m.end(), 5))

    @staticmethod
    def _people(t: str, out: list[_Cand]) -> None:
        for m in _PERSON_RE.finditer(t):
            for group in ("hon", "pet", "name", "sur"):
                if m.group(group):
                    out.append(_Cand("person", m.group(group), m.start(group), m.end(group), 6))
                    break


def _alternation(names: Mapping[str, str]) -> re.Pattern[str] | None:
    keys = sorted((k for k in names if k), key=len, reverse=True)
    if not keys:
        return None
    return re.compile("|".join(re.escape(k) for k in keys))


def _safe_date(y: int, m: int, d: int) -> str | None:
    try:
        return date(y, m, d).isoformat()
    except ValueError:
        return None


def _resolve_date(m: re.Match[str], today: date) -> str | None:
    if m.group("ymd"):
        return _safe_date(int(m.group("y")), int(m.group("m")), int(m.group("d")))
    if m.group("md"):
        month, day = int(m.group("m2")), int(m.group("d2"))
        year = today.year
        # "1月5号" said in December means next January
        if month < today.month - 6:
            year += 1
        return _safe_date(year, month, day)
    if m.group("wk"):
        wd = _WEEKDAY[m.group("wd")]
        pre = m.group("pre") or ""
        monday = today - timedelta(days=today.weekday())
        if pre.startswith("下下"):
            return (monday + timedelta(days=14 + wd)).isoformat()
        if pre.startswith("下"):
            return (monday + timedelta(days=7 + wd)).isoformat()
        if pre.startswith("上"):
            return (monday + timedelta(days=wd - 7)).isoformat()
        if pre:
            return (monday + timedelta(days=wd)).isoformat()
        # a bare weekday is the next one (today included)
        delta = (wd - today.weekday()) % 7
        return (today + timedelta(days=delta)).isoformat()
    rel = m.group("rel")
    if rel:
        return (today + timedelta(days=_REL_DAY[rel])).isoformat()
    return None


@lru_cache(maxsize=32)
def _cached_extractor(
    compounds: tuple[tuple[str, tuple[str, ...]], ...],
) -> EntityExtractor:
    from bot.domain import Committee, Compound

    comps = tuple(Compound(id=cid, name=names[0], aliases=names[1:]) for cid, names in compounds)
    reg = Registry("", "", (Committee("_", "", "", compounds=comps),))
    return EntityExtractor(reg)


def extract_entities(
    text: str,
    registry: Registry | None = None,
    *,
    expected: Collection[str] = (),
    today: date | None = None,
) -> list[Entity]:
    """Entities in ``text`` with the registry's compounds (see ``EntityExtractor.extract``).

    For slot filling: ``extract_entities("不对，是5号楼", registry)`` → building ``5号楼``.
    """
    key: tuple[tuple[str, tuple[str, ...]], ...] = ()
    if registry is not None:
        key = tuple((comp.id, comp.names) for c in registry.committees for comp in c.compounds)
    return _cached_extractor(key).extract(text, expected=expected, today=today)
