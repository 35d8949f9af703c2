"""``/try``: a small page where a newcomer talks to Linli as a resident of a compound's group
chat or in a private chat. Messages go through the generic-webhook conversion and ingress,
exactly like a gateway's; only the bearer token is not needed. Off in production.

The page teaches: each chat opens with a greeting and five questions the committee's FAQ
answers for that compound (taken from the live corpus when the page is served), every reply
is labelled in Chinese with what kind of answer it is, each chat keeps its own log, a switch
sends a group message with or without "@邻里" (how the bot behaves when not addressed), two
residents share each group, and a link leads to the caseworkers' console. In the playground's
groups a question sent without "@邻里" that nobody answers gets its answer, quoting it, after
20 seconds (group etiquette, ``bot.channels.group``); the page fetches it from ``/try/updates``
and shows a post naming both residents once."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.domain import Committee, ReplyKind
from bot.domain.faq import FaqEntry
from bot.domain.tickets import TicketPriority, TicketStatus
from bot.storage.messages import MessageLog

PAGE = Path(__file__).resolve().parent / "page.html"
SHANGHAI = timezone(timedelta(hours=8), "CST")
EXAMPLES = 5
"""Example questions offered per chat."""
CONSOLE_URL = "/console/"

KIND_LABELS: dict[ReplyKind, str] = {
    ReplyKind.FAQ: "常见问题解答",
    ReplyKind.CLARIFY: "请您确认问的是哪一个",
    ReplyKind.FALLBACK: "没听懂，换个说法",
    ReplyKind.TICKET: "已登记工单",
    ReplyKind.SLOT: "登记中，补充信息",
    ReplyKind.STATUS: "工单进度",
    ReplyKind.EMERGENCY: "紧急求助",
    ReplyKind.CRISIS: "关怀与求助热线",
    ReplyKind.CARE: "关心与求助热线",
    ReplyKind.CHECK_IN: "确认是否有危险",
    ReplyKind.HANDOFF: "转接社工",
    ReplyKind.LETTER: "来信受理",
    ReplyKind.HUMAN: "社工回复",
    ReplyKind.FEEDBACK: "满意度回访",
    ReplyKind.WELCOME: "欢迎",
    ReplyKind.MEDIA: "图片/语音",
    ReplyKind.SMALLTALK: "寒暄",
    ReplyKind.NOTICE: "通知",
}
"""What the page calls each kind of reply (the API's ``kind`` codes are never shown)."""

ERRORS: dict[str, str] = {
    "400": "这条消息没能发出：内容或格式不对，请换个说法再试。",
    "413": "这条消息太长了，请分几条发送。",
    "429": "发得太快了，请稍等一会儿再发。",
    "503": "邻里暂时连不上数据存储，消息没有收下，请稍后再发一次。",
    "other": "出错了，消息没能处理，请稍后再试。",
}
"""What the page says when a message is refused, by HTTP status (the API's English error
texts are for gateways, never shown to a visitor)."""

RESIDENTS = ({"key": "a", "name": "王阿姨"}, {"key": "b", "name": "李叔叔"})
"""The two residents a visitor can speak as (both in every group)."""

JsonHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Entries = Callable[[str], Awaitable[list[FaqEntry]]]


def example_questions(
    entries: Sequence[FaqEntry], compound: str | None, today: date, n: int = EXAMPLES
) -> list[str]:
    """``n`` questions the corpus answers for a resident of ``compound`` (``None``: a
    private chat, compound unknown): first those with the compound's own answer, then one
    per topic in turn, so the examples show different things the committee can answer."""
    usable = [
        e
        for e in entries
        if e.is_valid_on(today)
        and (e.applies_to(compound) if compound is not None else not e.compounds)
    ]
    usable.sort(key=lambda e: (e.topic, e.id))
    own = [e for e in usable if compound is not None and compound in e.variants]
    chosen: list[FaqEntry] = own[: n - 2] if len(usable) > len(own) else own[:n]
    topics: dict[str, list[FaqEntry]] = {}
    for e in usable:
        if e not in chosen:
            topics.setdefault(e.topic, []).append(e)
    while len(chosen) < n and any(topics.values()):
        for queue in topics.values():
            if queue and len(chosen) < n:
                chosen.append(queue.pop(0))
    return [e.question for e in chosen]


def add_try_routes(
    app: web.Application,
    committee: Committee,
    post_message: JsonHandler,
    message_log: MessageLog,
    entries: Entries,
) -> None:
    """Mount ``GET /try`` (the page), ``POST /try/messages`` (``post_message``) and
    ``GET /try/updates`` (what a caseworker or the ticket service sent since, for the page
    to show: the playground has no push channel). ``entries`` reads the committee's live FAQ
    (the examples)."""
    template = PAGE.read_text(encoding="utf-8")

    async def show(_: web.Request) -> web.Response:
        today = datetime.now(UTC).astimezone(SHANGHAI).date()
        corpus = await entries(committee.id)
        chats: list[dict[str, Any]] = [
            {
                "id": chat,
                "type": "group",
                "label": f"{c.name}居民群",
                "place": c.name,
                "examples": example_questions(corpus, c.id, today),
            }
            for c in committee.compounds
            for chat in c.group_chats[:1]
        ]
        chats.append(
            {
                "id": "try-private",
                "type": "private",
                "label": "私聊邻里",
                "place": committee.name,
                "examples": example_questions(corpus, None, today),
            }
        )
        config = {
            "chats": chats,
            "kinds": {k.value: label for k, label in KIND_LABELS.items()},
            "statuses": {s.value: s.label for s in TicketStatus},
            "priorities": {p.value: p.label for p in TicketPriority},
            "errors": ERRORS,
            "residents": RESIDENTS,
            "committee": committee.name,
        }
        # Safe inside <script type="application/json">: "<" is escaped so no tag can close it.
        payload = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
        page = template.replace("__CONFIG__", payload).replace("__CONSOLE__", CONSOLE_URL)
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    async def redirect(_: web.Request) -> web.Response:
        raise web.HTTPFound("/try/")

    async def updates(request: web.Request) -> web.Response:
        sender = request.query.get("sender", "")
        chat = request.query.get("chat", "")
        kind = request.query.get("type", "private")
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            raise web.HTTPBadRequest(text="after must be a number") from None
        if not sender.startswith("try-") or len(sender) > 64 or len(chat) > 64:
            raise web.HTTPBadRequest(text="unknown sender")
        prefix = f"{committee.id}:webhook:try"
        key = f"{prefix}:p:{sender}" if kind == "private" else f"{prefix}:g:{chat}:{sender}"
        found = await message_log.since(key, after)
        return web.json_response(
            {
                "messages": [
                    {"id": m.id, "text": m.text, "kind": m.kind, "from": m.sender_name}
                    for m in found
                    if m.delivery == "pull"
                ],
                "last": max((m.id for m in found), default=after),
            }
        )

    app.router.add_get("/try", redirect)
    app.router.add_get("/try/", show)
    app.router.add_post("/try/messages", post_message)
    app.router.add_get("/try/updates", updates)
