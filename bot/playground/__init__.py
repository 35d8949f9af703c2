"""``/try``: a small page where a newcomer talks to Linli as a resident of a compound's group
chat or in a private chat. Messages go through the generic-webhook conversion and ingress,
exactly like a gateway's; only the bearer token is not needed. Off in production."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from bot.domain import Committee
from bot.storage.messages import MessageLog

PAGE = Path(__file__).resolve().parent / "page.html"

JsonHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_try_routes(
    app: web.Application,
    committee: Committee,
    post_message: JsonHandler,
    message_log: MessageLog,
) -> None:
    """Mount ``GET /try`` (the page), ``POST /try/messages`` (``post_message``) and
    ``GET /try/updates`` (what a caseworker or the ticket service sent since, for the page
    to show: the playground has no push channel)."""
    chats = [
        {"id": chat, "type": "group", "label": f"{c.name}居民群"}
        for c in committee.compounds
        for chat in c.group_chats[:1]
    ]
    chats.append({"id": "try-private", "type": "private", "label": "私聊邻里"})
    # Safe inside <script type="application/json">: "<" is escaped so no tag can close it.
    payload = json.dumps(chats, ensure_ascii=False).replace("<", "\\u003c")
    page = PAGE.read_text(encoding="utf-8").replace("__CHATS__", payload)

    async def show(_: web.Request) -> web.Response:
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
