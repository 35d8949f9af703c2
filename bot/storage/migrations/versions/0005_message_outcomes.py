"""Message outcomes: what the bot did with each resident message, and whether an admin has
reviewed it on the unanswered-questions page.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("outcome", sa.String(16), nullable=False, server_default=""))
        batch.add_column(sa.Column("reviewed_at", TS, nullable=True))
    op.create_index(
        "ix_messages_committee_outcome",
        "messages",
        ["committee", "direction", "outcome", "id"],
    )
    op.create_index("ix_messages_created", "messages", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_created", table_name="messages")
    op.drop_index("ix_messages_committee_outcome", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("reviewed_at")
        batch.drop_column("outcome")
