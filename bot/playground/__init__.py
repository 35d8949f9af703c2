"""``/try``: a small page where a newcomer talks to Linli as a resident of a compound's group
chat or in a private chat. Messages go through the generic-webhook conversion and ingress,
exactly like a gateway's; only the bearer token is not needed. Off in production."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from bot.domain import Committee

PAGE = Path(__file__).resolve().parent / "page.html"

JsonHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_try_routes(app: web.Application, committee: Committee, post_message: JsonHandler) -> None:
    """Mount ``GET /try`` (the page) and ``POST /try/messages`` (``post_message``)."""
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

    app.router.add_get("/try", redirect)
    app.router.add_get("/try/", show)
    app.router.add_post("/try/messages", post_message)
