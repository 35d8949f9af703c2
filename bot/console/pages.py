"""The caseworker console's work pages: the inbox (``/console/``) with live updates over
server-sent events (``/console/events``), one conversation (history, takeover / reply /
release) and one ticket (history, claim / transfer / note / status / resolve).

Server-rendered with the console's Jinja environment; every form posts the session's CSRF
token (the console guard refuses a POST without it) and every action redirects back to its
page (post/redirect/get). Data is scoped with ``ensure_committee``: another committee's
conversation or ticket is answered with the 404 page. The pages call the same services as
the admin JSON API (``bot.api``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web
from aiohttp_sse import sse_response

from bot import appkeys
from bot.accounts.http import ACCOUNTS, ensure_committee, principal_now, require_user
from bot.console.alerts import inbox_alerts
from bot.console.rendering import CONSOLE_REGISTRY, render
from bot.dialogue.events import committee_channel
from bot.dialogue.handoff import (
    CATEGORY,
    OFF_HOURS,
    PROMISE,
    REASONS,
    ConversationNotFound,
    MessageNotFound,
)
from bot.domain import StoreUnavailable
from bot.domain.accounts import Principal, committee_scope
from bot.domain.clock import SHANGHAI
from bot.domain.once import Delivery
from bot.domain.tickets import (
    ALLOWED_TRANSITIONS,
    ActionNotAllowed,
    Actor,
    InvalidTicket,
    ResidentId,
    SlaState,
    Ticket,
    TicketCategory,
    TicketNotFound,
    TicketPriority,
    TicketStatus,
)
from bot.retrieval import RetrievalError
from bot.storage.conversations import Conversation, Mode
from bot.tickets import InvalidAssignee

log = logging.getLogger(__name__)

MAX_TEXT = 2000
INVALID = "提交的内容无效，请检查后重试。"
NOT_A_COLLEAGUE = "只能转交给本居委会的社工或居委管理员，请从列表中选择一位同事。"
SSE_PING_S = 15.0

MODE_LABELS = {Mode.BOT: "机器人接待", Mode.WAITING: "等待社工", Mode.HUMAN: "社工接待中"}
SLA_LABELS = {
    SlaState.OK: "正常",
    SlaState.DUE_SOON: "即将到期",
    SlaState.OVERDUE: "已超时",
    SlaState.MET: "按时完成",
    SlaState.BREACHED: "超时完成",
}
DIRECTION_LABELS = {"in": "居民", "out": "邻里助手", "staff": "社工"}
CHANNEL_LABELS = {"wechat_mp": "微信公众号", "wecom_bot": "企业微信", "webhook": "接入网关"}
DELIVERY_LABELS = {
    Delivery.PASSIVE.value: "被动回复",
    Delivery.ACTIVE.value: "已发送",
    Delivery.PULL.value: "已发送（网页）",
    Delivery.FAILED.value: "发送失败",
    Delivery.UNDELIVERABLE.value: "无法送达",
    Delivery.SENDING.value: "正在重发",
    Delivery.PENDING.value: "正在发送",
}
"""How each outbound message went out, as the conversation shows it next to the message."""
RETRY_NOTICES = {
    Delivery.ACTIVE.value: "已重新发送，居民已收到这条回复。",
    Delivery.FAILED.value: "重新发送仍然失败，请稍后再试，或复制内容电话联系居民。",
    Delivery.UNDELIVERABLE.value: "该渠道现在无法向居民发送消息，请复制内容电话联系居民。",
    "held": "这条回复已经重发过或正在重发，没有再次发送。",
}
STATUS_ACTIONS = {
    TicketStatus.IN_PROGRESS: "开始处理",
    TicketStatus.WAITING_RESIDENT: "等待居民补充",
    TicketStatus.CLOSED: "关闭（撤销/取消）",
    TicketStatus.REOPENED: "重新打开",
}
"""Status changes offered on the ticket page (resolving has its own form, claiming its
button)."""

STREAMS = web.AppKey("console_streams", set[asyncio.Event])
"""The open live event streams (one stop event each), on the root application: its shutdown
(``stop_streams``) ends them before the server waits for its handlers."""


# --- helpers ----------------------------------------------------------------------------------
def local_time(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def countdown(due: datetime | None, now: datetime) -> str:
    """``剩余 1小时5分`` / ``已超时 12分`` (the page's script keeps it current)."""
    if due is None:
        return ""
    if due.tzinfo is None:
        due = due.replace(tzinfo=UTC)
    seconds = int((due - now).total_seconds())
    minutes = abs(seconds) // 60
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = (f"{days}天" if days else "") + (f"{hours}小时" if hours else "") + f"{minutes}分"
    return f"剩余 {parts}" if seconds >= 0 else f"已超时 {parts}"


def conversation_href(key: str) -> str:
    return "/console/conversations/" + quote(key, safe=":@")


def ticket_href(number: str, query: str = "") -> str:
    return "/console/tickets/" + quote(number, safe="") + query


def scope_query(principal: Principal, committee: str) -> str:
    """What a street admin's links carry to stay in the chosen committee."""
    return "" if principal.committee else "?" + urlencode({"committee": committee})


def actor_of(principal: Principal) -> Actor:
    return Actor.caseworker(str(principal.user_id), principal.label)


def ticket_committee(request: web.Request, principal: Principal) -> str:
    """The committee a ticket page acts in: the user's own, or a street admin's
    ``?committee=``; 404 outside the caller's scope."""
    committee = principal.committee or request.query.get("committee", "")
    if not committee or not request.config_dict[CONSOLE_REGISTRY].has_committee(committee):
        raise web.HTTPNotFound()
    ensure_committee(principal, committee)
    return committee


async def form_data(request: web.Request) -> dict[str, str]:
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def compound_name(request: web.Request, committee: str, compound: str | None) -> str:
    if not compound:
        return ""
    registry = request.config_dict[CONSOLE_REGISTRY]
    if not registry.has_committee(committee):
        return compound
    found = registry.committee(committee).compound(compound)
    return found.name if found else compound


def ticket_row(
    request: web.Request,
    ticket: Ticket,
    sla: SlaState,
    due: datetime | None,
    now: datetime,
    query: str = "",
) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "href": ticket_href(ticket.number, query),
        "category": ticket.category.label,
        "emergency": ticket.category.value == "emergency",
        "priority": ticket.priority.label,
        "priority_code": ticket.priority.value,
        "status": ticket.status.label,
        "description": ticket.description,
        "compound": compound_name(request, ticket.committee, ticket.compound),
        "place": " ".join(p for p in (ticket.building, ticket.unit, ticket.room) if p),
        "reporter": ticket.reporter.name,
        "assignee": ticket.assignee.display if ticket.assignee else "",
        "sla": sla.value,
        "sla_label": SLA_LABELS[sla],
        "due": local_time(due),
        "due_iso": due.isoformat() if due else "",
        "countdown": countdown(due, now),
        "created": local_time(ticket.created_at),
        "urgent": ticket.priority is TicketPriority.URGENT or ticket.category.value == "emergency",
        "claimable": ticket.assignee is None
        and TicketStatus.CLAIMED in ALLOWED_TRANSITIONS[ticket.status],
        "claim_action": ticket_href(ticket.number) + "/claim" + query,
    }


def resident_label(name: str, sender_id: str) -> str:
    """The resident's name, else a short stand-in (platform ids are long and meaningless)."""
    if name.strip():
        return name
    tail = sender_id[-4:] if len(sender_id) > 4 else sender_id
    return f"居民（…{tail}）" if tail else "居民"


def conversation_row(conv: Conversation) -> dict[str, Any]:
    return {
        "key": conv.key,
        "href": conversation_href(conv.key),
        "resident": resident_label(conv.sender_name, conv.sender_id),
        "mode": conv.mode.value,
        "mode_label": MODE_LABELS[conv.mode],
        "reason": REASONS.get(conv.handoff_reason, conv.handoff_reason),
        "since": local_time(conv.handoff_at),
        "assignee": conv.assignee_name,
        "group": conv.chat_type == "group",
        "last": local_time(conv.last_message_at),
        "off_hours": off_hours(conv),
        "promise": conv.state.get(PROMISE, "") if conv.mode is Mode.WAITING else "",
        "category": category_label(conv.state.get(CATEGORY)),
    }


def off_hours(conv: Conversation) -> bool:
    return conv.mode is Mode.WAITING and bool(conv.state.get(OFF_HOURS))


def category_label(value: object) -> str:
    try:
        return TicketCategory(value).label if isinstance(value, str) else ""
    except ValueError:
        return ""


def _urgency(conv: Conversation) -> tuple[int, datetime]:
    """Waiting before taken (those handed over out of office hours, promised a call when
    the office opens, first of all), then the longest waiting first."""
    since = conv.handoff_at or conv.last_message_at or datetime.max.replace(tzinfo=UTC)
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    rank = 2 if conv.mode is not Mode.WAITING else 0 if off_hours(conv) else 1
    return (rank, since)


# --- inbox --------------------------------------------------------------------------------------
async def inbox(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    registry = request.config_dict[CONSOLE_REGISTRY]
    committee = principal.committee or request.query.get("committee", "")
    if not committee:
        choices = [{"id": c.id, "name": c.name} for c in registry.committees]
        return await render(request, "pick_committee.html", {"committees": choices})
    if not registry.has_committee(committee):
        raise web.HTTPNotFound()
    ensure_committee(principal, committee)
    query = scope_query(principal, committee)
    now = datetime.now(UTC)
    convs = await request.config_dict[appkeys.CONVERSATIONS].recent(
        committee, (Mode.WAITING, Mode.HUMAN)
    )
    convs.sort(key=_urgency)
    items = await request.config_dict[appkeys.TICKETS].queries.inbox(committee, now=now)
    context = {
        "committee": committee,
        "committee_name": registry.committee(committee).name,
        "conversations": [conversation_row(c) for c in convs],
        "tickets": [ticket_row(request, i.ticket, i.sla, i.due, now, query) for i in items],
        "events_url": "/console/events"
        + ("" if principal.committee else "?" + urlencode({"committee": committee})),
        "ticket_query": query,
        "alerts": await inbox_alerts(request, committee, query),
    }
    return await render(request, "inbox.html", context)


# --- live events (SSE) --------------------------------------------------------------------------
async def events(request: web.Request) -> web.StreamResponse:
    """The committee's live events as ``text/event-stream`` (one JSON object per ``data:``).

    Ends when the client goes away (the keep-alive ping fails), when the application shuts
    down, when the state store's subscription is lost (the browser reconnects), or when the
    caller may no longer see the committee: the session is re-checked against the database
    every ``console_stream_check_s`` and before each event is sent, so a logout, a password
    change or a disabled user ends the stream within seconds and never receives another
    event (the browser's reconnection then meets the login page and stops)."""
    principal = await require_user(request)
    committee = principal.committee or request.query.get("committee", "")
    if not committee or not request.config_dict[CONSOLE_REGISTRY].has_committee(committee):
        raise web.HTTPNotFound()
    ensure_committee(principal, committee)
    check_s = request.config_dict[appkeys.SETTINGS].console_stream_check_s
    subscription = await request.config_dict[appkeys.STATE].subscribe(committee_channel(committee))
    stop = asyncio.Event()
    streams = request.config_dict[STREAMS]
    streams.add(stop)
    waiters: list[asyncio.Task[Any]] = []
    loop = asyncio.get_running_loop()
    try:
        async with sse_response(request, ping_interval=SSE_PING_S) as resp:
            await resp.send(json.dumps({"type": "ready", "committee": committee}), event="ready")
            closed = asyncio.create_task(resp.wait())
            stopped = asyncio.create_task(stop.wait())
            waiters = [closed, stopped]
            message: asyncio.Task[str] | None = None
            next_check = loop.time() + check_s
            while True:
                if message is None:
                    message = asyncio.create_task(anext(subscription))
                    waiters.append(message)
                done, _ = await asyncio.wait(
                    (message, closed, stopped),
                    timeout=max(0.0, next_check - loop.time()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if closed in done or stopped in done:
                    break
                if message not in done:
                    if not await _may_stream(request, committee):
                        break
                    next_check = loop.time() + check_s
                    continue
                waiters.remove(message)
                try:
                    payload = message.result()
                except (StoreUnavailable, StopAsyncIteration):
                    log.warning("live events subscription ended", extra={"committee": committee})
                    break
                message = None
                if not await _may_stream(request, committee):
                    break
                next_check = loop.time() + check_s
                try:
                    await resp.send(payload)
                except (ConnectionResetError, TimeoutError, RuntimeError):
                    break
    finally:
        for task in waiters:
            task.cancel()
        for task in waiters:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        streams.discard(stop)
        with contextlib.suppress(StoreUnavailable, OSError):
            await subscription.close()
    return resp


async def _may_stream(request: web.Request, committee: str) -> bool:
    """The stream's caller still has a live session (or token) that sees ``committee``.
    Fails closed: with the database unreachable the stream ends (the browser reconnects)."""
    try:
        principal = await principal_now(request)
    except StoreUnavailable:
        log.warning("live events: session not verifiable", extra={"committee": committee})
        return False
    if principal is None or not committee_scope(principal, committee):
        log.info("live events: session ended", extra={"committee": committee})
        return False
    return True


async def stop_streams(app: web.Application) -> None:
    for stop in app[STREAMS]:
        stop.set()


# --- conversation -------------------------------------------------------------------------------
async def _conversation(request: web.Request, principal: Principal) -> Conversation:
    conv = await request.config_dict[appkeys.CONVERSATIONS].get(request.match_info["key"])
    if conv is None:
        raise web.HTTPNotFound()
    ensure_committee(principal, conv.committee)
    return conv


async def conversation_page(
    request: web.Request,
    principal: Principal,
    conv: Conversation,
    *,
    error: str = "",
    draft: str = "",
    draft_source: str = "",
    status: int = 200,
) -> web.Response:
    history = await request.config_dict[appkeys.MESSAGE_LOG].conversation(conv.key, limit=500)
    queries = request.config_dict[appkeys.TICKETS].queries
    tickets = await queries.for_resident(
        conv.committee,
        ResidentId(conv.channel, conv.account, conv.sender_id),
        include_closed=True,
    )
    now = datetime.now(UTC)
    query = scope_query(principal, conv.committee)
    context = {
        "conv": conversation_row(conv),
        "chat_id": conv.chat_id,
        "channel": CHANNEL_LABELS.get(conv.channel, conv.channel),
        "compound": compound_name(request, conv.committee, conv.compound),
        "mine": conv.mode is Mode.HUMAN and conv.assignee_id == str(principal.user_id),
        "action": conversation_href(conv.key),
        "messages": [
            {
                "direction": m.direction,
                "who": (
                    resident_label(m.sender_name, conv.sender_id)
                    if m.direction == "in"
                    else m.sender_name or DIRECTION_LABELS.get(m.direction, m.direction)
                ),
                "role": DIRECTION_LABELS.get(m.direction, m.direction),
                "text": m.text,
                "at": local_time(m.created_at),
                "id": m.id,
                "delivery": m.delivery if m.direction != "in" else "",
                "delivery_label": DELIVERY_LABELS.get(m.delivery, m.delivery),
                "error": m.delivery_error,
                "error_code": m.delivery_code,
                "retryable": m.direction == "staff" and m.delivery == Delivery.FAILED.value,
                "copyable": m.direction == "staff"
                and m.delivery in (Delivery.FAILED.value, Delivery.UNDELIVERABLE.value),
            }
            for m in history
        ],
        "contact": contact_hint(tickets),
        "notice": RETRY_NOTICES.get(request.query.get("retried", ""), ""),
        "tickets": [
            ticket_row(request, t, queries.sla_state(t, now), t.next_due, now, query)
            for t in tickets
        ],
        "inbox_href": "/console/" + query,
        "error": error,
        "draft": draft,
        "draft_source": draft_source,
    }
    return await render(request, "conversation.html", context, status=status)


def contact_hint(tickets: list[Ticket]) -> dict[str, str] | None:
    """Where to phone the resident when a reply cannot reach them: the number they left on
    their latest ticket (shown to the caseworker only, never logged)."""
    for t in sorted(tickets, key=lambda t: t.created_at, reverse=True):
        if t.reporter.phone:
            return {"phone": t.reporter.phone, "ticket": t.number}
    return None


async def conversation_view(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    conv = await _conversation(request, principal)
    if request.query.get("draft") == "faq":
        draft, source = await faq_draft(request, conv)
        return await conversation_page(request, principal, conv, draft=draft, draft_source=source)
    return await conversation_page(request, principal, conv)


async def faq_draft(request: web.Request, conv: Conversation) -> tuple[str, str]:
    """A reply drafted from the committee's FAQ for the resident's last message: the draft
    and the question it answers, or ``("", why not)``. The caseworker edits it before
    sending; nothing is sent from here."""
    history = await request.config_dict[appkeys.MESSAGE_LOG].conversation(conv.key, limit=500)
    asked = next((m.text for m in reversed(history) if m.direction == "in" and m.text), "")
    if not asked.strip():
        return "", "居民还没有发来文字消息，无法生成草稿。"
    try:
        outcome = await request.config_dict[appkeys.RETRIEVAL].asearch(
            conv.committee, asked, conv.compound
        )
    except RetrievalError:
        log.warning("FAQ draft unavailable", extra={"committee": conv.committee})
        return "", "常见问题库暂不可用，请直接回复。"
    # Only what the bot itself would offer (an answer, or the first of 2–3 close ones).
    best = outcome.choices[0] if outcome.choices else None
    if best is None or not best.entry.applies_to(conv.compound):
        return "", "常见问题库中没有找到与居民最后一条消息相符的问答。"
    answer = best.entry.answer_for(conv.compound)
    text = answer.answer
    if answer.materials:
        text += "\n需带材料：" + "、".join(answer.materials)
    return text[:MAX_TEXT], f"草稿来自常见问题「{best.entry.question}」，请核对后再发送。"


async def conversation_action(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    conv = await _conversation(request, principal)
    action = request.match_info["action"]
    handoff = request.config_dict[appkeys.HANDOFF]
    actor = actor_of(principal)
    try:
        if action == "takeover":
            await handoff.takeover(conv.committee, conv.key, actor)
        elif action == "release":
            await handoff.release(conv.committee, conv.key, actor)
        elif action == "reply":
            text = (await form_data(request)).get("text", "").strip()
            if not text or len(text) > MAX_TEXT:
                message = "回复内容不能为空。" if not text else f"回复不能超过 {MAX_TEXT} 字。"
                return await conversation_page(
                    request, principal, conv, error=message, draft=text, status=422
                )
            await handoff.reply(conv.committee, conv.key, actor, text)
        else:
            raise web.HTTPNotFound()
    except ConversationNotFound:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther(conversation_href(conv.key))


async def message_retry(request: web.Request) -> web.StreamResponse:
    """Send a caseworker's failed reply again through the same channel (once: a second
    click finds it sent or being sent and does nothing)."""
    principal = await require_user(request)
    conv = await _conversation(request, principal)
    handoff = request.config_dict[appkeys.HANDOFF]
    raw_id = request.match_info["id"]
    if len(raw_id) > 18:
        raise web.HTTPNotFound()
    try:
        report = await handoff.retry(conv.committee, conv.key, int(raw_id), actor_of(principal))
    except (ConversationNotFound, MessageNotFound):
        raise web.HTTPNotFound() from None
    outcome = "held" if report is None else report.status.value
    raise web.HTTPSeeOther(conversation_href(conv.key) + "?" + urlencode({"retried": outcome}))


# --- ticket -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Colleague:
    id: str
    label: str


async def colleagues(request: web.Request, committee: str) -> list[Colleague]:
    """Whom the transfer form offers: the committee's active caseworkers and admins (the
    same rule the ticket service enforces on every transfer)."""
    users = await request.config_dict[ACCOUNTS].assignees(committee)
    return [Colleague(str(u.id), u.label) for u in users]


async def ticket_page(
    request: web.Request,
    principal: Principal,
    committee: str,
    number: str,
    *,
    error: str = "",
    status: int = 200,
) -> web.Response:
    queries = request.config_dict[appkeys.TICKETS].queries
    try:
        ticket = await queries.get(committee, number)
        history = await queries.history(committee, number)
    except TicketNotFound:
        raise web.HTTPNotFound() from None
    now = datetime.now(UTC)
    query = scope_query(principal, committee)
    allowed = ALLOWED_TRANSITIONS[ticket.status]
    r = ticket.reporter
    context = {
        "t": ticket_row(
            request, ticket, queries.sla_state(ticket, now), ticket.next_due, now, query
        ),
        "open": ticket.is_open,
        "can_claim": TicketStatus.CLAIMED in allowed
        and (ticket.assignee is None or ticket.assignee.id != str(principal.user_id)),
        "can_resolve": TicketStatus.RESOLVED in allowed,
        "statuses": [
            {"value": s.value, "label": text} for s, text in STATUS_ACTIONS.items() if s in allowed
        ],
        "reporter": {
            "name": r.name,
            "phone": r.phone or "",
            "channel": r.channel,
            "chat": r.chat_id,
            "conversation": conversation_href(r.conversation_key) if r.conversation_key else "",
        },
        "satisfaction": ticket.satisfaction.label if ticket.satisfaction else "",
        "satisfaction_comment": ticket.satisfaction_comment,
        "links": [{"number": n, "href": ticket_href(n, query)} for n in ticket.links],
        "events": [
            {
                "at": local_time(e.created_at),
                "who": e.actor.display,
                "summary": e.summary,
                "public": e.public,
                "kind": e.kind.value,
            }
            for e in history
        ],
        "colleagues": await colleagues(request, committee),
        "action": ticket_href(ticket.number),
        "query": query,
        "inbox_href": "/console/" + query,
        "error": error,
    }
    return await render(request, "ticket.html", context, status=status)


async def ticket_view(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    return await ticket_page(request, principal, committee, request.match_info["number"])


async def ticket_action(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    committee = ticket_committee(request, principal)
    number = request.match_info["number"]
    action = request.match_info["action"]
    form = await form_data(request)
    actor = actor_of(principal)
    try:
        await request.config_dict[appkeys.TICKETS].queries.get(committee, number)
        error = await _ticket_action(request, committee, number, action, form, actor)
    except TicketNotFound:
        raise web.HTTPNotFound() from None
    except ActionNotAllowed as exc:
        return await ticket_page(
            request, principal, committee, number, error=_refusal(exc), status=409
        )
    except InvalidTicket as exc:
        log.info("ticket form refused", extra={"ticket": number, "reason": str(exc)})
        return await ticket_page(request, principal, committee, number, error=INVALID, status=422)
    if error:
        return await ticket_page(request, principal, committee, number, error=error, status=422)
    raise web.HTTPSeeOther(ticket_href(number, scope_query(principal, committee)))


async def _ticket_action(
    request: web.Request,
    committee: str,
    number: str,
    action: str,
    form: Mapping[str, str],
    actor: Actor,
) -> str:
    """Do one form's action; returns an error to show, or "" when done."""
    workflow = request.config_dict[appkeys.TICKETS].workflow
    note = form.get("note", "").strip()
    if len(note) > MAX_TEXT:
        return f"说明不能超过 {MAX_TEXT} 字。"
    if action == "claim":
        await workflow.claim(committee, number, actor=actor)
    elif action == "transfer":
        # Only the id counts: the service checks it is an active caseworker or admin of the
        # committee and records that account's name.
        chosen = form.get("to_id", "").strip()
        if not chosen:
            return NOT_A_COLLEAGUE
        try:
            await workflow.transfer(
                committee, number, Actor.caseworker(chosen), actor=actor, note=note
            )
        except InvalidAssignee:
            return NOT_A_COLLEAGUE
    elif action == "note":
        text = form.get("text", "").strip()
        if not text or len(text) > MAX_TEXT:
            return "备注内容不能为空。" if not text else f"备注不能超过 {MAX_TEXT} 字。"
        await workflow.add_note(
            committee, number, text, actor=actor, public=form.get("public") == "1"
        )
    elif action == "status":
        try:
            target_status = TicketStatus(form.get("status", ""))
        except ValueError:
            return "请选择要变更的状态。"
        if target_status not in STATUS_ACTIONS:
            return "请选择要变更的状态。"
        await workflow.change_status(committee, number, target_status, actor=actor, note=note)
    elif action == "resolve":
        summary = form.get("summary", "").strip()
        if not summary or len(summary) > MAX_TEXT:
            return "请填写办结说明。" if not summary else f"办结说明不能超过 {MAX_TEXT} 字。"
        await workflow.resolve(committee, number, actor=actor, summary=summary)
    else:
        raise web.HTTPNotFound()
    return ""


def _refusal(exc: ActionNotAllowed) -> str:
    log.info("ticket action not allowed", extra={"reason": str(exc)})
    return "当前状态下不能执行该操作，请刷新页面查看工单的最新状态。"


# --- routes -------------------------------------------------------------------------------------
def add_console_pages(console: web.Application) -> None:
    """Mount the work pages on the console's sub-application (paths below ``/console``).
    The inbox is the console's home page ``/console/``."""
    r = console.router
    r.add_get("/", inbox, name="console_inbox")
    r.add_get("/events", events)
    r.add_get("/conversations/{key}", conversation_view)
    r.add_post("/conversations/{key}/{action:takeover|reply|release}", conversation_action)
    r.add_post(r"/conversations/{key}/messages/{id:\d+}/retry", message_retry)
    r.add_get("/tickets/{number}", ticket_view)
    r.add_post("/tickets/{number}/{action:claim|transfer|note|status|resolve}", ticket_action)
