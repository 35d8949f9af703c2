"""The ``conversations`` table (migration ``0004_conversations``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.sql.models import Base, UtcDateTime


class ConversationRow(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_committee_mode", "committee", "mode", "last_message_at"),
    )

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    committee: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(200))
    chat_type: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[str] = mapped_column(String(200))
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    compound: Mapped[str | None] = mapped_column(String(64), nullable=True)
    mode: Mapped[str] = mapped_column(String(16), default="bot")
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    handoff_reason: Mapped[str] = mapped_column(String(64), default="")
    handoff_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    assignee_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    assignee_name: Mapped[str] = mapped_column(String(128), default="")
    ticket_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_message_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    fence: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """The fencing token of the last save made under the conversation lock; a save with an
    older token (a holder that lost the lock) is refused."""
