"""FAQ entries: what the committee answers at once, per compound where answers differ.

Pure types. ``FaqEntry.to_dict()`` / ``FaqEntry.from_dict()`` round-trip through JSON-safe
dicts (dates as ISO strings), which is how the database stores an entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

from bot.domain.errors import LinliError

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
"""FAQ ids: ASCII letters, digits, ``.``, ``_`` and ``-``; at most 80 characters."""


TOPIC_LABELS = {
    "certificates": "居住证与证明",
    "committee": "居委会办事",
    "elderly": "养老服务",
    "epidemic": "疫情防控（已失效）",
    "garbage": "垃圾分类",
    "housing": "房屋与动迁",
    "lifts": "电梯",
    "medical": "医保与就医",
    "neighbours": "噪音与邻里纠纷",
    "parking": "停车与电动自行车",
    "pets": "养宠",
    "property": "物业费与业委会",
    "renovation": "装修",
    "repairs": "报修",
    "safety": "安全",
    "volunteering": "志愿服务与居民自治",
    "general": "综合",
}
"""Chinese names of the sample corpus' topics; an admin's own topic is shown as typed."""


def topic_label(topic: str) -> str:
    return TOPIC_LABELS.get(topic, topic)


class FaqFormatError(LinliError, ValueError):
    """A dict does not describe a valid FAQ entry; the message names the field."""


@dataclass(frozen=True, slots=True)
class FaqVariant:
    """The answer of one compound where it differs from the general answer."""

    answer: str
    materials: tuple[str, ...] = ()


def _frozen_variants(variants: Mapping[str, FaqVariant]) -> Mapping[str, FaqVariant]:
    return MappingProxyType(dict(variants))


@dataclass(frozen=True, slots=True)
class FaqEntry:
    """One question the committee answers.

    ``compounds`` empty means the entry applies to every compound of the committee; otherwise
    only residents of those compounds (or residents whose compound is unknown) may get it.
    ``variants`` maps a compound id to that compound's own answer and materials.
    ``valid_from``/``valid_until`` are inclusive; ``None`` means open-ended.
    ``materials`` lists every document a resident must bring (一次办).
    """

    id: str
    topic: str
    question: str
    answer: str
    alternates: tuple[str, ...] = ()
    materials: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    compounds: tuple[str, ...] = ()
    variants: Mapping[str, FaqVariant] = field(default_factory=lambda: MappingProxyType({}))
    valid_from: date | None = None
    valid_until: date | None = None
    source: str = ""
    updated: date | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.variants, MappingProxyType):
            object.__setattr__(self, "variants", _frozen_variants(self.variants))

    def __hash__(self) -> int:
        return hash(self.id)

    # -- behaviour -------------------------------------------------------------------------

    def is_valid_on(self, day: date) -> bool:
        """Whether the entry may be answered on ``day`` (both bounds inclusive)."""
        if self.valid_from is not None and day < self.valid_from:
            return False
        return not (self.valid_until is not None and day > self.valid_until)

    def applies_to(self, compound_id: str | None) -> bool:
        """Whether a resident of ``compound_id`` (``None``: unknown) may get this entry."""
        return compound_id is None or not self.compounds or compound_id in self.compounds

    def answer_for(self, compound_id: str | None) -> FaqVariant:
        """The answer and materials for a compound: its variant if any, else the general one."""
        if compound_id is not None and compound_id in self.variants:
            return self.variants[compound_id]
        return FaqVariant(self.answer, self.materials)

    @property
    def texts(self) -> tuple[str, ...]:
        """Every phrasing that retrieval indexes: the question first, then the alternates."""
        return (self.question, *self.alternates)

    # -- serialisation ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; ``from_dict`` rebuilds an equal entry from it."""
        return {
            "id": self.id,
            "topic": self.topic,
            "question": self.question,
            "alternates": list(self.alternates),
            "answer": self.answer,
            "materials": list(self.materials),
            "tags": list(self.tags),
            "compounds": list(self.compounds),
            "variants": {
                cid: {"answer": v.answer, "materials": list(v.materials)}
                for cid, v in sorted(self.variants.items())
            },
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "source": self.source,
            "updated": self.updated.isoformat() if self.updated else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaqEntry:
        """Build and validate an entry; raises FaqFormatError naming the offending field.

        Missing optional fields take their defaults, so the LCQMC evaluation shape
        ``{"id", "question", "alternates", "answer"}`` is accepted as is (topic "general").
        """
        if not isinstance(data, Mapping):
            raise FaqFormatError("entry is not a mapping")
        entry_id = _text(data, "id")
        if not entry_id:
            raise FaqFormatError("id is empty")
        if not ID_PATTERN.match(entry_id):
            raise FaqFormatError(
                f"id {entry_id!r} is invalid (use letters, digits, '.', '_' or '-', "
                "at most 80 characters)"
            )
        question = _text(data, "question")
        if not question:
            raise FaqFormatError("question is empty")
        answer = _text(data, "answer")
        variants = _variants(data.get("variants"))
        if not answer:
            raise FaqFormatError("answer is empty")
        valid_from = parse_date(data.get("valid_from"), "valid_from")
        valid_until = parse_date(data.get("valid_until"), "valid_until")
        if valid_from and valid_until and valid_from > valid_until:
            raise FaqFormatError(
                f"valid_from {valid_from.isoformat()} is after valid_until "
                f"{valid_until.isoformat()}"
            )
        alternates = _texts(data.get("alternates"), "alternates")
        return cls(
            id=entry_id,
            topic=_text(data, "topic") or "general",
            question=question,
            answer=answer,
            alternates=tuple(a for a in dict.fromkeys(alternates) if a != question),
            materials=_texts(data.get("materials"), "materials"),
            tags=_texts(data.get("tags"), "tags"),
            compounds=tuple(dict.fromkeys(_texts(data.get("compounds"), "compounds"))),
            variants=variants,
            valid_from=valid_from,
            valid_until=valid_until,
            source=_text(data, "source"),
            updated=parse_date(data.get("updated"), "updated"),
        )


def parse_date(value: object, name: str) -> date | None:
    """``None``/empty → ``None``; a date or ``YYYY-MM-DD`` (also ``YYYY/MM/DD``) → date."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        # datetime is a subclass of date: keep the calendar day only
        return date(value.year, value.month, value.day)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        m = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", text)
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                pass
    raise FaqFormatError(f"{name} {value!r} is not a date (YYYY-MM-DD)")


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FaqFormatError(f"{key} must be text")
    return str(value).strip()


def _texts(value: object, key: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Iterable) or isinstance(value, Mapping):
        raise FaqFormatError(f"{key} must be a list of texts")
    out: list[str] = []
    for item in value:
        if item is None:
            continue
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise FaqFormatError(f"{key} must be a list of texts")
        text = str(item).strip()
        if text:
            out.append(text)
    return tuple(out)


def _variants(value: object) -> dict[str, FaqVariant]:
    if value is None or value == "":
        return {}
    if not isinstance(value, Mapping):
        raise FaqFormatError("variants must map a compound id to {answer, materials}")
    out: dict[str, FaqVariant] = {}
    for cid, raw in value.items():
        key = str(cid).strip()
        if not key:
            raise FaqFormatError("variants: compound id is empty")
        if isinstance(raw, str):
            raw = {"answer": raw}
        if not isinstance(raw, Mapping):
            raise FaqFormatError(f"variants.{key} must be {{answer, materials}}")
        answer = _text(raw, "answer")
        if not answer:
            raise FaqFormatError(f"variants.{key}: answer is empty")
        out[key] = FaqVariant(answer, _texts(raw.get("materials"), f"variants.{key}.materials"))
    return out
