"""The ``group_posts`` table (migration ``0011_group_posts``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.sql.models import Base, BigId


class GroupPostRow(Base):
    __tablename__ = "group_posts"
    __table_args__ = (
        Index("ix_group_posts_due", "state", "due_at"),
        Index("ix_group_posts_chat", "channel", "account", "chat_id", "state"),
        # One pending post per group, kind and topic: set while pending, NULL afterwards.
        Index("uq_group_posts_open", "open_key", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    committee: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    askers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    asked_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime] = mapped_column()
    state: Mapped[str] = mapped_column(String(16))
    open_key: Mapped[str | None] = mapped_column(String(600), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    delivery: Mapped[str] = mapped_column(String(16), default="")
    updated_at: Mapped[datetime] = mapped_column()
