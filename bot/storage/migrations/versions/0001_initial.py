"""Conversation log and FAQ corpus with revisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("committee", sa.String(64), nullable=False),
        sa.Column("conversation_key", sa.String(400), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("chat_id", sa.String(200), nullable=False),
        sa.Column("chat_type", sa.String(16), nullable=False),
        sa.Column("sender_id", sa.String(200), nullable=False),
        sa.Column("sender_name", sa.String(200), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("msg_type", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("delivery", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_messages_conversation", "messages", ["conversation_key", "id"])
    op.create_index(
        "uq_messages_inbound",
        "messages",
        ["direction", "channel", "account", "external_id"],
        unique=True,
    )
    op.create_index("ix_messages_committee_created", "messages", ["committee", "created_at"])
    op.create_table(
        "faqs",
        sa.Column("committee", sa.String(64), primary_key=True),
        sa.Column("faq_id", sa.String(128), primary_key=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
    )
    op.create_table(
        "faq_revisions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("committee", sa.String(64), nullable=False),
        sa.Column("faq_id", sa.String(128), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_faq_revisions_faq", "faq_revisions", ["committee", "faq_id", "id"])


def downgrade() -> None:
    op.drop_table("faq_revisions")
    op.drop_table("faqs")
    op.drop_table("messages")
