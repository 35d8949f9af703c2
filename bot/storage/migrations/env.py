"""Alembic environment: runs on the connection handed over by ``Database.migrate``."""

from alembic import context

from bot.storage.sql.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only used through Database.migrate
    raise RuntimeError("run migrations through bot.storage.sql.Database.migrate()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
