"""Consultations as caseworkers and residents use them.

Who votes: one vote per *verified* household. The household's vote belongs to its voter
binding (the first verified member, or whom a caseworker chose: ``bot.households``); a
household with verified members but no voter (it cannot normally happen: the vote always
passes to a verified member) lets any verified member vote. Another member of the same
household is refused politely and told who votes; a claimed (unverified) binding is
refused with how to get verified. The vote is the household's: when its voter changes, the
new voter may change the vote until closing. Every cast or change is receipted (number and
time) and written to the audit trail in the same transaction; in a secret ballot the audit
entry does not name the choice.

Caseworkers' calls name an ``Actor``; another committee's consultation is
``ConsultationNotFound``, exactly like one that does not exist."""

from __future__ import annotations

import enum
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.consultations import texts
from bot.consultations.rules import Ballot, Outcome, Rule, decide, percent
from bot.domain import links
from bot.domain.clock import SHANGHAI
from bot.domain.registry import Registry
from bot.domain.tickets import Actor, ResidentId
from bot.households import Households
from bot.storage.consultations import (
    AuditEntry,
    AuditNote,
    Consultation,
    ConsultationDraft,
    ConsultationError,
    ConsultationNotFound,
    ConsultationStatus,
    ConsultationStore,
    Eligible,
    Reminder,
    Vote,
    VoteResult,
)
from bot.storage.households import Binding, BindingStatus, Household

DEFAULT_OPTIONS = ("同意", "不同意", "弃权")
MAX_OPTIONS = 9
MAX_TITLE = 200
MAX_PLAN = 20000
MAX_OPTION = 20
LINK_PURPOSE = "vote"
"""What the voting page's links are signed for (``bot.domain.links``)."""

ResidentPush = Callable[[str, ResidentId, str], Awaitable[bool]]
"""Send a text privately to a resident (committee, resident, text); True when delivered."""

ACTION_LABELS = {
    "created": "创建",
    "edited": "修改",
    "published": "发布",
    "vote_cast": "投票",
    "vote_changed": "改票",
    "invited": "邀请投票",
    "reminder": "提醒",
    "closed": "结束",
    "exported": "导出",
}


class Refusal(enum.StrEnum):
    NOT_BOUND = "not_bound"
    CLAIMED = "claimed"
    REJECTED = "rejected"
    NOT_VOTER = "not_voter"
    NOT_ELIGIBLE = "not_eligible"

    def text(self, voter_name: str = "") -> str:
        if self is Refusal.NOT_VOTER:
            return texts.not_voter(voter_name)
        return {
            Refusal.NOT_BOUND: texts.NOT_BOUND,
            Refusal.CLAIMED: texts.CLAIMED,
            Refusal.REJECTED: texts.REJECTED,
            Refusal.NOT_ELIGIBLE: texts.NOT_ELIGIBLE,
        }[self]


@dataclass(frozen=True, slots=True)
class Voter:
    """Who may vote for a household, or why not (``refusal``)."""

    binding: Binding | None
    household: Household | None
    refusal: Refusal | None = None
    voter_name: str = ""


@dataclass(frozen=True, slots=True)
class Cast:
    """A vote's outcome for the resident: ``result`` when it was recorded, else ``message``."""

    result: VoteResult | None
    message: str


@dataclass(frozen=True, slots=True)
class HouseholdLine:
    household_id: int
    address: str
    building: str
    floor_area: float | None
    vote: Vote | None
    reminded: int


@dataclass(frozen=True, slots=True)
class LinkCheck:
    consultation: Consultation | None
    link_id: int
    household_id: int
    binding_id: int
    error: str
    """Empty when usable; else why not, in Chinese."""


class Consultations:
    def __init__(
        self,
        store: ConsultationStore,
        households: Households,
        registry: Registry,
        *,
        link_key: bytes,
        link_ttl: timedelta,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self._households = households
        self._registry = registry
        self._link_key = link_key
        self.link_ttl = link_ttl
        self._now = clock or (lambda: datetime.now(UTC))
        self.push: ResidentPush | None = None
        """Set by the composition root once the channels exist."""

    def now(self) -> datetime:
        return self._now()

    # --- caseworkers ---------------------------------------------------------------------

    async def create(self, committee: str, fields: dict[str, Any], actor: Actor) -> Consultation:
        draft = await self._draft(committee, fields)
        return await self.store.create(
            committee, draft, actor.name, self._now(), _note(actor, "created", draft.title)
        )

    async def edit(
        self, committee: str, cid: int, fields: dict[str, Any], actor: Actor
    ) -> Consultation:
        await self.get(committee, cid)
        draft = await self._draft(committee, fields)
        return await self.store.edit(
            committee, cid, draft, self._now(), _note(actor, "edited", draft.title)
        )

    async def publish(self, committee: str, cid: int, actor: Actor) -> Consultation:
        c = await self.get(committee, cid)
        found = await self._households.store.households(committee, compound=c.compound)
        eligible = [
            Eligible(h.id, h.floor_area)
            for h in found
            if not c.buildings or h.building in c.buildings
        ]
        if not eligible:
            raise ConsultationError("范围内没有已录入的户，不能发布。请先导入门牌。")
        now = self._now()
        if c.closes_at <= now:
            raise ConsultationError("截止时间已过，请先修改截止时间。")
        detail = f"范围内 {len(eligible)} 户"
        published = await self.store.publish(
            committee, cid, eligible, now, _note(actor, "published", detail)
        )
        if published.is_open(now):
            await self.invite(published)
        return published

    async def invite(self, c: Consultation) -> int:
        """Send the invitation privately to the voter of every eligible household (once,
        whichever worker gets there first); the number reached."""
        now = self._now()
        if not await self.store.claim_invitations(c.committee, c.id, now):
            return 0
        text = texts.invitation(c.title, self.scope(c), c.opens_at, c.closes_at, c.options)
        sent: list[tuple[int, int, bool]] = []
        for e in await self.store.eligible(c.committee, c.id):
            voter = await self._household_voter(c.committee, e.household_id)
            if voter is None:
                continue
            delivered = False
            if self.push is not None:
                delivered = await self.push(c.committee, voter.resident, text)
            sent.append((e.household_id, voter.id, delivered))
        reached = sum(1 for s in sent if s[2])
        note = AuditNote("linli", "邻里", "invited", f"邀请 {len(sent)} 户，送达 {reached} 户")
        await self.store.record_reminder(c.committee, c.id, sent, now, note, invitation=True)
        return reached

    async def tick(self) -> None:
        """The periodic work: invitations of consultations that opened, and closing those
        whose time is up."""
        for c in await self.store.to_invite(self._now()):
            await self.invite(c)
        await self.close_due()

    async def close(self, committee: str, cid: int, actor: Actor | None = None) -> Consultation:
        c = await self.get(committee, cid)
        if c.status is not ConsultationStatus.PUBLISHED:
            raise ConsultationError(
                "这个征询已经结束了。"
                if c.status is ConsultationStatus.CLOSED
                else "草稿不能结束。"
            )
        outcome = await self.tally(committee, cid)
        who = actor or Actor.caseworker("system", "系统（到截止时间自动结束）")
        closed = await self.store.close(
            committee,
            cid,
            result_of(outcome),
            who.name,
            self._now(),
            _note(who, "closed", outcome.summary()),
        )
        if closed is None:
            return await self.get(committee, cid)
        return closed

    async def close_due(self) -> list[Consultation]:
        """Close every published consultation whose closing time has passed (any worker may
        run it: a consultation closed meanwhile by another is left as it is)."""
        done = []
        for c in await self.store.due(self._now()):
            try:
                done.append(await self.close(c.committee, c.id))
            except ConsultationError:
                continue
        return done

    async def get(self, committee: str, cid: int) -> Consultation:
        c = await self.store.get(committee, cid)
        if c is None:
            raise ConsultationNotFound("没有找到该征询。")
        return c

    async def all(self, committee: str) -> list[Consultation]:
        return await self.store.all(committee)

    async def tally(self, committee: str, cid: int) -> Outcome:
        c = await self.get(committee, cid)
        eligible = await self.store.eligible(committee, cid)
        votes = {v.household_id: v.choice for v in await self.store.votes(committee, cid)}
        ballots = [
            Ballot(e.household_id, e.floor_area, votes.get(e.household_id)) for e in eligible
        ]
        return decide(Rule(c.rule), c.options, ballots)

    async def lines(self, committee: str, cid: int) -> list[HouseholdLine]:
        """Every eligible household with its vote (the caller hides choices of a secret
        ballot) and how often it was reminded."""
        c = await self.get(committee, cid)
        eligible = await self.store.eligible(committee, cid)
        homes = {
            h.id: h for h in await self._households.store.households(committee, compound=c.compound)
        }
        votes = {v.household_id: v for v in await self.store.votes(committee, cid)}
        reminded: dict[int, int] = {}
        for r in await self.store.reminders(committee, cid):
            reminded[r.household_id] = reminded.get(r.household_id, 0) + 1
        out = []
        for e in eligible:
            h = homes.get(e.household_id)
            out.append(
                HouseholdLine(
                    e.household_id,
                    self._households.address(h) if h else f"户 {e.household_id}",
                    h.building if h else "",
                    e.floor_area,
                    votes.get(e.household_id),
                    reminded.get(e.household_id, 0),
                )
            )
        return out

    async def audit(self, committee: str, cid: int) -> list[AuditEntry]:
        await self.get(committee, cid)
        return await self.store.audit(committee, cid)

    async def reminders(self, committee: str, cid: int) -> list[Reminder]:
        return await self.store.reminders(committee, cid)

    async def remind(self, committee: str, cid: int, actor: Actor) -> tuple[int, int, int]:
        """One reminder round to the eligible households that have not voted, through the
        private channel of their voter. ``(round, households reminded, delivered)``;
        ConsultationError when the consultation is not open or its reminders are used up."""
        c = await self.get(committee, cid)
        now = self._now()
        if not c.is_open(now):
            raise ConsultationError("只有正在进行的征询才能发送提醒。")
        if c.reminders_sent >= c.max_reminders:
            raise ConsultationError(f"本次征询最多提醒 {c.max_reminders} 次，已经用完。")
        voted = {v.household_id for v in await self.store.votes(committee, cid)}
        waiting = [
            e for e in await self.store.eligible(committee, cid) if e.household_id not in voted
        ]
        text = texts.reminder(c.title, c.closes_at, c.options)
        sent: list[tuple[int, int, bool]] = []
        for e in waiting:
            voter = await self._household_voter(committee, e.household_id)
            if voter is None:
                continue  # nobody verified to reach: the caseworkers' list shows it
            delivered = False
            if self.push is not None:
                delivered = await self.push(committee, voter.resident, text)
            sent.append((e.household_id, voter.id, delivered))
        reached = sum(1 for s in sent if s[2])
        detail = f"未投票 {len(waiting)} 户，提醒 {len(sent)} 户，送达 {reached} 户"
        round_no = await self.store.record_reminder(
            committee, cid, sent, now, _note(actor, "reminder", detail)
        )
        return round_no, len(sent), reached

    async def export_logged(self, committee: str, cid: int, actor: Actor, what: str) -> None:
        await self.store.log(committee, cid, self._now(), _note(actor, "exported", what))

    # --- residents -----------------------------------------------------------------------

    async def voter(self, committee: str, resident: ResidentId) -> Voter:
        binding = await self._households.store.binding_of(committee, resident)
        if binding is None:
            return Voter(None, None, Refusal.NOT_BOUND)
        household = await self._households.store.household(committee, binding.household_id)
        if household is None:
            return Voter(None, None, Refusal.NOT_BOUND)
        if binding.status is BindingStatus.CLAIMED:
            return Voter(binding, household, Refusal.CLAIMED)
        if binding.status is BindingStatus.REJECTED:
            return Voter(binding, household, Refusal.REJECTED)
        if not binding.voter:
            current = await self._household_voter(committee, household.id)
            if current is not None and current.id != binding.id:
                return Voter(binding, household, Refusal.NOT_VOTER, current.sender_name)
        return Voter(binding, household)

    async def for_resident(self, committee: str, resident: ResidentId) -> list[Consultation]:
        """Published consultations of the resident's household (bound, verified or not)."""
        binding = await self._households.store.binding_of(committee, resident)
        if binding is None:
            return []
        return await self.store.published_for(committee, binding.household_id)

    async def vote_of(self, committee: str, cid: int, resident: ResidentId) -> Vote | None:
        binding = await self._households.store.binding_of(committee, resident)
        if binding is None:
            return None
        return await self.store.vote_of(committee, cid, binding.household_id)

    async def vote(
        self,
        committee: str,
        cid: int,
        resident: ResidentId,
        choice: int,
        via: str,
        *,
        link_id: int | None = None,
        binding_id: int | None = None,
    ) -> Cast:
        """Cast or change the household's vote (``choice``: the option's index)."""
        c = await self.get(committee, cid)
        who = await self.voter(committee, resident)
        if who.refusal is not None or who.binding is None or who.household is None:
            refusal = who.refusal or Refusal.NOT_BOUND
            return Cast(None, refusal.text(who.voter_name))
        if binding_id is not None and who.binding.id != binding_id:
            return Cast(None, "这个投票链接已不属于您家的投票人，请在聊天里重新获取。")
        now = self._now()
        if c.status is ConsultationStatus.CLOSED or now >= c.closes_at:
            return Cast(None, texts.CLOSED)
        if not c.is_open(now):
            return Cast(None, texts.NOT_OPEN_YET)
        if not 0 <= choice < len(c.options):
            return Cast(None, texts.NO_SUCH_OPTION)
        receipt = f"ZX{c.id:03d}-{secrets.token_hex(3).upper()}"
        before = await self.store.vote_of(committee, cid, who.household.id)
        action = "vote_changed" if before is not None else "vote_cast"
        address = self._households.address(who.household)
        shown = "（不记名）" if c.secret else f"：{c.options[choice]}"
        note = AuditNote(
            resident.key, who.binding.sender_name, action, f"{address}{shown}，回执 {receipt}"
        )
        try:
            result = await self.store.cast(
                committee,
                cid,
                who.household.id,
                who.binding.id,
                who.binding.sender_name,
                choice,
                via,
                receipt,
                now,
                note,
                link_id,
            )
        except ConsultationNotFound:
            raise
        except ConsultationError as exc:
            return Cast(None, str(exc))
        return Cast(
            result,
            texts.receipt(c.title, c.options[choice], receipt, now, result.changed),
        )

    # --- signed voting links -------------------------------------------------------------

    async def issue_link(self, committee: str, cid: int, resident: ResidentId) -> str | Refusal:
        """A one-time token for the voting page, for the household's voter."""
        who = await self.voter(committee, resident)
        if who.refusal is not None or who.binding is None or who.household is None:
            return who.refusal or Refusal.NOT_BOUND
        eligible = {e.household_id for e in await self.store.eligible(committee, cid)}
        if who.household.id not in eligible:
            return Refusal.NOT_ELIGIBLE
        now = self._now()
        expires = now + self.link_ttl
        link_id = await self.store.add_link(
            committee, cid, who.household.id, who.binding.id, now, expires
        )
        return links.sign(
            self._link_key, LINK_PURPOSE, committee, link_id, int(expires.timestamp())
        )

    async def check_link(self, token: str) -> LinkCheck:
        """The link behind a token: forged, expired or used ones say why (Chinese)."""
        bad = LinkCheck(None, 0, 0, 0, "投票链接无效，请在聊天里回复“投票页面”重新获取。")
        signed = links.verify(self._link_key, LINK_PURPOSE, token)
        if signed is None:
            return bad
        committee = signed.committee
        if not self._registry.has_committee(committee):
            return bad
        link = await self.store.link(committee, signed.item)
        if link is None:
            return bad
        consultation = await self.store.get(committee, link.consultation_id)
        error = ""
        if link.used_at is not None:
            error = (
                "这个投票链接已经用过了（每个链接只能投一次）。"
                "如需修改，请在聊天里回复“投票页面”重新获取。"
            )
        elif link.expires_at <= self._now():
            error = "这个投票链接已经过期，请在聊天里回复“投票页面”重新获取。"
        return LinkCheck(consultation, link.id, link.household_id, link.binding_id, error)

    async def resident_of(self, committee: str, binding_id: int) -> Binding | None:
        return await self._households.store.binding(committee, binding_id)

    # --- helpers -------------------------------------------------------------------------

    async def _household_voter(self, committee: str, household_id: int) -> Binding | None:
        members = await self._households.store.bindings(committee, household_id=household_id)
        verified = [b for b in members if b.status is BindingStatus.VERIFIED]
        for b in verified:
            if b.voter:
                return b
        return verified[0] if verified else None

    async def _draft(self, committee: str, fields: dict[str, Any]) -> ConsultationDraft:
        title = str(fields.get("title") or "").strip()
        plan = str(fields.get("plan") or "").strip()
        if not title or len(title) > MAX_TITLE:
            raise ConsultationError(f"请填写标题（不超过 {MAX_TITLE} 个字）。")
        if not plan or len(plan) > MAX_PLAN:
            raise ConsultationError(f"请填写完整方案（不超过 {MAX_PLAN} 个字）。")
        raw_options = fields.get("options") or list(DEFAULT_OPTIONS)
        options = tuple(dict.fromkeys(str(o).strip() for o in raw_options if str(o).strip()))
        if not 2 <= len(options) <= MAX_OPTIONS or any(len(o) > MAX_OPTION for o in options):
            raise ConsultationError(
                f"选项需要 2 到 {MAX_OPTIONS} 个，每个不超过 {MAX_OPTION} 个字；"
                "第一个选项视为“同意”。"
            )
        registry = self._registry
        if not registry.has_committee(committee):
            raise ConsultationNotFound("没有这个居委会。")
        compound = registry.committee(committee).compound(str(fields.get("compound") or ""))
        if compound is None:
            raise ConsultationError("请选择本居委会的小区。")
        buildings = tuple(
            dict.fromkeys(str(b).strip() for b in fields.get("buildings") or () if str(b).strip())
        )
        if buildings:
            known = {
                h.building
                for h in await self._households.store.households(committee, compound=compound.id)
            }
            unknown = [b for b in buildings if b not in known]
            if unknown:
                raise ConsultationError(f"{compound.name}没有这些楼：{'、'.join(unknown)}。")
        opens_at, closes_at = fields.get("opens_at"), fields.get("closes_at")
        if not isinstance(opens_at, datetime) or not isinstance(closes_at, datetime):
            raise ConsultationError("请填写开始和截止时间。")
        if opens_at.tzinfo is None or closes_at.tzinfo is None:
            raise ConsultationError("开始和截止时间需要带时区。")
        if closes_at <= opens_at:
            raise ConsultationError("截止时间要晚于开始时间。")
        try:
            rule = Rule(str(fields.get("rule") or Rule.SIMPLE.value))
        except ValueError:
            raise ConsultationError("没有这个表决规则。") from None
        max_reminders = int(fields.get("max_reminders", 2))
        if not 0 <= max_reminders <= 10:
            raise ConsultationError("提醒次数需要在 0 到 10 之间。")
        return ConsultationDraft(
            title=title,
            plan=plan,
            options=options,
            compound=compound.id,
            buildings=buildings,
            opens_at=opens_at.astimezone(UTC),
            closes_at=closes_at.astimezone(UTC),
            secret=bool(fields.get("secret", False)),
            rule=rule.value,
            max_reminders=max_reminders,
        )

    def scope(self, c: Consultation) -> str:
        committee = self._registry.committee(c.committee)
        compound = committee.compound(c.compound)
        name = compound.name if compound else c.compound
        return name + ("、".join(c.buildings) if c.buildings else "全体住户")


def result_of(outcome: Outcome) -> dict[str, Any]:
    """The stored form of a result (JSON)."""
    t = outcome.tally
    return {
        "rule": outcome.rule.value,
        "passed": outcome.passed,
        "summary": outcome.summary(),
        "eligible": t.eligible,
        "eligible_area": float(t.eligible_area),
        "missing_area": t.missing_area,
        "voted": t.voted,
        "voted_area": float(t.voted_area),
        "counts": list(t.counts),
        "areas": [float(a) for a in t.areas],
        "checks": [
            {
                "name": c.name,
                "reached": percent(c.reached),
                "needed": percent(c.needed),
                "strict": c.strict,
                "met": c.met,
                "note": c.note,
            }
            for c in outcome.checks
        ],
    }


def _note(actor: Actor, action: str, detail: str) -> AuditNote:
    return AuditNote(actor.id, actor.name, action, detail)


def parse_time(value: str) -> datetime | None:
    """``2026-12-05T09:00`` (Shanghai when it names no zone) → an aware datetime."""
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return at.replace(tzinfo=SHANGHAI) if at.tzinfo is None else at
