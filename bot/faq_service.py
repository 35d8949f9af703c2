"""The committee's FAQ as admins change it: one place for reading, validating, saving,
retiring, reverting and importing entries, and for *applying* a change (the corpus change
logic the console, the admin API and ``linli kb import`` share).

Applying a change means: rebuild the committee's index in this process (when the process
serves residents), then publish ``keys.channel("corpus")`` with the committee id on the state
store so every other worker rebuilds too (``bot.app._corpus_changes`` listens, and polls the
store's revision as a fallback). A save returns only after this process's index is rebuilt,
so the bot answers from the new entry as soon as the admin sees "saved".

Reverting restores the entry to the state *after* the chosen revision ("恢复到此版本"):
reverting the revision of an edit brings back that edit's result, reverting an older
revision undoes every later change; a retired entry is revived by reverting to any revision
that left it live. A revision that retired the entry has no state to restore to. The revert
is itself recorded as a revision with action ``revert``.

Validation messages are Chinese (admins read them); ``chinese_error`` translates the
importer's and ``FaqEntry.from_dict``'s English messages.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from bot.domain.clock import shanghai_today
from bot.domain.faq import ID_PATTERN, FaqEntry, FaqFormatError, parse_date
from bot.domain.registry import Registry
from bot.retrieval import CorpusError, RetrievalError, RetrievalService, RowError, load_corpus
from bot.storage import keys
from bot.storage.faqs import (
    NEVER_CHANGED,
    PROPOSAL_MAX_CHARS,
    FaqConflict,
    FaqRevision,
    FaqStore,
    Proposal,
    ProposalStore,
    StoredFaq,
    UpsertSummary,
)
from bot.storage.state import StateStore

log = logging.getLogger(__name__)

CORPUS_CHANNEL = keys.channel("corpus")
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

FIELD_LABELS: Mapping[str, str] = {
    "id": "编号",
    "compound": "小区",
    "topic": "主题",
    "question": "问题",
    "alternates": "相似问法",
    "answer": "答案",
    "materials": "材料",
    "tags": "标签",
    "compounds": "适用小区",
    "valid_from": "生效日期",
    "valid_until": "失效日期",
    "source": "来源/文号",
    "updated": "更新日期",
    "variants": "小区答案",
}

State = Literal["active", "expired", "upcoming"]
STATE_LABELS: Mapping[str, str] = {"active": "有效", "expired": "已过期", "upcoming": "未生效"}
ACTION_LABELS: Mapping[str, str] = {
    "create": "新建",
    "update": "修改",
    "delete": "删除",
    "revert": "恢复版本",
}


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


class RevisionNotFound(LookupError):
    """No such revision of this entry in this committee."""


class ProposalNotFound(LookupError):
    """No open proposal with this id for this entry."""


class NothingToRestore(ValueError):
    """The revision retired the entry: there is no state to restore to."""


def state_of(entry: FaqEntry, today: date) -> State:
    if entry.valid_from is not None and today < entry.valid_from:
        return "upcoming"
    if entry.valid_until is not None and today > entry.valid_until:
        return "expired"
    return "active"


def matches(
    entry: FaqEntry,
    today: date,
    *,
    q: str = "",
    topic: str = "",
    compound: str = "",
    state: str = "all",
) -> bool:
    """The list's filters (shared with the console): ``q`` in the id, question,
    alternates or answers; the topic; entries a compound's residents get (general ones and
    those with its own answer); the validity state."""
    if topic and entry.topic != topic:
        return False
    if compound and not (compound in entry.variants or entry.applies_to(compound)):
        return False
    if state != "all" and state_of(entry, today) != state:
        return False
    if q:
        needle = q.strip().casefold()
        haystack = [
            entry.id,
            *entry.texts,
            entry.answer,
            *(v.answer for v in entry.variants.values()),
        ]
        return any(needle in h.casefold() for h in haystack)
    return True


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


# --- Chinese messages for the importer's and the domain's errors --------------------------------
_Q = r"['\"](.*?)['\"]"
_TRANSLATIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p + r"$", re.S), t)
    for p, t in (
        (r"entry is not a mapping", "条目格式不正确"),
        (r"id is empty", "编号不能为空"),
        (
            rf"id {_Q} is invalid.*",
            "编号“{0}”无效（只能使用英文字母、数字、“.”“_”“-”，最多 80 个字符）",
        ),
        (r"question is empty", "问题不能为空"),
        (r"answer is empty", "答案不能为空"),
        (r"valid_from (\S+) is after valid_until (\S+)", "生效日期 {0} 晚于失效日期 {1}"),
        (rf"(\w+) {_Q} is not a date.*", "{0}“{1}”不是有效日期（请用 YYYY-MM-DD）"),
        (r"(\w+) must be text", "{0}必须是文字"),
        (r"(\w+) must be a list of texts", "{0}必须是一组文字"),
        (r"variants must map.*", "小区答案格式不正确"),
        (r"variants: compound id is empty", "小区答案缺少小区"),
        (r"variants\.(.+?) must be .*", "小区“{0}”的答案格式不正确"),
        (r"variants\.(.+?): answer is empty", "小区“{0}”的答案不能为空"),
        (r"no FAQ entries found", "文件中没有常见问题条目"),
        (r"unsupported file type.*", "不支持的文件类型（请上传 .csv 或 .xlsx 文件）"),
        (r"cannot read file.*", "无法读取文件"),
        (r"file not found", "找不到文件"),
        (r"file is neither UTF-8 nor GBK text", "文件编码无法识别（请用 UTF-8 或 GBK 保存）"),
        (r"file is not UTF-8 text", "文件不是 UTF-8 文本"),
        (r"not valid CSV.*", "不是有效的 CSV 文件"),
        (r"the file is empty", "文件是空的"),
        (r"not a valid XLSX workbook.*", "不是有效的 XLSX 工作簿"),
        (
            r"merged cells (\S+) are not supported.*",
            "不支持合并单元格 {0}：请取消合并，并在每个单元格里填写内容",
        ),
        (r"the sheet is empty", "工作表是空的"),
        (rf"column {_Q} appears twice", "列“{0}”重复出现"),
        (rf"unknown column {_Q}", "无法识别的列“{0}”"),
        (r"missing column\(s\): (.*)", "缺少必需的列：{0}"),
        (
            rf"duplicate id {_Q} \(already at (?:.*?\s)?(?:row|line|entry) (\d+)\)",
            "编号“{0}”重复（第 {1} 行已有）",
        ),
        (
            rf"a variant row \(compound {_Q}\) may only fill answer and materials, not (.*)",
            "小区答案行（小区“{0}”）只能填写答案和材料，不能填写：{1}",
        ),
        (
            rf"variant for id {_Q} has no main row.*",
            "编号“{0}”的小区答案行没有对应的主行（小区一栏为空的那一行）",
        ),
        (
            rf"duplicate variant for compound {_Q} of id {_Q} \(already at row (\d+)\)",
            "编号“{1}”的小区“{0}”答案重复（第 {2} 行已有）",
        ),
        (
            rf"unknown compound {_Q} in variants \(known: (.*)\)",
            "小区答案中的小区“{0}”不属于本居委会（本居委会的小区：{1}）",
        ),
        (
            rf"unknown compound {_Q} \(known: (.*)\)",
            "小区“{0}”不属于本居委会（本居委会的小区：{1}）",
        ),
        (rf"two variants for compound {_Q}", "小区“{0}”有两条答案"),
        (
            rf"variant for compound {_Q}, but the entry applies only to (.*)",
            "填写了小区“{0}”的答案，但该条目只适用于：{1}",
        ),
        (rf"unknown committee {_Q}", "未知的居委会“{0}”"),
    )
)
_LIST_FIELDS = ("missing column(s)", "may only fill")


def chinese_error(message: str) -> str:
    """The Chinese text of one importer/domain error message (the English one, if none
    fits, after a Chinese lead-in)."""
    for pattern, template in _TRANSLATIONS:
        m = pattern.match(message)
        if m:
            groups = [
                _label_list(g) if any(f in message for f in _LIST_FIELDS) else g for g in m.groups()
            ]
            groups = [FIELD_LABELS.get(g, g) for g in groups]
            return template.format(*groups)
    return f"格式不正确：{message}"


def _label_list(text: str) -> str:
    parts = [p.strip() for p in text.split(",")]
    if all(p in FIELD_LABELS for p in parts):
        return "、".join(FIELD_LABELS[p] for p in parts)
    return text


def row_error_text(error: RowError) -> str:
    """``faq.csv 第 3 行：问题不能为空``."""
    where = error.source
    if error.row is not None:
        where = f"{where} 第 {error.row} 行".strip()
    message = chinese_error(error.message)
    return f"{where}：{message}" if where else message


# --- the service --------------------------------------------------------------------------------
class FaqService:
    """A committee's FAQ for the console, the admin API and the CLI.

    ``retrieval`` is None in processes that do not answer residents (``linli kb import``):
    there a change is only published."""

    def __init__(
        self,
        store: FaqStore,
        state: StateStore,
        registry: Registry,
        retrieval: RetrievalService | None = None,
        *,
        seed_dir: Path | None = None,
        proposals: ProposalStore | None = None,
    ) -> None:
        self.store = store
        self.proposals = proposals
        self.state = state
        self.registry = registry
        self.retrieval = retrieval
        self.seed_dir = seed_dir
        self._locks: dict[str, asyncio.Lock] = {}
        self._built: dict[str, str] = {}

    # -- reading ---------------------------------------------------------------------------
    async def entries(self, committee: str) -> list[FaqEntry]:
        """The committee's live entries, seeded from the sample corpus the first time (only
        when the committee never had any entry: retiring every entry does not bring the
        sample back). An unreadable stored entry is skipped and logged."""
        rows = await self.store.load(committee)
        if not rows and self.seed_dir is not None and await self._never_had_entries(committee):
            try:
                # File reading and validation run off the event loop.
                seed = await asyncio.get_running_loop().run_in_executor(
                    None, load_corpus, [self.seed_dir], self.registry, committee
                )
            except CorpusError as exc:
                log.warning(
                    "sample corpus does not fit this committee; starting empty",
                    extra={"committee": committee, "errors": len(exc.errors)},
                )
                return []
            await self.store.upsert_many(committee, [e.to_dict() for e in seed], actor="seed")
            rows = await self.store.load(committee)
        entries = []
        for row in rows:
            try:
                entries.append(FaqEntry.from_dict(row))
            except FaqFormatError as exc:
                # One bad row must not take the committee's whole FAQ down.
                log.error(
                    "unreadable FAQ entry skipped",
                    extra={"committee": committee, "faq": row.get("id"), "error": str(exc)},
                )
        return entries

    async def _never_had_entries(self, committee: str) -> bool:
        return await self.store.revision(committee) == NEVER_CHANGED

    async def get(self, committee: str, faq_id: str) -> StoredFaq | None:
        return await self.store.get(committee, faq_id)

    async def entry(self, committee: str, faq_id: str) -> FaqEntry | None:
        """A live, readable entry, or None."""
        stored = await self.store.get(committee, faq_id)
        if stored is None or stored.deleted:
            return None
        try:
            return FaqEntry.from_dict(stored.data)
        except FaqFormatError:
            return None

    async def history(self, committee: str, faq_id: str) -> list[FaqRevision]:
        return await self.store.history(committee, faq_id)

    # -- validation ------------------------------------------------------------------------
    def validate(self, committee: str, data: Mapping[str, Any], *, new: bool = False) -> FaqEntry:
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
        compounds = self._resolve(committee, data.get("compounds"), "compounds", errors)
        data["compounds"] = compounds
        variants: dict[str, Any] = {}
        raw_variants = data.get("variants") or {}
        if not isinstance(raw_variants, Mapping):
            errors["variants"] = "小区答案格式不正确"
            raw_variants = {}
        for key, raw in raw_variants.items():
            found = self._compound(committee, str(key))
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

    def _compound(self, committee: str, key: str) -> str | None:
        if not self.registry.has_committee(committee):
            return None
        found = self.registry.committee(committee).compound(key.strip())
        return found.id if found else None

    def _resolve(
        self, committee: str, value: object, field: str, errors: dict[str, str]
    ) -> list[str]:
        if value is None or value == "":
            return []
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, Sequence):
            errors[field] = "适用小区格式不正确"
            return []
        out: list[str] = []
        for item in items:
            found = self._compound(committee, str(item))
            if found is None:
                errors[field] = f"小区“{item}”不属于本居委会"
            elif found not in out:
                out.append(found)
        return out

    # -- changing --------------------------------------------------------------------------
    async def create(self, committee: str, entry: FaqEntry, actor: str) -> FaqRevision:
        """Add a new entry; FaqConflict when a live entry has its id."""
        data = _stamped(entry, None)
        revision = await self.store.write(
            committee, entry.id, data, actor, "create", expect="absent"
        )
        assert revision is not None  # a new entry is always a change
        await self.apply(committee)
        return revision

    async def update(self, committee: str, entry: FaqEntry, actor: str) -> FaqRevision | None:
        """Replace a live entry (``updated`` set to today when something changed); None when
        nothing changed; FaqConflict when it is not live."""
        current = await self.store.get(committee, entry.id)
        if current is None or current.deleted:
            raise FaqConflict(f"FAQ {entry.id!r} is not live")
        revision = await self.store.write(
            committee, entry.id, _stamped(entry, current.data), actor, "update", expect="present"
        )
        if revision is not None:
            await self.apply(committee)
        return revision

    async def delete(self, committee: str, faq_id: str, actor: str) -> FaqRevision | None:
        """Retire a live entry (kept with its history); None when it was not live."""
        revision = await self.store.write(committee, faq_id, None, actor, "delete")
        if revision is not None:
            await self.apply(committee)
        return revision

    async def revert(
        self, committee: str, faq_id: str, revision_id: int, actor: str
    ) -> FaqRevision | None:
        """Restore the entry to its state after ``revision_id`` (see the module doc); None
        when it is in that state already."""
        revision = await self.store.revision_of(committee, faq_id, revision_id)
        if revision is None:
            raise RevisionNotFound(f"no revision {revision_id} of {faq_id!r}")
        if revision.after is None:
            raise NothingToRestore(f"revision {revision_id} retired {faq_id!r}")
        # The registry may have changed since (a compound renamed or gone): check it again.
        entry = self.validate(committee, revision.after)
        restored = await self.store.write(committee, faq_id, entry.to_dict(), actor, "revert")
        if restored is not None:
            await self.apply(committee)
        return restored

    async def import_entries(
        self, committee: str, entries: Sequence[FaqEntry], actor: str
    ) -> UpsertSummary:
        """Create or update validated entries (all in one transaction) and apply."""
        reserved = [e.id for e in entries if e.id.lower() in RESERVED_IDS]
        if reserved:
            raise InvalidFaq({"id": f"编号不能是“{reserved[0]}”"})
        summary = await self.store.upsert_many(committee, [e.to_dict() for e in entries], actor)
        if summary.created or summary.updated:
            await self.apply(committee)
        return summary

    # -- learning from residents -------------------------------------------------------------
    async def propose(self, committee: str, faq_id: str, text: str, source: str) -> Proposal | None:
        """Record ``text`` (a resident's phrasing) as a proposed alternate of a live entry;
        None when there is no proposal store, the entry is not live, or the phrasing is
        already one of the entry's (or blank, or too long to be a question)."""
        phrase = re.sub(r"\s+", " ", text).strip()
        if self.proposals is None or not phrase or len(phrase) > PROPOSAL_MAX_CHARS:
            return None
        entry = await self.entry(committee, faq_id)
        if entry is None or phrase in entry.texts:
            return None
        return await self.proposals.propose(committee, faq_id, phrase, source)

    async def proposals_for(self, committee: str, faq_id: str) -> list[Proposal]:
        if self.proposals is None:
            return []
        return await self.proposals.open_for(committee, faq_id)

    async def proposal_counts(self, committee: str) -> dict[str, int]:
        if self.proposals is None:
            return {}
        return await self.proposals.open_counts(committee)

    async def accept_proposal(
        self, committee: str, faq_id: str, proposal_id: int, actor: str
    ) -> FaqRevision | None:
        """Add the proposed phrasing to the entry's alternates: a normal revision (revertible
        like any other), live at once; the proposal is closed as accepted."""
        proposal = await self._open_proposal(committee, faq_id, proposal_id)
        entry = await self.entry(committee, faq_id)
        if entry is None:
            raise FaqConflict(f"FAQ {faq_id!r} is not live")
        revision = None
        if proposal.text not in entry.texts:
            data = {**entry.to_dict(), "alternates": [*entry.alternates, proposal.text]}
            revision = await self.update(committee, self.validate(committee, data), actor)
        assert self.proposals is not None
        await self.proposals.decide(committee, proposal_id, "accepted", actor)
        return revision

    async def dismiss_proposal(
        self, committee: str, faq_id: str, proposal_id: int, actor: str
    ) -> None:
        await self._open_proposal(committee, faq_id, proposal_id)
        assert self.proposals is not None
        await self.proposals.decide(committee, proposal_id, "dismissed", actor)

    async def _open_proposal(self, committee: str, faq_id: str, proposal_id: int) -> Proposal:
        found = None
        if self.proposals is not None:
            found = await self.proposals.get(committee, proposal_id)
        if found is None or found.faq_id != faq_id or found.status != "open":
            raise ProposalNotFound(f"no open proposal {proposal_id} of {faq_id!r}")
        return found

    # -- applying --------------------------------------------------------------------------
    async def apply(self, committee: str) -> None:
        """Make a change live: this process's index at once, the other workers' through the
        corpus channel. An index that cannot be rebuilt here is logged (the saved change
        stays; the background refresh retries)."""
        if self.retrieval is not None:
            try:
                await self.rebuild(committee)
            except RetrievalError:
                log.exception("index rebuild failed after a FAQ change")
        await self.state.publish(CORPUS_CHANNEL, committee)

    async def rebuild(self, committee: str) -> int:
        """Rebuild this process's index of ``committee`` from the store; returns the number
        of entries. Serialised per committee, so a slower rebuild never replaces a newer
        one."""
        if self.retrieval is None:
            return 0
        lock = self._locks.setdefault(committee, asyncio.Lock())
        async with lock:
            revision = await self.store.revision(committee)
            entries = await self.entries(committee)
            await self.retrieval.arebuild(committee, entries)
            self._built[committee] = revision
            return len(entries)

    async def refresh(self, committee: str, *, force: bool = False) -> bool:
        """Rebuild when the stored corpus changed since this process last built it (another
        process saved); True when it rebuilt. A committee this process never loaded nor
        built (an application started without its models) has no index to refresh."""
        if not force:
            built = self._built.get(committee)
            if built is None or built == await self.store.revision(committee):
                return False
        await self.rebuild(committee)
        return True

    def remember(self, committee: str, revision: str) -> None:
        """Note ``revision`` (read before the start-up load) as the one this index holds."""
        self._built[committee] = revision


def actor_text(display_name: str, name: str) -> str:
    """Who a revision names: ``王芳（wangfang）`` (the login alone without a display name)."""
    return f"{display_name}（{name}）" if display_name and display_name != name else name


def _stamped(entry: FaqEntry, before: Mapping[str, Any] | None) -> dict[str, Any]:
    """The entry to store: ``updated`` is today's date when the content changed."""
    data = entry.to_dict()
    if before is not None:
        unchanged = {**data, "updated": before.get("updated")} == dict(before)
        if unchanged:
            return dict(before)
    data["updated"] = shanghai_today().isoformat()
    return data


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
