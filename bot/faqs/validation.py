"""An FAQ entry from admin input: the importer's rules plus the editor's limits, every
problem named per field in Chinese (``InvalidFaq``)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from bot.domain.faq import ID_PATTERN, FaqEntry, FaqFormatError, parse_date
from bot.domain.registry import Registry
from bot.faqs.texts import FIELD_LABELS, chinese_error

MAX_UPLOAD_ENTRIES = 5000
"""Entries in one console upload (every worker re-encodes the committee's corpus after it;
bigger corpora go through ``linli kb import``)."""
RESERVED_IDS = frozenset({"new", "export", "import"})
"""Ids the console's paths use (``/console/faqs/new`` …): never an entry's id."""

MAX_QUESTION = 500
MAX_ANSWER = 5000
MAX_ITEM = 500
MAX_ITEMS = 100
MAX_SOURCE = 500
MAX_TOPIC = 64


class InvalidFaq(ValueError):
    """An entry failed validation; ``errors`` maps a field (``variant:<compound>`` for a
    compound's answer, ``entry`` for the whole) to a Chinese message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))

    @property
    def first(self) -> str:
        field, message = next(iter(self.errors.items()))
        label = FIELD_LABELS.get(field.split(":", 1)[0], "")
        if field.startswith("variant:"):
            label = f"小区答案（{field.split(':', 1)[1]}）"
        return f"{label}：{message}" if label else message


def validate_entry(
    registry: Registry, committee: str, data: Mapping[str, Any], *, new: bool = False
) -> FaqEntry:
    """An entry from admin input (``FaqEntry.to_dict`` keys; compounds by id, name or
    alias), checked by the importer's rules plus length limits; InvalidFaq otherwise.
    With ``new`` an empty id is generated from the topic."""
    errors: dict[str, str] = {}
    data = dict(data)
    entry_id = str(data.get("id") or "").strip()
    topic = str(data.get("topic") or "").strip()
    if new and not entry_id:
        entry_id = new_id(topic)
    if not entry_id:
        errors["id"] = "编号不能为空"
    elif not ID_PATTERN.match(entry_id):
        errors["id"] = "编号只能使用英文字母、数字、“.”“_”“-”，以字母或数字开头，最多 80 个字符"
    elif new and entry_id.lower() in RESERVED_IDS:
        errors["id"] = f"编号不能是“{entry_id}”"
    data["id"] = entry_id
    if len(topic) > MAX_TOPIC:
        errors["topic"] = f"主题不能超过 {MAX_TOPIC} 个字"
    for key, limit in (("question", MAX_QUESTION), ("answer", MAX_ANSWER)):
        text = str(data.get(key) or "").strip()
        if not text:
            errors[key] = f"{FIELD_LABELS[key]}不能为空"
        elif len(text) > limit:
            errors[key] = f"{FIELD_LABELS[key]}不能超过 {limit} 个字"
    if len(str(data.get("source") or "")) > MAX_SOURCE:
        errors["source"] = f"来源/文号不能超过 {MAX_SOURCE} 个字"
    for key in ("alternates", "materials", "tags"):
        problem = _list_problem(data.get(key))
        if problem:
            errors[key] = problem
    days: dict[str, date | None] = {}
    for key in ("valid_from", "valid_until"):
        try:
            days[key] = parse_date(data.get(key), key)
        except FaqFormatError:
            errors[key] = "请填写有效日期（YYYY-MM-DD）"
    start, end = days.get("valid_from"), days.get("valid_until")
    if start and end and start > end:
        errors["valid_until"] = "失效日期不能早于生效日期"
    compounds = _resolve(registry, committee, data.get("compounds"), "compounds", errors)
    data["compounds"] = compounds
    variants: dict[str, Any] = {}
    raw_variants = data.get("variants") or {}
    if not isinstance(raw_variants, Mapping):
        errors["variants"] = "小区答案格式不正确"
        raw_variants = {}
    for key, raw in raw_variants.items():
        found = _compound(registry, committee, str(key))
        field = f"variant:{found or key}"
        if found is None:
            errors[field] = f"小区“{key}”不属于本居委会"
            continue
        if found in variants:
            errors[field] = "同一个小区只能有一条答案"
            continue
        if compounds and found not in compounds:
            errors[field] = "该条目不适用于这个小区（请在“适用小区”中勾选它，或清空这条答案）"
            continue
        if isinstance(raw, Mapping):
            answer = str(raw.get("answer") or "").strip()
            problem = _list_problem(raw.get("materials"))
        else:
            answer, problem = str(raw or "").strip(), ""
        if not answer:
            errors[field] = "填写了材料，请同时填写这个小区的答案"
        elif len(answer) > MAX_ANSWER:
            errors[field] = f"答案不能超过 {MAX_ANSWER} 个字"
        elif problem:
            errors[field] = problem
        else:
            variants[found] = raw
    data["variants"] = variants
    if errors:
        raise InvalidFaq(errors)
    try:
        return FaqEntry.from_dict(data)
    except FaqFormatError as exc:
        raise InvalidFaq({"entry": chinese_error(str(exc))}) from None


def check_reserved_ids(entries: Sequence[FaqEntry]) -> None:
    """InvalidFaq when an imported entry takes an id the console's paths use."""
    reserved = [e.id for e in entries if e.id.lower() in RESERVED_IDS]
    if reserved:
        raise InvalidFaq({"id": f"编号不能是“{reserved[0]}”"})


def _compound(registry: Registry, committee: str, key: str) -> str | None:
    if not registry.has_committee(committee):
        return None
    found = registry.committee(committee).compound(key.strip())
    return found.id if found else None


def _resolve(
    registry: Registry, committee: str, value: object, field: str, errors: dict[str, str]
) -> list[str]:
    if value is None or value == "":
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence):
        errors[field] = "适用小区格式不正确"
        return []
    out: list[str] = []
    for item in items:
        found = _compound(registry, committee, str(item))
        if found is None:
            errors[field] = f"小区“{item}”不属于本居委会"
        elif found not in out:
            out.append(found)
    return out


def _list_problem(value: object) -> str:
    if value is None or value == "":
        return ""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence):
        return "格式不正确"
    if len(items) > MAX_ITEMS:
        return f"最多 {MAX_ITEMS} 项"
    if any(len(str(i)) > MAX_ITEM for i in items):
        return f"每一项不能超过 {MAX_ITEM} 个字"
    return ""


def new_id(topic: str) -> str:
    """A fresh id for an entry created without one: ``<topic>-<6 hex>``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", topic).strip("-._")[:40] or "faq"
    return f"{stem}-{secrets.token_hex(3)}"
