"""Accounts: users (caseworker, admin, street_admin), console sessions, API tokens.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("committee", sa.String(64), nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("last_login_at", TS, nullable=True),
        sa.CheckConstraint("role IN ('caseworker', 'admin', 'street_admin')", name="ck_users_role"),
        sa.CheckConstraint(
            "(role = 'street_admin' AND committee IS NULL)"
            " OR (role <> 'street_admin' AND committee IS NOT NULL)",
            name="ck_users_committee",
        ),
    )
    op.create_index("uq_users_name", "users", ["name"], unique=True)
    op.create_index("ix_users_committee", "users", ["committee", "name"])
    op.create_table(
        "user_sessions",
        sa.Column("sid_digest", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            BigId,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
    )
    op.create_index("ix_user_sessions_user", "user_sessions", ["user_id", "expires_at"])
    op.create_table(
        "api_tokens",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "user_id",
            BigId,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_index("uq_api_tokens_digest", "api_tokens", ["token_digest"], unique=True)
    op.create_index("ix_api_tokens_user", "api_tokens", ["user_id", "id"])


def downgrade() -> None:
    op.drop_table("api_tokens")
    op.drop_table("user_sessions")
    op.drop_table("users")
