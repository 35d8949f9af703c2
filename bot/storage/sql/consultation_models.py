"""The consultation tables (migration ``0015_consultations``); each carries its committee."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.sql.models import Base, BigId, UtcDateTime


class ConsultationRow(Base):
    __tablename__ = "consultations"
    __table_args__ = (
        Index("ix_consultations_committee", "committee", "status"),
        Index("ix_consultations_closes", "status", "closes_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    plan: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(JSON)
    compound: Mapped[str] = mapped_column(String(64))
    buildings: Mapped[list[str]] = mapped_column(JSON)
    opens_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closes_at: Mapped[datetime] = mapped_column(UtcDateTime)
    secret: Mapped[bool] = mapped_column(Boolean)
    rule: Mapped[str] = mapped_column(String(32))
    max_reminders: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    reminders_sent: Mapped[int] = mapped_column(Integer)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    invited_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    closed_by: Mapped[str] = mapped_column(String(200))


def _consultation_fk() -> Mapped[int]:
    return mapped_column(BigId, ForeignKey("consultations.id", ondelete="CASCADE"))


class ConsultationHouseholdRow(Base):
    __tablename__ = "consultation_households"
    __table_args__ = (
        Index("uq_consultation_households", "consultation_id", "household_id", unique=True),
        Index("ix_consultation_households_household", "committee", "household_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    consultation_id: Mapped[int] = _consultation_fk()
    household_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("households.id", ondelete="CASCADE")
    )
    floor_area: Mapped[float | None] = mapped_column(Float, nullable=True)


class ConsultationVoteRow(Base):
    __tablename__ = "consultation_votes"
    __table_args__ = (
        Index("uq_consultation_votes", "consultation_id", "household_id", unique=True),
        Index("ix_consultation_votes_committee", "committee", "consultation_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    consultation_id: Mapped[int] = _consultation_fk()
    household_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("households.id", ondelete="CASCADE")
    )
    binding_id: Mapped[int] = mapped_column(BigId)
    voter_name: Mapped[str] = mapped_column(String(200))
    choice: Mapped[int] = mapped_column(Integer)
    via: Mapped[str] = mapped_column(String(16))
    receipt: Mapped[str] = mapped_column(String(40))
    cast_at: Mapped[datetime] = mapped_column(UtcDateTime)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    changes: Mapped[int] = mapped_column(Integer)


class ConsultationLinkRow(Base):
    __tablename__ = "consultation_links"
    __table_args__ = (Index("ix_consultation_links", "committee", "consultation_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    consultation_id: Mapped[int] = _consultation_fk()
    household_id: Mapped[int] = mapped_column(BigId)
    binding_id: Mapped[int] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ConsultationReminderRow(Base):
    __tablename__ = "consultation_reminders"
    __table_args__ = (Index("ix_consultation_reminders", "committee", "consultation_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    consultation_id: Mapped[int] = _consultation_fk()
    household_id: Mapped[int] = mapped_column(BigId)
    binding_id: Mapped[int] = mapped_column(BigId)
    round: Mapped[int] = mapped_column(Integer)
    delivered: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class ConsultationAuditRow(Base):
    __tablename__ = "consultation_audit"
    __table_args__ = (Index("ix_consultation_audit", "committee", "consultation_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    consultation_id: Mapped[int] = _consultation_fk()
    actor_id: Mapped[str] = mapped_column(String(200))
    actor_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
