"""Consultations (征询意见): the consultations, their eligible households, one vote per
household, signed voting links, reminders and the audit trail. Every table carries its
committee.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column[int]:
    return sa.Column("id", BIG_ID, primary_key=True, autoincrement=True)


def _committee() -> sa.Column[str]:
    return sa.Column("committee", sa.String(64), nullable=False)


def _consultation_fk() -> sa.Column[int]:
    return sa.Column(
        "consultation_id",
        BIG_ID,
        sa.ForeignKey("consultations.id", ondelete="CASCADE"),
        nullable=False,
    )


def _household_fk() -> sa.Column[int]:
    return sa.Column(
        "household_id",
        BIG_ID,
        sa.ForeignKey("households.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "consultations",
        _id(),
        _committee(),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("compound", sa.String(64), nullable=False),
        sa.Column("buildings", sa.JSON(), nullable=False),
        sa.Column("opens_at", TS, nullable=False),
        sa.Column("closes_at", TS, nullable=False),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("max_reminders", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("published_at", TS, nullable=True),
        sa.Column("invited_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("closed_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_consultations_committee", "consultations", ["committee", "status"])
    op.create_index("ix_consultations_closes", "consultations", ["status", "closes_at"])
    op.create_table(
        "consultation_households",
        _id(),
        _committee(),
        _consultation_fk(),
        _household_fk(),
        sa.Column("floor_area", sa.Float(), nullable=True),
    )
    op.create_index(
        "uq_consultation_households",
        "consultation_households",
        ["consultation_id", "household_id"],
        unique=True,
    )
    op.create_index(
        "ix_consultation_households_household",
        "consultation_households",
        ["committee", "household_id"],
    )
    op.create_table(
        "consultation_votes",
        _id(),
        _committee(),
        _consultation_fk(),
        _household_fk(),
        sa.Column("binding_id", BIG_ID, nullable=False),
        sa.Column("voter_name", sa.String(200), nullable=False),
        sa.Column("choice", sa.Integer(), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("receipt", sa.String(40), nullable=False),
        sa.Column("cast_at", TS, nullable=False),
        sa.Column("changed_at", TS, nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
    )
    op.create_index(
        "uq_consultation_votes",
        "consultation_votes",
        ["consultation_id", "household_id"],
        unique=True,
    )
    op.create_index(
        "ix_consultation_votes_committee", "consultation_votes", ["committee", "consultation_id"]
    )
    op.create_table(
        "consultation_links",
        _id(),
        _committee(),
        _consultation_fk(),
        sa.Column("household_id", BIG_ID, nullable=False),
        sa.Column("binding_id", BIG_ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
    )
    op.create_index("ix_consultation_links", "consultation_links", ["committee", "consultation_id"])
    op.create_table(
        "consultation_reminders",
        _id(),
        _committee(),
        _consultation_fk(),
        sa.Column("household_id", BIG_ID, nullable=False),
        sa.Column("binding_id", BIG_ID, nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index(
        "ix_consultation_reminders", "consultation_reminders", ["committee", "consultation_id"]
    )
    op.create_table(
        "consultation_audit",
        _id(),
        _committee(),
        _consultation_fk(),
        sa.Column("actor_id", sa.String(200), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index(
        "ix_consultation_audit", "consultation_audit", ["committee", "consultation_id", "id"]
    )


def downgrade() -> None:
    for table in (
        "consultation_audit",
        "consultation_reminders",
        "consultation_links",
        "consultation_votes",
        "consultation_households",
        "consultations",
    ):
        op.drop_table(table)
