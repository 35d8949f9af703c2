"""Proposed FAQ alternates: phrasings residents used for an entry (picked from "did you mean",
or answered with it by a caseworker), with how often, until an admin accepts or dismisses them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "faq_proposals",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("committee", sa.String(64), nullable=False),
        sa.Column("faq_id", sa.String(128), nullable=False),
        sa.Column("text", sa.String(200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_at", TS, nullable=False),
        sa.Column("last_at", TS, nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=False),
        sa.Column("decided_at", TS, nullable=True),
    )
    op.create_index(
        "uq_faq_proposals_text", "faq_proposals", ["committee", "faq_id", "text"], unique=True
    )
    op.create_index("ix_faq_proposals_open", "faq_proposals", ["committee", "status", "faq_id"])


def downgrade() -> None:
    op.drop_index("ix_faq_proposals_open", table_name="faq_proposals")
    op.drop_index("uq_faq_proposals_text", table_name="faq_proposals")
    op.drop_table("faq_proposals")
