"""Route table of the admin API."""

from __future__ import annotations

from aiohttp import web

from bot.api import conversations, tickets
from bot.api.openapi import add_openapi_route


def add_api_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/conversations", conversations.list_conversations)
    r.add_get("/api/v1/conversations/{key}", conversations.get_conversation)
    r.add_post("/api/v1/conversations/{key}/takeover", conversations.takeover)
    r.add_post("/api/v1/conversations/{key}/reply", conversations.reply)
    r.add_post("/api/v1/conversations/{key}/release", conversations.release)
    r.add_get("/api/v1/tickets", tickets.inbox)
    r.add_get("/api/v1/tickets/{number}", tickets.get_ticket)
    r.add_post("/api/v1/tickets/{number}/claim", tickets.claim)
    r.add_post("/api/v1/tickets/{number}/transfer", tickets.transfer)
    r.add_post("/api/v1/tickets/{number}/status", tickets.change_status)
    r.add_post("/api/v1/tickets/{number}/resolve", tickets.resolve)
    r.add_post("/api/v1/tickets/{number}/notes", tickets.add_note)
    add_openapi_route(app)
