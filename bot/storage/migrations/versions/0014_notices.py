"""Notices (通知): the notices caseworkers write, the households each targets, one delivery
row per recipient (unique: a notice never goes twice to the same recipient) with read and
acknowledged times, and the follow-up calls and visits. Every table carries its committee.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(name: str, table: str) -> sa.Column[int]:
    return sa.Column(name, BIG_ID, sa.ForeignKey(f"{table}.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("committee", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("valid_from", TS, nullable=False),
        sa.Column("valid_until", TS, nullable=False),
        sa.Column("compounds", sa.JSON(), nullable=False),
        sa.Column("buildings", sa.JSON(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("post_groups", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by_id", sa.String(128), nullable=False),
        sa.Column("created_by_name", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("published_at", TS, nullable=True),
    )
    op.create_index("ix_notices_committee", "notices", ["committee", "state", "valid_until"])
    op.create_table(
        "notice_households",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("committee", sa.String(64), nullable=False),
        _fk("notice_id", "notices"),
        _fk("household_id", "households"),
    )
    op.create_index(
        "uq_notice_households", "notice_households", ["notice_id", "household_id"], unique=True
    )
    op.create_index(
        "ix_notice_households_household", "notice_households", ["committee", "household_id"]
    )
    op.create_table(
        "notice_deliveries",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("committee", sa.String(64), nullable=False),
        _fk("notice_id", "notices"),
        sa.Column("target", sa.String(8), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("household_id", BIG_ID, nullable=True),
        sa.Column("conversation_key", sa.String(400), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("delivery", sa.String(16), nullable=False),
        sa.Column("error", sa.String(200), nullable=False),
        sa.Column("claimed_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("read_at", TS, nullable=True),
        sa.Column("acknowledged_at", TS, nullable=True),
    )
    op.create_index(
        "uq_notice_deliveries_recipient",
        "notice_deliveries",
        ["notice_id", "target", "channel", "account", "address"],
        unique=True,
    )
    op.create_index("ix_notice_deliveries_state", "notice_deliveries", ["state", "id"])
    op.create_index(
        "ix_notice_deliveries_resident",
        "notice_deliveries",
        ["committee", "channel", "account", "address"],
    )
    op.create_table(
        "notice_follow_ups",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("committee", sa.String(64), nullable=False),
        _fk("notice_id", "notices"),
        _fk("household_id", "households"),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.String(128), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_notice_follow_ups", "notice_follow_ups", ["committee", "notice_id", "id"])


def downgrade() -> None:
    op.drop_table("notice_follow_ups")
    op.drop_table("notice_deliveries")
    op.drop_table("notice_households")
    op.drop_table("notices")
