"""The consultation store (征询意见): a committee's consultations, the households eligible
for each (fixed when it is published), one vote per household, the signed voting links
handed out, the reminders sent and the audit trail of every change. Every table carries its
committee and every query names it."""

from __future__ import annotations

import abc
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain.errors import LinliError


class ConsultationError(LinliError):
    """Root of the consultation errors; the message is Chinese, for the caseworker or resident."""


class ConsultationNotFound(ConsultationError):
    """No such consultation in this committee (the same for another committee's)."""


class ConsultationStatus(enum.StrEnum):
    DRAFT = "draft"
    """Written, not published: editable, nobody can vote."""
    PUBLISHED = "published"
    """Eligible households fixed; voting runs from ``opens_at`` to ``closes_at``."""
    CLOSED = "closed"
    """Voting over, result computed."""

    @property
    def label(self) -> str:
        return {"draft": "草稿", "published": "已发布", "closed": "已结束"}[self.value]


@dataclass(frozen=True, slots=True)
class ConsultationDraft:
    """What a caseworker writes."""

    title: str
    plan: str
    options: tuple[str, ...]
    compound: str
    buildings: tuple[str, ...]
    """Empty: the whole compound."""
    opens_at: datetime
    closes_at: datetime
    secret: bool
    rule: str
    max_reminders: int


@dataclass(frozen=True, slots=True)
class Consultation:
    id: int
    committee: str
    title: str
    plan: str
    options: tuple[str, ...]
    compound: str
    buildings: tuple[str, ...]
    opens_at: datetime
    closes_at: datetime
    secret: bool
    rule: str
    max_reminders: int
    status: ConsultationStatus
    reminders_sent: int
    result: dict[str, Any] | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    invited_at: datetime | None
    closed_at: datetime | None
    closed_by: str

    def is_open(self, now: datetime) -> bool:
        return self.status is ConsultationStatus.PUBLISHED and self.opens_at <= now < self.closes_at


@dataclass(frozen=True, slots=True)
class Eligible:
    household_id: int
    floor_area: float | None


@dataclass(frozen=True, slots=True)
class Vote:
    id: int
    consultation_id: int
    household_id: int
    binding_id: int
    voter_name: str
    choice: int
    via: str
    """``chat`` or ``page``."""
    receipt: str
    cast_at: datetime
    changed_at: datetime
    changes: int


@dataclass(frozen=True, slots=True)
class VoteResult:
    vote: Vote
    changed: bool
    previous: int | None


@dataclass(frozen=True, slots=True)
class Link:
    id: int
    consultation_id: int
    household_id: int
    binding_id: int
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    consultation_id: int
    actor_id: str
    actor_name: str
    action: str
    detail: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Reminder:
    household_id: int
    binding_id: int
    round: int
    delivered: bool
    at: datetime


@dataclass(slots=True)
class AuditNote:
    """An audit entry written in the same transaction as the change it records."""

    actor_id: str
    actor_name: str
    action: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)


class ConsultationStore(abc.ABC):
    @abc.abstractmethod
    async def create(
        self, committee: str, draft: ConsultationDraft, by: str, now: datetime, note: AuditNote
    ) -> Consultation: ...

    @abc.abstractmethod
    async def edit(
        self, committee: str, cid: int, draft: ConsultationDraft, now: datetime, note: AuditNote
    ) -> Consultation:
        """Replace a draft's content; ConsultationError once published."""

    @abc.abstractmethod
    async def publish(
        self,
        committee: str,
        cid: int,
        eligible: Sequence[Eligible],
        now: datetime,
        note: AuditNote,
    ) -> Consultation:
        """Fix the eligible households and publish; ConsultationError unless a draft."""

    @abc.abstractmethod
    async def close(
        self,
        committee: str,
        cid: int,
        result: dict[str, Any],
        by: str,
        now: datetime,
        note: AuditNote,
    ) -> Consultation | None:
        """Close a published consultation with its result; None when it was closed meanwhile
        (two workers closing at once: one wins)."""

    @abc.abstractmethod
    async def get(self, committee: str, cid: int) -> Consultation | None: ...

    @abc.abstractmethod
    async def all(
        self, committee: str, *, status: ConsultationStatus | None = None
    ) -> list[Consultation]:
        """Newest first."""

    @abc.abstractmethod
    async def due(self, now: datetime) -> list[Consultation]:
        """Published consultations of every committee whose closing time has passed."""

    @abc.abstractmethod
    async def published_for(self, committee: str, household_id: int) -> list[Consultation]:
        """Published (not closed) consultations the household is eligible for."""

    @abc.abstractmethod
    async def published_in(self, committee: str, compound: str) -> list[Consultation]:
        """Published or recently closed consultations of a compound (newest first)."""

    @abc.abstractmethod
    async def eligible(self, committee: str, cid: int) -> list[Eligible]: ...

    @abc.abstractmethod
    async def cast(
        self,
        committee: str,
        cid: int,
        household_id: int,
        binding_id: int,
        voter_name: str,
        choice: int,
        via: str,
        receipt: str,
        now: datetime,
        note: AuditNote,
        link_id: int | None = None,
    ) -> VoteResult:
        """The household's vote, cast or changed, in one transaction with its audit entry;
        with ``link_id`` the link is used up in the same transaction (ConsultationError when
        it was used meanwhile). ConsultationError when the consultation is not open at
        ``now`` or the household is not eligible."""

    @abc.abstractmethod
    async def vote_of(self, committee: str, cid: int, household_id: int) -> Vote | None: ...

    @abc.abstractmethod
    async def votes(self, committee: str, cid: int) -> list[Vote]: ...

    @abc.abstractmethod
    async def add_link(
        self,
        committee: str,
        cid: int,
        household_id: int,
        binding_id: int,
        now: datetime,
        expires_at: datetime,
    ) -> int: ...

    @abc.abstractmethod
    async def link(self, committee: str, link_id: int) -> Link | None: ...

    @abc.abstractmethod
    async def record_reminder(
        self,
        committee: str,
        cid: int,
        sent: Sequence[tuple[int, int, bool]],
        now: datetime,
        note: AuditNote,
        *,
        invitation: bool = False,
    ) -> int:
        """One reminder round: ``(household_id, binding_id, delivered)`` each; counts the
        round on the consultation (ConsultationError once its maximum is reached). The
        round's number. ``invitation``: the invitations (round 0, not counted)."""

    @abc.abstractmethod
    async def to_invite(self, now: datetime) -> list[Consultation]:
        """Published consultations of every committee open at ``now`` whose invitations
        have not gone out."""

    @abc.abstractmethod
    async def claim_invitations(self, committee: str, cid: int, now: datetime) -> bool:
        """Mark the invitations as going out; False when another worker did first."""

    @abc.abstractmethod
    async def reminders(self, committee: str, cid: int) -> list[Reminder]: ...

    @abc.abstractmethod
    async def audit(self, committee: str, cid: int) -> list[AuditEntry]:
        """Oldest first."""

    @abc.abstractmethod
    async def log(self, committee: str, cid: int, now: datetime, note: AuditNote) -> None:
        """An audit entry on its own (e.g. an export)."""
