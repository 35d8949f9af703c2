"""Ticket tables (migration ``0002_tickets``) on the shared declarative ``Base``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.sql.models import Base, BigId, UtcDateTime


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("uq_tickets_number", "committee", "number", unique=True),
        Index("uq_tickets_source_key", "source_key", unique=True),
        Index("ix_tickets_status", "committee", "status"),
        Index(
            "ix_tickets_resident",
            "committee",
            "reporter_channel",
            "reporter_account",
            "reporter_sender_id",
        ),
        Index("ix_tickets_conversation", "committee", "conversation_key"),
        Index(
            "ix_tickets_place", "committee", "compound", "building_key", "category", "created_at"
        ),
        Index("ix_tickets_created", "committee", "created_at"),
        Index("ix_tickets_rating", "status", "rating_requested_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(40))
    committee: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text)
    compound: Mapped[str | None] = mapped_column(String(64), nullable=True)
    building: Mapped[str] = mapped_column(String(40))
    building_key: Mapped[str] = mapped_column(String(40))
    unit: Mapped[str] = mapped_column(String(40))
    room: Mapped[str] = mapped_column(String(40))
    reporter_channel: Mapped[str] = mapped_column(String(32))
    reporter_account: Mapped[str] = mapped_column(String(64))
    reporter_chat_id: Mapped[str] = mapped_column(String(200))
    reporter_chat_type: Mapped[str] = mapped_column(String(16))
    reporter_sender_id: Mapped[str] = mapped_column(String(200))
    reporter_name: Mapped[str] = mapped_column(String(200))
    reporter_phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    conversation_key: Mapped[str] = mapped_column(String(400))
    assignee_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    assignee_name: Mapped[str] = mapped_column(String(200))
    attachments: Mapped[list[str]] = mapped_column(JSON)
    source_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    first_response_due: Mapped[datetime] = mapped_column(UtcDateTime)
    resolution_due: Mapped[datetime] = mapped_column(UtcDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    reopened_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    rating_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    satisfaction: Mapped[int | None] = mapped_column(Integer, nullable=True)
    satisfaction_comment: Mapped[str] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    reopen_count: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)


class TicketCounterRow(Base):
    """The last sequence number handed out per committee and local day (YYYYMMDD)."""

    __tablename__ = "ticket_counters"

    committee: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class TicketEventRow(Base):
    __tablename__ = "ticket_events"
    __table_args__ = (
        Index("ix_ticket_events_ticket", "ticket_id", "id"),
        Index("ix_ticket_events_kind", "committee", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"))
    committee: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(300))
    actor_name: Mapped[str] = mapped_column(String(200))
    public: Mapped[bool] = mapped_column(Boolean)
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    status_from: Mapped[str | None] = mapped_column(String(20), nullable=True)
    status_to: Mapped[str | None] = mapped_column(String(20), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TicketLinkRow(Base):
    """Tickets about the same fault; each link is stored in both directions."""

    __tablename__ = "ticket_links"

    committee: Mapped[str] = mapped_column(String(64))
    """Both tickets' committee (every table carries it: the key a distributed PostgreSQL
    would partition by)."""
    ticket_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    other_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TicketOutboxRow(Base):
    """Messages for residents, kept until the channel layer has delivered them."""

    __tablename__ = "ticket_outbox"
    __table_args__ = (
        Index("ix_ticket_outbox_pending", "delivered_at", "failed_at", "id"),
        Index("ix_ticket_outbox_ticket", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"))
    committee: Mapped[str] = mapped_column(String(64))
    ticket_number: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    conversation_key: Mapped[str] = mapped_column(String(400))
    channel: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(200))
    chat_type: Mapped[str] = mapped_column(String(16))
    recipient_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    leased_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
