"""The OpenAPI 3.1 document of ``/api/v1`` (admin API and the resident webhook), served
publicly at ``GET /api/v1/openapi.json``.

Generated, not written: every body, response and query string is a pydantic model the
handlers use (``bot.api.models``, the webhook's ``bot.channels.webhook``), and each route is
one :class:`Route` line below naming its models, its tag and its extra error statuses. Path
parameters come from the path; the errors, the committee parameter and the security every
admin route shares are added here once. ``tests/api`` checks the document against the live
app with schemathesis."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from bot.api import consultation_models as cm
from bot.api import household_models as hm
from bot.api import models as m
from bot.api import notice_models as nm
from bot.api.common import PATH_ID_MAX, PREFIX
from bot.channels.webhook import MessageIn
from bot.channels.webhook.models import WebhookError, WebhookResponse

OPENAPI_PATH = "/api/v1/openapi.json"
API_VERSION = "1.0.0"
REF = "#/components/schemas/{model}"

Schema = dict[str, Any]

REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    *m.REQUEST_MODELS,
    *hm.REQUEST_MODELS,
    *nm.REQUEST_MODELS,
    *cm.REQUEST_MODELS,
    MessageIn,
)
"""Every request body the document describes."""

Kind = Literal["admin", "caller", "webhook", "public"]
"""``admin``: a committee-scoped admin API route; ``caller``: the admin API without a
committee (``/me``); ``webhook``: the resident webhook (its own tokens and error shape);
``public``: no authentication."""


@dataclass(frozen=True, slots=True)
class Route:
    """One operation: what the handler reads and writes, and what the reader is told."""

    method: str
    path: str
    operation_id: str
    tag: str
    summary: str
    response: type[BaseModel] | None
    """The success body (None: any JSON object)."""
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    """Statuses beyond those every route of its kind may answer."""
    status: int = 200
    description: str = ""
    kind: Kind = "admin"


SCOPE = "Street admins without `committee` (or with `committee=all`) get every committee."

ROUTES: tuple[Route, ...] = (
    Route("get", "/api/v1/me", "whoami", "accounts",
          "The caller as the API sees it (check a token).", m.Me, kind="caller"),
    Route("get", "/api/v1/conversations", "listConversations", "conversations",
          "Conversations of the committee, most recent first.", m.ConversationList,
          query=m.ConversationQuery),
    Route("get", "/api/v1/conversations/{key}", "getConversation", "conversations",
          "One conversation with its history.", m.ConversationDetail),
    Route("post", "/api/v1/conversations/{key}/takeover", "takeoverConversation",
          "conversations", "A caseworker takes the conversation (the bot stays silent).",
          m.Conversation, errors=(403,)),
    Route("post", "/api/v1/conversations/{key}/reply", "replyToConversation", "conversations",
          "Send a caseworker's reply to the resident.", m.Delivery, body=m.ReplyIn),
    Route("post", "/api/v1/conversations/{key}/release", "releaseConversation",
          "conversations", "Give the conversation back to the bot.", m.Conversation,
          errors=(403,)),
    Route("get", "/api/v1/tickets", "ticketInbox", "tickets",
          "Open tickets, most urgent first, with their SLA state.", m.Inbox),
    Route("get", "/api/v1/tickets/{number}", "getTicket", "tickets",
          "One ticket (phone unmasked) with its history.", m.TicketDetail),
    Route("post", "/api/v1/tickets/{number}/claim", "claimTicket", "tickets",
          "Claim the ticket.", m.Ticket, errors=(403, 409)),
    Route("post", "/api/v1/tickets/{number}/transfer", "transferTicket", "tickets",
          "Transfer the ticket to another caseworker.", m.Ticket, body=m.TransferIn,
          errors=(409,)),
    Route("post", "/api/v1/tickets/{number}/status", "changeTicketStatus", "tickets",
          "Change the ticket's status.", m.Ticket, body=m.StatusIn, errors=(409,)),
    Route("post", "/api/v1/tickets/{number}/resolve", "resolveTicket", "tickets",
          "Resolve the ticket with a summary for the resident.", m.Ticket, body=m.ResolveIn,
          errors=(409,)),
    Route("post", "/api/v1/tickets/{number}/notes", "addTicketNote", "tickets",
          "Add a note (internal, or public to the resident).", m.Ticket, body=m.NoteIn,
          errors=(409,)),
    Route("get", "/api/v1/faqs", "listFaqs", "faqs",
          "The committee's FAQ entries, filtered.", m.FaqList, query=m.FaqQuery,
          errors=(422,)),
    Route("post", "/api/v1/faqs", "createFaq", "faqs",
          "Create an entry (admins and street admins).", m.Faq, body=m.FaqCreateIn,
          errors=(409,), status=201),
    Route("get", "/api/v1/faqs/{faq_id}", "getFaq", "faqs", "One entry.", m.Faq),
    Route("put", "/api/v1/faqs/{faq_id}", "updateFaq", "faqs",
          "Replace an entry's content (admins and street admins).", m.Faq, body=m.FaqIn),
    Route("delete", "/api/v1/faqs/{faq_id}", "deleteFaq", "faqs",
          "Retire an entry; it keeps its history and can be restored (revert).",
          m.FaqDeleted, errors=(403,)),
    Route("get", "/api/v1/faqs/{faq_id}/history", "faqHistory", "faqs",
          "Every change of the entry (who, when, before/after, field diff), oldest first.",
          m.FaqHistory),
    Route("post", "/api/v1/faqs/{faq_id}/revert", "revertFaq", "faqs",
          "Restore the entry to its state after a revision (recorded as a revert).", m.Faq,
          body=m.RevertIn),
    Route("get", "/api/v1/faqs/{faq_id}/proposals", "faqProposals", "faqs",
          "Residents' phrasings proposed as alternates of the entry (picked from "
          "did-you-mean, or answered with it by a caseworker), most frequent first.",
          m.FaqProposals),
    Route("post", "/api/v1/faqs/{faq_id}/proposals/{proposal_id}", "decideFaqProposal", "faqs",
          "Accept a proposal (it becomes an alternate by a normal, revertible revision) "
          "or dismiss it; returns the entry.", m.Faq, body=m.ProposalDecisionIn),
    Route("get", "/api/v1/stats", "getStats", "insights",
          "Dashboard figures: messages, answered-by-bot and handoff rates, tickets, "
          "SLA compliance, satisfaction, per local day.", m.Stats, query=m.StatsQuery,
          description=SCOPE + " At most 366 days."),
    Route("get", "/api/v1/unanswered", "listUnanswered", "insights",
          "Unanswered questions (no answer or did-you-mean), clustered, most asked first.",
          m.Unanswered),
    Route("post", "/api/v1/unanswered/dismiss", "dismissUnanswered", "insights",
          "Mark messages reviewed so they leave the list (admins and street admins).",
          m.Dismissed, body=m.DismissIn),
    Route("get", "/api/v1/compounds", "listCompounds", "registry",
          "The compounds (小区) of the committee.", m.CompoundList, description=SCOPE),
    Route("get", "/api/v1/group-chats", "listGroupChats", "registry",
          "The group chats and the compound each serves.", m.GroupChatList,
          description=SCOPE),
    Route("get", "/api/v1/users", "listUsers", "accounts",
          "Users (admins: their committee's; street admins: every user).", m.UserList,
          errors=(403,), description=SCOPE + " Caseworkers get 403."),
    Route("post", "/api/v1/users", "createUser", "accounts",
          "Create a user (admins: a caseworker or admin of their committee; street "
          "admins: any).", m.User, body=m.UserIn, errors=(409,), status=201),
    Route("get", "/api/v1/alerts", "listAlerts", "alerts",
          "Staff alerts of the committee, newest first (at most 200).", m.AlertList,
          query=m.AlertQuery),
    Route("post", "/api/v1/alerts/{alert_id}/ack", "acknowledgeAlert", "alerts",
          "我来处理: acknowledge the alert (its escalation stops) and claim its ticket.",
          m.AlertAck, errors=(403, 409)),
    Route("get", "/api/v1/households", "listHouseholds", "households",
          "The committee's households (filter by `compound`, `building`).", hm.HouseholdList),
    Route("post", "/api/v1/households/import", "importHouseholds", "households",
          "Import households (admins): all or nothing, each bad row named.", hm.ImportResult,
          body=hm.HouseholdImportIn, errors=(403,)),
    Route("get", "/api/v1/households/{household_id}", "getHousehold", "households",
          "One household with its labels and bindings (logged).", hm.HouseholdDetail),
    Route("put", "/api/v1/households/{household_id}/labels", "setHouseholdLabels",
          "households", "Replace the household's labels (高龄, 独居 …).", hm.Household,
          body=hm.LabelsIn, errors=(409,)),
    Route("post", "/api/v1/households/{household_id}/codes", "issueHouseholdCode",
          "households", "A one-time code for the resident at the counter (shown once).",
          hm.CodeIssued, status=201),
    Route("get", "/api/v1/household-bindings", "listHouseholdBindings", "households",
          "Residents' bindings to households.", hm.BindingList, query=hm.BindingQuery),
    Route("post", "/api/v1/household-bindings/{binding_id}/verify", "verifyHouseholdBinding",
          "households", "Verify a resident's binding.", hm.Binding),
    Route("post", "/api/v1/household-bindings/{binding_id}/reject", "rejectHouseholdBinding",
          "households", "Reject a resident's binding.", hm.Binding),
    Route("post", "/api/v1/household-bindings/{binding_id}/voter", "setHouseholdVoter",
          "households", "This verified binding votes for its household.", hm.Binding,
          errors=(409,)),
    Route("get", "/api/v1/household-access-log", "householdAccessLog", "households",
          "Staff accesses to household data (admins).", hm.AccessLog,
          query=hm.AccessLogQuery, errors=(403,)),
    Route("get", "/api/v1/notices", "listNotices", "notices",
          "The committee's notices (通知), newest first.", nm.NoticeList),
    Route("post", "/api/v1/notices", "createNotice", "notices",
          "Write a draft notice: kind, title, full text, validity, audience.", nm.Notice,
          body=nm.NoticeIn, status=201),
    Route("get", "/api/v1/notices/{notice_id}", "getNotice", "notices",
          "The notice with each targeted household: reached, read, acknowledged, follow-ups "
          "(logged).", nm.NoticeDetail),
    Route("put", "/api/v1/notices/{notice_id}", "editNotice", "notices",
          "Replace a draft notice's content (409 once sent or withdrawn).", nm.Notice,
          body=nm.NoticeIn, errors=(409,)),
    Route("post", "/api/v1/notices/{notice_id}/send", "sendNotice", "notices",
          "Send to the matching group chats and bound residents, once.", nm.Sent,
          errors=(409,), description="A notice sent before (or withdrawn) is 409 and "
          "nothing is sent again."),
    Route("post", "/api/v1/notices/{notice_id}/withdraw", "withdrawNotice", "notices",
          "Withdraw the notice: no longer answered, nothing more sent.", nm.Notice),
    Route("get", "/api/v1/notices/{notice_id}/follow-up", "noticeFollowUpList", "notices",
          "Households to call or visit, 独居/高龄 first (logged).", nm.FollowUpList,
          query=nm.FollowUpQuery),
    Route("post", "/api/v1/notices/{notice_id}/follow-ups", "recordNoticeFollowUp", "notices",
          "Record a call or visit (走访) to a household: 已电话告知, 已上门告知, 无人应答, 其他.",
          nm.FollowUp, body=nm.FollowUpIn, status=201),
    Route("get", "/api/v1/consultations", "listConsultations", "consultations",
          "The committee's consultations (征询意见), newest first.", cm.ConsultationList),
    Route("post", "/api/v1/consultations", "createConsultation", "consultations",
          "A new consultation, as a draft.", cm.Consultation, body=cm.ConsultationIn,
          errors=(409,), status=201),
    Route("get", "/api/v1/consultations/{consultation_id}", "getConsultation",
          "consultations", "One consultation with its live tally (its result once closed).",
          cm.ConsultationDetail),
    Route("put", "/api/v1/consultations/{consultation_id}", "editConsultation",
          "consultations", "Replace a draft's content (409 once published).",
          cm.Consultation, body=cm.ConsultationIn, errors=(409,)),
    Route("post", "/api/v1/consultations/{consultation_id}/publish", "publishConsultation",
          "consultations", "Publish a draft: the eligible households are fixed now.",
          cm.Consultation, errors=(409,)),
    Route("post", "/api/v1/consultations/{consultation_id}/close", "closeConsultation",
          "consultations", "Close now and compute the rule's result.", cm.Consultation,
          errors=(409,)),
    Route("post", "/api/v1/consultations/{consultation_id}/reminders", "remindConsultation",
          "consultations", "One reminder round to the eligible households that have not "
          "voted (at most the consultation's `max_reminders`).", cm.Reminded, errors=(409,)),
    Route("get", "/api/v1/consultations/{consultation_id}/households",
          "consultationHouseholds", "consultations",
          "Every eligible household and its vote (choices hidden in a secret ballot).",
          cm.HouseholdVotes),
    Route("get", "/api/v1/consultations/{consultation_id}/audit", "consultationAudit",
          "consultations", "The audit trail: created, edited, published, votes, reminders, "
          "closed, exports (who and when).", cm.AuditTrail),
    Route("post", "/api/v1/messages", "postResidentMessage", "webhook",
          "Generic webhook: a resident's message in, the bot's replies out.",
          WebhookResponse, body=MessageIn, kind="webhook",
          description="A duplicate `message_id` gets the first answer again "
          "(`duplicate: true`). When the bot needs longer than the webhook's budget the "
          "answer is 202 with `pending: true` and no replies."),
    Route("get", OPENAPI_PATH, "openapi", "meta", "This document.", None, kind="public"),
)  # fmt: skip
"""Every ``/api/v1`` operation, in the document's order."""

PATH_PARAMS: dict[str, tuple[str, Schema]] = {
    "key": (
        "Conversation key, e.g. `puxiong:webhook:default:p:u1`.",
        {"type": "string", "minLength": 1, "maxLength": PATH_ID_MAX["key"]},
    ),
    "number": (
        "Ticket number, e.g. `PX-20260101-0001`.",
        {"type": "string", "minLength": 1, "maxLength": PATH_ID_MAX["number"]},
    ),
    "faq_id": (
        "FAQ id, e.g. `cert-residence-permit-apply`.",
        {"type": "string", "minLength": 1, "maxLength": PATH_ID_MAX["faq_id"]},
    ),
    "proposal_id": (
        "A proposal's id (from `GET /api/v1/faqs/{faq_id}/proposals`).",
        {"type": "string", "pattern": "^[0-9]{1,18}$"},
    ),
    "household_id": (
        "A household's id (from `GET /api/v1/households`).",
        {"type": "string", "pattern": "^[0-9]{1,18}$"},
    ),
    "notice_id": (
        "A notice's id (from `GET /api/v1/notices`).",
        {"type": "string", "pattern": "^[0-9]{1,18}$"},
    ),
    "consultation_id": (
        "A consultation's id (from `GET /api/v1/consultations`).",
        {"type": "string", "pattern": "^[0-9]{1,18}$"},
    ),
    "binding_id": (
        "A binding's id (from `GET /api/v1/household-bindings`).",
        {"type": "string", "pattern": "^[0-9]{1,18}$"},
    ),
    "alert_id": (
        "Staff alert id (an integer).",
        {"type": "string", "minLength": 1, "maxLength": 18},
    ),
}
"""What each ``{name}`` of a path is (the handlers read them from ``match_info``)."""

ERRORS = {
    400: (
        "Bad request (e.g. body is not JSON or nested too deep, no committee given, an id "
        "longer than its maxLength)."
    ),
    401: "No valid API token or console session.",
    403: "CSRF check failed (console sessions on unsafe methods) or role not allowed.",
    404: "Not found, or outside the caller's committee.",
    409: (
        "The action is not allowed in the ticket's current state, the FAQ id is taken, or "
        "the notice was sent before."
    ),
    413: "Request body too large.",
    422: "The body failed validation.",
    503: "A store is temporarily unavailable; retry later.",
}
"""The admin API's error statuses (body: ``Error``)."""

WEBHOOK_RESPONSES = {
    200: "The bot's replies.",
    202: "Still working: no replies yet.",
}
WEBHOOK_ERRORS = {
    400: "Not JSON, or a field is invalid.",
    401: "Missing or wrong webhook token.",
    413: "Request body too large.",
    503: "A store is unavailable; retry later.",
}
"""The webhook's error statuses (body: ``WebhookError``)."""

SESSION_OR_TOKEN_WITH_CSRF: list[dict[str, list[str]]] = [
    {"bearerToken": []},
    {"consoleSession": [], "csrfToken": []},
]


# --- schemas ------------------------------------------------------------------------------------
class Components:
    """``components/schemas``: models added by name, nested models hoisted beside them."""

    def __init__(self) -> None:
        self.schemas: dict[str, Schema] = {}

    def put(self, name: str, schema: Schema) -> None:
        if self.schemas.get(name, schema) != schema:
            raise ValueError(f"two models are called {name} and differ")
        self.schemas[name] = schema

    def hoist(self, schema: Schema) -> Schema:
        for name, definition in schema.pop("$defs", {}).items():
            self.put(name, definition)
        return schema

    def request(self, model: type[BaseModel]) -> None:
        self.put(model.__name__, self.hoist(model.model_json_schema(ref_template=REF)))

    def responses(self, models: Iterable[type[BaseModel]]) -> None:
        """Response models as they are written (serialisation mode)."""
        unique = list(dict.fromkeys(models))
        _, top = models_json_schema(
            [(model, "serialization") for model in unique], ref_template=REF
        )
        self.hoist(top)

    def query(self, model: type[BaseModel]) -> list[Schema]:
        """One ``in: query`` parameter per field of ``model``."""
        schema = self.hoist(model.model_json_schema(ref_template=REF))
        required = set(schema.get("required", ()))
        out = []
        for name, prop in schema["properties"].items():
            value = _present(prop)
            description = value.pop("description", None)
            parameter: Schema = {"name": name, "in": "query", "required": name in required}
            if description:
                parameter["description"] = description
            parameter["schema"] = value
            out.append(parameter)
        return out


def _present(prop: Schema) -> Schema:
    """A query field's schema without what a query string cannot carry: ``null`` (absent
    instead), its title and a ``null`` default."""
    value = {k: v for k, v in prop.items() if k != "title"}
    if value.get("default", "") is None:
        del value["default"]
    branches = [b for b in value.pop("anyOf", []) if b != {"type": "null"}]
    if len(branches) == 1:
        value.update(branches[0])
    elif branches:
        value["anyOf"] = branches
    return value


# --- operations ---------------------------------------------------------------------------------
def _ref(name: str) -> Schema:
    return {"$ref": REF.format(model=name)}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _path_parameters(path: str) -> list[Schema]:
    out = []
    for name in re.findall(r"\{(\w+)\}", path):
        description, schema = PATH_PARAMS[name]
        out.append(
            {"name": name, "in": "path", "required": True, "description": description}
            | {"schema": schema}
        )
    return out


def _operation(route: Route, components: Components) -> Schema:
    op: Schema = {"operationId": route.operation_id, "summary": route.summary}
    if route.description:
        op["description"] = route.description
    op["tags"] = [route.tag]
    parameters = _path_parameters(route.path)
    if route.query is not None:
        parameters += components.query(route.query)
    if route.kind == "admin":
        parameters += components.query(m.Scope)
    if parameters:
        op["parameters"] = parameters
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(route.body.__name__)}},
        }
    ok = {"type": "object"} if route.response is None else _ref(route.response.__name__)
    responses: dict[int, Schema]
    if route.kind == "webhook":
        responses = {code: _json(ok, text) for code, text in WEBHOOK_RESPONSES.items()}
        error = _ref(WebhookError.__name__)
        responses |= {code: _json(error, text) for code, text in WEBHOOK_ERRORS.items()}
        op["security"] = [{"webhookBearer": []}]
    elif route.kind == "public":
        responses = {route.status: _json(ok, "The OpenAPI 3.1 document.")}
        op["security"] = []
    else:
        codes = {401, 503, *route.errors}
        if route.kind == "admin":
            codes |= {400, 404}
        if route.body is not None:
            codes |= {403, 413, 422}
        responses = {route.status: _json(ok, "Created" if route.status == 201 else "OK")}
        responses |= {code: _json(_ref(m.Error.__name__), ERRORS[code]) for code in codes}
        if 403 in codes:
            op["security"] = SESSION_OR_TOKEN_WITH_CSRF
    op["responses"] = {str(code): responses[code] for code in sorted(responses)}
    return op


@functools.cache
def _document() -> str:
    components = Components()
    for model in REQUEST_MODELS:
        components.request(model)
    components.responses(
        [m.Error, WebhookError, *(r.response for r in ROUTES if r.response is not None)]
    )
    paths: dict[str, Schema] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method] = _operation(route, components)
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
                "households",
                "notices",
                "consultations",
                "faqs",
                "insights",
                "registry",
                "webhook",
                "meta",
            )
        ],
        "paths": paths,
        "components": {
            "schemas": components.schemas,
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
