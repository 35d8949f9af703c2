"""SQL cursor store (``channel_cursors``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.storage.cursors import CursorStore
from bot.storage.sql.database import Database
from bot.storage.sql.models import ChannelCursorRow


class SqlCursorStore(CursorStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, channel: str, account: str) -> str:
        async with self._db.session() as s:
            value = await s.scalar(
                select(ChannelCursorRow.cursor).where(
                    ChannelCursorRow.channel == channel, ChannelCursorRow.account == account
                )
            )
        return value or ""

    async def set(self, channel: str, account: str, cursor: str) -> None:
        async with self._db.session() as s:
            row = await s.get(ChannelCursorRow, (channel, account))
            if row is None:
                s.add(
                    ChannelCursorRow(
                        channel=channel, account=account, cursor=cursor, updated_at=_now()
                    )
                )
            else:
                row.cursor = cursor
                row.updated_at = _now()


def _now() -> datetime:
    return datetime.now(UTC)
