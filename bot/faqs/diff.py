"""What changed between two states of an entry, field by field, as text people read (the
history pages and the admin API's revisions)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain.faq import FaqEntry
from bot.faqs.texts import FIELD_LABELS


@dataclass(frozen=True, slots=True)
class Change:
    """One field that differs between two states of an entry, for people."""

    field: str
    label: str
    before: str
    after: str


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[Change]:
    """The fields that differ, as readable text (lists one item a line)."""
    before, after = before or {}, after or {}
    changes: list[Change] = []
    keys_ = [k for k in FaqEntry("x", "t", "q", "a").to_dict() if k != "variants"]
    for key in keys_:
        old, new = _readable(before.get(key)), _readable(after.get(key))
        if old != new:
            changes.append(Change(key, FIELD_LABELS.get(key, key), old, new))
    old_v: Mapping[str, Any] = before.get("variants") or {}
    new_v: Mapping[str, Any] = after.get("variants") or {}
    for cid in sorted(set(old_v) | set(new_v)):
        old, new = _variant_text(old_v.get(cid)), _variant_text(new_v.get(cid))
        if old != new:
            changes.append(Change(f"variants.{cid}", f"小区答案（{cid}）", old, new))
    return changes


def _readable(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "\n".join(str(v) for v in value)
    return str(value)


def _variant_text(value: object) -> str:
    if not isinstance(value, Mapping):
        return ""
    text = str(value.get("answer", ""))
    materials = value.get("materials") or []
    if materials:
        text += "\n材料：" + "、".join(str(m) for m in materials)
    return text
