"""A notice's page for residents: ``/notice/<token>``, reached from the private message that
carried the notice (one signed token per delivery, expiring when the notice's validity ends:
``bot.notices``). It shows the notice in full — title, kind, validity, text and the
committee's name — with a big 收到 button, laid out for a 375 px phone. Opening it marks the
recipient's household as read; pressing 收到 acknowledges, as replying "收到" does.

No login: the token is the credential (``bot.console.public``: never cached, no referrer,
the token sent again in the form's body and a cross-site ``Origin`` refused — CSRF)."""

from __future__ import annotations

from aiohttp import web

from bot import appkeys
from bot.console import public
from bot.notices import NoticeView, texts

NOTICE_PATH = "/notice/"
FROM_ELSEWHERE = "请从聊天里的通知链接打开本页面后再点“收到”。"


def add_notice_page_routes(app: web.Application) -> None:
    app.router.add_get(NOTICE_PATH + "{token}", notice_page)
    app.router.add_post(NOTICE_PATH + "{token}", notice_acknowledge)


def _render(view: NoticeView, token: str, *, just_acknowledged: bool = False) -> web.Response:
    n = view.notice
    context = {
        "error": view.error,
        "n": n,
        "kind": n.kind.label if n else "",
        "period": texts.period(n) if n else "",
        "paragraphs": [p for p in n.body.split("\n") if p.strip()] if n else [],
        "committee": view.committee_name,
        "acknowledged": view.acknowledged,
        "just_acknowledged": just_acknowledged,
        "token": token,
    }
    return public.page("notice_read.html", context, view.status)


def _refused(message: str, status: int) -> web.Response:
    return _render(NoticeView(None, None, "", error=message, status=status), "")


async def notice_page(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    view = await request.app[appkeys.NOTICES].open_page(token)
    return _render(view, token)


async def notice_acknowledge(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    refused, _ = await public.checked_form(request, token)
    if refused == 413:
        return _refused("提交的内容过大。", 413)
    if refused:
        return _refused(FROM_ELSEWHERE, refused)
    view = await request.app[appkeys.NOTICES].acknowledge_page(token)
    return _render(view, token, just_acknowledged=not view.error)
