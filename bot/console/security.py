"""The console's guard: CSRF on every unsafe request, login required outside the public pages,
Chinese error pages, and security headers on every console response."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.accounts.http import CSRF_MESSAGE, SAFE_METHODS, Handler, csrf_ok, current_user
from bot.console.rendering import render
from bot.domain import StoreUnavailable
from bot.settings import Settings

log = logging.getLogger(__name__)

PREFIX = "/console"
STATIC_PREFIX = "/console/static/"
LOGIN_PATH = "/console/login"
LOGOUT_PATH = "/console/logout"
HOME_PATH = "/console/"
PUBLIC_PATHS = frozenset({PREFIX, LOGIN_PATH, LOGOUT_PATH})
"""Console paths reachable without logging in (besides the static files); the CSRF check
still applies to them."""

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

ERROR_TEXTS = {
    401: "请先登录。",
    403: "没有权限访问此页面。",
    404: "页面不存在，或不在您所属居委会的范围内。",
    405: "不支持该请求方法。",
    413: "提交的内容过大（例如导入的文件超过上限），请拆分后重试。",
    503: "系统暂时不可用，请稍后再试。",
}


def safe_next(value: str | None) -> str:
    """A post-login destination inside the console; anything else becomes the home page."""
    if (
        not value
        or not value.startswith(HOME_PATH)
        or value.startswith("//")
        or any(c in value for c in "\\\r\n\t")
    ):
        return HOME_PATH
    return value


def console_middleware() -> Middleware:
    @web.middleware
    async def console_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path.startswith(STATIC_PREFIX):
            return await handler(request)
        try:
            if request.method not in SAFE_METHODS and not await csrf_ok(request, form=True):
                return await error_page(request, 403, CSRF_MESSAGE)
            if path not in PUBLIC_PATHS and await current_user(request) is None:
                if request.method in ("GET", "HEAD"):
                    target = request.path_qs
                    raise web.HTTPSeeOther(f"{LOGIN_PATH}?{urlencode({'next': target})}")
                return await error_page(request, 401, ERROR_TEXTS[401])
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status in ERROR_TEXTS and exc.content_type != "text/html":
                return await error_page(request, exc.status, ERROR_TEXTS[exc.status])
            raise
        except StoreUnavailable:
            log.error("store unavailable", extra={"path": path})
            return await error_page(request, 503, ERROR_TEXTS[503])

    return console_guard


async def error_page(request: web.Request, status: int, message: str) -> web.Response:
    return await render(
        request, "error.html", {"status": status, "message": message}, status=status
    )


def add_security_headers(console: web.Application, settings: Settings) -> None:
    """Security headers on every console response (pages, errors, static files)."""
    production = settings.env == "production"

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if not request.path.startswith(STATIC_PREFIX):
            headers.setdefault("Cache-Control", "no-store")
        if production:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")

    console.on_response_prepare.append(on_prepare)
