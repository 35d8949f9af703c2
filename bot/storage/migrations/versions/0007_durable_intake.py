"""Durable intake: an inbound message carries its processing lease (``claimed_until``), the
fencing token of its latest claim, its attempts, its stored answer, and what is needed to
take it up again (mentioned, media id, event key, where a late answer goes); conversations
carry the fencing token of their last save.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(
            sa.Column("mentioned", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("media_id", sa.Text(), nullable=True))
        batch.add_column(sa.Column("event_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reply_to", sa.Text(), nullable=True))
        batch.add_column(sa.Column("claimed_until", TS, nullable=True))
        batch.add_column(sa.Column("fence", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("result", sa.Text(), nullable=True))
    op.create_index(
        "ix_messages_unfinished",
        "messages",
        ["claimed_until"],
        postgresql_where=sa.text("claimed_until IS NOT NULL"),
        sqlite_where=sa.text("claimed_until IS NOT NULL"),
    )
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("fence", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("fence")
    op.drop_index("ix_messages_unfinished", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        for name in (
            "result",
            "attempts",
            "fence",
            "claimed_until",
            "reply_to",
            "event_key",
            "media_id",
            "mentioned",
        ):
            batch.drop_column(name)
