"""The crisis layer: urgent messages found by rules that are data (``intents/crisis.yml``).

It runs on every message, in group and private chats, addressed or not, whatever the
classifier said. A missed crisis is the worst error Linli can make, so the category
patterns favour recall; look-alikes ("吵死了", "救命啊这个表格怎么填", "上次着火的那栋楼修好了吗",
"燃气报警器怎么安装") are kept calm by the file's ``calm``, ``not_live`` and ``negated`` rules.
Rules run on the normalised text (simplified, half-width, lower-case ASCII) and a hit is
reported against the original text. Long messages are scanned whole, in overlapping
windows, so a crisis buried in the middle of a long letter is still found.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.nlu.data import SAFE_LOADER
from bot.nlu.errors import TrainingDataError
from bot.nlu.normalize import NormalizedText, normalize
from bot.nlu.types import EmergencyCategory, EmergencyHit

RULES_FILE = "crisis.yml"

WINDOW = 2000
"""Characters normalised and scanned at a time; windows overlap by ``OVERLAP``."""
OVERLAP = 100
MAX_SCAN = 200_000
"""Characters of one message scanned at most (larger bodies are refused at the edge)."""

_HIDDEN = frozenset({"Cf", "Cs", "Co", "Mn", "Me", "Sk", "So"})
"""Unicode categories the rules do not see: zero-width and other format characters, emoji,
skin tones and variation selectors, symbols. "不\u200b想活了" and "着😭火了" read as the words
they break up; an emoji between two clauses joins them, which the rules tolerate."""

_CJK = re.compile(r"[\u4e00-\u9fff]")
_QUOTES = {"“": "”", '"': '"', "「": "」", "『": "』", "‘": "’"}

WHO_LOOKBACK = 80
"""Characters before a self-harm phrase read for who is at risk (``about_someone_else``)."""
WHO_INSIDE = 3
"""Characters of the phrase itself where its subject may still be named ("楼顶有人要跳")."""
WHO_INSIDE_PLACE = 12
"""The same for a phrase that opens with a place and someone there ("天台上蹲着个人 就在最边上",
"楼顶好像站了个人"): who is there is named after the place."""
_PLACE_FIRST = re.compile(
    r"(?:楼顶|天台|屋顶|顶楼|窗台|阳台|桥上|河边|江边)[^。！？!?，,]{0,6}?(?:站|坐|蹲|躺|趴|挂)(?:了|着)"
)
WHO_AHEAD = 16
"""Characters after the phrase's start read as context only ("老伴走了以后" is a loss, not a
subject)."""
_SENTENCE_END = re.compile(r"[。！？!?；;\n]")
_CLAUSE_END = re.compile(r"[。！？!?；;\n，,、…~～\s]")
_CLAUSE_SPLIT = re.compile(r"(?<=[。！？!?；;\n，,、…~～\s])")


@dataclass(frozen=True, slots=True)
class _Category:
    category: EmergencyCategory
    rule: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class CrisisRules:
    """Compiled crisis rules; build with ``CrisisRules.load(intents_dir)``."""

    categories: tuple[_Category, ...]
    calm: re.Pattern[str]
    not_live: re.Pattern[str]
    urgent: re.Pattern[str]
    negated: re.Pattern[str]
    negated_inside: re.Pattern[str]
    someone_else: re.Pattern[str]
    fiction: re.Pattern[str]
    dialect: dict[int, str]
    not_live_clause: re.Pattern[str] | None = None
    letter: re.Pattern[str] | None = None
    letter_urgent: re.Pattern[str] | None = None
    letter_min_chars: int = 120
    letter_min_markers: int = 2
    settled: re.Pattern[str] | None = None
    contrast: re.Pattern[str] | None = None
    first_person: re.Pattern[str] | None = None
    unsettled: re.Pattern[str] | None = None
    calm_sure: re.Pattern[str] | None = None
    self_harm_cue: re.Pattern[str] | None = None
    denied: re.Pattern[str] | None = None
    courtesy: re.Pattern[str] | None = None
    distress: re.Pattern[str] | None = None
    source: Path | None = None
    calm_each: tuple[re.Pattern[str], ...] = ()
    """``calm``'s patterns one by one: the spans of all of them, overlapping or starting at
    the same place (the alternation finds one per place), are what a danger is judged by."""

    @classmethod
    def load(cls, path: Path | str) -> CrisisRules:
        """Rules from ``path`` (the file, or the intents folder holding ``crisis.yml``).
        Raises ``TrainingDataError`` with the file (and the rule) when it is malformed."""
        path = Path(path)
        if path.is_dir():
            path = path / RULES_FILE
        try:
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)  # noqa: S506
        except FileNotFoundError as exc:
            raise TrainingDataError(
                "no crisis rules: every intents folder needs crisis.yml (copy Linli's "
                "intents/crisis.yml and adapt it); Linli does not run without them",
                path,
            ) from exc
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise TrainingDataError(f"cannot read crisis rules: {exc}", path) from exc
        body = raw.get("crisis") if isinstance(raw, Mapping) else None
        if not isinstance(body, Mapping):
            raise TrainingDataError("expected a top-level 'crisis:' mapping", path)
        return cls.from_mapping(body, source=path)

    @classmethod
    def from_mapping(cls, body: Mapping[str, Any], source: Path | None = None) -> CrisisRules:
        where = source or Path(RULES_FILE)
        cats = body.get("categories")
        if not isinstance(cats, Mapping) or not cats:
            raise TrainingDataError("'categories' must map category names to rules", where)
        compiled: list[_Category] = []
        for name, spec in cats.items():
            try:
                category = EmergencyCategory(str(name))
            except ValueError as exc:
                known = ", ".join(c.value for c in EmergencyCategory)
                raise TrainingDataError(
                    f"unknown crisis category {name!r} ({known})", where
                ) from exc
            if not isinstance(spec, Mapping):
                raise TrainingDataError(f"category {name!r}: expected label and patterns", where)
            compiled.append(
                _Category(category, _compile(spec.get("patterns"), where, f"categories.{name}"))
            )
        return cls(
            categories=tuple(compiled),
            calm=_compile(body.get("calm"), where, "calm"),
            calm_each=tuple(
                _compile(p, where, f"calm[{i}]")
                for i, p in enumerate(_items(body.get("calm")) or ())
            ),
            not_live=_compile(body.get("not_live"), where, "not_live"),
            urgent=_compile(body.get("urgent"), where, "urgent"),
            negated=_compile(body.get("negated"), where, "negated"),
            negated_inside=_compile(body.get("negated_inside"), where, "negated_inside"),
            someone_else=_compile(body.get("someone_else"), where, "someone_else"),
            fiction=_compile(body.get("fiction"), where, "fiction"),
            dialect=_dialect(body.get("dialect"), where),
            source=source,
            not_live_clause=(
                _compile(body["not_live_clause"], where, "not_live_clause")
                if body.get("not_live_clause")
                else None
            ),
            settled=(_compile(body["settled"], where, "settled") if body.get("settled") else None),
            contrast=(
                _compile(body["contrast"], where, "contrast") if body.get("contrast") else None
            ),
            first_person=(
                _compile(body["first_person"], where, "first_person")
                if body.get("first_person")
                else None
            ),
            unsettled=(
                _compile(body["unsettled"], where, "unsettled") if body.get("unsettled") else None
            ),
            calm_sure=(
                _compile(body["calm_sure"], where, "calm_sure") if body.get("calm_sure") else None
            ),
            self_harm_cue=(
                _compile(body["self_harm_cue"], where, "self_harm_cue")
                if body.get("self_harm_cue")
                else None
            ),
            denied=(_compile(body["denied"], where, "denied") if body.get("denied") else None),
            courtesy=(
                _compile(body["courtesy"], where, "courtesy") if body.get("courtesy") else None
            ),
            distress=(
                _compile(body["distress"], where, "distress") if body.get("distress") else None
            ),
            **_letter(body.get("letter"), where),
        )

    def detect(self, text: str) -> EmergencyHit | None:
        """The crisis ``text`` describes, or None. The first category (in the file's order)
        with a live match is the hit's category; other live categories are in ``also``."""
        if not text or not text.strip():
            return None
        found: dict[EmergencyCategory, tuple[int, int]] = {}
        letter = self._reads_like_a_letter(text)
        for offset, chunk in _windows(text[:MAX_SCAN]):
            for category, (start, end) in self._scan(chunk, letter):
                if category not in found:
                    found[category] = (offset + start, offset + end)
        if not found:
            return None
        order = [c.category for c in self.categories if c.category in found]
        first = order[0]
        start, end = found[first]
        # About someone else when a self-harm phrase names another person at risk and none
        # names the writer ("老婆带孩子走了，我现在在楼顶上" names the writer in its second).
        other = False
        if first is EmergencyCategory.SELF_HARM:
            who = {self.who_is_at_risk(text, at) for at in {start, *self._self_harm_starts(text)}}
            other = True in who and False not in who
        return EmergencyHit(first, text[start:end], start, end, "rules", tuple(order[1:]), other)

    def _body(self, text: str) -> str:
        """``text``'s first window as every rule reads it: normalised, dialect words mapped."""
        return _view(text[:WINDOW]).text.translate(self.dialect)

    def has_self_harm_cue(self, text: str) -> bool:
        """Whether ``text`` (its first window) carries a sign of self-harm: a self-harm
        phrase, even one the look-alike rules would calm ("上次说过不想活了"), or a
        ``self_harm_cue`` phrase (a whole bottle swallowed, a person on a ledge, charcoal, a
        rope). Asked only of a message already judged urgent for another danger: its reply
        then also gives the hotlines."""
        body = self._body(text)
        if self.self_harm_cue is not None and self.self_harm_cue.search(body):
            return True
        return any(
            m.end() > m.start()
            for c in self.categories
            if c.category is EmergencyCategory.SELF_HARM
            for m in c.rule.finditer(body)
        )

    def needs_care(self, text: str) -> bool:
        """Whether ``text``, judged calm by the crisis layer, still gets a caring line rather
        than small talk or the menu: it carries words of dying (``mentions_dying``) or is
        nothing but distress (``distress``: "撑不住了", "真的熬不下去了")."""
        return self.mentions_dying(text) or self.distress_only(text)

    def distress_only(self, text: str) -> bool:
        """Whether ``text`` is nothing but distress (``distress``: "撑不住了"): the classifier
        alone never calls it a crisis (it gets the caring line with the hotlines); the rules
        still judge it."""
        if self.distress is None:
            return False
        return bool(self.distress.search(self._body(text)))

    def mentions_dying(self, text: str) -> bool:
        """Whether ``text`` (its first window) carries a self-harm phrase, even one the
        look-alike rules calm ("刚才我发的不想活了 是在吐槽老板 不是真的", "排队排得我想死"):
        the dialogue then never answers it with a goodbye, a chit-chat line or the menu."""
        return bool(self._self_harm_starts(text))

    def calm_context(self, text: str, *, markers: bool = True, words: bool = True) -> bool:
        """Whether ``text`` reads like a look-alike (a scare told and resolved, a letter to
        officials with no live clause, a ``calm_sure`` phrase such as nobody in the lift, an
        intent to die denied after low mood (``denies_self_harm``); with
        ``words`` also a look-alike phrase anywhere in it: hyperbole, a routine question; with
        ``markers`` also a story or a past or hypothetical event anywhere in it) — the
        classifier alone may not call it a crisis."""
        body = self._body(text)
        if words and self.calm.search(body):
            return True
        if self.courtesy is not None and self.courtesy.search(body):
            return True  # thanks alone
        if self.calm_sure is not None and self.calm_sure.search(body):
            return True  # nobody in the lift, a wait for one: calm however sure the classifier
        if self._denies(body):
            return True  # low mood told, then "但我不会做傻事的"
        settled = self._settled_at(body)
        if settled and not any(c.rule.search(body, settled) for c in self.categories):
            return True  # a scare told and then resolved, with nothing alarming after it
        if self._reads_like_a_letter(text) and not self._live_in_letter(body):
            return True  # a letter to officials with nothing happening now
        if not markers or self.urgent.search(body):
            return False
        return bool(self.fiction.search(body) or self.not_live.search(body))

    def courtesy_only(self, text: str) -> bool:
        """Whether ``text`` is nothing but courtesy (``courtesy``: thanks alone,
        "多谢你们了！！！"): the classifier alone never calls it a crisis, however sure; the
        rules still judge it."""
        if self.courtesy is None:
            return False
        return bool(self.courtesy.search(self._body(text)))

    def courtesy_or_distress_only(self, text: str) -> bool:
        """``courtesy_only`` or ``distress_only``, the message normalised once (what the
        crisis layer asks of every message the rules found nothing in)."""
        body = self._body(text)
        return any(p is not None and p.search(body) for p in (self.courtesy, self.distress))

    def denies_self_harm(self, text: str) -> bool:
        """Whether the writer of ``text`` (its first window) denies any intent to die after
        telling of low mood ("有时候觉得活着挺累的，但我不会做傻事的"), with no means named and no
        self-harm phrase after the denial: the classifier's reading of self-harm no longer
        overrides the look-alike gate then (``SELF_HARM_SURE``)."""
        return self._denies(self._body(text))

    def _denies(self, body: str) -> bool:
        """``denies_self_harm`` of a normalised ``body``."""
        denied = self._denied_at(body)
        return denied > 0 and not any(
            c.rule.search(body, denied)
            for c in self.categories
            if c.category is EmergencyCategory.SELF_HARM
        )

    def _denied_at(self, body: str) -> int:
        """Where the last ``denied`` phrase of ``body`` ends, or 0 when there is none or a
        means of self-harm is named anywhere (``self_harm_cue``: pills counted, a rope, a
        ledge): a denial beside the means is not believed."""
        last = None
        for found in self.denied.finditer(body) if self.denied is not None else ():
            last = found
        if last is None or (self.self_harm_cue is not None and self.self_harm_cue.search(body)):
            return 0
        return last.end()

    def letter_live_part(self, text: str) -> str:
        """For a letter to officials, each clause that says something is happening now (the
        letter's own ``urgent``) with the clause after it ("就在刚刚，一位老人倒地不起"),
        joined; "" when none does or ``text`` is not a letter. The classifier judges a letter
        by these alone: a petition recounting a past illness, how things stand now or a plea
        is not a danger, whatever its whole wording sounds like."""
        if not self._reads_like_a_letter(text):
            return ""
        body = self._body(text)
        clauses = [c for c in _CLAUSE_SPLIT.split(body) if c.strip()]
        live = [
            "".join(clauses[i : i + 2])
            for i, clause in enumerate(clauses)
            if self._live_in_letter(clause)
        ]
        return "".join(live)

    def about_someone_else(self, text: str, at: int = 0) -> bool:
        """Whether the self-harm phrase starting at ``at`` is about another person ("我妈说不想
        活了", "楼上那个小伙子坐在窗台上"); see ``who_is_at_risk``."""
        return self.who_is_at_risk(text, at) is True

    def who_is_at_risk(self, text: str, at: int = 0) -> bool | None:
        """True when the self-harm phrase starting at ``at`` names another person at risk,
        False when it names the writer, None when it names nobody. The subject is the one
        named nearest before the phrase (or in its first ``WHO_INSIDE`` characters: "楼顶有人
        要跳"; ``WHO_INSIDE_PLACE`` when it opens with a place and someone there), quoted
        speech not read, ``WHO_LOOKBACK`` characters back: in the phrase's own clause the last
        ``someone_else`` or ``first_person`` subject, else, in the nearest earlier clause
        naming one, its first (the clause's subject, not an object: "我写了封信给我女儿 今晚吃
        完那瓶药")."""
        start = max(0, at - WHO_LOOKBACK)
        norm = _view(text[start : at + WHO_AHEAD])
        body = _unquoted(norm.text.translate(self.dialect))
        within = WHO_INSIDE_PLACE if _PLACE_FIRST.match(text, at) else WHO_INSIDE
        limit = sum(1 for a, _ in norm.spans if a < at - start + within)
        named = [(m.start(), False) for m in self.someone_else.finditer(body) if m.start() < limit]
        if self.first_person is not None:
            named += [
                (m.start(), True) for m in self.first_person.finditer(body) if m.start() < limit
            ]
        if not named:
            return None
        ends = [m.end() for m in _CLAUSE_END.finditer(body, 0, limit)]
        last_clause = True
        for left, right in reversed(list(zip([0, *ends], [*ends, limit], strict=True))):
            inside = sorted(n for n in named if left <= n[0] < right)
            if inside:
                _, writer = inside[-1] if last_clause else inside[0]
                return not writer
            last_clause = False
        return None

    def _self_harm_starts(self, text: str) -> list[int]:
        """Where each self-harm phrase of ``text`` (its first window) starts, in ``text``."""
        norm = _view(text[:WINDOW])
        body = norm.text.translate(self.dialect)
        return [
            norm.to_original(m.start(), m.end())[0]
            for c in self.categories
            if c.category is EmergencyCategory.SELF_HARM
            for m in c.rule.finditer(body)
            if m.end() > m.start()
        ]

    def _reads_like_a_letter(self, text: str) -> bool:
        if self.letter is None or len(text) < self.letter_min_chars:
            return False
        words = {m.group(0) for m in self.letter.finditer(normalize(text[:WINDOW]).text)}
        return len(words) >= self.letter_min_markers

    def _settled_at(self, body: str) -> int:
        """Where the last ``settled`` phrase of ``body`` ends ("原来是…", "虚惊一场",
        "已经找到了", "刚才冒烟的是…") when nothing after it says something is happening now;
        0 otherwise. A danger named before that point was a scare now resolved; one named
        after it is not touched."""
        if self.settled is None or (self.unsettled is not None and self.unsettled.search(body)):
            return 0  # a person still unwell: the valve shut is a first step, not the end
        last = None
        for found in self.settled.finditer(body):
            last = found
        if last is None or self.urgent.search(body, last.end()):
            return 0
        return last.end()

    def _live_in_letter(self, clause: str) -> bool:
        rule = self.letter_urgent or self.urgent
        return bool(rule.search(clause))

    def _scan(
        self, chunk: str, letter: bool = False
    ) -> Iterator[tuple[EmergencyCategory, tuple[int, int]]]:
        norm = _view(chunk)
        body = norm.text.translate(self.dialect)
        calm: list[tuple[int, int]] | None = None  # read once a danger is matched
        settled = self._settled_at(body)
        denied = self._denied_at(body)
        urgent = bool(self.urgent.search(body))
        if not urgent and self.fiction.search(body):
            return
        for cat in self.categories:
            for m in cat.rule.finditer(body):
                if m.end() <= m.start():
                    continue
                if calm is None:
                    calm = self._calm_spans(body)
                if self._dropped(body, m, calm, cat.category):
                    continue
                if m.end() <= settled and not self._own_self_harm(chunk, norm, m, cat.category):
                    continue  # told, then resolved: "刚才冒烟的是…烧烤 不是着火"
                if m.end() <= denied and cat.category is EmergencyCategory.SELF_HARM:
                    continue  # low mood, then "但我不会做傻事的"
                if letter and not self._live_in_letter(_span_around(body, *m.span(), _CLAUSE_END)):
                    continue  # a petition recounting a wrong, not a danger now
                yield cat.category, norm.to_original(m.start(), m.end())
                break

    def _calm_spans(self, body: str) -> list[tuple[int, int]]:
        """Where each look-alike phrase (``calm``) matches in ``body``: every pattern's own
        matches, so one phrase never hides another that starts where it does ("烧香" and
        "烧香…烟雾")."""
        if not self.calm.search(body):
            return []
        return [m.span() for rule in self.calm_each for m in rule.finditer(body)]

    def _own_self_harm(
        self, chunk: str, norm: NormalizedText, m: re.Match[str], category: EmergencyCategory
    ) -> bool:
        """Whether ``m`` is a self-harm phrase of the writer's own (or of nobody named): a
        "没事了" or "还以为…" after it minimises, it does not settle ("刚吃了一整瓶安眠药 没事了");
        about another person it may ("楼上邻居说不想活了…她妈妈接她回老家了")."""
        if category is not EmergencyCategory.SELF_HARM:
            return False
        return self.who_is_at_risk(chunk, norm.to_original(m.start(), m.end())[0]) is not True

    def _dropped(
        self,
        body: str,
        m: re.Match[str],
        calm: list[tuple[int, int]],
        category: EmergencyCategory,
    ) -> bool:
        start, end = m.span()
        length = end - start
        for c_start, c_end in calm:
            # A look-alike covers the trigger: most of the match, or its last character
            # (window rules end on the trigger word: "电梯…有人在里" of "有人在里面抽烟").
            if min(end, c_end) - max(start, c_start) >= length / 2 or c_start < end <= c_end:
                return True
        if self.negated.search(body[max(0, start - 4) : start]):
            return True
        if self.negated_inside.search(m.group(0)):
            return True
        sentence_start = _start_of(body, start, _SENTENCE_END)
        sentence = _span_around(body, start, end, _SENTENCE_END)
        clause = _span_around(body, start, end, _CLAUSE_END)
        if self.not_live.search(clause) or (
            self.not_live_clause is not None and self.not_live_clause.search(clause)
        ):
            # "上个月着火那栋楼": past, unless this very clause says it is happening now.
            return not self.urgent.search(clause)
        if category is EmergencyCategory.SELF_HARM:
            # Thoughts of dying told with a "后来…" or "上次…" elsewhere in the sentence are
            # still a person at risk; only a past marker in the same clause calms them.
            return False
        # Elsewhere in the sentence, a past or hypothetical marker speaks for what follows it
        # ("上个月着火那栋楼，…"), not for what came before ("门缝里有血水…他之前说过").
        marker = None
        for found in self.not_live.finditer(body, sentence_start, start):
            marker = found
        if marker is None:
            return False
        if self.contrast is not None and self.contrast.search(body, marker.end(), start):
            # "孩子已经找到了，但是头上在流血": what follows a "but" is told as new.
            return False
        return not self.urgent.search(sentence)


def _view(text: str) -> NormalizedText:
    """``text`` normalised, without the characters of ``_HIDDEN`` and without the spaces of
    text typed one character at a time ("我 不 想 活 了"); offsets still map back."""
    norm = normalize(text)
    body = norm.text
    keep = [
        i
        for i, ch in enumerate(body)
        if (ch.isascii() or unicodedata.category(ch) not in _HIDDEN) and not _spaced(body, i)
    ]
    if len(keep) == len(body):
        return norm
    return NormalizedText(
        norm.original, "".join(body[i] for i in keep), tuple(norm.spans[i] for i in keep)
    )


def _unquoted(body: str) -> str:
    """``body`` with quoted speech blanked out (same length, no clause marks): in
    "老母亲跟我讲“我活够了”" the 我 inside the quote is the mother's. A quote still open at
    the end is blanked to the end."""
    out = list(body)
    i = 0
    while i < len(body):
        close = _QUOTES.get(body[i])
        if close is None:
            i += 1
            continue
        end = body.find(close, i + 1)
        stop = len(body) if end < 0 else end
        for j in range(i + 1, stop):
            out[j] = "_"
        i = stop + 1
    return "".join(out)


def _spaced(body: str, i: int) -> bool:
    """Whether ``body[i]`` is a space between two Chinese characters one of which stands
    alone between spaces (a word typed character by character), not a space between words."""
    if body[i] != " " or not 0 < i < len(body) - 1:
        return False
    if not (_CJK.match(body[i - 1]) and _CJK.match(body[i + 1])):
        return False
    return (i < 2 or body[i - 2] == " ") or (i + 2 >= len(body) or body[i + 2] == " ")


def _start_of(body: str, start: int, boundary: re.Pattern[str]) -> int:
    """Where the stretch holding ``start`` begins (just after the previous ``boundary``)."""
    left = 0
    for sep in boundary.finditer(body, 0, start):
        left = sep.end()
    return left


def _span_around(body: str, start: int, end: int, boundary: re.Pattern[str]) -> str:
    """The stretch of ``body`` around ``start:end`` up to and including the next ``boundary``
    mark (an "!" belongs to the clause it ends)."""
    left = _start_of(body, start, boundary)
    after = boundary.search(body, end)
    return body[left : after.end() if after else len(body)]


def _items(patterns: object) -> list[str] | None:
    """The patterns of a rule written as one pattern or a list (None when it is neither)."""
    if isinstance(patterns, str):
        return [patterns]
    if isinstance(patterns, Iterable) and not isinstance(patterns, Mapping):
        return [str(p) for p in patterns]
    return None


def _compile(patterns: object, where: Path, name: str) -> re.Pattern[str]:
    items = _items(patterns)
    if items is None:
        raise TrainingDataError(f"{name}: expected a pattern or a list of patterns", where)
    if not items:
        raise TrainingDataError(f"{name}: no patterns", where)
    for i, p in enumerate(items):
        try:
            re.compile(p)
        except re.error as exc:
            raise TrainingDataError(f"{name}[{i}]: invalid pattern: {exc}", where) from exc
    # DOTALL: a message typed one line at a time ("她说等死⏎…⏎说别救她") is one message; a
    # ``.{0,n}`` gap crosses its line breaks as ``[^。！？]{0,n}`` already did (on every
    # writer's tune set: 4 more crises found, no look-alike more).
    return re.compile("|".join(f"(?:{p})" for p in items), re.IGNORECASE | re.DOTALL)


def _letter(spec: object, where: Path) -> dict[str, Any]:
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        raise TrainingDataError("letter: expected min_chars and patterns", where)
    try:
        min_chars = int(spec.get("min_chars", 120))
        min_markers = int(spec.get("min_markers", 2))
    except (TypeError, ValueError) as exc:
        raise TrainingDataError("letter: min_chars and min_markers must be numbers", where) from exc
    return {
        "letter": _compile(spec.get("patterns"), where, "letter.patterns"),
        "letter_min_chars": min_chars,
        "letter_min_markers": min_markers,
        "letter_urgent": (
            _compile(spec["urgent"], where, "letter.urgent") if spec.get("urgent") else None
        ),
    }


def _dialect(mapping: object, where: Path) -> dict[int, str]:
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and len(k) == 1 and len(v) == 1
        for k, v in mapping.items()
    ):
        raise TrainingDataError("dialect: map single characters to single characters", where)
    return {ord(k): v for k, v in mapping.items()}


def _windows(text: str) -> Iterator[tuple[int, str]]:
    if len(text) <= WINDOW:
        yield 0, text
        return
    step = WINDOW - OVERLAP
    for offset in range(0, len(text), step):
        yield offset, text[offset : offset + WINDOW]
        if offset + WINDOW >= len(text):
            return


_GUESS: tuple[tuple[EmergencyCategory, re.Pattern[str]], ...] = (
    (EmergencyCategory.FIRE, re.compile(r"火|烟|烧|炸|fire|smoke", re.IGNORECASE)),
    (EmergencyCategory.GAS, re.compile(r"煤气|燃气|天然气|液化气|气味|漏气|gas", re.IGNORECASE)),
    (EmergencyCategory.LIFT, re.compile(r"电梯|梯|轿厢|lift|elevator", re.IGNORECASE)),
    (EmergencyCategory.FLOOD, re.compile(r"水|淹|漏|flood", re.IGNORECASE)),
    (
        EmergencyCategory.MEDICAL,
        re.compile(r"晕|倒|血|呼吸|喘|药|病|摔|跌|疼|痛|昏|抽|医|伤|噎|卡住", re.IGNORECASE),
    ),
)


def guess_category(text: str) -> EmergencyCategory:
    """A best-effort category for an emergency found by the classifier, not the rules."""
    body = normalize(text[:WINDOW]).text
    for category, rx in _GUESS:
        if rx.search(body):
            return category
    return EmergencyCategory.OTHER
