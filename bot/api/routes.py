"""Route table of the admin API."""

from __future__ import annotations

from aiohttp import web

from bot.api import alerts, conversations, faqs, tickets
from bot.api.insights import add_insight_api_routes
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
    r.add_get("/api/v1/alerts", alerts.list_alerts)
    r.add_post("/api/v1/alerts/{alert_id}/ack", alerts.acknowledge)
    r.add_get("/api/v1/faqs", faqs.list_faqs)
    r.add_post("/api/v1/faqs", faqs.create_faq)
    r.add_get("/api/v1/faqs/{faq_id}", faqs.get_faq)
    r.add_put("/api/v1/faqs/{faq_id}", faqs.update_faq)
    r.add_delete("/api/v1/faqs/{faq_id}", faqs.delete_faq)
    r.add_get("/api/v1/faqs/{faq_id}/history", faqs.faq_history)
    r.add_post("/api/v1/faqs/{faq_id}/revert", faqs.revert_faq)
    r.add_get("/api/v1/faqs/{faq_id}/proposals", faqs.faq_proposals)
    r.add_post("/api/v1/faqs/{faq_id}/proposals/{proposal_id}", faqs.decide_proposal)
    add_insight_api_routes(app)
    add_openapi_route(app)
