"""Insight pages of the console: unanswered questions (``/console/unanswered``) and the
dashboard (``/console/dashboard``).

* Unanswered questions: the committee's resident messages the bot could not answer or only
  guessed at, clustered (``bot.insights.unanswered``). Admins and street admins get, per
  cluster, a link that opens the new-FAQ form pre-filled with the representative question, the
  other wordings and the message ids (the form marks them reviewed when the FAQ is saved), and
  a 忽略 button that marks the cluster's messages reviewed. Caseworkers see the list only.
* Dashboard: a committee's figures (caseworker/admin: their own; street admin:
  ``?committee=``), or the street's totals with a table per committee (street admin without
  ``?committee=`` or with ``?committee=all``), over the last 7, 30 or 90 local days
  (``?days=``). Definitions of the message figures: ``bot.insights.stats``; of the ticket
  figures: ``bot.tickets.dashboard``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot import appkeys
from bot.accounts.http import ensure_committee, require_user
from bot.console.charts import HRow, Series, day_bars, day_lines, hbars, pct
from bot.console.pages import conversation_href, form_data, local_time
from bot.console.rendering import CONSOLE_REGISTRY, render
from bot.console.security import error_page
from bot.domain.accounts import Principal
from bot.domain.clock import shanghai_today
from bot.domain.faq import ID_PATTERN
from bot.domain.tickets import Satisfaction
from bot.insights import Cluster
from bot.insights.stats import STREET, Figures
from bot.insights.unanswered import UNANSWERED_OUTCOMES

log = logging.getLogger(__name__)

RANGES = (7, 30, 90)
DEFAULT_RANGE = 30
SHOWN_CLUSTERS = 50
SHOWN_MESSAGES = 10
"""Member messages listed per cluster (the count covers all)."""
LINK_ALTERNATES = 10
LINK_IDS = 300
"""Message ids carried by one new-FAQ link (keeps the URL short); the rest stay listed."""
OUTCOME_LABELS = {"fallback": "未能回答", "clarify": "低置信度（反问/候选）"}


def _committee_of(request: web.Request, principal: Principal) -> str:
    """The committee a committee-only page acts in ("" when a street admin has not chosen);
    404 outside the caller's scope."""
    asked = request.query.get("committee", "")
    if principal.committee is not None and asked and asked != principal.committee:
        raise web.HTTPNotFound()
    committee = principal.committee or asked
    if committee:
        if not request.config_dict[CONSOLE_REGISTRY].has_committee(committee):
            raise web.HTTPNotFound()
        ensure_committee(principal, committee)
    return committee


def _committees(request: web.Request) -> list[dict[str, str]]:
    return [{"id": c.id, "name": c.name} for c in request.config_dict[CONSOLE_REGISTRY].committees]


def _committee_name(request: web.Request, committee: str) -> str:
    return str(request.config_dict[CONSOLE_REGISTRY].committee(committee).name)


# --- unanswered questions -------------------------------------------------------------------------
ANSWER_WORDINGS = 20
"""Distinct wordings of one cluster proposed when it is answered with an FAQ."""
LINK_MAX_BYTES = 6000
"""Well under aiohttp's 8190-byte request line."""


def faq_link(cluster: Cluster, committee: str, principal: Principal) -> str:
    """The new-FAQ form pre-filled from a cluster."""
    alternates = cluster.alternates(LINK_ALTERNATES)
    ids = list(cluster.message_ids[:LINK_IDS])
    while True:
        params: list[tuple[str, str]] = [("question", cluster.representative[:200])]
        params += [("alternate", a) for a in alternates]
        params.append(("message_ids", ",".join(str(i) for i in ids)))
        if principal.committee is None:
            params.append(("committee", committee))
        link = "/console/faqs/new?" + urlencode(params)
        # Browsers and aiohttp refuse long request lines: drop phrasings, then ids, to fit.
        if len(link) <= LINK_MAX_BYTES or (not alternates and len(ids) <= 1):
            return link
        if alternates:
            alternates = alternates[:-1]
        else:
            ids = ids[: len(ids) // 2]


def cluster_row(
    cluster: Cluster, number: int, committee: str, principal: Principal
) -> dict[str, Any]:
    return {
        "number": number,
        "question": cluster.representative,
        "size": cluster.size,
        "fallbacks": cluster.fallbacks,
        "clarifies": cluster.size - cluster.fallbacks,
        "first_seen": local_time(cluster.first_seen),
        "last_seen": local_time(cluster.last_seen),
        "messages": [
            {
                "text": m.text,
                "at": local_time(m.created_at),
                "outcome": OUTCOME_LABELS.get(m.outcome, m.outcome),
                "href": conversation_href(m.conversation_key),
            }
            for m in cluster.messages[:SHOWN_MESSAGES]
        ],
        "more": max(cluster.size - SHOWN_MESSAGES, 0),
        "faq_href": faq_link(cluster, committee, principal),
        "ids": ",".join(str(i) for i in cluster.message_ids),
    }


async def unanswered(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    committee = _committee_of(request, principal)
    if not committee:
        return await render(
            request,
            "unanswered.html",
            {"committee": "", "committees": _committees(request), "clusters": []},
        )
    clusters = await request.config_dict[appkeys.UNANSWERED].clusters(committee)
    shown = clusters[:SHOWN_CLUSTERS]
    context = {
        "committee": committee,
        "committee_name": _committee_name(request, committee),
        "committees": [],
        "clusters": [cluster_row(c, i, committee, principal) for i, c in enumerate(shown, 1)],
        "total_clusters": len(clusters),
        "total_messages": sum(c.size for c in clusters),
        "can_edit": principal.is_admin,
        "dismiss_action": "/console/unanswered/dismiss",
        "answer_action": "/console/unanswered/answer",
        "faq_options": [
            {"id": e.id, "question": e.question}
            for e in await request.config_dict[appkeys.FAQS].entries(committee)
        ],
        "answered": request.query.get("answered", ""),
        "dismissed": request.query.get("dismissed", ""),
    }
    return await render(request, "unanswered.html", context)


async def dismiss(request: web.Request) -> web.StreamResponse:
    """忽略: mark a cluster's messages reviewed (admins and street admins)."""
    principal = await require_user(request)
    if not principal.is_admin:
        raise web.HTTPForbidden()
    form = await form_data(request)
    committee = principal.committee or form.get("committee", "")
    if not committee or not request.config_dict[CONSOLE_REGISTRY].has_committee(committee):
        raise web.HTTPNotFound()
    ensure_committee(principal, committee)
    try:
        ids = [int(part) for part in form.get("message_ids", "").split(",") if part.strip()]
    except ValueError:
        ids = []
    if not ids or len(ids) > 10_000 or any(i <= 0 or i >= 2**63 for i in ids):
        return await error_page(request, 422, "没有选择要忽略的问题，请返回页面重试。")
    marked = await request.config_dict[appkeys.UNANSWERED].dismiss(committee, ids)
    log.info("unanswered questions dismissed", extra={"committee": committee, "n": marked})
    query = {"dismissed": str(marked)}
    if principal.committee is None:
        query["committee"] = committee
    raise web.HTTPSeeOther("/console/unanswered?" + urlencode(query))


async def answer_with_faq(request: web.Request) -> web.StreamResponse:
    """用已有问答解答: a caseworker says an existing FAQ answers a cluster. Each wording is
    proposed as an alternate of that entry (an admin accepts it on the FAQ page) and the
    messages leave the list."""
    principal = await require_user(request)
    form = await form_data(request)
    committee = principal.committee or form.get("committee", "")
    if not committee or not request.config_dict[CONSOLE_REGISTRY].has_committee(committee):
        raise web.HTTPNotFound()
    ensure_committee(principal, committee)
    faqs = request.config_dict[appkeys.FAQS]
    faq_id = form.get("faq_id", "").strip()
    entry = await faqs.entry(committee, faq_id) if ID_PATTERN.match(faq_id) else None
    if entry is None:
        return await error_page(request, 422, "没有找到这个常见问题，请从列表中选择后重试。")
    try:
        ids = {int(part) for part in form.get("message_ids", "").split(",") if part.strip()}
    except ValueError:
        ids = set()
    if not ids or len(ids) > 10_000 or any(i <= 0 or i >= 2**63 for i in ids):
        return await error_page(request, 422, "没有选择要解答的问题，请返回页面重试。")
    log_ = request.config_dict[appkeys.MESSAGE_LOG]
    records = await log_.recent_inbound(
        committee, limit=5000, outcomes=UNANSWERED_OUTCOMES, include_reviewed=False
    )
    wordings = list(dict.fromkeys(r.text.strip() for r in records if r.id in ids))
    for text in wordings[:ANSWER_WORDINGS]:
        await faqs.propose(committee, entry.id, text, "caseworker")
    marked = await log_.mark_reviewed(committee, sorted(ids))
    log.info(
        "unanswered questions answered with an FAQ",
        extra={"committee": committee, "faq": entry.id, "n": marked},
    )
    query = {"answered": str(marked)}
    if principal.committee is None:
        query["committee"] = committee
    raise web.HTTPSeeOther("/console/unanswered?" + urlencode(query))


# --- dashboard ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Scope:
    committee: str
    """A committee id, or STREET."""
    days: int


def _scope(request: web.Request, principal: Principal) -> Scope | str:
    """What the dashboard shows, or an error message for a bad ``?days=``."""
    raw_days = request.query.get("days", str(DEFAULT_RANGE))
    if raw_days not in {str(d) for d in RANGES}:
        return "时间范围只能是最近 7 天、30 天或 90 天。"
    asked = request.query.get("committee", "")
    if principal.committee is not None:
        if asked and asked != principal.committee:
            raise web.HTTPNotFound()
        return Scope(principal.committee, int(raw_days))
    if asked in ("", STREET):
        return Scope(STREET, int(raw_days))
    if not request.config_dict[CONSOLE_REGISTRY].has_committee(asked):
        raise web.HTTPNotFound()
    return Scope(asked, int(raw_days))


def _ratio_text(good: int, total: int, rate: float | None) -> str:
    return f"{pct(rate)}（{good}/{total}）"


def charts(f: Figures) -> list[Any]:
    m, t = f.messages, f.tickets
    days = [d.day for d in m.days]
    out = [
        day_bars(
            "chart-messages",
            "每日居民消息数",
            "每天收到的居民消息，以及其中需要邻里助手回答的消息。",
            days,
            [
                Series("收到的居民消息", [d.received for d in m.days], "s1"),
                Series("需机器人回答", [d.to_bot for d in m.days], "s2"),
            ],
        ),
        day_lines(
            "chart-rates",
            "每日机器人解答率与转人工率",
            "机器人解答率 = 机器人自行解答的消息 ÷ 需机器人回答的消息；"
            "转人工率 = 转给社工（含紧急情况）的消息 ÷ 需机器人回答的消息。没有消息的日子不画点。",
            days,
            [
                Series("机器人解答率", [d.answered_rate for d in m.days], "s2", percent=True),
                Series("转人工率", [d.handoff_rate for d in m.days], "s3", percent=True),
            ],
        ),
        day_bars(
            "chart-tickets",
            "每日工单新建与办结数",
            "每天新建的工单数和办结的工单数（同一工单重开后再次办结计两次）。",
            [d.day for d in t.days],
            [
                Series("新建工单", [d.opened for d in t.days], "s1"),
                Series("办结工单", [d.resolved for d in t.days], "s4"),
            ],
        ),
        hbars(
            "chart-sla",
            "工单时限达标率",
            "所选时间内新建、时限已有结果的工单中，按时首次响应和按时办结的比例。",
            [
                HRow(
                    "首次响应",
                    t.first_response.rate or 0.0,
                    _ratio_text(
                        t.first_response.good, t.first_response.total, t.first_response.rate
                    ),
                    "s2",
                ),
                HRow(
                    "办结时限",
                    t.resolution.rate or 0.0,
                    _ratio_text(t.resolution.good, t.resolution.total, t.resolution.rate),
                    "s4",
                ),
            ],
            ["时限", "达标率（达标/已有结果）"],
        ),
    ]
    rated = sum(t.ratings.values())
    out.append(
        hbars(
            "chart-satisfaction",
            f"居民满意率 {pct(t.satisfaction.rate)}",
            "所选时间内居民对办结工单的评价：满意率 =（满意 + 基本满意）÷ 全部评价。",
            [
                HRow(
                    s.label,
                    (t.ratings.get(s, 0) / rated) if rated else 0.0,
                    f"{t.ratings.get(s, 0)} 条",
                    {1: "s4", 2: "s2", 3: "s3"}[int(s)],
                )
                for s in Satisfaction
            ],
            ["评价", "条数"],
        )
    )
    return out


def summary(f: Figures) -> dict[str, Any]:
    total, t = f.messages.total, f.tickets
    return {
        "received": total.received,
        "to_bot": total.to_bot,
        "answered": total.answered,
        "handed_over": total.handed_over,
        "unanswered": total.unanswered,
        "human": total.human,
        "answered_rate": pct(total.answered_rate),
        "handoff_rate": pct(total.handoff_rate),
        "opened": t.opened,
        "resolved": t.resolved,
        "first_response": pct(t.first_response.rate),
        "resolution": pct(t.resolution.rate),
        "satisfaction": pct(t.satisfaction.rate),
        "rated": t.satisfaction.total,
    }


DELIVERY_COLUMNS = (
    ("passive", "被动回复"),
    ("active", "已发送"),
    ("failed", "发送失败"),
    ("undeliverable", "无法送达"),
)
"""The delivery table's columns (``pull``, the /try page's, counts as sent; a retry under
way, and a late reply still being sent, as failed: neither has reached the resident yet)."""
CHANNEL_NAMES = {
    "wechat_mp": "微信公众号",
    "wecom_bot": "企业微信",
    "wechat_kf": "微信客服",
    "webhook": "接入网关",
}


def delivery_rows(f: Figures) -> list[dict[str, Any]]:
    """One row per day and channel: outbound messages by how they went out."""
    rows = []
    for d in f.deliveries:
        counts = dict(d.counts)
        counts["active"] = counts.get("active", 0) + counts.pop("pull", 0)
        counts["failed"] = (
            counts.get("failed", 0) + counts.pop("sending", 0) + counts.pop("pending", 0)
        )
        rows.append(
            {
                "day": d.day.isoformat(),
                "channel": CHANNEL_NAMES.get(d.channel, d.channel),
                "counts": [counts.get(key, 0) for key, _ in DELIVERY_COLUMNS],
                "total": d.total,
                "problem": counts["failed"] + counts.get("undeliverable", 0) > 0,
            }
        )
    return rows


async def dashboard(request: web.Request) -> web.StreamResponse:
    principal = await require_user(request)
    scope = _scope(request, principal)
    if isinstance(scope, str):
        return await error_page(request, 400, scope)
    end = shanghai_today()
    start = end - timedelta(days=scope.days - 1)
    service = request.config_dict[appkeys.DASHBOARD]
    registry = request.config_dict[CONSOLE_REGISTRY]
    rows: list[dict[str, Any]] = []
    if scope.committee == STREET:
        figures, parts = await service.street([c.id for c in registry.committees], start, end)
        title = registry.street_office_name or "全街道"
        for part in parts:
            rows.append(
                {
                    "name": _committee_name(request, part.committee),
                    "href": "/console/dashboard?"
                    + urlencode({"committee": part.committee, "days": scope.days}),
                    **summary(part),
                }
            )
    else:
        figures = await service.committee(scope.committee, start, end)
        title = _committee_name(request, scope.committee)
    base: dict[str, str] = {}
    if principal.committee is None:
        base["committee"] = scope.committee
    context = {
        "title": title,
        "street": scope.committee == STREET,
        "is_street_admin": principal.committee is None,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "days": scope.days,
        "ranges": [
            {
                "days": d,
                "href": "/console/dashboard?" + urlencode({**base, "days": d}),
                "current": d == scope.days,
            }
            for d in RANGES
        ],
        "committee": scope.committee,
        "committees": _committees(request),
        "summary": summary(figures),
        "charts": charts(figures),
        "rows": rows,
        "delivery_columns": [label for _, label in DELIVERY_COLUMNS],
        "deliveries": delivery_rows(figures),
    }
    return await render(request, "dashboard.html", context)


def add_insight_pages(console: web.Application) -> None:
    r = console.router
    r.add_get("/unanswered", unanswered)
    r.add_post("/unanswered/dismiss", dismiss)
    r.add_post("/unanswered/answer", answer_with_faq)
    r.add_get("/dashboard", dashboard)
