"""Consultations in the console (征询意见): the list and a new consultation's form, one
consultation (the plan, the live tally by household and by floor area with the rule's
conditions, every eligible household's vote — only whether it voted in a secret ballot —,
publish, edit while a draft, remind, close, the audit trail), the printable result for the
议事会 and the notice board, and its XLSX export. Another committee's consultation is 404."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from bot import appkeys
from bot.accounts.http import require_user
from bot.console.pages import form_data, ticket_committee
from bot.console.rendering import CONSOLE_REGISTRY, render
from bot.consultations import Consultations, Rule
from bot.consultations.export import VIA_LABELS, report, to_xlsx
from bot.consultations.rules import RULE_LABELS, percent
from bot.consultations.service import ACTION_LABELS, DEFAULT_OPTIONS, parse_time
from bot.consultations.texts import full_when
from bot.domain.accounts import Principal
from bot.domain.clock import SHANGHAI
from bot.domain.tickets import Actor
from bot.storage.consultations import Consultation, ConsultationError, ConsultationNotFound


def _service(request: web.Request) -> Consultations:
    return request.config_dict[appkeys.CONSULTATIONS]


def _actor(principal: Principal) -> Actor:
    return Actor.caseworker(str(principal.user_id), principal.label)


def _query(principal: Principal, committee: str) -> str:
    return "" if principal.committee else "?" + urlencode({"committee": committee})


def _id(request: web.Request) -> int:
    raw = request.match_info["consultation_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise web.HTTPNotFound()
    return int(raw)


def _local_input(value: Any) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M") if value else ""


def _fields(form: dict[str, str]) -> dict[str, Any]:
    options = [x.strip() for x in form.get("options", "").splitlines() if x.strip()]
    buildings = [
        x.strip()
        for x in form.get("buildings", "").replace("，", ",").replace("、", ",").split(",")
        if x.strip()
    ]
    reminders = form.get("max_reminders", "2").strip()
    return {
        "title": form.get("title", ""),
        "plan": form.get("plan", ""),
        "options": options or list(DEFAULT_OPTIONS),
        "compound": form.get("compound", ""),
        "buildings": [
            b if b.endswith("号楼") or not b.isdigit() else b + "号楼" for b in buildings
        ],
        "opens_at": parse_time(form.get("opens_at", "")),
        "closes_at": parse_time(form.get("closes_at", "")),
        "secret": form.get("secret") == "1",
        "rule": form.get("rule", Rule.SIMPLE.value),
        "max_reminders": int(reminders) if reminders.isdigit() and len(reminders) < 3 else -1,
    }


def _form_context(
    request: web.Request, committee: str, values: dict[str, Any] | None
) -> dict[str, Any]:
    registry = request.config_dict[CONSOLE_REGISTRY]
    v = values or {}
    return {
        "compounds": [(c.id, c.name) for c in registry.committee(committee).compounds],
        "rules": [(r.value, RULE_LABELS[r]) for r in Rule],
        "form": {
            "title": v.get("title", ""),
            "plan": v.get("plan", ""),
            "options": "\n".join(v.get("options") or DEFAULT_OPTIONS),
            "compound": v.get("compound", ""),
            "buildings": "、".join(v.get("buildings") or ()),
            "opens_at": _local_input(v.get("opens_at")),
            "closes_at": _local_input(v.get("closes_at")),
            "secret": bool(v.get("secret")),
            "rule": v.get("rule", Rule.SIMPLE.value),
            "max_reminders": v.get("max_reminders", 2),
        },
    }


def _row(c: Consultation, service: Consultations, query: str) -> dict[str, Any]:
    return {
        "id": c.id,
        "title": c.title,
        "scope": service.scope(c),
        "status": "投票中" if c.is_open(service.now()) else c.status.label,
        "closes": full_when(c.closes_at),
        "href": f"/console/consultations/{c.id}{query}",
        "passed": None if c.result is None else bool(c.result.get("passed")),
    }


async def list_page(
    request: web.Request, *, error: str = "", values: dict[str, Any] | None = None
) -> web.Response:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    service = _service(request)
    query = _query(principal, committee)
    found = await service.all(committee)
    context = {
        "consultations": [_row(c, service, query) for c in found],
        "action": f"/console/consultations{query}",
        "error": error,
        **_form_context(request, committee, values),
    }
    return await render(request, "consultations.html", context, status=422 if error else 200)


async def consultations_page(request: web.Request) -> web.StreamResponse:
    return await list_page(request)


async def create(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    fields = _fields(await form_data(request))
    try:
        c = await _service(request).create(committee, fields, _actor(principal))
    except ConsultationError as exc:
        return await list_page(request, error=str(exc), values=fields)
    raise web.HTTPSeeOther(f"/console/consultations/{c.id}{_query(principal, committee)}")


async def detail_page(
    request: web.Request, *, error: str = "", values: dict[str, Any] | None = None
) -> web.Response:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    service = _service(request)
    cid = _id(request)
    try:
        c = await service.get(committee, cid)
    except ConsultationNotFound:
        raise web.HTTPNotFound() from None
    query = _query(principal, committee)
    base = f"/console/consultations/{cid}"
    context: dict[str, Any] = {
        "c": c,
        "scope": service.scope(c),
        "rule_label": Rule(c.rule).label,
        "status": "投票中" if c.is_open(service.now()) else c.status.label,
        "opens": full_when(c.opens_at),
        "closes": full_when(c.closes_at),
        "draft": c.published_at is None,
        "published": c.published_at is not None and c.closed_at is None,
        "closed": c.closed_at is not None,
        "error": error or request.query.get("error", "")[:300],
        "done": request.query.get("done", "")[:200],
        "actions": {
            name: f"{base}/{name}{query}" for name in ("edit", "publish", "remind", "close")
        },
        "print_href": f"{base}/print{query}",
        "xlsx_href": f"{base}/export.xlsx{query}",
        "back": f"/console/consultations{query}",
        "report": None,
        "audit": [],
        **_form_context(request, committee, values or _values(c)),
    }
    if c.published_at is not None:
        r = await report(service, committee, cid)
        context["report"] = r
        context["checks"] = [
            {
                "name": x.name,
                "reached": percent(x.reached),
                "needed": ("超过" if x.strict else "达到") + percent(x.needed),
                "met": x.met,
                "note": x.note,
            }
            for x in r.outcome.checks
        ]
        context["lines"] = [
            {
                "address": x.address,
                "area": "未登记" if x.floor_area is None else f"{x.floor_area:g}",
                "voted": x.vote is not None,
                "choice": "" if x.vote is None or c.secret else c.options[x.vote.choice],
                "via": "" if x.vote is None else VIA_LABELS.get(x.vote.via, x.vote.via),
                "at": "" if x.vote is None else full_when(x.vote.changed_at),
                "reminded": x.reminded,
            }
            for x in await service.lines(committee, cid)
        ]
        context["audit"] = [
            {
                "at": full_when(e.at),
                "who": e.actor_name,
                "action": ACTION_LABELS.get(e.action, e.action),
                "detail": e.detail,
            }
            for e in await service.audit(committee, cid)
        ]
    else:
        context["audit"] = [
            {
                "at": full_when(e.at),
                "who": e.actor_name,
                "action": ACTION_LABELS.get(e.action, e.action),
                "detail": e.detail,
            }
            for e in await service.audit(committee, cid)
        ]
    return await render(request, "consultation.html", context, status=422 if error else 200)


def _values(c: Consultation) -> dict[str, Any]:
    return {
        "title": c.title,
        "plan": c.plan,
        "options": list(c.options),
        "compound": c.compound,
        "buildings": list(c.buildings),
        "opens_at": c.opens_at,
        "closes_at": c.closes_at,
        "secret": c.secret,
        "rule": c.rule,
        "max_reminders": c.max_reminders,
    }


async def consultation_page(request: web.Request) -> web.StreamResponse:
    return await detail_page(request)


async def action(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    service = _service(request)
    cid = _id(request)
    name = request.match_info["action"]
    actor = _actor(principal)
    query = _query(principal, committee)
    done = ""
    try:
        if name == "edit":
            fields = _fields(await form_data(request))
            try:
                await service.edit(committee, cid, fields, actor)
            except ConsultationNotFound:
                raise
            except ConsultationError as exc:
                return await detail_page(request, error=str(exc), values=fields)
            done = "已保存修改"
        elif name == "publish":
            await service.publish(committee, cid, actor)
            done = "已发布"
        elif name == "remind":
            round_no, households, delivered = await service.remind(committee, cid, actor)
            done = f"第 {round_no} 次提醒：提醒 {households} 户，送达 {delivered} 户"
        elif name == "close":
            await service.close(committee, cid, actor)
            done = "已结束，结果已计算"
        else:
            raise web.HTTPNotFound()
    except ConsultationNotFound:
        raise web.HTTPNotFound() from None
    except ConsultationError as exc:
        sep = "&" if query else "?"
        target = f"/console/consultations/{cid}{query}{sep}" + urlencode({"error": str(exc)})
        raise web.HTTPSeeOther(target) from None
    sep = "&" if query else "?"
    raise web.HTTPSeeOther(f"/console/consultations/{cid}{query}{sep}" + urlencode({"done": done}))


async def _published(request: web.Request) -> tuple[Principal, str, int, Consultation]:
    """The signed-in staff member, their committee and the published consultation the
    request names (404 for a draft, an unknown one or another committee's)."""
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    cid = _id(request)
    try:
        c = await _service(request).get(committee, cid)
    except ConsultationNotFound:
        raise web.HTTPNotFound() from None
    if c.published_at is None:
        raise web.HTTPNotFound()
    return principal, committee, cid, c


async def print_page(request: web.Request) -> web.StreamResponse:
    principal, committee, cid, c = await _published(request)
    service = _service(request)
    r = await report(service, committee, cid)
    await service.export_logged(committee, cid, _actor(principal), "打印页")
    checks = [
        {
            "name": x.name,
            "reached": percent(x.reached),
            "needed": ("超过" if x.strict else "达到") + percent(x.needed),
            "met": x.met,
            "note": x.note,
        }
        for x in r.outcome.checks
    ]
    return await render(
        request,
        "consultation_print.html",
        {
            "r": r,
            "c": c,
            "checks": checks,
            "opens": full_when(c.opens_at),
            "closes": full_when(c.closes_at),
        },
    )


async def export_xlsx(request: web.Request) -> web.StreamResponse:
    principal, committee, cid, c = await _published(request)
    service = _service(request)
    # Building a workbook is CPU work: off the event loop.
    data = await asyncio.to_thread(to_xlsx, await report(service, committee, cid))
    await service.export_logged(committee, cid, _actor(principal), "XLSX")
    name = quote(f"征询结果-{c.title}.xlsx")
    return web.Response(
        body=data,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
    )


def add_consultation_pages(console: web.Application) -> None:
    r = console.router
    r.add_get("/consultations", consultations_page)
    r.add_post("/consultations", create)
    r.add_get("/consultations/{consultation_id}", consultation_page)
    r.add_get("/consultations/{consultation_id}/print", print_page)
    r.add_get("/consultations/{consultation_id}/export.xlsx", export_xlsx)
    r.add_post("/consultations/{consultation_id}/{action}", action)
