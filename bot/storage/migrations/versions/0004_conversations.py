"""Conversations: dialogue state and human mode, durable across worker restarts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("committee", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("chat_id", sa.String(200), nullable=False),
        sa.Column("chat_type", sa.String(16), nullable=False),
        sa.Column("sender_id", sa.String(200), nullable=False),
        sa.Column("sender_name", sa.String(200), nullable=False),
        sa.Column("compound", sa.String(64), nullable=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("handoff_reason", sa.String(64), nullable=False),
        sa.Column("handoff_at", TS, nullable=True),
        sa.Column("assignee_id", sa.String(64), nullable=True),
        sa.Column("assignee_name", sa.String(128), nullable=False),
        sa.Column("ticket_number", sa.String(64), nullable=True),
        sa.Column("last_message_at", TS, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_conversations_committee_mode",
        "conversations",
        ["committee", "mode", "last_message_at"],
    )


def downgrade() -> None:
    op.drop_table("conversations")
