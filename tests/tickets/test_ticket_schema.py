"""The 0002 migration creates exactly what the SQLAlchemy models describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from bot.storage.sql import Database
from bot.storage.sql.models import Base
from bot.storage.sql.ticket_models import TicketRow

TICKET_TABLES = {"tickets", "ticket_counters", "ticket_events", "ticket_links", "ticket_outbox"}


def _table_of(diff: Any) -> str | None:
    for item in diff if isinstance(diff, list) else [diff]:
        for part in item[1:] if isinstance(item, tuple) else ():
            name = getattr(part, "name", None)
            table = getattr(part, "table", None)
            if table is not None and getattr(table, "name", None):
                return str(table.name)
            if isinstance(part, str) and part in TICKET_TABLES:
                return part
            if name in TICKET_TABLES:
                return str(name)
    return None


async def test_the_migration_matches_the_models(db: Database) -> None:
    def diff(conn: Connection) -> list[Any]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))

    async with db.engine.connect() as conn:
        diffs = await conn.run_sync(diff)
    ours = [d for d in diffs if _table_of(d) in TICKET_TABLES]
    assert ours == []
    assert TicketRow.__tablename__ in Base.metadata.tables
