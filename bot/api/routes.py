"""The admin API as an aiohttp sub-application: its route table (paths below ``PREFIX``) and
its guard (``bot.accounts.http.api_auth_middleware``: a bearer token, or the console's
session plus the CSRF token, on every path but the public ones).

It builds nothing: the handlers read the services the composition root put on the root
application (``request.config_dict``), and the login session is the root's."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from bot.accounts.http import api_auth_middleware, whoami
from bot.api import alerts, conversations, faqs, tickets
from bot.api.consultations import add_consultation_api_routes
from bot.api.households import add_household_api_routes
from bot.api.insights import add_insight_api_routes
from bot.api.notices import add_notice_api_routes
from bot.api.openapi import add_openapi_route


def api_app(extra_routes: Iterable[web.AbstractRouteDef] = ()) -> web.Application:
    """The admin API, to mount at ``bot.api.common.PREFIX``; ``extra_routes`` (paths below
    the prefix) are served behind the same guard."""
    api = web.Application(middlewares=[api_auth_middleware()])
    r = api.router
    r.add_get("/me", whoami)
    r.add_get("/conversations", conversations.list_conversations)
    r.add_get("/conversations/{key}", conversations.get_conversation)
    r.add_post("/conversations/{key}/takeover", conversations.takeover)
    r.add_post("/conversations/{key}/reply", conversations.reply)
    r.add_post("/conversations/{key}/release", conversations.release)
    r.add_get("/tickets", tickets.inbox)
    r.add_get("/tickets/{number}", tickets.get_ticket)
    r.add_post("/tickets/{number}/claim", tickets.claim)
    r.add_post("/tickets/{number}/transfer", tickets.transfer)
    r.add_post("/tickets/{number}/status", tickets.change_status)
    r.add_post("/tickets/{number}/resolve", tickets.resolve)
    r.add_post("/tickets/{number}/notes", tickets.add_note)
    r.add_get("/alerts", alerts.list_alerts)
    r.add_post("/alerts/{alert_id}/ack", alerts.acknowledge)
    r.add_get("/faqs", faqs.list_faqs)
    r.add_post("/faqs", faqs.create_faq)
    r.add_get("/faqs/{faq_id}", faqs.get_faq)
    r.add_put("/faqs/{faq_id}", faqs.update_faq)
    r.add_delete("/faqs/{faq_id}", faqs.delete_faq)
    r.add_get("/faqs/{faq_id}/history", faqs.faq_history)
    r.add_post("/faqs/{faq_id}/revert", faqs.revert_faq)
    r.add_get("/faqs/{faq_id}/proposals", faqs.faq_proposals)
    r.add_post("/faqs/{faq_id}/proposals/{proposal_id}", faqs.decide_proposal)
    add_insight_api_routes(api)
    add_household_api_routes(api)
    add_notice_api_routes(api)
    add_consultation_api_routes(api)
    add_openapi_route(api)
    r.add_routes(extra_routes)
    return api
