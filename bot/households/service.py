"""Households as caseworkers and residents use them.

Staff calls name the caseworker (``Actor``) and are logged in the access log (who, when,
which household, what) before they return; a household of another committee is
``HouseholdNotFound``, exactly like one that does not exist. Residents' calls are keyed by
their chat identity (``ResidentId``) and only ever reach their own binding."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.domain.registry import Registry
from bot.domain.tickets import Actor, ResidentId
from bot.households.importing import MAX_LABEL, MAX_LABELS
from bot.storage.households import (
    AccessEntry,
    Binding,
    BindingStatus,
    Household,
    HouseholdError,
    HouseholdNotFound,
    HouseholdRecord,
    HouseholdStore,
    ImportCounts,
    PurgeCounts,
)

CODE_DIGITS = 8
MAX_CODE_FAILURES = 5
ACTION_LABELS = {
    "import": "导入",
    "list": "查看户列表",
    "view": "查看户信息",
    "labels": "修改标签",
    "bindings": "查看绑定列表",
    "verify": "核实绑定",
    "reject": "驳回绑定",
    "voter": "设为投票人",
    "code": "生成验证码",
    "access_log": "查看访问记录",
    "notice_send": "发送通知",
    "notice_view": "查看通知送达情况",
    "notice_follow_up": "记录通知回访",
}


@dataclass(frozen=True, slots=True)
class HouseholdDetail:
    household: Household
    address: str
    bindings: list[Binding]


@dataclass(frozen=True, slots=True)
class BindingView:
    binding: Binding
    household: Household
    address: str


@dataclass(frozen=True, slots=True)
class CodeOutcome:
    verified: Binding | None
    reason: str
    """``ok``, ``no_binding``, ``already``, ``wrong``, ``locked``."""


class Households:
    def __init__(
        self,
        store: HouseholdStore,
        registry: Registry,
        *,
        retention_days: int,
        code_ttl: timedelta,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self._registry = registry
        self._retention = timedelta(days=retention_days)
        self._code_ttl = code_ttl
        self._now = clock or (lambda: datetime.now(UTC))

    @property
    def retention_days(self) -> int:
        return self._retention.days

    def address(self, household: Household) -> str:
        """``普雄馨苑20号楼1201室``."""
        committee = self._registry.committee(household.committee)
        compound = committee.compound(household.compound)
        return f"{compound.name if compound else household.compound}{household.place}"

    # --- staff -----------------------------------------------------------------------------

    async def import_records(
        self, committee: str, records: Sequence[HouseholdRecord], actor: Actor
    ) -> ImportCounts:
        counts = await self.store.import_households(committee, records)
        await self._log(
            committee,
            None,
            actor,
            "import",
            f"新增 {counts.created} 户，更新 {counts.updated} 户，未变 {counts.unchanged} 户",
        )
        return counts

    async def households(
        self, committee: str, actor: Actor, *, compound: str = "", building: str = ""
    ) -> list[Household]:
        found = await self.store.households(committee, compound=compound, building=building)
        where = " ".join(x for x in (compound, building) if x) or "全部"
        await self._log(committee, None, actor, "list", f"{where}，共 {len(found)} 户")
        return found

    async def detail(self, committee: str, household_id: int, actor: Actor) -> HouseholdDetail:
        household = await self._household(committee, household_id)
        bindings = await self.store.bindings(committee, household_id=household_id)
        await self._log(committee, household_id, actor, "view", "户信息、标签和绑定")
        return HouseholdDetail(household, self.address(household), bindings)

    async def set_labels(
        self, committee: str, household_id: int, labels: Sequence[str], actor: Actor
    ) -> Household:
        cleaned = clean_labels(labels)
        await self._household(committee, household_id)
        household = await self.store.set_labels(committee, household_id, cleaned, actor.id)
        await self._log(committee, household_id, actor, "labels", "、".join(cleaned) or "（清空）")
        return household

    async def bindings(
        self, committee: str, actor: Actor, *, status: BindingStatus | None = None
    ) -> list[BindingView]:
        found = await self.store.bindings(committee, status=status)
        households = {h.id: h for h in await self.store.households(committee)}
        await self._log(
            committee,
            None,
            actor,
            "bindings",
            f"{status.label if status else '全部'}，共 {len(found)} 条",
        )
        return [
            BindingView(b, households[b.household_id], self.address(households[b.household_id]))
            for b in found
            if b.household_id in households
        ]

    async def verify(self, committee: str, binding_id: int, actor: Actor) -> Binding:
        return await self._decide(committee, binding_id, BindingStatus.VERIFIED, actor)

    async def reject(self, committee: str, binding_id: int, actor: Actor) -> Binding:
        return await self._decide(committee, binding_id, BindingStatus.REJECTED, actor)

    async def make_voter(self, committee: str, binding_id: int, actor: Actor) -> Binding:
        binding = await self.store.make_voter(committee, binding_id, self._now())
        await self._log(
            committee, binding.household_id, actor, "voter", f"绑定 {binding.id} 设为投票人"
        )
        return binding

    async def issue_code(
        self, committee: str, household_id: int, actor: Actor
    ) -> tuple[str, datetime]:
        """A fresh one-time code for the household (shown once; only its hash is kept)."""
        await self._household(committee, household_id)
        code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
        now = self._now()
        expires = now + self._code_ttl
        code_hash = await asyncio.to_thread(hash_code, code)  # scrypt: ~50 ms, off the event loop
        await self.store.add_code(committee, household_id, code_hash, actor.id, now, expires)
        await self._log(committee, household_id, actor, "code", f"有效至 {expires.isoformat()}")
        return code, expires

    async def access_log(
        self, committee: str, actor: Actor, *, household_id: int | None = None
    ) -> list[AccessEntry]:
        entries = await self.store.access_log(committee, household_id=household_id)
        await self._log(committee, household_id, actor, "access_log", f"{len(entries)} 条")
        return entries

    # --- residents -------------------------------------------------------------------------

    async def binding_of(self, committee: str, resident: ResidentId) -> BindingView | None:
        binding = await self.store.binding_of(committee, resident)
        if binding is None:
            return None
        household = await self.store.household(committee, binding.household_id)
        if household is None:
            return None
        return BindingView(binding, household, self.address(household))

    async def buildings(self, committee: str, compound: str) -> list[str]:
        found = await self.store.households(committee, compound=compound)
        return list(dict.fromkeys(h.building for h in found))

    async def rooms(
        self, committee: str, compound: str, building: str, room: str
    ) -> list[Household]:
        """The households at that room of the building (one per unit that has it)."""
        found = await self.store.households(committee, compound=compound, building=building)
        return [h for h in found if h.room == room]

    async def claim(
        self, committee: str, household_id: int, resident: ResidentId, name: str
    ) -> BindingView:
        binding = await self.store.claim(committee, household_id, resident, name, self._now())
        household = await self._household(committee, household_id)
        return BindingView(binding, household, self.address(household))

    async def unbind(self, committee: str, resident: ResidentId) -> Binding | None:
        return await self.store.unbind(committee, resident)

    async def redeem(self, committee: str, resident: ResidentId, code: str) -> CodeOutcome:
        binding = await self.store.binding_of(committee, resident)
        if binding is None:
            return CodeOutcome(None, "no_binding")
        if binding.status is BindingStatus.VERIFIED:
            return CodeOutcome(binding, "already")
        if binding.code_failures >= MAX_CODE_FAILURES:
            return CodeOutcome(None, "locked")
        now = self._now()
        for issued in await self.store.live_codes(committee, binding.household_id, now):
            if await asyncio.to_thread(check_code, code, issued.code_hash):
                done = await self.store.redeem(committee, issued.id, binding.id, now)
                if done is not None:
                    return CodeOutcome(done, "ok")
        failures = await self.store.code_failed(committee, binding.id)
        return CodeOutcome(None, "locked" if failures >= MAX_CODE_FAILURES else "wrong")

    # --- retention -------------------------------------------------------------------------

    async def purge(self) -> PurgeCounts:
        """Delete bindings older than the retention period and used or expired codes."""
        now = self._now()
        return await self.store.purge(now - self._retention, now)

    # --- helpers ---------------------------------------------------------------------------

    async def _household(self, committee: str, household_id: int) -> Household:
        household = await self.store.household(committee, household_id)
        if household is None:
            raise HouseholdNotFound("没有找到该户。")
        return household

    async def _decide(
        self, committee: str, binding_id: int, status: BindingStatus, actor: Actor
    ) -> Binding:
        binding = await self.store.decide(
            committee, binding_id, status, actor.id, "caseworker", self._now()
        )
        action = "verify" if status is BindingStatus.VERIFIED else "reject"
        await self._log(committee, binding.household_id, actor, action, f"绑定 {binding.id}")
        return binding

    async def _log(
        self, committee: str, household_id: int | None, actor: Actor, action: str, detail: str
    ) -> None:
        await self.store.log_access(
            committee, household_id, actor.id, actor.name, action, detail, self._now()
        )


def clean_labels(labels: Sequence[str]) -> list[str]:
    """Trimmed, de-duplicated labels within the limits; HouseholdError otherwise."""
    cleaned = list(dict.fromkeys(x.strip() for x in labels if x and x.strip()))
    if len(cleaned) > MAX_LABELS:
        raise HouseholdError(f"标签最多 {MAX_LABELS} 个。")
    if any(len(x) > MAX_LABEL or "\x00" in x for x in cleaned):
        raise HouseholdError(f"每个标签不能超过 {MAX_LABEL} 个字。")
    return cleaned


_CODE = re.compile(r"\d")


def normal_code(text: str) -> str:
    """The digits of a code as typed ("1234 5678", full-width digits)."""
    digits = text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    return "".join(_CODE.findall(digits))


def hash_code(code: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(normal_code(code).encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_code(code: str, stored: str) -> bool:
    try:
        scheme, salt_hex, digest_hex = stored.split("$")
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(normal_code(code).encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return hmac.compare_digest(digest.hex(), digest_hex)
