"""Households: the committee's households and their labels, residents' bindings (verify,
reject, choose the voter), one-time codes for the counter, the import (admins) and the staff
access log (admins). Every call is logged in the access log; another committee's household
or binding is 404."""

from __future__ import annotations

from aiohttp import web

from bot import appkeys
from bot.accounts.http import ApiError
from bot.api import household_models as hm
from bot.api.common import Handler, acting, actor_of, body, ok
from bot.domain.accounts import Principal
from bot.households import BindingView, Households, ImportRejected
from bot.households.importing import households_from_table
from bot.households.service import ACTION_LABELS
from bot.storage.households import (
    Binding,
    BindingStatus,
    Household,
    HouseholdError,
    HouseholdNotFound,
)
from bot.tables import Table


def household_errors(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except HouseholdNotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from None
        except HouseholdError as exc:
            raise ApiError(409, "not_allowed", str(exc)) from None

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


def _service(request: web.Request) -> Households:
    return request.config_dict[appkeys.HOUSEHOLDS]


def _id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError(404, "not_found", "未找到该资源。")
    return int(raw)


def _admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "只有管理员可以执行此操作。")


def household_out(service: Households, h: Household) -> hm.Household:
    return hm.Household(
        id=h.id,
        compound=h.compound,
        address=service.address(h),
        building=h.building,
        unit=h.unit,
        room=h.room,
        floor_area=h.floor_area,
        labels=list(h.labels),
    )


def binding_out(b: Binding, address: str) -> hm.Binding:
    return hm.Binding(
        id=b.id,
        household_id=b.household_id,
        address=address,
        sender_name=b.sender_name,
        channel=b.resident.channel,
        status=b.status.value,
        status_label=b.status.label,
        voter=b.voter,
        method=b.method,
        created_at=b.created_at,
        verified_at=b.verified_at,
    )


@household_errors
async def list_households(request: web.Request) -> web.Response:
    """The committee's households (``?compound=``, ``?building=``)."""
    principal, committee = await acting(request)
    service = _service(request)
    found = await service.households(
        committee,
        actor_of(principal),
        compound=request.query.get("compound", "")[:64],
        building=request.query.get("building", "")[:32],
    )
    return ok(hm.HouseholdList(households=[household_out(service, h) for h in found]))


@household_errors
async def import_households(request: web.Request) -> web.Response:
    """Import rows (admins): all or nothing, each bad row named."""
    principal, committee = await acting(request)
    _admin(principal)
    data = await body(request, hm.HouseholdImportIn)
    service = _service(request)
    header = ["compound", "building", "unit", "room", "floor_area", "labels"]
    rows: list[tuple[int, list[object]]] = [
        (
            i,
            [
                r.compound,
                r.building,
                r.unit,
                r.room,
                "" if r.floor_area is None else str(r.floor_area),
                "、".join(r.labels),
            ],
        )
        for i, r in enumerate(data.rows, start=1)
    ]
    registry = request.config_dict[appkeys.REGISTRY]
    if not registry.has_committee(committee):
        raise ApiError(404, "not_found", "没有这个居委会。")
    try:
        records = households_from_table(Table(header, rows), registry.committee(committee))
    except ImportRejected as exc:
        raise ApiError(
            422, "invalid_rows", "有错误，没有导入任何内容：" + "；".join(exc.errors[:50])
        ) from None
    counts = await service.import_records(committee, records, actor_of(principal))
    return ok(
        hm.ImportResult(created=counts.created, updated=counts.updated, unchanged=counts.unchanged)
    )


@household_errors
async def get_household(request: web.Request) -> web.Response:
    """One household with its labels and bindings."""
    principal, committee = await acting(request)
    service = _service(request)
    detail = await service.detail(committee, _id(request, "household_id"), actor_of(principal))
    return ok(
        hm.HouseholdDetail(
            household=household_out(service, detail.household),
            bindings=[binding_out(b, detail.address) for b in detail.bindings],
        )
    )


@household_errors
async def set_labels(request: web.Request) -> web.Response:
    """Replace the household's labels."""
    principal, committee = await acting(request)
    household_id = _id(request, "household_id")
    data = await body(request, hm.LabelsIn)
    service = _service(request)
    h = await service.set_labels(committee, household_id, data.labels, actor_of(principal))
    return ok(household_out(service, h))


@household_errors
async def issue_code(request: web.Request) -> web.Response:
    """A one-time code for the household (shown once)."""
    principal, committee = await acting(request)
    code, expires = await _service(request).issue_code(
        committee, _id(request, "household_id"), actor_of(principal)
    )
    return ok(hm.CodeIssued(code=code, expires_at=expires), status=201)


@household_errors
async def list_bindings(request: web.Request) -> web.Response:
    """Residents' bindings (``?status=claimed`` for those waiting to be verified)."""
    principal, committee = await acting(request)
    wanted = request.query.get("status", "")
    statuses = [s.value for s in BindingStatus]
    if wanted and wanted not in statuses:
        raise ApiError(400, "bad_status", "status 取值应为：" + "、".join(statuses))
    views = await _service(request).bindings(
        committee, actor_of(principal), status=BindingStatus(wanted) if wanted else None
    )
    return ok(hm.BindingList(bindings=[_view(v) for v in views]))


def _view(v: BindingView) -> hm.Binding:
    return binding_out(v.binding, v.address)


async def _binding_action(request: web.Request, action: str) -> web.Response:
    principal, committee = await acting(request)
    service = _service(request)
    binding_id = _id(request, "binding_id")
    actor = actor_of(principal)
    if action == "verify":
        b = await service.verify(committee, binding_id, actor)
    elif action == "reject":
        b = await service.reject(committee, binding_id, actor)
    else:
        b = await service.make_voter(committee, binding_id, actor)
    household = await service.store.household(committee, b.household_id)
    return ok(binding_out(b, service.address(household) if household else ""))


@household_errors
async def verify_binding(request: web.Request) -> web.Response:
    """The caseworker confirms the resident lives there."""
    return await _binding_action(request, "verify")


@household_errors
async def reject_binding(request: web.Request) -> web.Response:
    """The caseworker found the binding wrong."""
    return await _binding_action(request, "reject")


@household_errors
async def make_voter(request: web.Request) -> web.Response:
    """This verified binding votes for its household."""
    return await _binding_action(request, "voter")


@household_errors
async def access_log(request: web.Request) -> web.Response:
    """Who accessed which household's data, when and what (admins)."""
    principal, committee = await acting(request)
    _admin(principal)
    raw = request.query.get("household_id", "")
    if raw and (not raw.isdigit() or len(raw) > 18):
        raise ApiError(400, "bad_id", "household_id 应为数字。")
    entries = await _service(request).access_log(
        committee, actor_of(principal), household_id=int(raw) if raw else None
    )
    return ok(
        hm.AccessLog(
            entries=[
                hm.AccessEntry(
                    id=e.id,
                    household_id=e.household_id,
                    actor_id=e.actor_id,
                    actor_name=e.actor_name,
                    action=e.action,
                    action_label=ACTION_LABELS.get(e.action, e.action),
                    detail=e.detail,
                    at=e.at,
                )
                for e in entries
            ]
        )
    )


def add_household_api_routes(api: web.Application) -> None:
    r = api.router
    r.add_get("/households", list_households)
    r.add_post("/households/import", import_households)
    r.add_get("/households/{household_id}", get_household)
    r.add_put("/households/{household_id}/labels", set_labels)
    r.add_post("/households/{household_id}/codes", issue_code)
    r.add_get("/household-bindings", list_bindings)
    r.add_post("/household-bindings/{binding_id}/verify", verify_binding)
    r.add_post("/household-bindings/{binding_id}/reject", reject_binding)
    r.add_post("/household-bindings/{binding_id}/voter", make_voter)
    r.add_get("/household-access-log", access_log)
