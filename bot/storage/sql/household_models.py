"""The household tables (migration ``0013_households``); each carries its committee."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.sql.models import Base, BigId, UtcDateTime


class HouseholdRow(Base):
    __tablename__ = "households"
    __table_args__ = (
        Index(
            "uq_households_place", "committee", "compound", "building", "unit", "room", unique=True
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    compound: Mapped[str] = mapped_column(String(64))
    building: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(32))
    room: Mapped[str] = mapped_column(String(32))
    floor_area: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class HouseholdLabelRow(Base):
    __tablename__ = "household_labels"
    __table_args__ = (Index("uq_household_labels", "household_id", "label", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    household_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("households.id", ondelete="CASCADE")
    )
    label: Mapped[str] = mapped_column(String(32))
    added_by: Mapped[str] = mapped_column(String(128))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime)


class HouseholdBindingRow(Base):
    __tablename__ = "household_bindings"
    __table_args__ = (
        Index(
            "uq_household_bindings_resident",
            "committee",
            "channel",
            "account",
            "sender_id",
            unique=True,
        ),
        Index("ix_household_bindings_household", "committee", "household_id"),
        Index("ix_household_bindings_updated", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    household_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("households.id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(128))
    sender_id: Mapped[str] = mapped_column(String(128))
    sender_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    voter: Mapped[bool] = mapped_column(Boolean)
    method: Mapped[str] = mapped_column(String(16))
    consented_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    verified_by: Mapped[str] = mapped_column(String(128))
    code_failures: Mapped[int] = mapped_column(Integer)


class HouseholdCodeRow(Base):
    __tablename__ = "household_codes"
    __table_args__ = (Index("ix_household_codes_household", "committee", "household_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    household_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("households.id", ondelete="CASCADE")
    )
    code_hash: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    used_by: Mapped[int | None] = mapped_column(BigId, nullable=True)


class HouseholdAccessRow(Base):
    __tablename__ = "household_access_log"
    __table_args__ = (Index("ix_household_access_log", "committee", "household_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    household_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    actor_id: Mapped[str] = mapped_column(String(128))
    actor_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
