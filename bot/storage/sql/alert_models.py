"""The ``staff_alerts`` table (migration ``0006_staff_alerts``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.sql.models import Base, BigId, UtcDateTime


class StaffAlertRow(Base):
    __tablename__ = "staff_alerts"
    __table_args__ = (
        Index("uq_staff_alerts_source", "source_key", "kind", unique=True),
        Index("ix_staff_alerts_committee", "committee", "status", "id"),
        Index("ix_staff_alerts_due", "status", "next_attempt_at"),
        Index("ix_staff_alerts_escalate", "status", "escalate_at"),
        Index("ix_staff_alerts_attempted", "committee", "last_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    source_key: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    conversation_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    ticket_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    holder: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer)
    recipients: Mapped[list[str]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    escalate_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    acknowledged_by_name: Mapped[str] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    steps_count: Mapped[int] = mapped_column(Integer)
    steps_posted: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
