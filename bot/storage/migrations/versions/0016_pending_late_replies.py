"""Pending late replies: a reply that goes out late is stored as ``pending`` before it is
sent, with the time its sender claimed it (``delivery_at``); recovery finds the ones whose
sender died through a small partial index.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_messages_pending",
        "messages",
        ["delivery_at"],
        postgresql_where=sa.text("delivery = 'pending'"),
        sqlite_where=sa.text("delivery = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_pending", table_name="messages")
