"""Shared pieces of the admin API: the caller's committee, JSON bodies, error mapping."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot import appkeys
from bot.accounts.http import ApiError, ensure_committee, require_user
from bot.channels.base import read_body
from bot.channels.errors import BodyTooLarge
from bot.channels.safe_json import JsonRejected, loads
from bot.domain.accounts import Principal
from bot.domain.tickets import (
    ActionNotAllowed,
    Actor,
    InvalidTicket,
    TicketNotFound,
)

M = TypeVar("M", bound=BaseModel)

PREFIX = "/api/v1"
"""Where the composition root mounts the admin API's sub-application."""

NO_NUL = r"^[^\x00]*$"
"""Pattern for every text field of a request body: PostgreSQL text cannot hold NUL."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_COMMITTEE_CHARS = 64
PATH_ID_MAX: dict[str, int] = {"key": 400, "number": 40, "faq_id": 128}
"""Longest value of each path id, as wide as its database column (conversation keys,
ticket numbers, FAQ ids); a longer one is answered 400 before any store is asked."""


async def acting(request: web.Request) -> tuple[Principal, str]:
    """The caller and the committee they act in: their own, or (street admin) the one named
    by ``?committee=``. Another committee's data is answered with 404."""
    principal = await require_user(request)
    committee = principal.committee or request.query.get("committee", "")
    if "\x00" in committee or any("\x00" in v for v in request.match_info.values()):
        # No committee, key or number holds NUL (PostgreSQL text cannot): never send one
        # to the store.
        raise ApiError(404, "not_found", "未找到该资源。")
    if not committee:
        raise ApiError(400, "committee_required", "请用 ?committee= 指定居委会。")
    if len(committee) > MAX_COMMITTEE_CHARS:
        raise ApiError(400, "bad_id", f"committee 不能超过 {MAX_COMMITTEE_CHARS} 个字符。")
    for name, value in request.match_info.items():
        limit = PATH_ID_MAX.get(name)
        if limit is not None and len(value) > limit:
            raise ApiError(400, "bad_id", f"{name} 不能超过 {limit} 个字符。")
    ensure_committee(principal, committee)
    return principal, committee


def actor_of(principal: Principal) -> Actor:
    return Actor.caseworker(str(principal.user_id), principal.label)


async def body(request: web.Request, model: type[M]) -> M:
    """The JSON body validated by ``model``. Size and nesting are bounded before parsing
    (``bot.channels.safe_json``): 413 beyond ``max_upload_bytes``, 400 for a body that is
    not plain JSON (too deep, not UTF-8, NaN, a repeated key), 422 for a schema violation."""
    settings = request.config_dict[appkeys.SETTINGS]
    try:
        data = await read_body(request, settings.max_upload_bytes)
        raw = loads(data, max_bytes=settings.max_upload_bytes, max_depth=settings.max_json_depth)
    except BodyTooLarge:
        raise ApiError(413, "too_large", "请求内容过大。") from None
    except JsonRejected as exc:
        raise ApiError(400, "bad_json", f"请求体不是有效的 JSON（{exc}）。") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ApiError(422, "invalid", f"字段 {where} 无效：{first['msg']}") from None


def ok(data: BaseModel, status: int = 200) -> web.Response:
    """A JSON response written through its response model (``bot.api.models``)."""
    return web.json_response(
        data.model_dump(mode="json"),
        status=status,
        dumps=lambda o: json.dumps(o, ensure_ascii=False),
    )


def ticket_errors(handler: Handler) -> Handler:
    """Map the ticket service's errors to API errors."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except TicketNotFound:
            raise ApiError(404, "not_found", "没有找到该工单。") from None
        except ActionNotAllowed as exc:
            raise ApiError(409, "not_allowed", str(exc)) from None
        except InvalidTicket as exc:
            raise ApiError(422, "invalid", str(exc)) from None

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped
