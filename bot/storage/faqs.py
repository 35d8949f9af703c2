"""The FAQ corpus store: entries as JSON dicts (``FaqEntry.to_dict()``), every change audited."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import Any


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
class UpsertSummary:
    created: int
    updated: int
    unchanged: int


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
