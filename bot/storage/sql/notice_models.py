"""The notice tables (migration ``0014_notices``); each carries its committee."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.sql.models import Base, BigId, UtcDateTime


class NoticeRow(Base):
    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_committee", "committee", "state", "valid_until"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime] = mapped_column(UtcDateTime)
    compounds: Mapped[list[Any]] = mapped_column(JSON)
    buildings: Mapped[list[Any]] = mapped_column(JSON)
    labels: Mapped[list[Any]] = mapped_column(JSON)
    post_groups: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[str] = mapped_column(String(128))
    created_by_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class NoticeHouseholdRow(Base):
    __tablename__ = "notice_households"
    __table_args__ = (
        Index("uq_notice_households", "notice_id", "household_id", unique=True),
        Index("ix_notice_households_household", "committee", "household_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    notice_id: Mapped[int] = mapped_column(BigId, ForeignKey("notices.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("households.id", ondelete="CASCADE")
    )


class NoticeDeliveryRow(Base):
    __tablename__ = "notice_deliveries"
    __table_args__ = (
        # The same notice never goes twice to the same recipient.
        Index(
            "uq_notice_deliveries_recipient",
            "notice_id",
            "target",
            "channel",
            "account",
            "address",
            unique=True,
        ),
        Index("ix_notice_deliveries_state", "state", "id"),
        Index("ix_notice_deliveries_resident", "committee", "channel", "account", "address"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    notice_id: Mapped[int] = mapped_column(BigId, ForeignKey("notices.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(128))
    address: Mapped[str] = mapped_column(String(200))
    household_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    conversation_key: Mapped[str] = mapped_column(String(400))
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    delivery: Mapped[str] = mapped_column(String(16))
    error: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class NoticeFollowUpRow(Base):
    __tablename__ = "notice_follow_ups"
    __table_args__ = (Index("ix_notice_follow_ups", "committee", "notice_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    notice_id: Mapped[int] = mapped_column(BigId, ForeignKey("notices.id", ondelete="CASCADE"))
    household_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("households.id", ondelete="CASCADE")
    )
    outcome: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[str] = mapped_column(String(128))
    actor_name: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
