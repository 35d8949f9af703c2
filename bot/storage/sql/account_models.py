"""Account tables (migration ``0003_accounts``) on the shared declarative ``Base``: users,
console sessions and API tokens. Session ids and tokens are stored as SHA-256 digests only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, String
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from bot.storage.sql.models import Base, BigId


class UtcTimestamp(TypeDecorator[datetime]):
    """Aware UTC datetimes on every dialect (SQLite keeps no offset: values are written as
    UTC, so they also compare correctly in SQL, and read back as UTC)."""

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


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (
        Index("uq_users_name", "name", unique=True),
        Index("ix_users_committee", "committee", "name"),
        CheckConstraint("role IN ('caseworker', 'admin', 'street_admin')", name="ck_users_role"),
        CheckConstraint(
            "(role = 'street_admin' AND committee IS NULL)"
            " OR (role <> 'street_admin' AND committee IS NOT NULL)",
            name="ck_users_committee",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    committee: Mapped[str | None] = mapped_column(String(64), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    updated_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcTimestamp, nullable=True)


class UserSessionRow(Base):
    """A console login: the browser keeps the session id inside the encrypted cookie."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user", "user_id", "expires_at"),)

    sid_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    expires_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    ip: Mapped[str] = mapped_column(String(64))


class ApiTokenRow(Base):
    __tablename__ = "api_tokens"
    __table_args__ = (
        Index("uq_api_tokens_digest", "token_digest", unique=True),
        Index("ix_api_tokens_user", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    token_digest: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcTimestamp, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcTimestamp, nullable=True)
