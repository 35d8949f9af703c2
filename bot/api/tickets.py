"""Tickets: the committee's inbox, one ticket with its history, and the caseworker's actions
(claim, transfer, status, notes, resolve). Any caseworker of the committee may act (全岗通)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot import appkeys
from bot.accounts.http import ApiError
from bot.api.common import NO_NUL, acting, actor_of, body, ok, ticket_errors
from bot.domain.tickets import Actor, TicketEvent, TicketStatus
from bot.tickets.service import InvalidAssignee

INVALID_ASSIGNEE = "只能转交给本居委会的社工或居委管理员（账号未停用；to_id 为其用户编号）。"


class TransferIn(BaseModel):
    """To whom: the user id of an active caseworker or admin of the ticket's committee. The
    name recorded is that account's; ``to_name`` (accepted before) is still accepted for
    existing clients but never believed."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    to_id: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    to_name: str = Field(
        default="",
        max_length=128,
        pattern=NO_NUL,
        description="Deprecated and ignored: the recorded name is the account's.",
    )
    note: str = Field(default="", max_length=2000, pattern=NO_NUL)


class StatusIn(BaseModel):
    status: Literal["in_progress", "waiting_resident", "resolved", "closed", "reopened"]
    note: str = Field(default="", max_length=2000, pattern=NO_NUL)


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)
    public: bool = False


class ResolveIn(BaseModel):
    summary: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)


def event_json(e: TicketEvent) -> dict[str, object]:
    return {
        "id": e.id,
        "kind": e.kind.value,
        "actor": {"kind": e.actor.kind.value, "id": e.actor.id, "name": e.actor.name},
        "summary": e.summary,
        "public": e.public,
        "at": e.created_at.isoformat(),
    }


@ticket_errors
async def inbox(request: web.Request) -> web.Response:
    """Open tickets, most urgent first, with their SLA state."""
    _, committee = await acting(request)
    items = await request.config_dict[appkeys.TICKETS].inbox(committee)
    return ok(
        {
            "tickets": [
                {
                    **item.ticket.to_dict(),
                    "sla": item.sla.value,
                    "due": item.due.isoformat() if item.due else None,
                }
                for item in items
            ]
        }
    )


@ticket_errors
async def get_ticket(request: web.Request) -> web.Response:
    _, committee = await acting(request)
    tickets = request.config_dict[appkeys.TICKETS]
    ticket = await tickets.get(committee, request.match_info["number"])
    history = await tickets.history(committee, ticket.number)
    return ok(
        {
            **ticket.to_dict(include_phone=True),
            "sla": tickets.sla_state(ticket).value,
            "events": [event_json(e) for e in history],
        }
    )


@ticket_errors
async def claim(request: web.Request) -> web.Response:
    principal, committee = await acting(request)
    ticket = await request.config_dict[appkeys.TICKETS].claim(
        committee, request.match_info["number"], actor=actor_of(principal)
    )
    return ok(ticket.to_dict())


@ticket_errors
async def transfer(request: web.Request) -> web.Response:
    """Give the ticket to a colleague: 422 ``invalid_assignee`` unless ``to_id`` is an active
    caseworker or admin of the committee."""
    principal, committee = await acting(request)
    data = await body(request, TransferIn)
    try:
        ticket = await request.config_dict[appkeys.TICKETS].transfer(
            committee,
            request.match_info["number"],
            Actor.caseworker(data.to_id),
            actor=actor_of(principal),
            note=data.note,
        )
    except InvalidAssignee:
        raise ApiError(422, "invalid_assignee", INVALID_ASSIGNEE) from None
    return ok(ticket.to_dict())


@ticket_errors
async def change_status(request: web.Request) -> web.Response:
    principal, committee = await acting(request)
    data = await body(request, StatusIn)
    ticket = await request.config_dict[appkeys.TICKETS].change_status(
        committee,
        request.match_info["number"],
        TicketStatus(data.status),
        actor=actor_of(principal),
        note=data.note,
    )
    return ok(ticket.to_dict())


@ticket_errors
async def resolve(request: web.Request) -> web.Response:
    principal, committee = await acting(request)
    data = await body(request, ResolveIn)
    ticket = await request.config_dict[appkeys.TICKETS].resolve(
        committee, request.match_info["number"], actor=actor_of(principal), summary=data.summary
    )
    return ok(ticket.to_dict())


@ticket_errors
async def add_note(request: web.Request) -> web.Response:
    principal, committee = await acting(request)
    data = await body(request, NoteIn)
    ticket = await request.config_dict[appkeys.TICKETS].add_note(
        committee,
        request.match_info["number"],
        data.text,
        actor=actor_of(principal),
        public=data.public,
    )
    return ok(ticket.to_dict())
