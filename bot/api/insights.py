"""Insights, the registry and accounts through the admin API:

* ``GET /api/v1/stats`` — the dashboard's figures (``bot.insights.stats``) for the local days
  ``start``..``end`` (default: the last 30 days). A committee's user gets their committee; a
  street admin gets the street's totals plus each committee, or one committee with
  ``?committee=``.
* ``GET /api/v1/unanswered`` and ``POST /api/v1/unanswered/dismiss`` — unanswered questions,
  clustered; dismissing (admins) marks messages reviewed.
* ``GET /api/v1/compounds`` and ``GET /api/v1/group-chats`` — from the committee registry.
* ``GET /api/v1/users`` and ``POST /api/v1/users`` — admins only: an admin lists and creates
  caseworkers and admins of their own committee; a street admin any user. Password hashes
  never leave the store.
"""

from __future__ import annotations

from datetime import date, timedelta

from aiohttp import web

from bot import appkeys
from bot.accounts.http import ACCOUNTS, ApiError, require_user
from bot.api import models
from bot.api.common import acting, body, ok
from bot.domain import Committee
from bot.domain.accounts import (
    MAX_PASSWORD_LEN,
    MIN_PASSWORD_LEN,
    InvalidAccount,
    Principal,
    Role,
    UserExists,
)
from bot.domain.clock import shanghai_today
from bot.insights import Cluster
from bot.insights.stats import STREET

DEFAULT_DAYS = 30
MAX_DAYS = 366
NOT_FOUND = "未找到该居委会。"


async def _scope(request: web.Request) -> tuple[Principal, str | None]:
    """The caller and the committee they look at: their own; a street admin's
    ``?committee=``; None for a street admin's "every committee"."""
    principal = await require_user(request)
    committee = principal.committee or request.query.get("committee", "") or None
    if committee == STREET and principal.committee is None:
        committee = None
    if committee is not None and not request.config_dict[appkeys.REGISTRY].has_committee(committee):
        raise ApiError(404, "not_found", NOT_FOUND)
    return principal, committee


def _committees(request: web.Request, committee: str | None) -> list[Committee]:
    registry = request.config_dict[appkeys.REGISTRY]
    return [c for c in registry.committees if committee is None or c.id == committee]


EARLIEST_DAY = date(2000, 1, 1)
"""Stats before this day cannot exist (and far dates overflow the day arithmetic)."""


def _day(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name, "")
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "bad_date", f"{name} 应为 YYYY-MM-DD 格式的日期。") from None
    if not EARLIEST_DAY <= day <= shanghai_today() + timedelta(days=1):
        raise ApiError(400, "bad_date", f"{name} 应在 {EARLIEST_DAY.isoformat()} 到明天之间。")
    return day


# --- stats --------------------------------------------------------------------------------------
async def stats(request: web.Request) -> web.Response:
    """Dashboard figures over local (Asia/Shanghai) days ``start``..``end`` inclusive."""
    _, committee = await _scope(request)
    end = _day(request, "end") or shanghai_today()
    start = _day(request, "start") or end - timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise ApiError(400, "bad_range", "结束日期不能早于开始日期。")
    if (end - start).days + 1 > MAX_DAYS:
        raise ApiError(400, "bad_range", f"时间范围最长 {MAX_DAYS} 天。")
    service = request.config_dict[appkeys.DASHBOARD]
    if committee is not None:
        figures = await service.committee(committee, start, end)
        return ok(
            models.Stats.model_validate(
                {"scope": "committee", **figures.to_dict(), "committees": []}
            )
        )
    ids = [c.id for c in request.config_dict[appkeys.REGISTRY].committees]
    total, parts = await service.street(ids, start, end)
    return ok(
        models.Stats.model_validate(
            {"scope": "street", **total.to_dict(), "committees": [p.to_dict() for p in parts]}
        )
    )


# --- unanswered questions -----------------------------------------------------------------------
def cluster_out(cluster: Cluster) -> models.UnansweredCluster:
    return models.UnansweredCluster(
        representative=cluster.representative,
        size=cluster.size,
        first_seen=cluster.first_seen,
        last_seen=cluster.last_seen,
        alternates=cluster.alternates(),
        message_ids=list(cluster.message_ids),
        messages=[
            models.ClusterMessage(
                id=m.id,
                text=m.text,
                conversation_key=m.conversation_key,
                outcome=m.outcome,
                at=m.created_at,
            )
            for m in cluster.messages
        ],
    )


async def unanswered(request: web.Request) -> web.Response:
    """The committee's unreviewed unanswered questions, clustered, most asked first."""
    _, committee = await acting(request)
    if not request.config_dict[appkeys.REGISTRY].has_committee(committee):
        raise ApiError(404, "not_found", NOT_FOUND)
    clusters = await request.config_dict[appkeys.UNANSWERED].clusters(committee)
    return ok(models.Unanswered(committee=committee, clusters=[cluster_out(c) for c in clusters]))


async def dismiss_unanswered(request: web.Request) -> web.Response:
    """Mark messages reviewed (admins): they leave the unanswered list."""
    principal, committee = await acting(request)
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "只有居委管理员和街道管理员可以处理未解答问题。")
    if not request.config_dict[appkeys.REGISTRY].has_committee(committee):
        raise ApiError(404, "not_found", NOT_FOUND)
    data = await body(request, models.DismissIn)
    ids = [i for i in data.message_ids if 0 < i < 2**63]
    marked = await request.config_dict[appkeys.UNANSWERED].dismiss(committee, ids)
    return ok(models.Dismissed(dismissed=marked))


# --- registry -----------------------------------------------------------------------------------
async def compounds(request: web.Request) -> web.Response:
    """The compounds (小区) of the caller's committee, or of every committee."""
    _, committee = await _scope(request)
    return ok(
        models.CompoundList(
            compounds=[
                models.Compound(
                    committee=c.id,
                    id=p.id,
                    name=p.name,
                    aliases=list(p.aliases),
                    kind=p.kind,
                    note=p.note,
                    buildings=list(p.buildings),
                    group_chats=list(p.group_chats),
                )
                for c in _committees(request, committee)
                for p in c.compounds
            ]
        )
    )


async def group_chats(request: web.Request) -> web.Response:
    """Which group chat serves which compound, for the caller's committee or every one."""
    _, committee = await _scope(request)
    return ok(
        models.GroupChatList(
            group_chats=[
                models.GroupChat(chat_id=chat, committee=c.id, compound=p.id, compound_name=p.name)
                for c in _committees(request, committee)
                for p in c.compounds
                for chat in p.group_chats
            ]
        )
    )


# --- users --------------------------------------------------------------------------------------
def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "只有居委管理员和街道管理员可以管理账号。")


async def list_users(request: web.Request) -> web.Response:
    """Admins: the users of their committee; street admins: every user (or one committee's)."""
    principal, committee = await _scope(request)
    _require_admin(principal)
    users = await request.config_dict[ACCOUNTS].list_users(committee)
    return ok(models.UserList(users=[models.User.model_validate(u.to_dict()) for u in users]))


async def create_user(request: web.Request) -> web.Response:
    """Create a user; 201 with the user (never the password)."""
    principal = await require_user(request)
    _require_admin(principal)
    data = await body(request, models.UserIn)
    role = Role(data.role)
    committee = data.committee or None
    if not principal.is_street_admin:
        if role is Role.STREET_ADMIN:
            raise ApiError(403, "forbidden", "居委管理员不能创建街道管理员。")
        if committee is not None and committee != principal.committee:
            raise ApiError(403, "forbidden", "只能为本居委会创建账号。")
        committee = principal.committee
    try:
        user = await request.config_dict[ACCOUNTS].add_user(
            data.name, role, committee, data.password, data.display_name
        )
    except UserExists:
        raise ApiError(409, "user_exists", "该用户名已被使用。") from None
    except InvalidAccount as exc:
        raise ApiError(422, "invalid", _account_message(str(exc))) from None
    return ok(models.User.model_validate(user.to_dict()), status=201)


def _account_message(reason: str) -> str:
    if "committee" in reason:
        return "居委会无效：街道管理员不属于任何居委会，其他角色必须属于一个已登记的居委会。"
    if "password" in reason:
        return f"密码无效：长度需为 {MIN_PASSWORD_LEN}–{MAX_PASSWORD_LEN} 个字符且不能全是空格。"
    if "user name" in reason:
        return "用户名无效：2–64 个字符，只能包含字母、数字和 _ . @ -。"
    return "账号信息无效，请检查后重试。"


def add_insight_api_routes(api: web.Application) -> None:
    r = api.router
    r.add_get("/stats", stats)
    r.add_get("/unanswered", unanswered)
    r.add_post("/unanswered/dismiss", dismiss_unanswered)
    r.add_get("/compounds", compounds)
    r.add_get("/group-chats", group_chats)
    r.add_get("/users", list_users)
    r.add_post("/users", create_user)
