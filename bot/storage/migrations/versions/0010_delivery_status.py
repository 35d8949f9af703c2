"""Delivery status of outbound messages: the platform's error when a send failed, when the
status last changed (a caseworker's retry holds a failed message for a while), and which
resident message a bot reply answers (a late reply's outcome is set on its rows).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("reply_of", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("delivery_code", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("delivery_error", sa.String(300), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("delivery_at", TS, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("delivery_at")
        batch.drop_column("delivery_error")
        batch.drop_column("delivery_code")
        batch.drop_column("reply_of")
