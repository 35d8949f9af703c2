"""Consultations (征询意见): create and edit drafts, publish (the eligible households are
fixed), the live tally, the households' votes (choices hidden in a secret ballot),
reminders, closing and the audit trail. Another committee's consultation is 404."""

from __future__ import annotations

from aiohttp import web

from bot import appkeys
from bot.accounts.http import ApiError
from bot.api import consultation_models as cm
from bot.api.common import Handler, acting, actor_of, body, ok
from bot.consultations import Consultations, Rule
from bot.consultations.rules import Outcome
from bot.consultations.service import ACTION_LABELS
from bot.storage.consultations import Consultation, ConsultationError, ConsultationNotFound


def consultation_errors(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ConsultationNotFound as exc:
            raise ApiError(404, "not_found", str(exc)) from None
        except ConsultationError as exc:
            raise ApiError(409, "not_allowed", str(exc)) from None

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


def _service(request: web.Request) -> Consultations:
    return request.config_dict[appkeys.CONSULTATIONS]


def _id(request: web.Request) -> int:
    raw = request.match_info["consultation_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError(404, "not_found", "没有找到该征询。")
    return int(raw)


def consultation_out(service: Consultations, c: Consultation) -> cm.Consultation:
    return cm.Consultation(
        id=c.id,
        title=c.title,
        plan=c.plan,
        options=list(c.options),
        compound=c.compound,
        scope=service.scope(c),
        buildings=list(c.buildings),
        opens_at=c.opens_at,
        closes_at=c.closes_at,
        secret=c.secret,
        rule=c.rule,
        rule_label=Rule(c.rule).label,
        status=c.status.value,
        status_label=c.status.label,
        is_open=c.is_open(service.now()),
        max_reminders=c.max_reminders,
        reminders_sent=c.reminders_sent,
        created_by=c.created_by,
        created_at=c.created_at,
        closed_at=c.closed_at,
    )


def tally_out(outcome: Outcome) -> cm.Tally:
    t = outcome.tally
    return cm.Tally(
        passed=outcome.passed,
        summary=outcome.summary(),
        eligible=t.eligible,
        eligible_area=float(t.eligible_area),
        missing_area=t.missing_area,
        voted=t.voted,
        voted_area=float(t.voted_area),
        options=[
            cm.OptionCount(option=o, households=t.counts[i], floor_area=float(t.areas[i]))
            for i, o in enumerate(t.options)
        ],
        checks=[
            cm.Check(
                name=c.name,
                reached=f"{float(c.reached) * 100:.2f}%",
                needed=f"{float(c.needed) * 100:.2f}%",
                strict=c.strict,
                met=c.met,
                note=c.note,
            )
            for c in outcome.checks
        ],
    )


def _fields(data: cm.ConsultationIn) -> dict[str, object]:
    return data.model_dump()


@consultation_errors
async def list_consultations(request: web.Request) -> web.Response:
    """The committee's consultations, newest first."""
    _, committee = await acting(request)
    service = _service(request)
    found = await service.all(committee)
    return ok(cm.ConsultationList(consultations=[consultation_out(service, c) for c in found]))


@consultation_errors
async def create_consultation(request: web.Request) -> web.Response:
    """A new draft."""
    principal, committee = await acting(request)
    data = await body(request, cm.ConsultationIn)
    service = _service(request)
    c = await service.create(committee, _fields(data), actor_of(principal))
    return ok(consultation_out(service, c), status=201)


@consultation_errors
async def edit_consultation(request: web.Request) -> web.Response:
    """Replace a draft's content."""
    principal, committee = await acting(request)
    cid = _id(request)
    data = await body(request, cm.ConsultationIn)
    service = _service(request)
    c = await service.edit(committee, cid, _fields(data), actor_of(principal))
    return ok(consultation_out(service, c))


@consultation_errors
async def get_consultation(request: web.Request) -> web.Response:
    """One consultation with its live tally (or its result once closed)."""
    _, committee = await acting(request)
    service = _service(request)
    c = await service.get(committee, _id(request))
    tally = None
    if c.published_at is not None:
        tally = tally_out(await service.tally(committee, c.id))
    return ok(cm.ConsultationDetail(consultation=consultation_out(service, c), tally=tally))


@consultation_errors
async def publish_consultation(request: web.Request) -> web.Response:
    """Publish a draft: its eligible households are fixed now."""
    principal, committee = await acting(request)
    service = _service(request)
    c = await service.publish(committee, _id(request), actor_of(principal))
    return ok(consultation_out(service, c))


@consultation_errors
async def close_consultation(request: web.Request) -> web.Response:
    """Close now and compute the rule's result."""
    principal, committee = await acting(request)
    service = _service(request)
    c = await service.close(committee, _id(request), actor_of(principal))
    return ok(consultation_out(service, c))


@consultation_errors
async def remind_consultation(request: web.Request) -> web.Response:
    """One reminder round to eligible households that have not voted."""
    principal, committee = await acting(request)
    round_no, households, delivered = await _service(request).remind(
        committee, _id(request), actor_of(principal)
    )
    return ok(cm.Reminded(round=round_no, households=households, delivered=delivered))


@consultation_errors
async def household_votes(request: web.Request) -> web.Response:
    """Every eligible household and its vote (a secret ballot hides the choice)."""
    _, committee = await acting(request)
    service = _service(request)
    cid = _id(request)
    c = await service.get(committee, cid)
    lines = await service.lines(committee, cid)
    return ok(
        cm.HouseholdVotes(
            secret=c.secret,
            households=[
                cm.HouseholdVote(
                    household_id=x.household_id,
                    address=x.address,
                    floor_area=x.floor_area,
                    voted=x.vote is not None,
                    choice=None if x.vote is None or c.secret else c.options[x.vote.choice],
                    via=None if x.vote is None else x.vote.via,
                    voted_at=None if x.vote is None else x.vote.changed_at,
                    reminded=x.reminded,
                )
                for x in lines
            ],
        )
    )


@consultation_errors
async def audit_trail(request: web.Request) -> web.Response:
    """Every change: created, edited, published, votes, reminders, closed, exports."""
    _, committee = await acting(request)
    entries = await _service(request).audit(committee, _id(request))
    return ok(
        cm.AuditTrail(
            entries=[
                cm.AuditEntry(
                    id=e.id,
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


def add_consultation_api_routes(api: web.Application) -> None:
    r = api.router
    r.add_get("/consultations", list_consultations)
    r.add_post("/consultations", create_consultation)
    r.add_get("/consultations/{consultation_id}", get_consultation)
    r.add_put("/consultations/{consultation_id}", edit_consultation)
    r.add_post("/consultations/{consultation_id}/publish", publish_consultation)
    r.add_post("/consultations/{consultation_id}/close", close_consultation)
    r.add_post("/consultations/{consultation_id}/reminders", remind_consultation)
    r.add_get("/consultations/{consultation_id}/households", household_votes)
    r.add_get("/consultations/{consultation_id}/audit", audit_trail)
