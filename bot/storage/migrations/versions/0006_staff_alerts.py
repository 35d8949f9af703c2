"""Staff alerts: one durable row per alert raised for an inbound message, with its delivery,
escalation and acknowledgement.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "staff_alerts",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("committee", sa.String(64), nullable=False),
        sa.Column("source_key", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("conversation_key", sa.String(400), nullable=True),
        sa.Column("ticket_number", sa.String(40), nullable=True),
        sa.Column("holder", sa.String(128), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("escalate_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("last_attempt_at", TS, nullable=True),
        sa.Column("acknowledged_by", sa.String(128), nullable=True),
        sa.Column("acknowledged_by_name", sa.String(200), nullable=False),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("steps_count", sa.Integer(), nullable=False),
        sa.Column("steps_posted", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("uq_staff_alerts_source", "staff_alerts", ["source_key", "kind"], unique=True)
    op.create_index("ix_staff_alerts_committee", "staff_alerts", ["committee", "status", "id"])
    op.create_index("ix_staff_alerts_due", "staff_alerts", ["status", "next_attempt_at"])
    op.create_index("ix_staff_alerts_escalate", "staff_alerts", ["status", "escalate_at"])
    op.create_index("ix_staff_alerts_attempted", "staff_alerts", ["committee", "last_attempt_at"])


def downgrade() -> None:
    op.drop_table("staff_alerts")
