"""The FAQ corpus store: entries as JSON dicts (``FaqEntry.to_dict()``), every change audited."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Expect = Literal["any", "absent", "present"]


@dataclass(frozen=True, slots=True)
class FaqRevision:
    id: int
    faq_id: str
    actor: str
    action: str
    """``create``, ``update``, ``delete`` or ``revert``."""
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredFaq:
    """One entry as stored, live or retired (``deleted``)."""

    faq_id: str
    data: dict[str, Any]
    deleted: bool
    updated_at: datetime
    updated_by: str


class FaqConflict(Exception):
    """A write's precondition failed: the entry exists already, or is not (or no longer)
    live."""


@dataclass(frozen=True, slots=True)
class UpsertSummary:
    created: int
    updated: int
    unchanged: int


NEVER_CHANGED = "r0"
"""The revision of a committee whose corpus was never written."""


class FaqStore(abc.ABC):
    @abc.abstractmethod
    async def load(self, committee: str) -> list[dict[str, Any]]:
        """Every live entry of a committee, ordered by id."""

    @abc.abstractmethod
    async def revision(self, committee: str) -> str:
        """Changes whenever the committee's corpus changes (cheap; polled by workers)."""

    @abc.abstractmethod
    async def upsert_many(
        self, committee: str, entries: list[dict[str, Any]], actor: str
    ) -> UpsertSummary:
        """Create or update entries (keyed by ``entry["id"]``) in one transaction."""

    @abc.abstractmethod
    async def delete(self, committee: str, faq_id: str, actor: str) -> bool:
        """Retire an entry (kept for history). False if it did not exist."""

    @abc.abstractmethod
    async def history(self, committee: str, faq_id: str) -> list[FaqRevision]:
        """Every recorded change of an entry, oldest first."""

    @abc.abstractmethod
    async def get(self, committee: str, faq_id: str) -> StoredFaq | None:
        """One entry, live or retired; None if it never existed."""

    @abc.abstractmethod
    async def write(
        self,
        committee: str,
        faq_id: str,
        data: dict[str, Any] | None,
        actor: str,
        action: str,
        *,
        expect: Expect = "any",
    ) -> FaqRevision | None:
        """Set one entry to ``data`` (``None`` retires it) in one transaction and record the
        change as a revision with ``action``; returns it, or None when nothing changed.
        ``expect``: ``absent`` (no live entry with this id, e.g. creating) or ``present`` (a
        live one, e.g. editing), else FaqConflict."""

    @abc.abstractmethod
    async def revision_of(
        self, committee: str, faq_id: str, revision_id: int
    ) -> FaqRevision | None:
        """One recorded change of an entry, or None."""


@dataclass(frozen=True, slots=True)
class Proposal:
    """A phrasing residents used for an entry, proposed as one of its alternates."""

    id: int
    faq_id: str
    text: str
    count: int
    source: str
    """The latest way it was proposed: ``choice`` (picked from "did you mean") or
    ``caseworker`` (a caseworker answered the question with the entry)."""
    status: str
    """``open``, ``accepted`` or ``dismissed``."""
    first_at: datetime
    last_at: datetime


PROPOSAL_SOURCES = ("choice", "caseworker")
PROPOSAL_MAX_CHARS = 200


class ProposalStore(abc.ABC):
    """Proposed alternates, one row per (committee, entry, phrasing), counted."""

    @abc.abstractmethod
    async def propose(self, committee: str, faq_id: str, text: str, source: str) -> Proposal:
        """Record the phrasing once more (created open, else its count grows; a decided one
        keeps its decision)."""

    @abc.abstractmethod
    async def open_for(self, committee: str, faq_id: str) -> list[Proposal]:
        """The entry's open proposals, most often proposed first."""

    @abc.abstractmethod
    async def open_counts(self, committee: str) -> dict[str, int]:
        """Per entry id, how many open proposals it has (entries without any are absent)."""

    @abc.abstractmethod
    async def get(self, committee: str, proposal_id: int) -> Proposal | None: ...

    @abc.abstractmethod
    async def decide(
        self, committee: str, proposal_id: int, status: str, actor: str
    ) -> Proposal | None:
        """Mark an open proposal ``accepted`` or ``dismissed``; None when it is not open."""
