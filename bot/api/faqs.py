"""The committee's FAQ: list and search, one entry, create / edit / retire, history and
revert. Caseworkers read; the committee's admin (居委管理员) and street admins change.
Every change is recorded (who, when, before/after) and live within seconds
(``bot.faqs``)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from aiohttp import web

from bot import appkeys
from bot.accounts.http import ApiError
from bot.api import models
from bot.api.common import acting, body, ok
from bot.domain.accounts import Principal
from bot.domain.clock import shanghai_today
from bot.domain.faq import FaqEntry
from bot.faqs.diff import diff
from bot.faqs.filters import matches, state_of
from bot.faqs.service import FaqService, NothingToRestore, ProposalNotFound, RevisionNotFound
from bot.faqs.texts import actor_text
from bot.faqs.validation import InvalidFaq
from bot.storage.faqs import FaqConflict, FaqRevision, Proposal

STATES: tuple[Literal["all", "active", "expired", "upcoming"], ...] = (
    "all",
    "active",
    "expired",
    "upcoming",
)
NOT_FOUND = "没有找到该常见问题。"
FORBIDDEN = "只有居委管理员或街道管理员可以修改常见问题。"


def faq_out(entry: FaqEntry, today: date | None = None) -> models.Faq:
    return models.Faq.model_validate(
        {**entry.to_dict(), "state": state_of(entry, today or shanghai_today())}
    )


def revision_out(r: FaqRevision) -> models.FaqRevision:
    return models.FaqRevision(
        id=r.id,
        action=r.action,
        actor=r.actor,
        at=r.created_at,
        before=r.before,
        after=r.after,
        changes=[
            models.FieldChange(field=c.field, before=c.before, after=c.after)
            for c in diff(r.before, r.after)
        ],
    )


def actor_name(principal: Principal) -> str:
    return actor_text(principal.display_name, principal.name)


async def scope(request: web.Request) -> tuple[Principal, str, FaqService]:
    """The caller, a committee of the registry they may act in, and the FAQ service."""
    principal, committee = await acting(request)
    if not request.config_dict[appkeys.REGISTRY].has_committee(committee):
        raise ApiError(404, "not_found", "没有找到该居委会。")
    return principal, committee, request.config_dict[appkeys.FAQS]


def require_editor(principal: Principal) -> None:
    if not principal.is_admin:
        raise ApiError(403, "forbidden", FORBIDDEN)


def _input(data: models.FaqIn, faq_id: str) -> dict[str, Any]:
    raw = data.model_dump(mode="json")
    raw["id"] = faq_id
    return raw


def _invalid(exc: InvalidFaq) -> ApiError:
    return ApiError(422, "invalid", exc.first)


# --- handlers -----------------------------------------------------------------------------------
async def list_faqs(request: web.Request) -> web.Response:
    """The committee's live entries, filtered by ``q``, ``topic``, ``compound``, ``state``."""
    _, committee, faqs = await scope(request)
    query = request.query
    state = query.get("state", "all")
    if state not in STATES:
        raise ApiError(422, "invalid", "state 只能是 all、active、expired 或 upcoming。")
    today = shanghai_today()
    found = [
        faq_out(e, today)
        for e in await faqs.entries(committee)
        if matches(
            e,
            today,
            q=query.get("q", ""),
            topic=query.get("topic", ""),
            compound=query.get("compound", ""),
            state=state,
        )
    ]
    return ok(models.FaqList(faqs=found, count=len(found)))


async def get_faq(request: web.Request) -> web.Response:
    _, committee, faqs = await scope(request)
    entry = await faqs.entry(committee, request.match_info["faq_id"])
    if entry is None:
        raise ApiError(404, "not_found", NOT_FOUND)
    return ok(faq_out(entry))


async def create_faq(request: web.Request) -> web.Response:
    principal, committee, faqs = await scope(request)
    require_editor(principal)
    data = await body(request, models.FaqCreateIn)
    try:
        entry = faqs.validate(committee, _input(data, data.id), new=True)
    except InvalidFaq as exc:
        raise _invalid(exc) from None
    try:
        await faqs.create(committee, entry, actor_name(principal))
    except FaqConflict:
        raise ApiError(409, "exists", f"编号“{entry.id}”已被其他常见问题使用。") from None
    saved = await faqs.entry(committee, entry.id)
    assert saved is not None
    return ok(faq_out(saved), status=201)


async def update_faq(request: web.Request) -> web.Response:
    principal, committee, faqs = await scope(request)
    require_editor(principal)
    faq_id = request.match_info["faq_id"]
    if await faqs.entry(committee, faq_id) is None:
        raise ApiError(404, "not_found", NOT_FOUND)
    data = await body(request, models.FaqIn)
    try:
        entry = faqs.validate(committee, _input(data, faq_id))
    except InvalidFaq as exc:
        raise _invalid(exc) from None
    try:
        await faqs.update(committee, entry, actor_name(principal))
    except FaqConflict:
        raise ApiError(404, "not_found", NOT_FOUND) from None
    saved = await faqs.entry(committee, faq_id)
    if saved is None:
        raise ApiError(404, "not_found", NOT_FOUND)
    return ok(faq_out(saved))


async def delete_faq(request: web.Request) -> web.Response:
    principal, committee, faqs = await scope(request)
    require_editor(principal)
    faq_id = request.match_info["faq_id"]
    revision = await faqs.delete(committee, faq_id, actor_name(principal))
    if revision is None:
        raise ApiError(404, "not_found", NOT_FOUND)
    return ok(models.FaqDeleted(id=faq_id, deleted=True, revision=revision.id))


async def faq_history(request: web.Request) -> web.Response:
    """Every change of the entry, oldest first (also of a retired entry)."""
    _, committee, faqs = await scope(request)
    faq_id = request.match_info["faq_id"]
    if await faqs.get(committee, faq_id) is None:
        raise ApiError(404, "not_found", NOT_FOUND)
    revisions = await faqs.history(committee, faq_id)
    return ok(models.FaqHistory(revisions=[revision_out(r) for r in revisions]))


async def revert_faq(request: web.Request) -> web.Response:
    """Restore the entry to its state after a revision (reviving it if retired)."""
    principal, committee, faqs = await scope(request)
    require_editor(principal)
    faq_id = request.match_info["faq_id"]
    if await faqs.get(committee, faq_id) is None:
        raise ApiError(404, "not_found", NOT_FOUND)
    data = await body(request, models.RevertIn)
    try:
        await faqs.revert(committee, faq_id, data.revision, actor_name(principal))
    except RevisionNotFound:
        raise ApiError(404, "not_found", "没有找到该常见问题的这个版本。") from None
    except NothingToRestore:
        raise ApiError(422, "invalid", "这个版本删除了该条目，没有可以恢复的内容。") from None
    except InvalidFaq as exc:
        raise ApiError(422, "invalid", "这个版本已不能恢复：" + exc.first) from None
    entry = await faqs.entry(committee, faq_id)
    if entry is None:
        raise ApiError(422, "invalid", "该版本的内容已无法读取。")
    return ok(faq_out(entry))


async def faq_proposals(request: web.Request) -> web.Response:
    """The entry's open proposed alternates (residents' phrasings), most frequent first."""
    _, committee, faqs = await scope(request)
    faq_id = request.match_info["faq_id"]
    if await faqs.entry(committee, faq_id) is None:
        raise ApiError(404, "not_found", NOT_FOUND)
    proposals = await faqs.proposals_for(committee, faq_id)
    return ok(models.FaqProposals(proposals=[proposal_out(p) for p in proposals]))


async def decide_proposal(request: web.Request) -> web.Response:
    """Accept (a revision adding the alternate, live at once) or dismiss a proposal."""
    principal, committee, faqs = await scope(request)
    require_editor(principal)
    faq_id = request.match_info["faq_id"]
    raw = request.match_info["proposal_id"]
    if await faqs.entry(committee, faq_id) is None or not raw.isdigit() or len(raw) > 18:
        raise ApiError(404, "not_found", NOT_FOUND)
    data = await body(request, models.ProposalDecisionIn)
    actor = actor_name(principal)
    try:
        if data.decision == "accept":
            await faqs.accept_proposal(committee, faq_id, int(raw), actor)
        else:
            await faqs.dismiss_proposal(committee, faq_id, int(raw), actor)
    except (ProposalNotFound, FaqConflict):
        raise ApiError(404, "not_found", "没有找到这个待处理的问法。") from None
    except InvalidFaq as exc:
        raise ApiError(422, "invalid", exc.first) from None
    entry = await faqs.entry(committee, faq_id)
    if entry is None:
        raise ApiError(404, "not_found", NOT_FOUND)
    return ok(faq_out(entry))


def proposal_out(p: Proposal) -> models.FaqProposal:
    return models.FaqProposal(
        id=p.id,
        text=p.text,
        count=p.count,
        source=p.source,
        first_at=p.first_at,
        last_at=p.last_at,
    )
