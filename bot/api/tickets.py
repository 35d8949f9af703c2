"""Tickets: the committee's inbox, one ticket with its history, and the caseworker's actions
(claim, transfer, status, notes, resolve). Any caseworker of the committee may act (全岗通)."""

from __future__ import annotations

from aiohttp import web

from bot import appkeys
from bot.accounts.http import ApiError
from bot.api import models
from bot.api.common import acting, actor_of, body, ok, ticket_errors
from bot.domain.tickets import Actor, Ticket, TicketEvent, TicketStatus
from bot.tickets import InvalidAssignee

INVALID_ASSIGNEE = "只能转交给本居委会的社工或居委管理员（账号未停用；to_id 为其用户编号）。"


def event_out(e: TicketEvent) -> models.TicketEvent:
    return models.TicketEvent(
        id=e.id,
        kind=e.kind,
        actor=models.EventActor(kind=e.actor.kind, id=e.actor.id, name=e.actor.name),
        summary=e.summary,
        public=e.public,
        at=e.created_at,
    )


def ticket_out(ticket: Ticket) -> models.Ticket:
    """The ticket as the API shows it (the reporter's phone masked)."""
    return models.Ticket.model_validate(ticket.to_dict())


@ticket_errors
async def inbox(request: web.Request) -> web.Response:
    """Open tickets, most urgent first, with their SLA state."""
    _, committee = await acting(request)
    items = await request.config_dict[appkeys.TICKETS].queries.inbox(committee)
    return ok(
        models.Inbox(
            tickets=[
                models.InboxItem.model_validate(
                    {**item.ticket.to_dict(), "sla": item.sla, "due": item.due}
                )
                for item in items
            ]
        )
    )


@ticket_errors
async def get_ticket(request: web.Request) -> web.Response:
    _, committee = await acting(request)
    tickets = request.config_dict[appkeys.TICKETS].queries
    ticket = await tickets.get(committee, request.match_info["number"])
    history = await tickets.history(committee, ticket.number)
    return ok(
        models.TicketDetail.model_validate(
            {
                **ticket.to_dict(include_phone=True),
                "sla": tickets.sla_state(ticket),
                "events": [event_out(e) for e in history],
            }
        )
    )


@ticket_errors
async def claim(request: web.Request) -> web.Response:
    principal, committee = await acting(request)
    ticket = await request.config_dict[appkeys.TICKETS].workflow.claim(
        committee, request.match_info["number"], actor=actor_of(principal)
    )
    return ok(ticket_out(ticket))


@ticket_errors
async def transfer(request: web.Request) -> web.Response:
    """Give the ticket to a colleague: 422 ``invalid_assignee`` unless ``to_id`` is an active
    caseworker or admin of the committee."""
    principal, committee = await acting(request)
    data = await body(request, models.TransferIn)
    try:
        ticket = await request.config_dict[appkeys.TICKETS].workflow.transfer(
            committee,
            request.match_info["number"],
            Actor.caseworker(data.to_id),
            actor=actor_of(principal),
            note=data.note,
        )
    except InvalidAssignee:
        raise ApiError(422, "invalid_assignee", INVALID_ASSIGNEE) from None
    return ok(ticket_out(ticket))


@ticket_errors
async def change_status(request: web.Request) -> web.Response:
    principal, committee = await acting(request)
    data = await body(request, models.StatusIn)
    ticket = await request.config_dict[appkeys.TICKETS].workflow.change_status(
        committee,
        request.match_info["number"],
        TicketStatus(data.status),
        actor=actor_of(principal),
        note=data.note,
    )
    return ok(ticket_out(ticket))


@ticket_errors
async def resolve(request: web.Request) -> web.Response:
    principal, committee = await acting(request)
    data = await body(request, models.ResolveIn)
    ticket = await request.config_dict[appkeys.TICKETS].workflow.resolve(
        committee, request.match_info["number"], actor=actor_of(principal), summary=data.summary
    )
    return ok(ticket_out(ticket))


@ticket_errors
async def add_note(request: web.Request) -> web.Response:
    principal, committee = await acting(request)
    data = await body(request, models.NoteIn)
    ticket = await request.config_dict[appkeys.TICKETS].workflow.add_note(
        committee,
        request.match_info["number"],
        data.text,
        actor=actor_of(principal),
        public=data.public,
    )
    return ok(ticket_out(ticket))
