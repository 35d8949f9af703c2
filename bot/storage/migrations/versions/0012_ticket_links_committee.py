"""Ticket links carry their committee like every other table of residents' data: the key a
distributed PostgreSQL (e.g. Citus) would partition by, street by street.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_links") as batch:
        batch.add_column(sa.Column("committee", sa.String(64), nullable=False, server_default=""))
    op.execute(
        "UPDATE ticket_links SET committee = "
        "(SELECT tickets.committee FROM tickets WHERE tickets.id = ticket_links.ticket_id)"
    )
    with op.batch_alter_table("ticket_links") as batch:
        batch.alter_column("committee", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("ticket_links") as batch:
        batch.drop_column("committee")
