"""Notices in the console (通知): the list, the form for a new notice (saved as a draft or
sent at once) and for editing a draft (refused, 409, once it was sent), and one notice with
its totals, its group posts, the follow-up list (households not reached, or not
acknowledged; 独居 and 高龄 first) where the outcome of a call or visit is recorded, and every
targeted household's status. Reading household data goes through ``bot.notices`` and is
logged in the households' access log."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot import appkeys
from bot.accounts.http import require_user
from bot.console.pages import ticket_committee
from bot.console.rendering import CONSOLE_REGISTRY, render
from bot.domain.accounts import Principal
from bot.domain.clock import SHANGHAI
from bot.domain.tickets import Actor
from bot.notices import HouseholdStatus, NoticeDraft, Notices
from bot.storage.notices import (
    KIND_LABELS,
    Audience,
    FollowUpOutcome,
    Notice,
    NoticeError,
    NoticeKind,
    NoticeNotDraft,
    NoticeNotFound,
    NoticeState,
)

NOT_EDITABLE = "这条通知已经发送（或已撤回），不能再修改。"
SEPARATORS = str.maketrans({"，": "、", ",": "、", " ": "、", "\n": "、", "；": "、", ";": "、"})


def _service(request: web.Request) -> Notices:
    return request.config_dict[appkeys.NOTICES]


def _actor(principal: Principal) -> Actor:
    return Actor.caseworker(str(principal.user_id), principal.label)


def _query(principal: Principal, committee: str) -> str:
    return "" if principal.committee else "?" + urlencode({"committee": committee})


def _with(query: str, **params: str) -> str:
    return query + ("&" if query else "?") + urlencode(params)


def _id(request: web.Request) -> int:
    raw = request.match_info["notice_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise web.HTTPNotFound()
    return int(raw)


def _local(value: datetime | None) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else ""


def _row(n: Notice, query: str) -> dict[str, Any]:
    return {
        "id": n.id,
        "title": n.title,
        "kind": n.kind.label,
        "state": n.state.label,
        "state_code": n.state.value,
        "period": f"{_local(n.valid_from)} 至 {_local(n.valid_until)}",
        "by": n.created_by_name,
        "href": f"/console/notices/{n.id}{query}",
    }


async def notices_page(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    query = _query(principal, committee)
    found = await _service(request).notices(committee)
    context = {
        "notices": [_row(n, query) for n in found],
        "new_href": f"/console/notices/new{query}",
    }
    return await render(request, "notices.html", context)


async def new_page(
    request: web.Request,
    *,
    error: str = "",
    form: dict[str, Any] | None = None,
    status: int = 200,
    editing: int | None = None,
) -> web.Response:
    """The notice form: a new notice, or (``editing``) a draft's."""
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    registry = request.config_dict[CONSOLE_REGISTRY]
    now = datetime.now(SHANGHAI).replace(second=0, microsecond=0)
    values = {
        "kind": "water",
        "title": "",
        "body": "",
        "valid_from": now.strftime("%Y-%m-%dT%H:%M"),
        "valid_until": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "scope": "buildings",
        "compounds": [],
        "building_compound": "",
        "buildings": "",
        "labels": "",
        "post_groups": True,
        **(form or {}),
    }
    query = _query(principal, committee)
    context = {
        "kinds": [(k.value, label) for k, label in KIND_LABELS.items()],
        "compounds": [(c.id, c.name) for c in registry.committee(committee).compounds],
        "form": values,
        "error": error,
        "editing": editing is not None,
        "action": (
            f"/console/notices{query}"
            if editing is None
            else f"/console/notices/{editing}/edit{query}"
        ),
        "back": (
            f"/console/notices{query}" if editing is None else f"/console/notices/{editing}{query}"
        ),
    }
    return await render(request, "notice_new.html", context, status=status)


async def new_notice_page(request: web.Request) -> web.StreamResponse:
    return await new_page(request)


def _when(raw: str, what: str) -> datetime:
    """A ``datetime-local`` value, in Shanghai time."""
    try:
        value = datetime.strptime(raw.strip()[:16], "%Y-%m-%dT%H:%M")
    except ValueError:
        raise NoticeError(f"请填写{what}。") from None
    return value.replace(tzinfo=SHANGHAI)


def _form_of(n: Notice) -> dict[str, Any]:
    """A stored notice as the form shows it."""
    a = n.audience
    if a.buildings:
        scope = "buildings"
    elif a.compounds:
        scope = "compounds"
    else:
        scope = "committee"
    return {
        "kind": n.kind.value,
        "title": n.title,
        "body": n.body,
        "valid_from": _local(n.valid_from).replace(" ", "T"),
        "valid_until": _local(n.valid_until).replace(" ", "T"),
        "scope": scope,
        "compounds": list(a.compounds),
        "building_compound": a.buildings[0][0] if a.buildings else "",
        "buildings": "、".join(b for _, b in a.buildings),
        "labels": "、".join(a.labels),
        "post_groups": n.post_groups,
    }


async def _posted(request: web.Request) -> tuple[dict[str, Any], NoticeDraft | str, bool]:
    """The posted form: what to show again, the draft (or what is wrong with it, Chinese)
    and whether to send it at once."""
    posted = await request.post()
    form = {k: v for k, v in posted.items() if isinstance(v, str)}
    compounds = [str(v) for v in posted.getall("compounds", []) if isinstance(v, str)]
    scope = form.get("scope", "committee")
    kept: dict[str, Any] = {
        **{k: form.get(k, "") for k in ("kind", "title", "body", "valid_from", "valid_until")},
        **{k: form.get(k, "") for k in ("building_compound", "buildings", "labels")},
        "scope": scope,
        "compounds": compounds,
        "post_groups": form.get("post_groups") == "1",
    }
    send = form.get("send") == "1"
    try:
        kind = NoticeKind(form.get("kind", ""))
    except ValueError:
        return kept, "请选择通知类别。", send
    labels = tuple(x for x in form.get("labels", "").translate(SEPARATORS).split("、") if x)
    buildings: tuple[tuple[str, str], ...] = ()
    chosen: tuple[str, ...] = ()
    if scope == "compounds":
        chosen = tuple(compounds)
        if not chosen:
            return kept, "请至少选择一个小区。", send
    elif scope == "buildings":
        where = form.get("building_compound", "")
        names = [x for x in form.get("buildings", "").translate(SEPARATORS).split("、") if x]
        if not where or not names:
            return kept, "请选择小区并填写楼号。", send
        buildings = tuple((where, b) for b in names)
    try:
        draft = NoticeDraft(
            kind=kind,
            title=form.get("title", ""),
            body=form.get("body", ""),
            valid_from=_when(form.get("valid_from", ""), "开始时间"),
            valid_until=_when(form.get("valid_until", ""), "结束时间"),
            audience=Audience(chosen, buildings, labels),
            post_groups=kept["post_groups"],
        )
    except NoticeError as exc:
        return kept, str(exc), send
    return kept, draft, send


async def create_notice(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    kept, draft, send = await _posted(request)
    if isinstance(draft, str):
        return await new_page(request, error=draft, form=kept, status=422)
    service = _service(request)
    actor = _actor(principal)
    try:
        notice = await service.create(committee, draft, actor)
        if send:
            await service.publish(committee, notice.id, actor)
            request.config_dict[appkeys.TASKS].spawn(service.send_now(), name="notice send")
    except NoticeError as exc:
        return await new_page(request, error=str(exc), form=kept, status=422)
    raise web.HTTPSeeOther(f"/console/notices/{notice.id}{_query(principal, committee)}")


async def edit_page(request: web.Request) -> web.StreamResponse:
    """The form with a draft's content; a notice sent already goes back to its page."""
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    notice_id = _id(request)
    try:
        notice = await _service(request).get(committee, notice_id)
    except NoticeNotFound:
        raise web.HTTPNotFound() from None
    if notice.state is not NoticeState.DRAFT:
        target = f"/console/notices/{notice_id}"
        raise web.HTTPSeeOther(target + _with(_query(principal, committee), error=NOT_EDITABLE))
    return await new_page(request, form=_form_of(notice), editing=notice_id)


async def edit_notice(request: web.Request) -> web.StreamResponse:
    """Save a draft's new content (and send it, when asked); 409 once it was sent."""
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    notice_id = _id(request)
    kept, draft, send = await _posted(request)
    if isinstance(draft, str):
        return await new_page(request, error=draft, form=kept, status=422, editing=notice_id)
    service = _service(request)
    actor = _actor(principal)
    try:
        await service.edit(committee, notice_id, draft, actor)
        if send:
            await service.publish(committee, notice_id, actor)
            request.config_dict[appkeys.TASKS].spawn(service.send_now(), name="notice send")
    except NoticeNotFound:
        raise web.HTTPNotFound() from None
    except NoticeNotDraft as exc:
        return await new_page(request, error=str(exc), form=kept, status=409, editing=notice_id)
    except NoticeError as exc:
        return await new_page(request, error=str(exc), form=kept, status=422, editing=notice_id)
    done = "已保存并开始发送" if send else "已保存修改"
    target = f"/console/notices/{notice_id}"
    raise web.HTTPSeeOther(target + _with(_query(principal, committee), done=done))


def _status_row(h: HouseholdStatus, notice_id: int, query: str) -> dict[str, Any]:
    last = h.follow_ups[-1] if h.follow_ups else None
    return {
        "id": h.household.id,
        "address": h.address,
        "labels": "、".join(h.household.labels),
        "priority": h.priority,
        "members": h.members,
        "reached": h.reached,
        "read": h.read,
        "acknowledged": h.acknowledged,
        "informed": h.informed,
        "last": (
            f"{last.outcome.label}{'：' + last.note if last.note else ''}"
            f"（{last.actor_name}，{_local(last.at)}）"
            if last
            else ""
        ),
        "follow_ups": [
            {
                "outcome": f.outcome.label,
                "note": f.note,
                "who": f.actor_name,
                "at": _local(f.at),
            }
            for f in h.follow_ups
        ],
        "href": f"/console/households/{h.household.id}{query}",
        "action": f"/console/notices/{notice_id}/follow-ups{query}",
    }


async def notice_page(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    notice_id = _id(request)
    show = request.query.get("show", "unreached")
    if show not in ("unreached", "unacknowledged"):
        show = "unreached"
    try:
        detail = await _service(request).detail(committee, notice_id, _actor(principal))
    except NoticeNotFound:
        raise web.HTTPNotFound() from None
    query = _query(principal, committee)
    n = detail.notice
    registry = request.config_dict[CONSOLE_REGISTRY]
    com = registry.committee(committee)

    def compound_name(cid: str) -> str:
        found = com.compound(cid)
        return found.name if found else cid

    audience = [compound_name(c) for c in n.audience.compounds]
    audience += [f"{compound_name(c)}{b}" for c, b in n.audience.buildings]
    who = "、".join(audience) or f"{com.name}全体"
    if n.audience.labels:
        who += f"（仅标签为{'、'.join(n.audience.labels)}的户）"
    context = {
        "n": n,
        "kind": n.kind.label,
        "state": n.state.label,
        "draft": n.state is NoticeState.DRAFT,
        "published": n.state is NoticeState.PUBLISHED,
        "period": f"{_local(n.valid_from)} 至 {_local(n.valid_until)}",
        "audience": who,
        "totals": {
            "households": len(detail.households),
            "reached": detail.count("reached"),
            "read": detail.count("read"),
            "acknowledged": detail.count("acknowledged"),
        },
        "groups": [
            {
                "chat": d.address,
                "state": _delivery_label(d.state.value, d.delivery),
                "error": d.error,
            }
            for d in detail.groups
        ],
        "show": show,
        "follow_up": [
            _status_row(h, notice_id, query)
            for h in detail.follow_up_list(unacknowledged=show == "unacknowledged")
        ],
        "households": [_status_row(h, notice_id, query) for h in detail.households],
        "outcomes": [(o.value, o.label) for o in FollowUpOutcome],
        "show_unreached": _with(query, show="unreached"),
        "show_unacknowledged": _with(query, show="unacknowledged"),
        "send_action": f"/console/notices/{notice_id}/send{query}",
        "edit_href": f"/console/notices/{notice_id}/edit{query}",
        "withdraw_action": f"/console/notices/{notice_id}/withdraw{query}",
        "back": f"/console/notices{query}",
        "error": request.query.get("error", "")[:200],
        "done": request.query.get("done", "")[:200],
    }
    return await render(request, "notice.html", context)


def _delivery_label(state: str, delivery: str) -> str:
    if state != "done":
        return "排队发送中"
    return {
        "active": "已发送",
        "passive": "已发送",
        "pull": "已发送",
        "failed": "发送失败",
        "undeliverable": "无法发送",
    }.get(delivery, delivery)


async def send_notice(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    notice_id = _id(request)
    service = _service(request)
    query = _query(principal, committee)
    target = f"/console/notices/{notice_id}"
    try:
        planned = await service.publish(committee, notice_id, _actor(principal))
    except NoticeNotFound:
        raise web.HTTPNotFound() from None
    except NoticeError as exc:
        raise web.HTTPSeeOther(target + _with(query, error=str(exc))) from None
    if not planned.published:
        raise web.HTTPSeeOther(target + _with(query, error="这条通知已经发送过，不会重复发送。"))
    request.config_dict[appkeys.TASKS].spawn(service.send_now(), name="notice send")
    raise web.HTTPSeeOther(
        target
        + _with(query, done=f"已开始发送：{planned.households} 户，{planned.deliveries} 个接收方")
    )


async def withdraw_notice(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    notice_id = _id(request)
    try:
        await _service(request).withdraw(committee, notice_id, _actor(principal))
    except NoticeNotFound:
        raise web.HTTPNotFound() from None
    query = _query(principal, committee)
    raise web.HTTPSeeOther(f"/console/notices/{notice_id}" + _with(query, done="通知已撤回"))


async def record_follow_up(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    notice_id = _id(request)
    posted = await request.post()
    form = {k: v for k, v in posted.items() if isinstance(v, str)}
    query = _query(principal, committee)
    target = f"/console/notices/{notice_id}"
    raw = form.get("household_id", "")
    try:
        outcome = FollowUpOutcome(form.get("outcome", ""))
    except ValueError:
        raise web.HTTPSeeOther(target + _with(query, error="请选择回访结果。")) from None
    if not raw.isdigit() or len(raw) > 18:
        raise web.HTTPNotFound()
    try:
        await _service(request).follow_up(
            committee, notice_id, int(raw), outcome, form.get("note", ""), _actor(principal)
        )
    except NoticeNotFound:
        raise web.HTTPNotFound() from None
    except NoticeError as exc:
        raise web.HTTPSeeOther(target + _with(query, error=str(exc))) from None
    show = form.get("show", "unreached")
    keep = show if show in ("unreached", "unacknowledged") else "unreached"
    raise web.HTTPSeeOther(target + _with(query, show=keep, done=f"已记录：{outcome.label}"))


def add_notice_pages(console: web.Application) -> None:
    r = console.router
    r.add_get("/notices", notices_page)
    r.add_post("/notices", create_notice)
    r.add_get("/notices/new", new_notice_page)
    r.add_get("/notices/{notice_id}", notice_page)
    r.add_get("/notices/{notice_id}/edit", edit_page)
    r.add_post("/notices/{notice_id}/edit", edit_notice)
    r.add_post("/notices/{notice_id}/send", send_notice)
    r.add_post("/notices/{notice_id}/withdraw", withdraw_notice)
    r.add_post("/notices/{notice_id}/follow-ups", record_follow_up)
