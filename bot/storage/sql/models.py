"""Relational schema (SQLAlchemy 2). Alembic migrations in ``bot/storage/migrations`` create it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

BigId = BigInteger().with_variant(Integer, "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every dialect.

    SQLite keeps no offset, so values are converted to UTC before they are written (and
    compared) and read back as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"an aware datetime is required, got {value!r}")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"unexpected datetime value {value!r}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        datetime: UtcDateTime(),
    }


class MessageRow(Base):
    """The conversation log: one row per inbound, outbound or staff message."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation", "conversation_key", "id"),
        Index("uq_messages_inbound", "direction", "channel", "account", "external_id", unique=True),
        Index("ix_messages_committee_created", "committee", "created_at"),
        Index("ix_messages_committee_outcome", "committee", "direction", "outcome", "id"),
        Index("ix_messages_created", "created_at"),
        # Only unfinished inbound rows carry a lease: the recovery loop's index stays small.
        Index(
            "ix_messages_unfinished",
            "claimed_until",
            postgresql_where=text("claimed_until IS NOT NULL"),
            sqlite_where=text("claimed_until IS NOT NULL"),
        ),
        # Only late replies still being sent are pending: recovery's index stays small too.
        Index(
            "ix_messages_pending",
            "delivery_at",
            postgresql_where=text("delivery = 'pending'"),
            sqlite_where=text("delivery = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    conversation_key: Mapped[str] = mapped_column(String(400))
    channel: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(200))
    chat_type: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[str] = mapped_column(String(200))
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    direction: Mapped[str] = mapped_column(String(8))
    msg_type: Mapped[str] = mapped_column(String(16), default="text")
    text: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(32), default="")
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    delivery: Mapped[str] = mapped_column(String(16), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(16), default="", server_default="")
    """Inbound rows: what the bot did with the message (see ``bot.storage.messages``)."""
    reviewed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    """Inbound rows: when an admin dealt with it on the unanswered-questions page."""
    mentioned: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    media_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    event_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    reply_to: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Inbound rows: where a late answer goes when the channel needs more than the message
    (a WeCom AI bot's ``response_url``); cleared once the message is answered, or, when the
    answer goes out late, once the platform answered its send."""
    claimed_until: Mapped[datetime | None] = mapped_column(nullable=True)
    """Inbound rows: the processing lease. Set while the message is unfinished (a worker holds
    it until then, or it is free to be taken up again after it); NULL once answered."""
    fence: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Inbound rows: the fencing token of the latest claim; only its holder may answer."""
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Inbound rows: how many times a worker took the message up."""
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Inbound rows: the stored answer (JSON: replies and how they went out), for a retry."""
    reply_of: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """Bot replies: the id of the resident message they answer (a late reply's outcome is
    set on them once the platform answered)."""
    delivery_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """Outbound rows whose send failed: the platform's error code (or HTTP status)."""
    delivery_error: Mapped[str] = mapped_column(String(300), default="", server_default="")
    """Outbound rows whose send failed: what went wrong (shown to caseworkers)."""
    delivery_at: Mapped[datetime | None] = mapped_column(nullable=True)
    """Outbound rows: when ``delivery`` last changed after the message was stored (a retry);
    a pending late reply's: when its sender last claimed it (``late_send_lease_s``)."""


class FaqRow(Base):
    """A committee's FAQ entry, stored as the JSON of ``FaqEntry.to_dict()``."""

    __tablename__ = "faqs"

    committee: Mapped[str] = mapped_column(String(64), primary_key=True)
    faq_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(128), default="")


class FaqRevisionRow(Base):
    """Who changed which FAQ, when, from what to what: every change is revertible."""

    __tablename__ = "faq_revisions"
    __table_args__ = (Index("ix_faq_revisions_faq", "committee", "faq_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    faq_id: Mapped[str] = mapped_column(String(128))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelCursorRow(Base):
    """How far a pulling channel has read (one row per channel account)."""

    __tablename__ = "channel_cursors"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FaqProposalRow(Base):
    """A resident's phrasing proposed as an alternate of an FAQ entry: the resident picked the
    entry from "did you mean", or a caseworker answered the question with it. ``count`` is
    how often; an admin accepts it (it becomes an alternate by a normal revision) or
    dismisses it."""

    __tablename__ = "faq_proposals"
    __table_args__ = (
        Index("uq_faq_proposals_text", "committee", "faq_id", "text", unique=True),
        Index("ix_faq_proposals_open", "committee", "status", "faq_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    faq_id: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(String(200))
    count: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(String(16))
    """The latest way it was proposed: ``choice`` (a resident's pick) or ``caseworker``."""
    status: Mapped[str] = mapped_column(String(16), default="open")
    """``open``, ``accepted`` or ``dismissed``."""
    first_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str] = mapped_column(String(128), default="")
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
