"""The OpenAPI 3.1 document of ``/api/v1`` (admin API and the resident webhook), served
publicly at ``GET /api/v1/openapi.json``.

Request bodies come from the handlers' pydantic models (``model_json_schema``, their
``$defs`` moved under ``components/schemas``); response shapes mirror what the handlers
write (``conversation_json``, ``Ticket.to_dict``, ``event_json``, ``whoami``, the webhook's
``render_result``) and are checked against the live app by ``tests/api``."""

from __future__ import annotations

import functools
import json
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from bot.api.common import MAX_COMMITTEE_CHARS, PATH_ID_MAX, PREFIX
from bot.api.conversations import ReplyIn
from bot.api.faqs import FaqCreateIn, FaqIn, ProposalDecisionIn, RevertIn
from bot.api.insights import DismissIn, UserIn
from bot.api.tickets import NoteIn, ResolveIn, StatusIn, TransferIn
from bot.channels.webhook import MessageIn
from bot.domain import ReplyKind
from bot.domain.accounts import Role
from bot.domain.tickets import (
    ActorKind,
    EventKind,
    SlaState,
    TicketCategory,
    TicketPriority,
    TicketStatus,
)
from bot.storage.alerts import AlertStatus
from bot.storage.conversations import Mode

OPENAPI_PATH = "/api/v1/openapi.json"
API_VERSION = "1.0.0"

Schema = dict[str, Any]

REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    ReplyIn,
    TransferIn,
    StatusIn,
    NoteIn,
    ResolveIn,
    MessageIn,
    FaqCreateIn,
    FaqIn,
    RevertIn,
    ProposalDecisionIn,
    UserIn,
    DismissIn,
)


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _str() -> Schema:
    return {"type": "string"}


def _datetime() -> Schema:
    return {"type": "string", "format": "date-time"}


def _enum(values: list[str]) -> Schema:
    return {"type": "string", "enum": values}


def _object(properties: dict[str, Schema], *, optional: tuple[str, ...] = ()) -> Schema:
    """A closed-world description: every property listed, all required but ``optional``."""
    return {
        "type": "object",
        "properties": properties,
        "required": [k for k in properties if k not in optional],
    }


def _request_schemas() -> dict[str, Schema]:
    """The pydantic request models as JSON Schema, nested models hoisted to components."""
    out: dict[str, Schema] = {}
    for model in REQUEST_MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            if out.get(name, definition) != definition:
                raise ValueError(f"two request models define {name} differently")
            out[name] = definition
        out[model.__name__] = schema
    return out


def _response_schemas() -> dict[str, Schema]:
    person = _object({"id": _str(), "name": _str()})
    conversation = _object(
        {
            "key": _str(),
            "committee": _str(),
            "channel": _str(),
            "chat": _object({"id": _str(), "type": _enum(["group", "private"])}),
            "resident": person,
            "compound": _nullable(_str()),
            "mode": _enum([m.value for m in Mode]),
            "handoff_reason": _str(),
            "handoff_at": _nullable(_datetime()),
            "assignee": _nullable(person),
            "ticket": _nullable(_str()),
            "last_message_at": _nullable(_datetime()),
        }
    )
    logged_message = _object(
        {
            "id": {"type": "integer"},
            "direction": _enum(["in", "out", "staff"]),
            "sender": _str(),
            "text": _str(),
            "kind": _str(),
            "delivery": _str(),
            "at": _datetime(),
        }
    )
    reporter = _object(
        {
            "channel": _str(),
            "account": _str(),
            "chat_id": _str(),
            "chat_type": _enum(["group", "private"]),
            "sender_id": _str(),
            "name": _str(),
            "conversation_key": _str(),
            "phone": {
                **_nullable(_str()),
                "description": "Masked (138****8000) except in GET /tickets/{number}.",
            },
        }
    )
    ticket = _object(
        {
            "number": _str(),
            "committee": _str(),
            "category": _enum([c.value for c in TicketCategory]),
            "priority": _enum([p.value for p in TicketPriority]),
            "status": _enum([s.value for s in TicketStatus]),
            "description": _str(),
            "compound": _nullable(_str()),
            "building": _str(),
            "unit": _str(),
            "room": _str(),
            "reporter": reporter,
            "assignee": _nullable(person),
            "attachments": {"type": "array", "items": _str()},
            "links": {"type": "array", "items": _str()},
            "created_at": _datetime(),
            "updated_at": _datetime(),
            "first_response_due": _datetime(),
            "resolution_due": _datetime(),
            "first_response_at": _nullable(_datetime()),
            "resolved_at": _nullable(_datetime()),
            "closed_at": _nullable(_datetime()),
            "reopened_at": _nullable(_datetime()),
            "rating_pending": {"type": "boolean"},
            "satisfaction": _nullable({"type": "integer", "enum": [1, 2, 3]}),
            "satisfaction_comment": _str(),
            "rated_at": _nullable(_datetime()),
            "reopen_count": {"type": "integer", "minimum": 0},
        }
    )
    sla = _enum([s.value for s in SlaState])
    event = _object(
        {
            "id": {"type": "integer"},
            "kind": _enum([k.value for k in EventKind]),
            "actor": _object(
                {"kind": _enum([k.value for k in ActorKind]), "id": _str(), "name": _str()}
            ),
            "summary": _str(),
            "public": {"type": "boolean"},
            "at": _datetime(),
        }
    )
    ticket_ref = _object(
        {
            "number": _str(),
            "status": _enum([s.value for s in TicketStatus]),
            "priority": _enum([p.value for p in TicketPriority]),
        }
    )
    webhook_reply = _object(
        {
            "text": _str(),
            "kind": _enum([k.value for k in ReplyKind]),
            "private": {
                "type": "boolean",
                "const": True,
                "description": "Meant for the resident alone (send it privately in a group).",
            },
        },
        optional=("private",),
    )
    faq_variant = _object({"answer": _str(), "materials": {"type": "array", "items": _str()}})
    strings = {"type": "array", "items": _str()}
    faq = _object(
        {
            "id": _str(),
            "topic": _str(),
            "question": _str(),
            "alternates": strings,
            "answer": _str(),
            "materials": strings,
            "tags": strings,
            "compounds": {**strings, "description": "Compound ids; empty: every compound."},
            "variants": {
                "type": "object",
                "additionalProperties": _ref("FaqVariant"),
                "description": "A compound id → that compound's own answer and materials.",
            },
            "valid_from": _nullable({"type": "string", "format": "date"}),
            "valid_until": _nullable({"type": "string", "format": "date"}),
            "source": _str(),
            "updated": _nullable({"type": "string", "format": "date"}),
            "state": _enum(["active", "expired", "upcoming"]),
        }
    )
    stored = {"anyOf": [{"type": "object"}, {"type": "null"}]}
    faq_revision = _object(
        {
            "id": {"type": "integer"},
            "action": _enum(["create", "update", "delete", "revert"]),
            "actor": _str(),
            "at": _datetime(),
            "before": {**stored, "description": "The entry before (null: it did not exist)."},
            "after": {**stored, "description": "The entry after (null: it was retired)."},
            "changes": {
                "type": "array",
                "items": _object({"field": _str(), "before": _str(), "after": _str()}),
            },
        }
    )
    return {
        "FaqVariant": faq_variant,
        "Faq": faq,
        "FaqList": _object(
            {"faqs": {"type": "array", "items": _ref("Faq")}, "count": {"type": "integer"}}
        ),
        "FaqRevision": faq_revision,
        "FaqHistory": _object({"revisions": {"type": "array", "items": _ref("FaqRevision")}}),
        "FaqProposal": _object(
            {
                "id": {"type": "integer"},
                "text": {**_str(), "description": "A resident's phrasing."},
                "count": {"type": "integer", "minimum": 1},
                "source": _enum(["choice", "caseworker"]),
                "first_at": _datetime(),
                "last_at": _datetime(),
            }
        ),
        "FaqProposals": _object({"proposals": {"type": "array", "items": _ref("FaqProposal")}}),
        "FaqDeleted": _object(
            {
                "id": _str(),
                "deleted": {"type": "boolean", "const": True},
                "revision": {"type": "integer"},
            }
        ),
        "Error": {
            **_object({"error": _object({"code": _str(), "message": _str()})}),
            "description": "Every admin API error. `message` is Chinese, for people.",
        },
        "WebhookError": _object(
            {
                "error": _str(),
                "details": {
                    "type": "array",
                    "items": _object({"field": _str(), "message": _str()}),
                },
            },
            optional=("details",),
        ),
        "Person": person,
        "Conversation": conversation,
        "ConversationList": _object(
            {"conversations": {"type": "array", "items": _ref("Conversation")}}
        ),
        "LoggedMessage": logged_message,
        "ConversationDetail": {
            "allOf": [
                _ref("Conversation"),
                _object({"messages": {"type": "array", "items": _ref("LoggedMessage")}}),
            ]
        },
        "Delivery": {
            **_object({"delivery": _str()}),
            "description": "How the reply went out (e.g. active, undeliverable).",
        },
        "Reporter": reporter,
        "Ticket": ticket,
        "InboxItem": {
            "allOf": [
                _ref("Ticket"),
                _object({"sla": _ref("SlaState"), "due": _nullable(_datetime())}),
            ]
        },
        "Inbox": _object({"tickets": {"type": "array", "items": _ref("InboxItem")}}),
        "SlaState": sla,
        "TicketEvent": event,
        "TicketDetail": {
            "allOf": [
                _ref("Ticket"),
                _object(
                    {
                        "sla": _ref("SlaState"),
                        "events": {"type": "array", "items": _ref("TicketEvent")},
                    }
                ),
            ]
        },
        "Me": _object(
            {
                "user": _object(
                    {
                        "id": {"type": "integer"},
                        "name": _str(),
                        "display_name": _str(),
                        "role": _enum([r.value for r in Role]),
                        "committee": _nullable(_str()),
                    }
                ),
                "auth": _enum(["token", "session"]),
            }
        ),
        "WebhookReply": webhook_reply,
        "TicketRef": ticket_ref,
        "WebhookResponse": _object(
            {
                "replies": {"type": "array", "items": _ref("WebhookReply")},
                "ticket": _nullable(_ref("TicketRef")),
                "duplicate": {"type": "boolean", "const": True},
                "pending": {"type": "boolean", "const": True},
            },
            optional=("duplicate", "pending"),
        ),
    }


# --- operations -------------------------------------------------------------------------------
ERRORS = {
    "400": (
        "Bad request (e.g. body is not JSON or nested too deep, no committee given, an id "
        "longer than its maxLength)."
    ),
    "401": "No valid API token or console session.",
    "403": "CSRF check failed (console sessions on unsafe methods) or role not allowed.",
    "404": "Not found, or outside the caller's committee.",
    "409": "The action is not allowed in the ticket's current state, or the FAQ id is taken.",
    "413": "Request body too large.",
    "422": "The body failed validation.",
    "503": "A store is temporarily unavailable; retry later.",
}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str) -> dict[str, Schema]:
    return {code: _json(_ref("Error"), ERRORS[code]) for code in codes}


COMMITTEE_PARAM: Schema = {
    "name": "committee",
    "in": "query",
    "required": False,
    "description": "Street admins only: the committee to act in (others act in their own).",
    "schema": {"type": "string", "maxLength": MAX_COMMITTEE_CHARS},
}
KEY_PARAM: Schema = {
    "name": "key",
    "in": "path",
    "required": True,
    "description": "Conversation key, e.g. `puxiong:webhook:default:p:u1`.",
    "schema": {"type": "string", "minLength": 1, "maxLength": PATH_ID_MAX["key"]},
}
NUMBER_PARAM: Schema = {
    "name": "number",
    "in": "path",
    "required": True,
    "description": "Ticket number, e.g. `PX-20260101-0001`.",
    "schema": {"type": "string", "minLength": 1, "maxLength": PATH_ID_MAX["number"]},
}


def _admin(
    summary: str,
    op_id: str,
    tag: str,
    ok: Schema,
    *,
    params: tuple[Schema, ...] = (),
    body: str | None = None,
    errors: tuple[str, ...] = (),
    success: str = "200",
    query: tuple[Schema, ...] = (),
) -> Schema:
    operation: Schema = {
        "operationId": op_id,
        "summary": summary,
        "tags": [tag],
        "parameters": [*params, *query, COMMITTEE_PARAM],
        "responses": {
            success: _json(ok, "Created" if success == "201" else "OK"),
            **_errors("400", "401", "404", *errors, "503"),
        },
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
        operation["responses"].update(_errors("403", "413", "422"))
        operation["security"] = [{"bearerToken": []}, {"consoleSession": [], "csrfToken": []}]
    elif "403" in errors:
        operation["security"] = [{"bearerToken": []}, {"consoleSession": [], "csrfToken": []}]
    operation["responses"] = dict(sorted(operation["responses"].items()))
    return operation


def _paths() -> dict[str, Schema]:
    conv, tick = "conversations", "tickets"
    unsafe = ("403",)
    return {
        "/api/v1/me": {
            "get": {
                "operationId": "whoami",
                "summary": "The caller as the API sees it (check a token).",
                "tags": ["accounts"],
                "responses": {"200": _json(_ref("Me"), "OK"), **_errors("401", "503")},
            }
        },
        "/api/v1/conversations": {
            "get": _admin(
                "Conversations of the committee, most recent first.",
                "listConversations",
                conv,
                _ref("ConversationList"),
                params=(
                    {
                        "name": "mode",
                        "in": "query",
                        "required": False,
                        "schema": _enum([m.value for m in Mode]),
                    },
                ),
            )
        },
        "/api/v1/conversations/{key}": {
            "get": _admin(
                "One conversation with its history.",
                "getConversation",
                conv,
                _ref("ConversationDetail"),
                params=(KEY_PARAM,),
            )
        },
        "/api/v1/conversations/{key}/takeover": {
            "post": _admin(
                "A caseworker takes the conversation (the bot stays silent).",
                "takeoverConversation",
                conv,
                _ref("Conversation"),
                params=(KEY_PARAM,),
                errors=unsafe,
            )
        },
        "/api/v1/conversations/{key}/reply": {
            "post": _admin(
                "Send a caseworker's reply to the resident.",
                "replyToConversation",
                conv,
                _ref("Delivery"),
                params=(KEY_PARAM,),
                body="ReplyIn",
            )
        },
        "/api/v1/conversations/{key}/release": {
            "post": _admin(
                "Give the conversation back to the bot.",
                "releaseConversation",
                conv,
                _ref("Conversation"),
                params=(KEY_PARAM,),
                errors=unsafe,
            )
        },
        "/api/v1/tickets": {
            "get": _admin(
                "Open tickets, most urgent first, with their SLA state.",
                "ticketInbox",
                tick,
                _ref("Inbox"),
            )
        },
        "/api/v1/tickets/{number}": {
            "get": _admin(
                "One ticket (phone unmasked) with its history.",
                "getTicket",
                tick,
                _ref("TicketDetail"),
                params=(NUMBER_PARAM,),
            )
        },
        "/api/v1/tickets/{number}/claim": {
            "post": _admin(
                "Claim the ticket.",
                "claimTicket",
                tick,
                _ref("Ticket"),
                params=(NUMBER_PARAM,),
                errors=(*unsafe, "409"),
            )
        },
        "/api/v1/tickets/{number}/transfer": {
            "post": _admin(
                "Transfer the ticket to another caseworker.",
                "transferTicket",
                tick,
                _ref("Ticket"),
                params=(NUMBER_PARAM,),
                body="TransferIn",
                errors=("409",),
            )
        },
        "/api/v1/tickets/{number}/status": {
            "post": _admin(
                "Change the ticket's status.",
                "changeTicketStatus",
                tick,
                _ref("Ticket"),
                params=(NUMBER_PARAM,),
                body="StatusIn",
                errors=("409",),
            )
        },
        "/api/v1/tickets/{number}/resolve": {
            "post": _admin(
                "Resolve the ticket with a summary for the resident.",
                "resolveTicket",
                tick,
                _ref("Ticket"),
                params=(NUMBER_PARAM,),
                body="ResolveIn",
                errors=("409",),
            )
        },
        "/api/v1/tickets/{number}/notes": {
            "post": _admin(
                "Add a note (internal, or public to the resident).",
                "addTicketNote",
                tick,
                _ref("Ticket"),
                params=(NUMBER_PARAM,),
                body="NoteIn",
                errors=("409",),
            )
        },
        **_faq_paths(),
        **_insight_paths(),
        **_alert_paths(),
        "/api/v1/messages": {
            "post": {
                "operationId": "postResidentMessage",
                "summary": "Generic webhook: a resident's message in, the bot's replies out.",
                "description": (
                    "A duplicate `message_id` gets the first answer again (`duplicate: true`). "
                    "When the bot needs longer than the webhook's budget the answer is 202 "
                    "with `pending: true` and no replies."
                ),
                "tags": ["webhook"],
                "security": [{"webhookBearer": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("MessageIn")}},
                },
                "responses": {
                    "200": _json(_ref("WebhookResponse"), "The bot's replies."),
                    "202": _json(_ref("WebhookResponse"), "Still working: no replies yet."),
                    "400": _json(_ref("WebhookError"), "Not JSON, or a field is invalid."),
                    "401": _json(_ref("WebhookError"), "Missing or wrong webhook token."),
                    "413": _json(_ref("WebhookError"), "Request body too large."),
                    "503": _json(_ref("WebhookError"), "A store is unavailable; retry later."),
                },
            }
        },
        OPENAPI_PATH: {
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "tags": ["meta"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI 3.1 document.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }


FAQ_ID_PARAM: Schema = {
    "name": "faq_id",
    "in": "path",
    "required": True,
    "description": "FAQ id, e.g. `cert-residence-permit-apply`.",
    "schema": {"type": "string", "minLength": 1, "maxLength": PATH_ID_MAX["faq_id"]},
}


PROPOSAL_ID_PARAM: Schema = {
    "name": "proposal_id",
    "in": "path",
    "required": True,
    "description": "A proposal's id (from `GET /api/v1/faqs/{faq_id}/proposals`).",
    "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
}


def _query(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _faq_paths() -> dict[str, Schema]:
    tag, editors = "faqs", ("403",)
    filters = (
        _query("q", "Text in the id, question, alternates or answers."),
        _query("topic", "Only this topic."),
        _query("compound", "Only entries this compound's residents get (general or own answer)."),
        _query(
            "state",
            "Validity today: active, expired (valid_until passed) or upcoming.",
            _enum(["all", "active", "expired", "upcoming"]),
        ),
    )
    return {
        "/api/v1/faqs": {
            "get": _admin(
                "The committee's FAQ entries, filtered.",
                "listFaqs",
                tag,
                _ref("FaqList"),
                query=filters,
                errors=("422",),
            ),
            "post": _admin(
                "Create an entry (admins and street admins).",
                "createFaq",
                tag,
                _ref("Faq"),
                body="FaqCreateIn",
                errors=("409",),
                success="201",
            ),
        },
        "/api/v1/faqs/{faq_id}": {
            "get": _admin("One entry.", "getFaq", tag, _ref("Faq"), params=(FAQ_ID_PARAM,)),
            "put": _admin(
                "Replace an entry's content (admins and street admins).",
                "updateFaq",
                tag,
                _ref("Faq"),
                params=(FAQ_ID_PARAM,),
                body="FaqIn",
            ),
            "delete": _admin(
                "Retire an entry; it keeps its history and can be restored (revert).",
                "deleteFaq",
                tag,
                _ref("FaqDeleted"),
                params=(FAQ_ID_PARAM,),
                errors=editors,
            ),
        },
        "/api/v1/faqs/{faq_id}/history": {
            "get": _admin(
                "Every change of the entry (who, when, before/after, field diff), oldest first.",
                "faqHistory",
                tag,
                _ref("FaqHistory"),
                params=(FAQ_ID_PARAM,),
            )
        },
        "/api/v1/faqs/{faq_id}/revert": {
            "post": _admin(
                "Restore the entry to its state after a revision (recorded as a revert).",
                "revertFaq",
                tag,
                _ref("Faq"),
                params=(FAQ_ID_PARAM,),
                body="RevertIn",
            )
        },
        "/api/v1/faqs/{faq_id}/proposals": {
            "get": _admin(
                "Residents' phrasings proposed as alternates of the entry (picked from "
                "did-you-mean, or answered with it by a caseworker), most frequent first.",
                "faqProposals",
                tag,
                _ref("FaqProposals"),
                params=(FAQ_ID_PARAM,),
            )
        },
        "/api/v1/faqs/{faq_id}/proposals/{proposal_id}": {
            "post": _admin(
                "Accept a proposal (it becomes an alternate by a normal, revertible revision) "
                "or dismiss it; returns the entry.",
                "decideFaqProposal",
                tag,
                _ref("Faq"),
                params=(FAQ_ID_PARAM, PROPOSAL_ID_PARAM),
                body="ProposalDecisionIn",
            )
        },
    }


def _insight_schemas() -> dict[str, Schema]:
    """Stats, unanswered questions, the registry and users (``bot.api.insights``)."""
    count, rate = {"type": "integer", "minimum": 0}, _nullable({"type": "number"})
    day = {"type": "string", "format": "date"}
    ratio = _object({"good": count, "total": count, "rate": rate})
    totals = {
        "received": {**count, "description": "Resident messages received (events excluded)."},
        "to_bot": {**count, "description": "Messages the bot had to answer."},
        "answered": {**count, "description": "Answered by the bot itself."},
        "handed_over": {**count, "description": "Handed to a caseworker (handoff, emergency)."},
        "unanswered": {**count, "description": "No answer, did-you-mean, unreadable media."},
        "human": {**count, "description": "Reached a caseworker who had the conversation."},
        "answered_rate": {**rate, "description": "answered / to_bot (null: no message)."},
        "handoff_rate": {**rate, "description": "handed_over / to_bot (null: no message)."},
    }
    messages = _object(
        {
            "days": {
                "type": "array",
                "items": _object({"day": day, **totals}),
            },
            "total": _object(totals),
            "by_outcome": {
                "type": "object",
                "additionalProperties": count,
                "description": "Messages per outcome (faq, clarify, fallback, handoff, …).",
            },
        }
    )
    counts = {"type": "object", "additionalProperties": count}
    tickets = _object(
        {
            "days": {
                "type": "array",
                "items": _object({"day": day, "opened": count, "resolved": count}),
            },
            "opened": count,
            "resolved": count,
            "sla": _object({"first_response": ratio, "resolution": ratio}),
            "satisfaction": _object(
                {
                    "good": count,
                    "total": count,
                    "rate": rate,
                    "ratings": {
                        **counts,
                        "description": "Ratings per score: 1 满意, 2 基本满意, 3 不满意.",
                    },
                }
            ),
            "open_by_status": counts,
            "open_by_sla": counts,
        }
    )
    figures = _object(
        {
            "committee": {**_str(), "description": "A committee id, or `all` for the street."},
            "start": {"type": "string", "format": "date"},
            "end": {"type": "string", "format": "date"},
            "messages": messages,
            "tickets": tickets,
        }
    )
    cluster = _object(
        {
            "representative": _str(),
            "size": count,
            "first_seen": _datetime(),
            "last_seen": _datetime(),
            "alternates": {"type": "array", "items": _str()},
            "message_ids": {"type": "array", "items": {"type": "integer"}},
            "messages": {
                "type": "array",
                "items": _object(
                    {
                        "id": {"type": "integer"},
                        "text": _str(),
                        "conversation_key": _str(),
                        "outcome": _enum(["fallback", "clarify"]),
                        "at": _datetime(),
                    }
                ),
            },
        }
    )
    user = _object(
        {
            "id": {"type": "integer"},
            "name": _str(),
            "display_name": _str(),
            "role": _enum([r.value for r in Role]),
            "committee": _nullable(_str()),
            "disabled": {"type": "boolean"},
            "created_at": _datetime(),
            "last_login_at": _nullable(_datetime()),
        }
    )
    strings = {"type": "array", "items": _str()}
    return {
        "Figures": figures,
        "Stats": {
            "allOf": [
                _ref("Figures"),
                _object(
                    {
                        "scope": _enum(["committee", "street"]),
                        "committees": {
                            "type": "array",
                            "items": _ref("Figures"),
                            "description": "Street scope: each committee (else empty).",
                        },
                    }
                ),
            ]
        },
        "UnansweredCluster": cluster,
        "Unanswered": _object(
            {"committee": _str(), "clusters": {"type": "array", "items": _ref("UnansweredCluster")}}
        ),
        "Dismissed": _object({"dismissed": count}),
        "Compound": _object(
            {
                "committee": _str(),
                "id": _str(),
                "name": _str(),
                "aliases": strings,
                "kind": _str(),
                "note": _str(),
                "buildings": strings,
                "group_chats": strings,
            }
        ),
        "CompoundList": _object({"compounds": {"type": "array", "items": _ref("Compound")}}),
        "GroupChatList": _object(
            {
                "group_chats": {
                    "type": "array",
                    "items": _object(
                        {
                            "chat_id": _str(),
                            "committee": _str(),
                            "compound": _str(),
                            "compound_name": _str(),
                        }
                    ),
                }
            }
        ),
        "User": user,
        "UserList": _object({"users": {"type": "array", "items": _ref("User")}}),
    }


def _insight_paths() -> dict[str, Schema]:
    day = {"type": "string", "format": "date"}
    scope = "Street admins without `committee` (or with `committee=all`) get every committee."
    return {
        "/api/v1/stats": {
            "get": {
                **_admin(
                    "Dashboard figures: messages, answered-by-bot and handoff rates, tickets, "
                    "SLA compliance, satisfaction, per local day.",
                    "getStats",
                    "insights",
                    _ref("Stats"),
                    query=(
                        _query("start", "First local day (default: 29 days before end).", day),
                        _query("end", "Last local day, inclusive (default: today).", day),
                    ),
                ),
                "description": scope + " At most 366 days.",
            }
        },
        "/api/v1/unanswered": {
            "get": _admin(
                "Unanswered questions (no answer or did-you-mean), clustered, most asked first.",
                "listUnanswered",
                "insights",
                _ref("Unanswered"),
            )
        },
        "/api/v1/unanswered/dismiss": {
            "post": _admin(
                "Mark messages reviewed so they leave the list (admins and street admins).",
                "dismissUnanswered",
                "insights",
                _ref("Dismissed"),
                body="DismissIn",
            )
        },
        "/api/v1/compounds": {
            "get": {
                **_admin(
                    "The compounds (小区) of the committee.",
                    "listCompounds",
                    "registry",
                    _ref("CompoundList"),
                ),
                "description": scope,
            }
        },
        "/api/v1/group-chats": {
            "get": {
                **_admin(
                    "The group chats and the compound each serves.",
                    "listGroupChats",
                    "registry",
                    _ref("GroupChatList"),
                ),
                "description": scope,
            }
        },
        "/api/v1/users": {
            "get": {
                **_admin(
                    "Users (admins: their committee's; street admins: every user).",
                    "listUsers",
                    "accounts",
                    _ref("UserList"),
                    errors=("403",),
                ),
                "description": scope + " Caseworkers get 403.",
            },
            "post": _admin(
                "Create a user (admins: a caseworker or admin of their committee; street "
                "admins: any).",
                "createUser",
                "accounts",
                _ref("User"),
                body="UserIn",
                errors=("409",),
                success="201",
            ),
        },
    }


ALERT_ID_PARAM: Schema = {
    "name": "alert_id",
    "in": "path",
    "required": True,
    "description": "Staff alert id (an integer).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 18},
}


def _alert_schemas() -> dict[str, Schema]:
    alert = _object(
        {
            "id": {"type": "integer"},
            "committee": _str(),
            "kind": {**_str(), "description": "crisis, emergency, handoff…"},
            "category": _str(),
            "text": {**_str(), "description": "What the staff group was told (masked)."},
            "conversation_key": _nullable(_str()),
            "ticket_number": _nullable(_str()),
            "status": _enum([s.value for s in AlertStatus]),
            "level": {
                "type": "integer",
                "minimum": 0,
                "description": "0 on duty, 1 next on the rota, 2 street office.",
            },
            "recipients": {"type": "array", "items": _str()},
            "attempts": {"type": "integer", "minimum": 0},
            "next_attempt_at": _nullable(_datetime()),
            "escalate_at": _nullable(_datetime()),
            "acknowledged_by": _nullable(_object({"id": _str(), "name": _str()})),
            "acknowledged_at": _nullable(_datetime()),
            "created_at": _datetime(),
            "steps": {
                "type": "array",
                "items": _object({"at": _str(), "step": _str(), "summary": _str()}),
            },
        }
    )
    ack = {
        "allOf": [
            _ref("Alert"),
            _object({"acknowledged_now": {"type": "boolean"}}),
        ]
    }
    return {
        "Alert": alert,
        "AlertAck": ack,
        "AlertList": _object({"alerts": {"type": "array", "items": _ref("Alert")}}),
    }


def _alert_paths() -> dict[str, Schema]:
    return {
        "/api/v1/alerts": {
            "get": _admin(
                "Staff alerts of the committee, newest first (at most 200).",
                "listAlerts",
                "alerts",
                _ref("AlertList"),
                query=(
                    _query(
                        "status",
                        "Only alerts with this status.",
                        _enum([s.value for s in AlertStatus]),
                    ),
                ),
            )
        },
        "/api/v1/alerts/{alert_id}/ack": {
            "post": _admin(
                "我来处理: acknowledge the alert (its escalation stops) and claim its ticket.",
                "acknowledgeAlert",
                "alerts",
                _ref("AlertAck"),
                params=(ALERT_ID_PARAM,),
                errors=("403", "409"),
            )
        },
    }


@functools.cache
def _document() -> str:
    doc: Schema = {
        "openapi": "3.1.0",
        "info": {
            "title": "Linli admin API",
            "version": API_VERSION,
            "description": (
                "Caseworkers' conversations and tickets, the FAQ admins keep, of a "
                "neighbourhood committee, and the "
                "generic resident webhook. Authenticate with `Authorization: Bearer <token>` "
                "(tokens from `linli user token`), or a console session plus the "
                "`X-CSRF-Token` header on unsafe methods. Errors are "
                '`{"error": {"code", "message"}}`.'
            ),
        },
        "tags": [
            {"name": name}
            for name in (
                "accounts",
                "conversations",
                "tickets",
                "alerts",
                "faqs",
                "insights",
                "registry",
                "webhook",
                "meta",
            )
        ],
        "paths": _paths(),
        "components": {
            "schemas": {
                **_request_schemas(),
                **_response_schemas(),
                **_insight_schemas(),
                **_alert_schemas(),
            },
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A caseworker's API token (`linli user token`).",
                },
                "consoleSession": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "linli_session",
                    "description": "The console's session cookie (`__Host-linli_session` in "
                    "production).",
                },
                "csrfToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-CSRF-Token",
                    "description": "The session's CSRF token; required with a session on "
                    "unsafe methods.",
                },
                "webhookBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "One of `channels.webhook.tokens` from the settings.",
                },
            },
        },
        "security": [{"bearerToken": []}, {"consoleSession": []}],
    }
    return json.dumps(doc, ensure_ascii=False, sort_keys=False)


def openapi_document() -> dict[str, Any]:
    """A fresh copy of the document (callers may change it)."""
    result: dict[str, Any] = json.loads(_document())
    return result


async def openapi_json(request: web.Request) -> web.Response:
    """``GET /api/v1/openapi.json`` (public)."""
    return web.Response(text=_document(), content_type="application/json", charset="utf-8")


def add_openapi_route(api: web.Application) -> None:
    api.router.add_get(OPENAPI_PATH.removeprefix(PREFIX), openapi_json)
