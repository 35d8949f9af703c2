"""Notices: write a notice (a draft), edit it until it is sent (409 after), send it once,
withdraw it, see per household whether it was reached, read and acknowledged, the follow-up
list (高龄/独居 first) and the outcome of a call or visit. Staff reads of household data are
logged in the households' access log; another committee's notice is 404."""

from __future__ import annotations

from aiohttp import web

from bot import appkeys
from bot.accounts.http import ApiError
from bot.api import notice_models as nm
from bot.api.common import Handler, acting, actor_of, body, ok
from bot.notices import HouseholdStatus, NoticeDraft, Notices
from bot.storage.notices import (
    Audience,
    FollowUp,
    FollowUpOutcome,
    Notice,
    NoticeError,
    NoticeKind,
    NoticeNotDraft,
    NoticeNotFound,
)


def notice_errors(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except NoticeNotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from None
        except NoticeNotDraft as exc:
            raise ApiError(409, "not_draft", str(exc)) from None
        except NoticeError as exc:
            raise ApiError(422, "invalid_notice", str(exc)) from None

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


def _service(request: web.Request) -> Notices:
    return request.config_dict[appkeys.NOTICES]


def _id(request: web.Request) -> int:
    raw = request.match_info["notice_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError(404, "not_found", "没有找到该通知。")
    return int(raw)


def notice_out(n: Notice) -> nm.Notice:
    return nm.Notice(
        id=n.id,
        kind=n.kind.value,
        kind_label=n.kind.label,
        title=n.title,
        body=n.body,
        valid_from=n.valid_from,
        valid_until=n.valid_until,
        audience=nm.Audience(
            compounds=list(n.audience.compounds),
            buildings=[nm.Building(compound=c, building=b) for c, b in n.audience.buildings],
            labels=list(n.audience.labels),
        ),
        post_groups=n.post_groups,
        state=n.state.value,
        state_label=n.state.label,
        created_by=n.created_by_name,
        created_at=n.created_at,
        published_at=n.published_at,
    )


def _follow_up(f: FollowUp) -> nm.FollowUp:
    return nm.FollowUp(
        id=f.id,
        household_id=f.household_id,
        outcome=f.outcome.value,
        outcome_label=f.outcome.label,
        note=f.note,
        actor_name=f.actor_name,
        at=f.at,
    )


def _status(h: HouseholdStatus) -> nm.HouseholdStatus:
    return nm.HouseholdStatus(
        household_id=h.household.id,
        address=h.address,
        labels=list(h.household.labels),
        members=h.members,
        reached=h.reached,
        read=h.read,
        acknowledged=h.acknowledged,
        follow_ups=[_follow_up(f) for f in h.follow_ups],
    )


@notice_errors
async def list_notices(request: web.Request) -> web.Response:
    """The committee's notices, newest first."""
    _, committee = await acting(request)
    found = await _service(request).notices(committee)
    return ok(nm.NoticeList(notices=[notice_out(n) for n in found]))


def _draft(data: nm.NoticeIn) -> NoticeDraft:
    return NoticeDraft(
        kind=NoticeKind(data.kind),
        title=data.title,
        body=data.body,
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        audience=Audience(
            compounds=tuple(data.audience.compounds),
            buildings=tuple((b.compound, b.building) for b in data.audience.buildings),
            labels=tuple(data.audience.labels),
        ),
        post_groups=data.post_groups,
    )


@notice_errors
async def create_notice(request: web.Request) -> web.Response:
    """Write a draft notice."""
    principal, committee = await acting(request)
    data = await body(request, nm.NoticeIn)
    notice = await _service(request).create(committee, _draft(data), actor_of(principal))
    return ok(notice_out(notice), status=201)


@notice_errors
async def edit_notice(request: web.Request) -> web.Response:
    """Replace a draft's content (409 once sent)."""
    principal, committee = await acting(request)
    notice_id = _id(request)
    data = await body(request, nm.NoticeIn)
    notice = await _service(request).edit(committee, notice_id, _draft(data), actor_of(principal))
    return ok(notice_out(notice))


@notice_errors
async def get_notice(request: web.Request) -> web.Response:
    """The notice with each targeted household's status (logged)."""
    principal, committee = await acting(request)
    detail = await _service(request).detail(committee, _id(request), actor_of(principal))
    return ok(
        nm.NoticeDetail(
            notice=notice_out(detail.notice),
            totals=nm.Totals(
                households=len(detail.households),
                reached=detail.count("reached"),
                read=detail.count("read"),
                acknowledged=detail.count("acknowledged"),
            ),
            groups=[
                nm.GroupDelivery(
                    chat_id=d.address, state=d.state.value, delivery=d.delivery, error=d.error
                )
                for d in detail.groups
            ],
            households=[_status(h) for h in detail.households],
        )
    )


@notice_errors
async def send_notice(request: web.Request) -> web.Response:
    """Send the notice to its groups and bound residents, once (409 when sent before)."""
    principal, committee = await acting(request)
    service = _service(request)
    planned = await service.publish(committee, _id(request), actor_of(principal))
    if not planned.published:
        raise ApiError(409, "already_sent", "这条通知已经发送过（或已撤回），不会重复发送。")
    request.config_dict[appkeys.TASKS].spawn(service.send_now(), name="notice send")
    return ok(nm.Sent(households=planned.households, recipients=planned.deliveries))


@notice_errors
async def withdraw_notice(request: web.Request) -> web.Response:
    """Withdraw the notice: no longer answered, nothing more sent."""
    principal, committee = await acting(request)
    notice = await _service(request).withdraw(committee, _id(request), actor_of(principal))
    return ok(notice_out(notice))


@notice_errors
async def follow_up_list(request: web.Request) -> web.Response:
    """Households to call or visit: not reached (or not acknowledged), 独居/高龄 first."""
    principal, committee = await acting(request)
    show = request.query.get("show", "unreached")
    if show not in ("unreached", "unacknowledged"):
        raise ApiError(400, "bad_show", "show 取值应为：unreached、unacknowledged")
    detail = await _service(request).detail(committee, _id(request), actor_of(principal))
    wanted = detail.follow_up_list(unacknowledged=show == "unacknowledged")
    return ok(nm.FollowUpList(households=[_status(h) for h in wanted]))


@notice_errors
async def record_follow_up(request: web.Request) -> web.Response:
    """Record a call or visit (走访) to a household about the notice."""
    principal, committee = await acting(request)
    notice_id = _id(request)
    data = await body(request, nm.FollowUpIn)
    done = await _service(request).follow_up(
        committee,
        notice_id,
        data.household_id,
        FollowUpOutcome(data.outcome),
        data.note,
        actor_of(principal),
    )
    return ok(_follow_up(done), status=201)


def add_notice_api_routes(api: web.Application) -> None:
    r = api.router
    r.add_get("/notices", list_notices)
    r.add_post("/notices", create_notice)
    r.add_get("/notices/{notice_id}", get_notice)
    r.add_put("/notices/{notice_id}", edit_notice)
    r.add_post("/notices/{notice_id}/send", send_notice)
    r.add_post("/notices/{notice_id}/withdraw", withdraw_notice)
    r.add_get("/notices/{notice_id}/follow-up", follow_up_list)
    r.add_post("/notices/{notice_id}/follow-ups", record_follow_up)
