"""Households in the console (户籍与门牌): the committee's households and residents'
bindings waiting to be verified, one household's labels, bindings and one-time codes, the
import from CSV/XLSX (admins) and the staff access log (admins). Every view and change goes
through ``bot.households`` and is logged there; another committee's household is 404."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot import appkeys
from bot.accounts.http import require_user
from bot.console.pages import form_data, ticket_committee
from bot.console.rendering import CONSOLE_REGISTRY, render
from bot.domain.accounts import Principal
from bot.domain.clock import SHANGHAI
from bot.domain.tickets import Actor
from bot.households import Households, ImportRejected, load_households
from bot.households.importing import SUFFIXES
from bot.households.service import ACTION_LABELS
from bot.storage.households import BindingStatus, HouseholdError, HouseholdNotFound

MAX_LIST = 500


def _service(request: web.Request) -> Households:
    return request.config_dict[appkeys.HOUSEHOLDS]


def _actor(principal: Principal) -> Actor:
    return Actor.caseworker(str(principal.user_id), principal.label)


def _query(principal: Principal, committee: str) -> str:
    return "" if principal.committee else "?" + urlencode({"committee": committee})


def _id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 18:
        raise web.HTTPNotFound()
    return int(raw)


def _local(value: Any) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else ""


async def list_page(
    request: web.Request, *, import_errors: list[str] | None = None, status: int = 200
) -> web.Response:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    service = _service(request)
    actor = _actor(principal)
    compound = request.query.get("compound", "")[:64]
    building = request.query.get("building", "")[:32]
    households = await service.households(committee, actor, compound=compound, building=building)
    waiting = await service.bindings(committee, actor, status=BindingStatus.CLAIMED)
    query = _query(principal, committee)
    registry = request.config_dict[CONSOLE_REGISTRY]
    context = {
        "households": [
            {
                "id": h.id,
                "address": service.address(h),
                "area": f"{h.floor_area:g}" if h.floor_area is not None else "",
                "labels": "、".join(h.labels),
                "href": f"/console/households/{h.id}{query}",
            }
            for h in households[:MAX_LIST]
        ],
        "more": max(0, len(households) - MAX_LIST),
        "waiting": [
            {
                "id": v.binding.id,
                "address": v.address,
                "name": v.binding.sender_name or "（未留名）",
                "at": _local(v.binding.created_at),
                "href": f"/console/households/{v.household.id}{query}",
                "verify": f"/console/household-bindings/{v.binding.id}/verify{query}",
                "reject": f"/console/household-bindings/{v.binding.id}/reject{query}",
            }
            for v in waiting
        ],
        "compounds": [(c.id, c.name) for c in registry.committee(committee).compounds],
        "compound": compound,
        "building": building,
        "is_admin": principal.is_admin,
        "import_action": f"/console/households/import{query}",
        "log_href": f"/console/households/access-log{query}",
        "import_errors": import_errors or [],
        "imported": request.query.get("imported", ""),
        "committee_query": query,
    }
    return await render(request, "households.html", context, status=status)


async def households_page(request: web.Request) -> web.StreamResponse:
    return await list_page(request)


async def import_households(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    if not principal.is_admin:
        raise web.HTTPForbidden()
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField) or not upload.filename:
        return await list_page(request, import_errors=["请选择要导入的文件。"], status=422)
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in SUFFIXES:
        return await list_page(request, import_errors=["只能导入 .csv 或 .xlsx 文件。"], status=422)
    registry = request.config_dict[CONSOLE_REGISTRY]
    loop = asyncio.get_running_loop()
    content = await loop.run_in_executor(None, upload.file.read)

    def load() -> Any:
        with tempfile.TemporaryDirectory(prefix="linli-households-") as tmp:
            path = Path(tmp) / f"upload{suffix}"
            path.write_bytes(content)
            return load_households(path, registry.committee(committee))

    try:
        records = await loop.run_in_executor(None, load)
    except ImportRejected as exc:
        errors = ["文件中有错误，没有导入任何内容。请修改后重新导入：", *exc.errors[:100]]
        if len(exc.errors) > 100:
            errors.append(f"……另有 {len(exc.errors) - 100} 处问题未列出。")
        return await list_page(request, import_errors=errors, status=422)
    counts = await _service(request).import_records(committee, records, _actor(principal))
    query = _query(principal, committee)
    sep = "&" if query else "?"
    done = f"新增{counts.created}户，更新{counts.updated}户，未变{counts.unchanged}户"
    raise web.HTTPSeeOther(f"/console/households{query}{sep}" + urlencode({"imported": done}))


async def household_page(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    service = _service(request)
    household_id = _id(request, "household_id")
    try:
        detail = await service.detail(committee, household_id, _actor(principal))
    except HouseholdNotFound:
        raise web.HTTPNotFound() from None
    query = _query(principal, committee)
    code = request.query.get("code", "")
    context = {
        "address": detail.address,
        "household": detail.household,
        "area": (
            f"{detail.household.floor_area:g}"
            if detail.household.floor_area is not None
            else "未登记"
        ),
        "labels": "、".join(detail.household.labels),
        "bindings": [
            {
                "id": b.id,
                "name": b.sender_name or "（未留名）",
                "status": b.status.label,
                "claimed": b.status is BindingStatus.CLAIMED,
                "verified": b.status is BindingStatus.VERIFIED,
                "voter": b.voter,
                "method": {"caseworker": "社工核实", "code": "验证码"}.get(b.method, ""),
                "at": _local(b.created_at),
                "verify": f"/console/household-bindings/{b.id}/verify{query}",
                "reject": f"/console/household-bindings/{b.id}/reject{query}",
                "make_voter": f"/console/household-bindings/{b.id}/voter{query}",
            }
            for b in detail.bindings
        ],
        "labels_action": f"/console/households/{household_id}/labels{query}",
        "code_action": f"/console/households/{household_id}/codes{query}",
        "code": code if code.isdigit() and len(code) <= 12 else "",
        "back": f"/console/households{query}",
        "error": request.query.get("error", "")[:200],
    }
    return await render(request, "household.html", context)


async def set_labels(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    household_id = _id(request, "household_id")
    form = await form_data(request)
    labels = [x for x in form.get("labels", "").replace("，", "、").replace(",", "、").split("、")]
    query = _query(principal, committee)
    target = f"/console/households/{household_id}{query}"
    try:
        await _service(request).set_labels(committee, household_id, labels, _actor(principal))
    except HouseholdNotFound:
        raise web.HTTPNotFound() from None
    except HouseholdError as exc:
        sep = "&" if query else "?"
        raise web.HTTPSeeOther(target + sep + urlencode({"error": str(exc)})) from None
    raise web.HTTPSeeOther(target)


async def issue_code(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    household_id = _id(request, "household_id")
    try:
        code, _ = await _service(request).issue_code(committee, household_id, _actor(principal))
    except HouseholdNotFound:
        raise web.HTTPNotFound() from None
    query = _query(principal, committee)
    sep = "&" if query else "?"
    raise web.HTTPSeeOther(
        f"/console/households/{household_id}{query}{sep}" + urlencode({"code": code})
    )


async def binding_action(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    binding_id = _id(request, "binding_id")
    action = request.match_info["action"]
    service = _service(request)
    actor = _actor(principal)
    try:
        if action == "verify":
            b = await service.verify(committee, binding_id, actor)
        elif action == "reject":
            b = await service.reject(committee, binding_id, actor)
        elif action == "voter":
            b = await service.make_voter(committee, binding_id, actor)
        else:
            raise web.HTTPNotFound()
    except HouseholdNotFound:
        raise web.HTTPNotFound() from None
    except HouseholdError:
        raise web.HTTPConflict(text="只有已核实的绑定才能设为投票人。") from None
    raise web.HTTPSeeOther(f"/console/households/{b.household_id}{_query(principal, committee)}")


async def access_log_page(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    if not principal.is_admin:
        raise web.HTTPForbidden()
    entries = await _service(request).access_log(committee, _actor(principal))
    context = {
        "entries": [
            {
                "at": _local(e.at),
                "who": e.actor_name,
                "household": e.household_id or "",
                "action": ACTION_LABELS.get(e.action, e.action),
                "detail": e.detail,
            }
            for e in entries
        ],
        "back": f"/console/households{_query(principal, committee)}",
    }
    return await render(request, "household_access_log.html", context)


def add_household_pages(console: web.Application) -> None:
    r = console.router
    r.add_get("/households", households_page)
    r.add_post("/households/import", import_households)
    r.add_get("/households/access-log", access_log_page)
    r.add_get("/households/{household_id}", household_page)
    r.add_post("/households/{household_id}/labels", set_labels)
    r.add_post("/households/{household_id}/codes", issue_code)
    r.add_post("/household-bindings/{binding_id}/{action}", binding_action)
