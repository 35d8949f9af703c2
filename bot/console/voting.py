"""The residents' voting page: ``/vote/<token>``, reached from the chat with a signed
one-time link (HMAC-SHA256 with a key derived from the app's secret, expiring, used up by
the vote it carries). It shows the plan in full and the options, and is laid out for a
375 px phone.

No login: the token is the credential. It is never guessable (HMAC), it names one household
and its voter binding, and it must be sent again in the form's body — a page on another
site cannot know it, so a forged cross-site POST fails (CSRF); a POST whose ``Origin`` is
another site is refused as well. Responses are never cached and send no referrer, so the
token does not leak to other sites."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot import appkeys
from bot.console import public
from bot.consultations import Consultations, texts

VOTE_PATH = "/vote/"


def add_voting_routes(app: web.Application) -> None:
    app.router.add_get(VOTE_PATH + "{token}", vote_page)
    app.router.add_post(VOTE_PATH + "{token}", vote_submit)


def _page(context: dict[str, Any], status: int = 200) -> web.Response:
    return public.page("vote.html", context, status)


def _error(message: str, status: int) -> web.Response:
    return _page({"error": message, "c": None, "receipt": None}, status)


async def vote_page(request: web.Request) -> web.Response:
    service = request.app[appkeys.CONSULTATIONS]
    token = request.match_info["token"]
    check = await service.check_link(token)
    if check.consultation is None:
        return _error(check.error, 404)
    if check.error:
        return _error(check.error, 410)
    return await _show(service, check.consultation.committee, token, check.household_id)


async def _show(
    service: Consultations, committee: str, token: str, household_id: int, error: str = ""
) -> web.Response:
    check = await service.check_link(token)
    c = check.consultation
    assert c is not None
    vote = await service.store.vote_of(committee, c.id, household_id)
    now = service.now()
    return _page(
        {
            "error": error,
            "c": c,
            "receipt": None,
            "token": token,
            "scope": service.scope(c),
            "opens": texts.when(c.opens_at),
            "closes": texts.when(c.closes_at),
            "is_open": c.is_open(now),
            "current": None if vote is None else c.options[vote.choice],
            "paragraphs": [p for p in c.plan.split("\n")],
        }
    )


async def vote_submit(request: web.Request) -> web.Response:
    service = request.app[appkeys.CONSULTATIONS]
    token = request.match_info["token"]
    refused, form = await public.checked_form(request, token)
    if refused == 413:
        return _error("提交的内容过大。", 413)
    if refused:
        return _error("请从聊天里的投票链接打开本页面后再提交。", refused)
    check = await service.check_link(token)
    c = check.consultation
    if c is None:
        return _error(check.error, 404)
    if check.error:
        return _error(check.error, 410)
    raw = form.get("choice")
    if not isinstance(raw, str) or not raw.isdigit() or not 0 <= int(raw) < len(c.options):
        return await _show(service, c.committee, token, check.household_id, "请选择一个选项。")
    binding = await service.resident_of(c.committee, check.binding_id)
    if binding is None:
        return _error("这个投票链接对应的门牌绑定已不存在，请在聊天里重新获取。", 410)
    cast = await service.vote(
        c.committee,
        c.id,
        binding.resident,
        int(raw),
        "page",
        link_id=check.link_id,
        binding_id=check.binding_id,
    )
    if cast.result is None:
        return _page({"error": cast.message, "c": c, "receipt": None, "token": ""}, 409)
    vote = cast.result.vote
    return _page(
        {
            "error": "",
            "c": c,
            "receipt": {
                "option": c.options[vote.choice],
                "number": vote.receipt,
                "at": texts.full_when(vote.changed_at),
                "changed": cast.result.changed,
            },
        }
    )
