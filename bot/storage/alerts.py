"""The staff alert store: one durable row per alert raised for an inbound message.

An alert is keyed by the inbound message's dedup key and its kind (``crisis``,
``emergency``, ``handoff``…): inserting the same pair twice returns the first row, so a
retried or recovered message never alerts twice. Rows change through optimistic updates on
``version``: whoever loses a race re-reads and decides again, so two workers never send the
same step twice.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain.errors import LinliError


class AlertError(LinliError):
    """Root of the staff alert errors."""


class AlertStatus(enum.StrEnum):
    QUEUED = "queued"
    """Recorded; the current step is still to be delivered (retried with backoff)."""
    SENT = "sent"
    """The current step was delivered (the robot answered errcode 0); waiting for "我来处理"."""
    FAILED = "failed"
    """Delivery was given up after repeated failures."""
    ACKNOWLEDGED = "acknowledged"
    """A caseworker took it."""
    NO_CHANNEL = "no_channel"
    """No alert channel is configured for the committee: only the console shows it."""

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    AlertStatus.QUEUED: "待发送",
    AlertStatus.SENT: "已提醒，待确认",
    AlertStatus.FAILED: "发送失败",
    AlertStatus.ACKNOWLEDGED: "已确认",
    AlertStatus.NO_CHANNEL: "未配置提醒渠道",
}

OPEN_ALERT_STATUSES = frozenset(
    {AlertStatus.QUEUED, AlertStatus.SENT, AlertStatus.FAILED, AlertStatus.NO_CHANNEL}
)
"""Not acknowledged yet."""


@dataclass(frozen=True, slots=True)
class StaffAlert:
    """One alert as stored. ``level`` is the escalation step (0: the people on duty, 1: the
    next person on the rota, 2: the street office's duty contact). ``steps`` is what
    happened, oldest first (each a JSON object with at least ``at``, ``step`` and
    ``summary``); the first ``steps_posted`` of them are on the ticket's history already."""

    id: int
    committee: str
    source_key: str
    kind: str
    category: str
    text: str
    conversation_key: str | None
    ticket_number: str | None
    holder: str | None
    status: AlertStatus
    level: int
    recipients: tuple[str, ...]
    attempts: int
    next_attempt_at: datetime | None
    escalate_at: datetime | None
    last_error: str
    last_attempt_at: datetime | None
    acknowledged_by: str | None
    acknowledged_by_name: str
    acknowledged_at: datetime | None
    created_at: datetime
    updated_at: datetime
    steps: tuple[Mapping[str, Any], ...] = ()
    steps_posted: int = 0
    version: int = 1

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ALERT_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe view for the API (the text is masked by whoever raised the alert)."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "id": self.id,
            "committee": self.committee,
            "kind": self.kind,
            "category": self.category,
            "text": self.text,
            "conversation_key": self.conversation_key,
            "ticket_number": self.ticket_number,
            "status": self.status.value,
            "level": self.level,
            "recipients": list(self.recipients),
            "attempts": self.attempts,
            "next_attempt_at": iso(self.next_attempt_at),
            "escalate_at": iso(self.escalate_at),
            "acknowledged_by": None
            if self.acknowledged_by is None
            else {"id": self.acknowledged_by, "name": self.acknowledged_by_name},
            "acknowledged_at": iso(self.acknowledged_at),
            "created_at": iso(self.created_at),
            "steps": [
                {
                    "at": str(s.get("at", "")),
                    "step": str(s.get("step", "")),
                    "summary": str(s.get("summary", "")),
                }
                for s in self.steps
            ],
        }


@dataclass(frozen=True, slots=True)
class NewAlert:
    committee: str
    source_key: str
    kind: str
    category: str
    text: str
    conversation_key: str | None
    ticket_number: str | None
    holder: str | None
    status: AlertStatus
    created_at: datetime
    next_attempt_at: datetime | None
    steps: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)


class AlertStore(abc.ABC):
    @abc.abstractmethod
    async def insert(self, alert: NewAlert) -> tuple[StaffAlert, bool]:
        """Store a new alert; when ``(source_key, kind)`` exists already, nothing is written
        and the first row is returned with ``False``."""

    @abc.abstractmethod
    async def get(self, alert_id: int) -> StaffAlert | None: ...

    @abc.abstractmethod
    async def by_source_key(self, source_key: str) -> list[StaffAlert]:
        """Every alert raised for one inbound message (any kind), oldest first."""

    @abc.abstractmethod
    async def update(self, before: StaffAlert, after: StaffAlert) -> StaffAlert | None:
        """Write the mutable fields of ``after`` if the row still has ``before.version``;
        returns ``after`` with the next version, or None when another writer came first."""

    @abc.abstractmethod
    async def due(self, now: datetime, limit: int = 100) -> list[StaffAlert]:
        """Queued alerts whose next attempt is due and sent ones whose escalation is due,
        oldest first."""

    @abc.abstractmethod
    async def unlinked(self, limit: int = 100) -> list[StaffAlert]:
        """Alerts without a ticket number yet, or with steps not yet on the ticket."""

    @abc.abstractmethod
    async def search(
        self,
        committee: str | None,
        statuses: frozenset[AlertStatus] | None = None,
        *,
        limit: int = 100,
    ) -> list[StaffAlert]:
        """Alerts newest first; every committee when ``committee`` is None."""

    @abc.abstractmethod
    async def last_attempted(self, committee: str) -> StaffAlert | None:
        """The committee's alert whose delivery was attempted most recently."""
