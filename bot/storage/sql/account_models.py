"""Account tables (migration ``0003_accounts``) on the shared declarative ``Base``: users,
console sessions and API tokens. Session ids and tokens are stored as SHA-256 digests only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.sql.models import Base, BigId, UtcDateTime


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
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class UserSessionRow(Base):
    """A console login: the browser keeps the session id inside the encrypted cookie."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user", "user_id", "expires_at"),)

    sid_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
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
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
