"""The household store: the rooms (门牌) of a committee's compounds and their households, the
residents bound to them, the caseworkers' labels, one-time verification codes and the log of
every staff access.

A household is what a notice reaches and what votes: bindings tie residents' chat identities
to it (several per household, one of them its voter), its optional floor area weighs a vote
by area. Every table carries its committee; every query names it, so one committee never
reads another's rows."""

from __future__ import annotations

import abc
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.errors import LinliError
from bot.domain.tickets import ResidentId


class HouseholdError(LinliError):
    """Root of the household errors; the message is Chinese, for the caseworker or resident."""


class HouseholdNotFound(HouseholdError):
    """No such household (or binding) in this committee: the same for another committee's."""


class BindingStatus(enum.StrEnum):
    CLAIMED = "claimed"
    """The resident says they live there; not verified yet."""
    VERIFIED = "verified"
    """A caseworker confirmed it, or the resident entered the household's one-time code."""
    REJECTED = "rejected"
    """A caseworker found it wrong; the resident may bind again."""

    @property
    def label(self) -> str:
        return {"claimed": "待核实", "verified": "已核实", "rejected": "未通过核实"}[self.value]


@dataclass(frozen=True, slots=True)
class HouseholdRecord:
    """One household as imported: its place and optional floor area and labels."""

    compound: str
    building: str
    unit: str
    room: str
    floor_area: float | None = None
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Household:
    id: int
    committee: str
    compound: str
    building: str
    unit: str
    room: str
    floor_area: float | None
    labels: tuple[str, ...]
    created_at: datetime

    @property
    def place(self) -> str:
        """``20号楼1201室`` (the compound is named by the caller, from the registry)."""
        return f"{self.building}{self.unit}{self.room}"


@dataclass(frozen=True, slots=True)
class Binding:
    id: int
    committee: str
    household_id: int
    resident: ResidentId
    sender_name: str
    status: BindingStatus
    voter: bool
    method: str
    """How it was verified: ``caseworker`` or ``code`` (empty until verified)."""
    consented_at: datetime
    created_at: datetime
    updated_at: datetime
    verified_at: datetime | None
    verified_by: str
    code_failures: int


@dataclass(frozen=True, slots=True)
class IssuedCode:
    id: int
    household_id: int
    code_hash: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AccessEntry:
    id: int
    committee: str
    household_id: int | None
    actor_id: str
    actor_name: str
    action: str
    detail: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ImportCounts:
    created: int
    updated: int
    unchanged: int


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    bindings: int
    codes: int


class HouseholdStore(abc.ABC):
    @abc.abstractmethod
    async def import_households(
        self, committee: str, records: Sequence[HouseholdRecord]
    ) -> ImportCounts:
        """Create the new households, update the floor area of known ones and add their
        labels, in one transaction."""

    @abc.abstractmethod
    async def households(
        self, committee: str, *, compound: str = "", building: str = ""
    ) -> list[Household]:
        """Ordered by compound, building, unit and room."""

    @abc.abstractmethod
    async def household(self, committee: str, household_id: int) -> Household | None: ...

    @abc.abstractmethod
    async def set_labels(
        self, committee: str, household_id: int, labels: Sequence[str], actor: str
    ) -> Household:
        """Replace the household's labels; HouseholdNotFound."""

    @abc.abstractmethod
    async def binding_of(self, committee: str, resident: ResidentId) -> Binding | None: ...

    @abc.abstractmethod
    async def binding(self, committee: str, binding_id: int) -> Binding | None: ...

    @abc.abstractmethod
    async def bindings(
        self,
        committee: str,
        *,
        household_id: int | None = None,
        status: BindingStatus | None = None,
    ) -> list[Binding]: ...

    @abc.abstractmethod
    async def claim(
        self,
        committee: str,
        household_id: int,
        resident: ResidentId,
        sender_name: str,
        now: datetime,
    ) -> Binding:
        """The resident's binding, now claimed for this household (a binding they had, to
        any household, is replaced)."""

    @abc.abstractmethod
    async def decide(
        self,
        committee: str,
        binding_id: int,
        status: BindingStatus,
        by: str,
        method: str,
        now: datetime,
    ) -> Binding:
        """Verify or reject a binding; a household's first verified binding becomes its voter
        while it has none. HouseholdNotFound."""

    @abc.abstractmethod
    async def make_voter(self, committee: str, binding_id: int, now: datetime) -> Binding:
        """The binding (verified) becomes its household's one voter. HouseholdNotFound;
        HouseholdError when it is not verified."""

    @abc.abstractmethod
    async def unbind(self, committee: str, resident: ResidentId) -> Binding | None:
        """Delete the resident's binding (a voter's household passes the vote to its
        earliest other verified binding). The deleted binding, or None."""

    @abc.abstractmethod
    async def add_code(
        self,
        committee: str,
        household_id: int,
        code_hash: str,
        by: str,
        now: datetime,
        expires_at: datetime,
    ) -> int: ...

    @abc.abstractmethod
    async def live_codes(
        self, committee: str, household_id: int, now: datetime
    ) -> list[IssuedCode]:
        """The household's codes neither used nor expired."""

    @abc.abstractmethod
    async def redeem(
        self, committee: str, code_id: int, binding_id: int, now: datetime
    ) -> Binding | None:
        """Use the code (once: None when it was used meanwhile) and verify the binding by it,
        in one transaction."""

    @abc.abstractmethod
    async def code_failed(self, committee: str, binding_id: int) -> int:
        """Count a wrong code against the binding; the count now."""

    @abc.abstractmethod
    async def log_access(
        self,
        committee: str,
        household_id: int | None,
        actor_id: str,
        actor_name: str,
        action: str,
        detail: str,
        now: datetime,
    ) -> None: ...

    @abc.abstractmethod
    async def access_log(
        self, committee: str, *, household_id: int | None = None, limit: int = 200
    ) -> list[AccessEntry]:
        """Newest first."""

    @abc.abstractmethod
    async def purge(self, bindings_before: datetime, now: datetime) -> PurgeCounts:
        """Delete bindings not renewed since ``bindings_before`` and codes used or expired
        (every committee); a household losing its voter passes the vote on."""
