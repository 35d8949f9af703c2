"""Past one machine (deploy/README.md): every table of residents' data carries the committee,
the key a distributed PostgreSQL would partition by; the few that do not are small reference
tables every node may hold whole. A new table must pick a side here."""

from __future__ import annotations

import bot.storage.sql.account_models
import bot.storage.sql.alert_models
import bot.storage.sql.conversation_models
import bot.storage.sql.ticket_models  # noqa: F401
from bot.storage.sql.models import Base

REFERENCE_TABLES = {
    # Staff accounts: street-level admins have no committee; a few hundred rows per street.
    "users": "staff accounts, street-wide",
    "user_sessions": "logins of staff accounts",
    "api_tokens": "API tokens of staff accounts",
    # A platform account (e.g. one WeChat customer-service account) may serve a whole street.
    "channel_cursors": "one sync cursor per platform account",
}


def test_every_residents_table_carries_the_committee() -> None:
    tables = Base.metadata.tables
    assert set(REFERENCE_TABLES) <= set(tables), set(REFERENCE_TABLES) - set(tables)
    missing = sorted(
        name
        for name, table in tables.items()
        if name not in REFERENCE_TABLES and "committee" not in table.c
    )
    assert missing == [], f"tables without a committee column: {missing}"
    for name, table in tables.items():
        if name not in REFERENCE_TABLES:
            assert not table.c.committee.nullable, f"{name}.committee may be NULL"
