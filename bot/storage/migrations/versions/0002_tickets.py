"""Tickets (工单): tickets, per-day number counters, event history, links, resident outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(40), nullable=False),
        sa.Column("committee", sa.String(64), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("compound", sa.String(64), nullable=True),
        sa.Column("building", sa.String(40), nullable=False),
        sa.Column("building_key", sa.String(40), nullable=False),
        sa.Column("unit", sa.String(40), nullable=False),
        sa.Column("room", sa.String(40), nullable=False),
        sa.Column("reporter_channel", sa.String(32), nullable=False),
        sa.Column("reporter_account", sa.String(64), nullable=False),
        sa.Column("reporter_chat_id", sa.String(200), nullable=False),
        sa.Column("reporter_chat_type", sa.String(16), nullable=False),
        sa.Column("reporter_sender_id", sa.String(200), nullable=False),
        sa.Column("reporter_name", sa.String(200), nullable=False),
        sa.Column("reporter_phone", sa.String(40), nullable=True),
        sa.Column("conversation_key", sa.String(400), nullable=False),
        sa.Column("assignee_id", sa.String(128), nullable=True),
        sa.Column("assignee_name", sa.String(200), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("source_key", sa.String(300), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("first_response_due", TS, nullable=False),
        sa.Column("resolution_due", TS, nullable=False),
        sa.Column("first_response_at", TS, nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("reopened_at", TS, nullable=True),
        sa.Column("rating_requested_at", TS, nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("satisfaction_comment", sa.Text(), nullable=False),
        sa.Column("rated_at", TS, nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("uq_tickets_number", "tickets", ["committee", "number"], unique=True)
    op.create_index("uq_tickets_source_key", "tickets", ["source_key"], unique=True)
    op.create_index("ix_tickets_status", "tickets", ["committee", "status"])
    op.create_index(
        "ix_tickets_resident",
        "tickets",
        ["committee", "reporter_channel", "reporter_account", "reporter_sender_id"],
    )
    op.create_index("ix_tickets_conversation", "tickets", ["committee", "conversation_key"])
    op.create_index(
        "ix_tickets_place",
        "tickets",
        ["committee", "compound", "building_key", "category", "created_at"],
    )
    op.create_index("ix_tickets_created", "tickets", ["committee", "created_at"])
    op.create_index("ix_tickets_rating", "tickets", ["status", "rating_requested_at"])

    op.create_table(
        "ticket_counters",
        sa.Column("committee", sa.String(64), primary_key=True),
        sa.Column("day", sa.String(8), primary_key=True),
        sa.Column("last", sa.Integer(), nullable=False),
    )

    op.create_table(
        "ticket_events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id",
            BigId,
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("committee", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(300), nullable=False),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("status_from", sa.String(20), nullable=True),
        sa.Column("status_to", sa.String(20), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_ticket_events_ticket", "ticket_events", ["ticket_id", "id"])
    op.create_index("ix_ticket_events_kind", "ticket_events", ["committee", "kind", "created_at"])

    op.create_table(
        "ticket_links",
        sa.Column(
            "ticket_id",
            BigId,
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "other_id",
            BigId,
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("created_at", TS, nullable=False),
    )

    op.create_table(
        "ticket_outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id",
            BigId,
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("committee", sa.String(64), nullable=False),
        sa.Column("ticket_number", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("conversation_key", sa.String(400), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("chat_id", sa.String(200), nullable=False),
        sa.Column("chat_type", sa.String(16), nullable=False),
        sa.Column("recipient_id", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("leased_until", TS, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("failed_at", TS, nullable=True),
    )
    op.create_index(
        "ix_ticket_outbox_pending", "ticket_outbox", ["delivered_at", "failed_at", "id"]
    )
    op.create_index("ix_ticket_outbox_ticket", "ticket_outbox", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("ticket_outbox")
    op.drop_table("ticket_links")
    op.drop_table("ticket_events")
    op.drop_table("ticket_counters")
    op.drop_table("tickets")
