"""Console pages of the auth layer: ``/console/login``, ``POST /console/logout`` and the home
page ``/console/`` (who is logged in; the work pages are added by others)."""

from __future__ import annotations

import logging
import math
from typing import Any

from aiohttp import web
from aiohttp_session import get_session, new_session

from bot.accounts.http import (
    ACCOUNTS,
    AUTHENTICATOR,
    SESSION_CSRF,
    SESSION_SID,
    client_ip,
    current_user,
)
from bot.accounts.tokens import new_csrf_token
from bot.console.rendering import render
from bot.console.security import HOME_PATH, LOGIN_PATH, LOGOUT_PATH, PREFIX, safe_next
from bot.domain import StoreUnavailable
from bot.domain.accounts import AccountDisabled, InvalidCredentials, LoginThrottled

log = logging.getLogger(__name__)

WRONG_CREDENTIALS = "用户名或密码错误。"
DISABLED = "该账号已停用，请联系居委会或街道管理员。"
UNAVAILABLE = "系统暂时不可用，请稍后再试。"


def wait_text(seconds: float) -> str:
    """``5 秒`` / ``2 分钟``: how long to wait, rounded up."""
    if seconds < 120:
        return f"{max(1, math.ceil(seconds))} 秒"
    return f"{math.ceil(seconds / 60)} 分钟"


def throttled_message(exc: LoginThrottled) -> str:
    if exc.scope == "user":
        return (
            f"该账号的密码错误次数较多，为防止猜测密码，请 {wait_text(exc.retry_after_s)}后再试。"
        )
    return f"本机登录失败次数过多，请 {wait_text(exc.retry_after_s)}后再试。"


def wrong_credentials_message(exc: InvalidCredentials) -> str:
    if exc.retry_after_s > 0:
        return f"{WRONG_CREDENTIALS}请 {wait_text(exc.retry_after_s)}后再试。"
    return WRONG_CREDENTIALS


async def login_form(request: web.Request) -> web.StreamResponse:
    next_path = safe_next(request.query.get("next"))
    if await current_user(request) is not None:
        raise web.HTTPSeeOther(next_path)
    return await _login_page(request, next_path=next_path)


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = _field(form, "username")
    password = _field(form, "password")
    next_path = safe_next(_field(form, "next"))
    if not username or not password:
        return await _login_page(
            request,
            next_path=next_path,
            username=username,
            error="请输入用户名和密码。",
            status=400,
        )
    ip = client_ip(request)
    try:
        principal = await request.config_dict[AUTHENTICATOR].login(username, password, ip)
        sid = await request.config_dict[ACCOUNTS].open_session(principal, ip)
    except LoginThrottled as exc:
        log.warning("login throttled", extra={"scope": exc.scope, "ip": ip})
        return await _login_page(
            request,
            next_path=next_path,
            username=username,
            error=throttled_message(exc),
            status=429,
            headers={"Retry-After": str(math.ceil(exc.retry_after_s))},
        )
    except InvalidCredentials as exc:
        log.info("login failed", extra={"ip": ip})
        return await _login_page(
            request,
            next_path=next_path,
            username=username,
            error=wrong_credentials_message(exc),
            status=401,
        )
    except AccountDisabled:
        log.info("login of a disabled user refused", extra={"ip": ip})
        return await _login_page(
            request, next_path=next_path, username=username, error=DISABLED, status=403
        )
    except StoreUnavailable:
        log.error("store unavailable at login", extra={"ip": ip})
        return await _login_page(
            request, next_path=next_path, username=username, error=UNAVAILABLE, status=503
        )
    previous = (await get_session(request)).get(SESSION_SID)
    if isinstance(previous, str) and previous:
        await request.config_dict[ACCOUNTS].close_session(previous)
    # A fresh cookie: nothing of the earlier session (its CSRF token) carries over.
    session = await new_session(request)
    session[SESSION_SID] = sid
    session[SESSION_CSRF] = new_csrf_token()
    log.info("login", extra={"user": principal.name, "ip": ip})
    raise web.HTTPSeeOther(next_path)


async def logout(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    sid = session.get(SESSION_SID)
    if isinstance(sid, str) and sid:
        await request.config_dict[ACCOUNTS].close_session(sid)
    session.invalidate()
    raise web.HTTPSeeOther(LOGIN_PATH)


async def to_home(_: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently(HOME_PATH)


def add_auth_routes(console: web.Application) -> None:
    """Login and logout on the console's sub-application, and ``/console`` to the home page."""
    r = console.router
    r.add_get("", to_home)
    r.add_get(LOGIN_PATH.removeprefix(PREFIX), login_form)
    r.add_post(LOGIN_PATH.removeprefix(PREFIX), login_submit)
    r.add_post(LOGOUT_PATH.removeprefix(PREFIX), logout)


async def _login_page(
    request: web.Request,
    *,
    next_path: str,
    username: str = "",
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> web.Response:
    context: dict[str, Any] = {"next": next_path, "username": username, "error": error}
    response = await render(request, "login.html", context, status=status)
    if headers:
        response.headers.update(headers)
    return response


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""
