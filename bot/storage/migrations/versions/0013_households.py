"""Households: the rooms of each compound and their households, residents' bindings, the
caseworkers' labels, one-time verification codes and the staff access log. Every table
carries its committee.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _household_fk() -> sa.Column[int]:
    return sa.Column(
        "household_id",
        BIG_ID,
        sa.ForeignKey("households.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "households",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("committee", sa.String(64), nullable=False),
        sa.Column("compound", sa.String(64), nullable=False),
        sa.Column("building", sa.String(32), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("room", sa.String(32), nullable=False),
        sa.Column("floor_area", sa.Float(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index(
        "uq_households_place",
        "households",
        ["committee", "compound", "building", "unit", "room"],
        unique=True,
    )
    op.create_table(
        "household_labels",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("committee", sa.String(64), nullable=False),
        _household_fk(),
        sa.Column("label", sa.String(32), nullable=False),
        sa.Column("added_by", sa.String(128), nullable=False),
        sa.Column("added_at", TS, nullable=False),
    )
    op.create_index(
        "uq_household_labels", "household_labels", ["household_id", "label"], unique=True
    )
    op.create_table(
        "household_bindings",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("committee", sa.String(64), nullable=False),
        _household_fk(),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("sender_name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("voter", sa.Boolean(), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("consented_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("verified_at", TS, nullable=True),
        sa.Column("verified_by", sa.String(128), nullable=False),
        sa.Column("code_failures", sa.Integer(), nullable=False),
    )
    op.create_index(
        "uq_household_bindings_resident",
        "household_bindings",
        ["committee", "channel", "account", "sender_id"],
        unique=True,
    )
    op.create_index(
        "ix_household_bindings_household", "household_bindings", ["committee", "household_id"]
    )
    op.create_index("ix_household_bindings_updated", "household_bindings", ["updated_at"])
    op.create_table(
        "household_codes",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("committee", sa.String(64), nullable=False),
        _household_fk(),
        sa.Column("code_hash", sa.String(200), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.Column("used_by", BIG_ID, nullable=True),
    )
    op.create_index(
        "ix_household_codes_household", "household_codes", ["committee", "household_id"]
    )
    op.create_table(
        "household_access_log",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("committee", sa.String(64), nullable=False),
        sa.Column("household_id", BIG_ID, nullable=True),
        sa.Column("actor_id", sa.String(128), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index(
        "ix_household_access_log",
        "household_access_log",
        ["committee", "household_id", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_household_access_log", table_name="household_access_log")
    op.drop_table("household_access_log")
    op.drop_index("ix_household_codes_household", table_name="household_codes")
    op.drop_table("household_codes")
    op.drop_index("ix_household_bindings_updated", table_name="household_bindings")
    op.drop_index("ix_household_bindings_household", table_name="household_bindings")
    op.drop_index("uq_household_bindings_resident", table_name="household_bindings")
    op.drop_table("household_bindings")
    op.drop_index("uq_household_labels", table_name="household_labels")
    op.drop_table("household_labels")
    op.drop_index("uq_households_place", table_name="households")
    op.drop_table("households")
