"""Authentication on the HTTP side, shared by the console (``/console/``) and the admin API
(``/api/v1/…``).

- Browsers log in through the console and carry an encrypted aiohttp-session cookie holding a
  session id (checked against the database on every request, so logout, a password change or
  disabling the user ends it at once) and a per-session CSRF token.
- Scripts send ``Authorization: Bearer <token>`` (tokens made by ``linli user token``).

``api_auth_middleware`` guards every ``/api/v1/`` path except an explicit public list (the
resident webhook ``POST /api/v1/messages`` keeps its own tokens and is never touched): a
bearer token, or a session plus the CSRF token on unsafe methods, is required; errors come
back as ``{"error": {"code": …, "message": …}}``. Handlers read the caller with
``require_user(request)`` and scope data with ``ensure_committee`` (404 outside the caller's
committee, so existence is not revealed)."""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp_session import get_session

from bot.accounts.service import AccountService, Authenticator
from bot.accounts.tokens import new_csrf_token, same
from bot.domain import StoreUnavailable
from bot.domain.accounts import Principal, Role, committee_scope

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ACCOUNTS = web.AppKey("accounts", AccountService)
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)

API_PREFIX = "/api/v1/"
PUBLIC_API_PATHS = frozenset({"/api/v1/messages", "/api/v1/openapi.json"})
"""``/api/v1/`` paths the admin auth leaves alone (the resident webhook has its own tokens)."""

SESSION_SID = "sid"
SESSION_CSRF = "csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

_PRINCIPAL = web.RequestKey("principal", Principal)
_RESOLVED = web.RequestKey("principal_resolved", bool)

API_MESSAGES = {
    400: ("bad_request", "请求格式不正确。"),
    401: ("unauthorized", "请先登录，或提供有效的 API 令牌。"),
    403: ("forbidden", "没有权限执行此操作。"),
    404: ("not_found", "未找到该资源。"),
    405: ("method_not_allowed", "不支持该请求方法。"),
    409: ("conflict", "数据已被修改或已存在，请刷新后重试。"),
    413: ("too_large", "请求内容过大。"),
    415: ("unsupported_media_type", "不支持该内容类型。"),
    422: ("invalid", "提交的数据无效。"),
    429: ("throttled", "请求过于频繁，请稍后再试。"),
    500: ("internal", "服务器内部错误。"),
    503: ("unavailable", "服务暂时不可用，请稍后再试。"),
}
CSRF_MESSAGE = "页面已过期或请求来源无法验证（CSRF 校验失败），请刷新页面后重试。"


# --- the caller -------------------------------------------------------------------------------
async def current_user(request: web.Request) -> Principal | None:
    """The principal of this request (bearer token or console session), or None.

    Resolved once per request; a stale session (logged out elsewhere, expired, user disabled)
    is dropped from the cookie. Raises StoreUnavailable when the database is down."""
    if request.get(_RESOLVED):
        return request.get(_PRINCIPAL)
    principal: Principal | None = None
    session = await get_session(request)
    sid = session.get(SESSION_SID)
    if isinstance(sid, str) and sid:
        principal = await request.config_dict[ACCOUNTS].session_principal(sid)
        if principal is None:
            session.pop(SESSION_SID, None)
    _remember(request, principal)
    return principal


async def principal_now(request: web.Request) -> Principal | None:
    """The principal of this request re-read from the store now, not the one resolved when
    it began: for long-lived responses (the console's event stream), which must end once
    the session is logged out, its user's password changed or the user disabled, or the API
    token revoked. Raises StoreUnavailable when the database is down."""
    accounts = request.config_dict[ACCOUNTS]
    first = request.get(_PRINCIPAL)
    if first is not None and first.via_token:
        _, _, token = request.headers.get("Authorization", "").partition(" ")
        return await accounts.token_principal(token.strip())
    sid = (await get_session(request)).get(SESSION_SID)
    if not isinstance(sid, str) or not sid:
        return None
    return await accounts.session_principal(sid)


async def require_user(request: web.Request) -> Principal:
    """The principal, or 401 (a JSON error in the admin API, an error page in the console;
    the guards already send anonymous callers away before a handler runs)."""
    principal = await current_user(request)
    if principal is None:
        raise web.HTTPUnauthorized()
    return principal


def require_role(*roles: Role) -> Callable[[Handler], Handler]:
    """Decorate a handler so only these roles reach it (403 for the others)."""
    allowed = frozenset(roles)

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapped(request: web.Request) -> web.StreamResponse:
            principal = await require_user(request)
            if principal.role not in allowed:
                raise web.HTTPForbidden()
            return await handler(request)

        return wrapped

    return decorate


def ensure_committee(principal: Principal, committee_id: str) -> None:
    """404 (never 403: existence is not revealed) unless ``principal`` may see the committee."""
    if not committee_scope(principal, committee_id):
        raise web.HTTPNotFound()


def _remember(request: web.Request, principal: Principal | None) -> None:
    request[_RESOLVED] = True
    if principal is not None:
        request[_PRINCIPAL] = principal


# --- CSRF -----------------------------------------------------------------------------------
async def csrf_token(request: web.Request) -> str:
    """This session's CSRF token (created on first use): put it in every form as the hidden
    field ``csrf_token``, or send it as the ``X-CSRF-Token`` header."""
    session = await get_session(request)
    token = session.get(SESSION_CSRF)
    if not isinstance(token, str) or not token:
        token = new_csrf_token()
        session[SESSION_CSRF] = token
    return token


async def csrf_ok(request: web.Request, *, form: bool) -> bool:
    """True if the request carries this session's CSRF token (header, or form field when
    ``form``)."""
    session = await get_session(request)
    expected = session.get(SESSION_CSRF)
    if not isinstance(expected, str) or not expected:
        return False
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and form and request.content_type in FORM_TYPES:
        value = (await request.post()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return sent is not None and same(sent, expected)


# --- client address ---------------------------------------------------------------------------
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
TRUSTED_PROXIES = web.AppKey("trusted_proxies", tuple[IPNetwork, ...])
"""The reverse proxies whose ``X-Forwarded-For`` is believed (setting ``trusted_proxies``)."""


def trusted_networks(entries: Collection[str]) -> tuple[IPNetwork, ...]:
    """Parse the ``trusted_proxies`` setting (IP addresses or CIDRs; validated there)."""
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries)


def client_ip(request: web.Request) -> str:
    """The caller's address, used by the login throttle and the logs: the peer address,
    unless the peer is a configured trusted proxy; then the right-most address in
    ``X-Forwarded-For`` that is not itself a trusted proxy (what the outermost trusted proxy
    saw). Entries a client wrote further left are never believed, so rotating them changes
    nothing."""
    trusted = request.config_dict.get(TRUSTED_PROXIES, ())
    return resolve_client_ip(
        request.remote or "", request.headers.getall("X-Forwarded-For", []), trusted
    )


def resolve_client_ip(peer: str, forwarded: Collection[str], trusted: Collection[IPNetwork]) -> str:
    """``client_ip`` on plain values: ``forwarded`` are the ``X-Forwarded-For`` header
    values in the order received."""
    current = _parse_address(peer)
    if current is None:
        return peer
    if not trusted:
        return str(current)
    hops = [h.strip() for value in forwarded for h in value.split(",")]
    for hop in reversed(hops):
        if not _trusted(current, trusted):
            break
        address = _parse_address(hop)
        if address is None:
            # Garbage where a trusted proxy should have written its peer: stop at the last
            # address a trusted hop vouches for.
            break
        current = address
    return str(current)


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Collection[IPNetwork]
) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def _parse_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from a peer or ``X-Forwarded-For`` hop (``1.2.3.4``, ``1.2.3.4:567``,
    ``[2001:db8::1]:567``, ``::ffff:1.2.3.4``), or None."""
    value = value.strip()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# --- admin API ------------------------------------------------------------------------------
def json_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """The admin API's error shape: ``{"error": {"code": …, "message": …}}``."""
    return web.json_response(
        {"error": {"code": code, "message": message}},
        status=status,
        headers=headers,
        dumps=_dumps,
    )


class ApiError(web.HTTPException):
    """Raise from an admin API handler for a JSON error with a specific code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status_code = status
        super().__init__(
            text=_dumps({"error": {"code": code, "message": message}}),
            content_type="application/json",
        )


def is_admin_api_path(path: str, public: Collection[str] = PUBLIC_API_PATHS) -> bool:
    return path.startswith(API_PREFIX) and path not in public


def api_auth_middleware(public: Collection[str] = PUBLIC_API_PATHS) -> Middleware:
    """Authentication, CSRF and JSON errors for every ``/api/v1/`` path not in ``public``."""
    public = frozenset(public)

    @web.middleware
    async def api_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not is_admin_api_path(request.path, public):
            return await handler(request)
        try:
            refused = await _authenticate_api(request)
            if refused is not None:
                return refused
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400 or exc.content_type == "application/json":
                raise
            code, message = API_MESSAGES.get(exc.status, ("error", exc.reason))
            return json_error(exc.status, code, message, headers=_kept_headers(exc))
        except StoreUnavailable:
            log.error("store unavailable", extra={"path": request.path})
            return json_error(503, *API_MESSAGES[503])
        except Exception:
            log.exception("admin API handler failed", extra={"path": request.path})
            return json_error(500, *API_MESSAGES[500])
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    return api_auth


async def _authenticate_api(request: web.Request) -> web.Response | None:
    """None when the caller may go on, else the refusal."""
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        principal = None
        if scheme.lower() == "bearer" and token.strip():
            principal = await request.config_dict[ACCOUNTS].token_principal(token.strip())
        if principal is None:
            return json_error(
                401,
                "invalid_token",
                "API 令牌无效、已撤销或其用户已停用。",
                headers={"WWW-Authenticate": 'Bearer realm="linli", error="invalid_token"'},
            )
        _remember(request, principal)
        return None
    principal = await current_user(request)
    if principal is None:
        code, message = API_MESSAGES[401]
        return json_error(401, code, message, headers={"WWW-Authenticate": 'Bearer realm="linli"'})
    if request.method not in SAFE_METHODS and not await csrf_ok(request, form=False):
        return json_error(403, "csrf_failed", CSRF_MESSAGE)
    return None


def _kept_headers(exc: web.HTTPException) -> dict[str, str]:
    kept = ("allow", "retry-after", "www-authenticate")
    return {k: v for k, v in exc.headers.items() if k.lower() in kept}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


async def whoami(request: web.Request) -> web.Response:
    """``GET /api/v1/me``: the caller as the admin API sees it (scripts check their token)."""
    principal = await require_user(request)
    return web.json_response(
        {
            "user": {
                "id": principal.user_id,
                "name": principal.name,
                "display_name": principal.display_name,
                "role": principal.role.value,
                "committee": principal.committee,
            },
            "auth": "token" if principal.via_token else "session",
        },
        dumps=_dumps,
    )
