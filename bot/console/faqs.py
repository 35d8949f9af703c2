"""The console's FAQ editor (常见问题): list, search and filter; create and edit with
per-compound answers and validity dates; the change history with a revert per revision;
a preview of which recent resident messages an entry answers and a "try a question" box;
CSV/XLSX import and export.

Caseworkers read (no edit controls, 403 on any change); the committee's admin and street
admins (in the committee of ``?committee=``) change. Every change goes through
``bot.faqs.service.FaqService`` (recorded, then live in this process at once and published
to the other workers), the same service as the admin API's ``/api/v1/faqs``."""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web
from multidict import MultiDictProxy

from bot import appkeys
from bot.accounts.http import require_user
from bot.console.pages import local_time, ticket_committee
from bot.console.rendering import CONSOLE_REGISTRY, render
from bot.console.security import PREFIX, error_page
from bot.domain.accounts import Principal
from bot.domain.clock import shanghai_today
from bot.domain.faq import ID_PATTERN, FaqEntry
from bot.domain.registry import Committee
from bot.faqs.diff import diff
from bot.faqs.filters import matches, state_of
from bot.faqs.service import FaqService, NothingToRestore, ProposalNotFound, RevisionNotFound
from bot.faqs.texts import ACTION_LABELS, FIELD_LABELS, STATE_LABELS, actor_text, row_error_text
from bot.faqs.validation import MAX_UPLOAD_ENTRIES, InvalidFaq
from bot.retrieval import CorpusError, RetrievalError, export_corpus, load_corpus
from bot.retrieval.service import NoIndexError
from bot.storage.faqs import FaqConflict, FaqRevision, StoredFaq

log = logging.getLogger(__name__)

BASE = "/console/faqs"
PREVIEW_LIMIT = 200
"""How many of the latest resident messages the preview runs through the index."""
MAX_MESSAGE_IDS = 200
EXPORT_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
IMPORT_SUFFIXES = frozenset({".csv", ".xlsx"})
MAX_IMPORT_ERRORS = 50
STATE_CHOICES = (("all", "全部"), ("active", "有效"), ("expired", "已过期"), ("upcoming", "未生效"))
OUTCOME_LABELS = {"answer": "直接回答", "clarify": "候选之一"}
PROPOSAL_SOURCES = {"choice": "居民从候选中选了本条", "caseworker": "社工用本条回答"}
LIST_SPLIT = re.compile(r"[\r\n]+")
TAG_SPLIT = re.compile(r"[,，、;；\r\n]+")


# --- helpers --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Scope:
    principal: Principal
    committee: str
    info: Committee
    faqs: FaqService

    @property
    def can_edit(self) -> bool:
        return self.principal.is_admin

    @property
    def actor(self) -> str:
        return actor_text(self.principal.display_name, self.principal.name)

    def href(self, path: str = "", **params: str) -> str:
        """A console FAQ URL in this scope: ``/console/faqs/<path>?committee=…&…``."""
        query = dict(params)
        if not self.principal.committee:
            query = {"committee": self.committee, **query}
        url = BASE + (f"/{path}" if path else "")
        return url + ("?" + urlencode(query) if query else "")

    def entry_href(self, faq_id: str, suffix: str = "", **params: str) -> str:
        return self.href(quote(faq_id, safe="") + suffix, **params)


async def scope_of(request: web.Request) -> Scope:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    return Scope(
        principal,
        committee,
        request.config_dict[CONSOLE_REGISTRY].committee(committee),
        request.config_dict[appkeys.FAQS],
    )


def require_editor(scope: Scope) -> None:
    if not scope.can_edit:
        raise web.HTTPForbidden()


def compound_choices(info: Committee) -> list[dict[str, str]]:
    return [{"id": c.id, "name": c.name} for c in info.compounds]


def compound_label(info: Committee, cid: str) -> str:
    found = info.compound(cid)
    return found.name if found else cid


def entry_form(entry: FaqEntry | None) -> dict[str, Any]:
    """The form's values for an entry (empty for a new one)."""
    if entry is None:
        return {
            "id": "",
            "topic": "",
            "question": "",
            "alternates": "",
            "answer": "",
            "materials": "",
            "tags": "",
            "compounds": [],
            "valid_from": "",
            "valid_until": "",
            "source": "",
            "variants": {},
        }
    d = entry.to_dict()
    return {
        "id": entry.id,
        "topic": entry.topic,
        "question": entry.question,
        "alternates": "\n".join(entry.alternates),
        "answer": entry.answer,
        "materials": "\n".join(entry.materials),
        "tags": "，".join(entry.tags),
        "compounds": list(entry.compounds),
        "valid_from": d["valid_from"] or "",
        "valid_until": d["valid_until"] or "",
        "source": entry.source,
        "variants": {
            cid: {"answer": v.answer, "materials": "\n".join(v.materials)}
            for cid, v in entry.variants.items()
        },
    }


def _clean(value: str) -> str:
    return value.replace("\x00", "").strip()


def _lines(value: str) -> list[str]:
    return [p.strip() for p in LIST_SPLIT.split(_clean(value)) if p.strip()]


def read_form(form: MultiDictProxy[Any], info: Committee) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the admin typed: (the values to show again, the entry data to validate)."""

    def text(name: str) -> str:
        value = form.get(name, "")
        return _clean(value) if isinstance(value, str) else ""

    shown: dict[str, Any] = {
        key: text(key)
        for key in (
            "id",
            "topic",
            "question",
            "alternates",
            "answer",
            "materials",
            "tags",
            "valid_from",
            "valid_until",
            "source",
        )
    }
    shown["compounds"] = [c for c in form.getall("compounds", []) if isinstance(c, str)]
    shown["variants"] = {}
    variants: dict[str, Any] = {}
    for c in info.compounds:
        answer, materials = text(f"variant_answer_{c.id}"), text(f"variant_materials_{c.id}")
        if answer or materials:
            shown["variants"][c.id] = {"answer": answer, "materials": materials}
            variants[c.id] = {"answer": answer, "materials": _lines(materials)}
    data = {
        "id": shown["id"],
        "topic": shown["topic"],
        "question": shown["question"],
        "alternates": _lines(shown["alternates"]),
        "answer": shown["answer"],
        "materials": _lines(shown["materials"]),
        "tags": [t.strip() for t in TAG_SPLIT.split(shown["tags"]) if t.strip()],
        "compounds": shown["compounds"],
        "variants": variants,
        "valid_from": shown["valid_from"],
        "valid_until": shown["valid_until"],
        "source": shown["source"],
    }
    return shown, data


def parse_message_ids(raw: str) -> list[int]:
    ids: list[int] = []
    for part in raw.split(","):
        part = part.strip()
        if part.isascii() and part.isdigit() and 0 < int(part) < 2**62:
            ids.append(int(part))
    return list(dict.fromkeys(ids))[:MAX_MESSAGE_IDS]


def revision_rows(
    scope: Scope, revisions: Sequence[FaqRevision], current: StoredFaq
) -> list[dict[str, Any]]:
    """Newest first, with a readable field diff and whether it can be restored."""
    live = None if current.deleted else current.data
    rows = []
    for r in reversed(revisions):
        changes = diff(r.before, r.after)
        rows.append(
            {
                "id": r.id,
                "at": local_time(r.created_at),
                "actor": r.actor,
                "action": r.action,
                "action_label": ACTION_LABELS.get(r.action, r.action),
                "changes": [
                    {
                        "label": _variant_label(scope.info, c.field) or c.label,
                        "before": c.before,
                        "after": c.after,
                    }
                    for c in changes
                ],
                "restorable": scope.can_edit and r.after is not None and r.after != live,
                "revert_action": scope.entry_href(current.faq_id, f"/revert/{r.id}"),
            }
        )
    return rows


def _variant_label(info: Committee, field: str) -> str:
    if not field.startswith("variants."):
        return ""
    return f"小区答案（{compound_label(info, field.split('.', 1)[1])}）"


def entry_row(scope: Scope, entry: FaqEntry, today: date) -> dict[str, Any]:
    state = state_of(entry, today)
    return {
        "id": entry.id,
        "href": scope.entry_href(entry.id),
        "topic": entry.topic,
        "question": entry.question,
        "answer": entry.answer,
        "state": state,
        "state_label": STATE_LABELS[state],
        "compounds": "、".join(compound_label(scope.info, c) for c in entry.compounds)
        or "全部小区",
        "variants": "、".join(compound_label(scope.info, c) for c in sorted(entry.variants)),
        "updated": entry.updated.isoformat() if entry.updated else "",
    }


# --- list, import, export -------------------------------------------------------------------------
async def faq_list(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    if not principal.committee and not request.query.get("committee"):
        registry = request.config_dict[CONSOLE_REGISTRY]
        choices = [
            {"name": c.name, "href": BASE + "?" + urlencode({"committee": c.id})}
            for c in registry.committees
        ]
        return await render(request, "faq_list.html", {"pick": choices})
    scope = await scope_of(request)
    return await list_page(request, scope)


async def list_page(
    request: web.Request,
    scope: Scope,
    *,
    import_errors: Sequence[str] = (),
    status: int = 200,
) -> web.Response:
    query = request.query
    q = _clean(query.get("q", ""))[:200]
    topic = query.get("topic", "")
    compound = query.get("compound", "")
    state = query.get("state", "all")
    if state not in dict(STATE_CHOICES):
        state = "all"
    today = shanghai_today()
    entries = await scope.faqs.entries(scope.committee)
    proposed = await scope.faqs.proposal_counts(scope.committee)
    shown = [
        entry_row(scope, e, today) | {"proposals": proposed.get(e.id, 0)}
        for e in entries
        if matches(e, today, q=q, topic=topic, compound=compound, state=state)
    ]
    imported = ""
    if query.get("imported") == "1":
        imported = (
            f"导入成功：新增 {_int(query.get('created'))} 条，"
            f"修改 {_int(query.get('updated'))} 条，"
            f"未变化 {_int(query.get('unchanged'))} 条。机器人已按新内容回答。"
        )
    context = {
        "pick": None,
        "committee_name": scope.info.name,
        "entries": shown,
        "total": len(entries),
        "q": q,
        "topic": topic,
        "topics": sorted({e.topic for e in entries}),
        "compound": compound,
        "compounds": compound_choices(scope.info),
        "state": state,
        "states": STATE_CHOICES,
        "can_edit": scope.can_edit,
        "committee_field": "" if scope.principal.committee else scope.committee,
        "new_href": scope.href("new"),
        "list_action": BASE,
        "import_action": scope.href("import"),
        "export_csv": scope.href("export", format="csv"),
        "export_xlsx": scope.href("export", format="xlsx"),
        "import_errors": list(import_errors),
        "imported": imported,
        "deleted": query.get("deleted", ""),
    }
    return await render(request, "faq_list.html", context, status=status)


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 10 else 0


async def faq_export(request: web.Request) -> web.StreamResponse:
    scope = await scope_of(request)
    fmt = request.query.get("format", "csv")
    if fmt not in EXPORT_TYPES:
        return await error_page(request, 400, "导出格式只能是 csv 或 xlsx。")
    entries = await scope.faqs.entries(scope.committee)
    data = await asyncio.get_running_loop().run_in_executor(None, _export_bytes, entries, fmt)
    name = f"faq-{scope.committee}-{shanghai_today():%Y%m%d}.{fmt}"
    return web.Response(
        body=data,
        headers={
            "Content-Type": EXPORT_TYPES[fmt] + ("; charset=utf-8" if fmt == "csv" else ""),
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


def _export_bytes(entries: Sequence[FaqEntry], fmt: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="linli-export-") as tmp:
        path = Path(tmp) / f"faq.{fmt}"
        export_corpus(entries, path, "csv" if fmt == "csv" else "xlsx")
        return path.read_bytes()


async def faq_import(request: web.Request) -> web.StreamResponse:
    scope = await scope_of(request)
    require_editor(scope)
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField) or not upload.filename:
        return await list_page(request, scope, import_errors=["请选择要导入的文件。"], status=422)
    name = _safe_filename(upload.filename)
    if Path(name).suffix.lower() not in IMPORT_SUFFIXES:
        return await list_page(
            request, scope, import_errors=["只能导入 .csv 或 .xlsx 文件。"], status=422
        )
    registry = request.config_dict[CONSOLE_REGISTRY]
    loop = asyncio.get_running_loop()
    content = await loop.run_in_executor(None, upload.file.read)
    try:
        entries = await loop.run_in_executor(
            None, _load_upload, name, content, registry, scope.committee
        )
    except CorpusError as exc:
        errors = [row_error_text(e) for e in exc.errors[:MAX_IMPORT_ERRORS]]
        if len(exc.errors) > MAX_IMPORT_ERRORS:
            errors.append(f"……另有 {len(exc.errors) - MAX_IMPORT_ERRORS} 处问题未列出。")
        errors.insert(0, "文件中有错误，没有导入任何内容。请修改后重新导入：")
        return await list_page(request, scope, import_errors=errors, status=422)
    if len(entries) > MAX_UPLOAD_ENTRIES:
        errors = [
            f"一次最多导入 {MAX_UPLOAD_ENTRIES} 条，本文件有 {len(entries)} 条，请拆分后导入。"
        ]
        return await list_page(request, scope, import_errors=errors, status=422)
    try:
        summary = await scope.faqs.import_entries(scope.committee, entries, scope.actor)
    except InvalidFaq as exc:
        errors = ["文件中有错误，没有导入任何内容。", *exc.errors.values()]
        return await list_page(request, scope, import_errors=errors, status=422)
    raise web.HTTPSeeOther(
        scope.href(
            imported="1",
            created=str(summary.created),
            updated=str(summary.updated),
            unchanged=str(summary.unchanged),
        )
    )


def _safe_filename(raw: str) -> str:
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in '<>:"|?*\x00')
    return name.strip(" .")[:100] or "upload"


def _load_upload(name: str, content: bytes, registry: Any, committee: str) -> list[FaqEntry]:
    with tempfile.TemporaryDirectory(prefix="linli-import-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(content)
        return load_corpus([path], registry, committee)


# --- create and edit ------------------------------------------------------------------------------
async def edit_page(
    request: web.Request,
    scope: Scope,
    *,
    stored: StoredFaq | None,
    form: Mapping[str, Any],
    errors: Mapping[str, str] | None = None,
    message_ids: str = "",
    status: int = 200,
    notice: str = "",
) -> web.Response:
    errors = dict(errors or {})
    today = shanghai_today()
    context: dict[str, Any] = {
        "committee_name": scope.info.name,
        "new": stored is None,
        "form": form,
        "errors": errors,
        "error_list": [_error_line(scope.info, k, v) for k, v in errors.items()],
        "compounds": compound_choices(scope.info),
        "topics": sorted({e.topic for e in await scope.faqs.entries(scope.committee)}),
        "can_edit": scope.can_edit and (stored is None or not stored.deleted),
        "can_delete": scope.can_edit and stored is not None and not stored.deleted,
        "deleted": stored is not None and stored.deleted,
        "list_href": scope.href(),
        "message_ids": message_ids,
        "notice": notice,
        "history": [],
        "proposals": [],
        "state_label": "",
        "state": "",
    }
    if stored is None:
        context["action"] = scope.href("new")
    else:
        context["action"] = scope.entry_href(stored.faq_id)
        context["delete_action"] = scope.entry_href(stored.faq_id, "/delete")
        context["preview_href"] = scope.entry_href(stored.faq_id, "/preview")
        context["preview_fragment"] = scope.entry_href(stored.faq_id, "/preview", fragment="1")
        revisions = await scope.faqs.history(scope.committee, stored.faq_id)
        context["history"] = revision_rows(scope, revisions, stored)
        context["proposals"] = [
            {
                "id": p.id,
                "text": p.text,
                "count": p.count,
                "source": PROPOSAL_SOURCES.get(p.source, p.source),
                "last": local_time(p.last_at),
                "accept_action": scope.entry_href(stored.faq_id, f"/proposals/{p.id}/accept"),
                "dismiss_action": scope.entry_href(stored.faq_id, f"/proposals/{p.id}/dismiss"),
            }
            for p in await scope.faqs.proposals_for(scope.committee, stored.faq_id)
        ]
        entry = await scope.faqs.entry(scope.committee, stored.faq_id)
        if entry is not None:
            context["state"] = state_of(entry, today)
            context["state_label"] = STATE_LABELS[context["state"]]
    return await render(request, "faq_edit.html", context, status=status)


def _error_line(info: Committee, field: str, message: str) -> str:
    if field.startswith("variant:"):
        return f"小区答案（{compound_label(info, field.split(':', 1)[1])}）：{message}"
    label = FIELD_LABELS.get(field)
    return f"{label}：{message}" if label else message


async def faq_new(request: web.Request) -> web.StreamResponse:
    scope = await scope_of(request)
    require_editor(scope)
    form = entry_form(None)
    form["question"] = _clean(request.query.get("question", ""))[:500]
    form["alternates"] = "\n".join(
        a for a in (_clean(x)[:500] for x in request.query.getall("alternate", [])[:50]) if a
    )
    ids = ",".join(str(i) for i in parse_message_ids(request.query.get("message_ids", "")))
    return await edit_page(request, scope, stored=None, form=form, message_ids=ids)


async def faq_create(request: web.Request) -> web.StreamResponse:
    scope = await scope_of(request)
    require_editor(scope)
    form = await request.post()
    shown, data = read_form(form, scope.info)
    raw_ids = form.get("message_ids", "")
    message_ids = parse_message_ids(raw_ids if isinstance(raw_ids, str) else "")
    ids_text = ",".join(str(i) for i in message_ids)
    try:
        entry = scope.faqs.validate(scope.committee, data, new=True)
        await scope.faqs.create(scope.committee, entry, scope.actor)
    except InvalidFaq as exc:
        return await edit_page(
            request,
            scope,
            stored=None,
            form=shown,
            errors=exc.errors,
            message_ids=ids_text,
            status=422,
        )
    except FaqConflict:
        return await edit_page(
            request,
            scope,
            stored=None,
            form=shown,
            errors={"id": f"编号“{data['id']}”已被其他常见问题使用，请换一个编号"},
            message_ids=ids_text,
            status=422,
        )
    if message_ids:
        await request.config_dict[appkeys.MESSAGE_LOG].mark_reviewed(scope.committee, message_ids)
    raise web.HTTPSeeOther(scope.entry_href(entry.id, saved="1"))


async def _stored(scope: Scope, faq_id: str) -> StoredFaq:
    if not ID_PATTERN.match(faq_id):
        raise web.HTTPNotFound()  # not an id any entry can have (and no NUL to the store)
    stored = await scope.faqs.get(scope.committee, faq_id)
    if stored is None:
        raise web.HTTPNotFound()
    return stored


async def faq_view(request: web.Request) -> web.StreamResponse:
    scope = await scope_of(request)
    stored = await _stored(scope, request.match_info["faq_id"])
    try:
        form = entry_form(FaqEntry.from_dict(stored.data))
    except ValueError:
        form = entry_form(None) | {"id": stored.faq_id}
    notice = ""
    if request.query.get("saved") == "1":
        notice = "已保存，机器人已按新内容回答。"
    elif request.query.get("reverted") == "1":
        notice = "已恢复到所选版本。"
    elif request.query.get("unchanged") == "1":
        notice = "内容没有变化。"
    elif request.query.get("accepted") == "1":
        notice = "已加入相似问法，机器人下次会直接回答这种问法。"
    elif request.query.get("dismissed") == "1":
        notice = "已忽略这个问法。"
    return await edit_page(request, scope, stored=stored, form=form, notice=notice)


async def faq_save(request: web.Request) -> web.StreamResponse:
    scope = await scope_of(request)
    require_editor(scope)
    stored = await _stored(scope, request.match_info["faq_id"])
    if stored.deleted:
        raise web.HTTPNotFound()
    shown, data = read_form(await request.post(), scope.info)
    shown["id"] = data["id"] = stored.faq_id
    try:
        entry = scope.faqs.validate(scope.committee, data)
        revision = await scope.faqs.update(scope.committee, entry, scope.actor)
    except InvalidFaq as exc:
        return await edit_page(
            request, scope, stored=stored, form=shown, errors=exc.errors, status=422
        )
    except FaqConflict:
        raise web.HTTPNotFound() from None
    flag = {"saved": "1"} if revision is not None else {"unchanged": "1"}
    raise web.HTTPSeeOther(scope.entry_href(stored.faq_id, **flag))


async def faq_delete(request: web.Request) -> web.StreamResponse:
    scope = await scope_of(request)
    require_editor(scope)
    faq_id = request.match_info["faq_id"]
    await _stored(scope, faq_id)
    await scope.faqs.delete(scope.committee, faq_id, scope.actor)
    raise web.HTTPSeeOther(scope.href(deleted=faq_id))


async def faq_revert(request: web.Request) -> web.StreamResponse:
    scope = await scope_of(request)
    require_editor(scope)
    faq_id = request.match_info["faq_id"]
    stored = await _stored(scope, faq_id)
    raw = request.match_info["revision_id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise web.HTTPNotFound()
    try:
        await scope.faqs.revert(scope.committee, faq_id, int(raw), scope.actor)
    except RevisionNotFound:
        raise web.HTTPNotFound() from None
    except (NothingToRestore, InvalidFaq) as exc:
        why = (
            "这个版本删除了该条目，没有可以恢复的内容。"
            if isinstance(exc, NothingToRestore)
            else "这个版本已不能恢复：" + exc.first
        )
        form = entry_form(await scope.faqs.entry(scope.committee, faq_id))
        return await edit_page(
            request, scope, stored=stored, form=form, errors={"entry": why}, status=422
        )
    raise web.HTTPSeeOther(scope.entry_href(faq_id, reverted="1"))


async def faq_proposal(request: web.Request) -> web.StreamResponse:
    """采纳 (add the phrasing as an alternate: a normal, revertible revision) or 忽略."""
    scope = await scope_of(request)
    require_editor(scope)
    faq_id = request.match_info["faq_id"]
    stored = await _stored(scope, faq_id)
    if stored.deleted:
        raise web.HTTPNotFound()
    raw = request.match_info["proposal_id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise web.HTTPNotFound()
    decision = request.match_info["decision"]
    try:
        if decision == "accept":
            await scope.faqs.accept_proposal(scope.committee, faq_id, int(raw), scope.actor)
        else:
            await scope.faqs.dismiss_proposal(scope.committee, faq_id, int(raw), scope.actor)
    except (ProposalNotFound, FaqConflict):
        raise web.HTTPNotFound() from None
    except InvalidFaq as exc:
        form = entry_form(await scope.faqs.entry(scope.committee, faq_id))
        return await edit_page(
            request, scope, stored=stored, form=form, errors={"entry": exc.first}, status=422
        )
    flag = {"accepted": "1"} if decision == "accept" else {"dismissed": "1"}
    raise web.HTTPSeeOther(scope.entry_href(faq_id, **flag))


# --- preview ------------------------------------------------------------------------------------
async def faq_preview(request: web.Request) -> web.StreamResponse:
    """Which recent resident messages the saved entry answers, and a trial question."""
    scope = await scope_of(request)
    faq_id = request.match_info["faq_id"]
    stored = await _stored(scope, faq_id)
    entry = await scope.faqs.entry(scope.committee, faq_id)
    found = scope.info.compound(request.query.get("compound", ""))
    compound = found.id if found is not None else ""
    question = _clean(request.query.get("q", ""))[:500]
    context: dict[str, Any] = {
        "faq_id": faq_id,
        "question": entry.question if entry else "",
        "edit_href": scope.entry_href(faq_id),
        "action": scope.entry_href(faq_id, "/preview"),
        "committee_field": "" if scope.principal.committee else scope.committee,
        "compounds": compound_choices(scope.info),
        "compound": compound,
        "q": question,
        "deleted": stored.deleted,
        "inactive": "",
        "matches": [],
        "checked": 0,
        "trial": None,
        "unavailable": "",
    }
    if entry is not None and state_of(entry, shanghai_today()) != "active":
        context["inactive"] = "本条目当前不在有效期内，机器人不会用它回答。"
    retrieval = request.config_dict[appkeys.RETRIEVAL]
    try:
        if entry is not None:
            records = await request.config_dict[appkeys.MESSAGE_LOG].recent_inbound(
                scope.committee, limit=PREVIEW_LIMIT
            )
            context["checked"], context["matches"] = await _matches(
                retrieval, scope.committee, faq_id, records
            )
        if question:
            context["trial"] = await _trial(scope, retrieval, question, compound or None, faq_id)
    except (NoIndexError, RetrievalError):
        log.warning("FAQ preview unavailable", extra={"committee": scope.committee})
        context["unavailable"] = "常见问题库暂不可用，无法预览。"
    template = "faq_preview_section.html" if request.query.get("fragment") else "faq_preview.html"
    return await render(request, template, context)


async def _matches(
    retrieval: Any, committee: str, faq_id: str, records: Sequence[Any]
) -> tuple[int, list[dict[str, Any]]]:
    texts: dict[str, Any] = {}
    for r in records:  # newest first: keep each text's latest message
        text = (r.text or "").strip()
        if text and text not in texts:
            texts[text] = r

    def run() -> list[dict[str, Any]]:
        found = []
        for text, record in texts.items():
            outcome = retrieval.search(committee, text, None)
            hit = next((h for h in outcome.choices if h.entry.id == faq_id), None)
            if hit is None:
                continue
            found.append(
                {
                    "text": text,
                    "at": local_time(record.created_at),
                    "outcome": outcome.kind,
                    "outcome_label": OUTCOME_LABELS.get(outcome.kind, outcome.kind),
                    "score": f"{hit.score:.2f}",
                }
            )
        return found

    found = await asyncio.get_running_loop().run_in_executor(None, run)
    return len(texts), found


async def _trial(
    scope: Scope, retrieval: Any, question: str, compound: str | None, faq_id: str
) -> dict[str, Any]:
    outcome = await retrieval.asearch(scope.committee, question, compound)
    choices = []
    for hit in outcome.choices:
        answer = hit.entry.answer_for(compound)
        choices.append(
            {
                "id": hit.entry.id,
                "href": scope.entry_href(hit.entry.id),
                "question": hit.entry.question,
                "answer": answer.answer,
                "materials": list(answer.materials),
                "score": f"{hit.score:.2f}",
                "this": hit.entry.id == faq_id,
            }
        )
    return {
        "kind": outcome.kind,
        "label": {
            "answer": "机器人会直接回答",
            "clarify": "机器人会列出几个问题请居民选择",
            "none": "常见问题库中没有合适的回答（机器人会引导居民联系社工或登记诉求）",
        }[outcome.kind],
        "choices": choices,
    }


# --- routes -------------------------------------------------------------------------------------
def add_faq_pages(console: web.Application) -> None:
    """Mount the FAQ editor on the console's sub-application (fixed paths before
    ``{faq_id}``)."""
    r = console.router
    base = BASE.removeprefix(PREFIX)
    r.add_get(base, faq_list)
    r.add_get(base + "/new", faq_new)
    r.add_post(base + "/new", faq_create)
    r.add_get(base + "/export", faq_export)
    r.add_post(base + "/import", faq_import)
    r.add_get(base + "/{faq_id}", faq_view)
    r.add_post(base + "/{faq_id}", faq_save)
    r.add_post(base + "/{faq_id}/delete", faq_delete)
    r.add_post(base + "/{faq_id}/revert/{revision_id}", faq_revert)
    r.add_post(base + "/{faq_id}/proposals/{proposal_id}/{decision:accept|dismiss}", faq_proposal)
    r.add_get(base + "/{faq_id}/preview", faq_preview)
