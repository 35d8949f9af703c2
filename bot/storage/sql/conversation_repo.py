"""SQL conversation store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.conversations import Conversation, ConversationStore, Mode
from bot.storage.sql.conversation_models import ConversationRow
from bot.storage.sql.database import Database
from bot.storage.state import Fenced

_FIELDS = (
    "committee",
    "channel",
    "account",
    "chat_id",
    "chat_type",
    "sender_id",
    "sender_name",
    "compound",
    "state",
    "handoff_reason",
    "handoff_at",
    "assignee_id",
    "assignee_name",
    "ticket_number",
    "last_message_at",
)


class SqlConversationStore(ConversationStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, key: str) -> Conversation | None:
        async with self._db.session() as s:
            row = await s.get(ConversationRow, key)
            return None if row is None else conversation_of(row)

    async def save(self, conversation: Conversation, *, fence: int | None = None) -> None:
        if fence is not None:
            await self._save_fenced(conversation, fence)
            return
        async with self._db.session() as s:
            row = await s.get(ConversationRow, conversation.key)
            if row is None:
                row = ConversationRow(key=conversation.key, version=0)
                s.add(row)
            for name in _FIELDS:
                setattr(row, name, getattr(conversation, name))
            row.mode = conversation.mode.value
            row.version = (row.version or 0) + 1
        conversation.version = row.version

    async def _save_fenced(self, conversation: Conversation, fence: int) -> None:
        async with self._db.session() as s:
            version = await save_fenced(s, conversation, fence)
        conversation.version = version

    async def recent(
        self, committee: str, modes: tuple[Mode, ...] = (), limit: int = 200
    ) -> list[Conversation]:
        stmt = select(ConversationRow).where(ConversationRow.committee == committee)
        if modes:
            stmt = stmt.where(ConversationRow.mode.in_([m.value for m in modes]))
        stmt = stmt.order_by(ConversationRow.last_message_at.desc()).limit(limit)
        async with self._db.session() as s:
            return [conversation_of(r) for r in (await s.scalars(stmt)).all()]

    async def waiting_since(self, before: datetime, limit: int = 100) -> list[Conversation]:
        stmt = (
            select(ConversationRow)
            .where(ConversationRow.mode == Mode.WAITING.value)
            .where(ConversationRow.handoff_at <= before)
            .order_by(ConversationRow.handoff_at)
            .limit(limit)
        )
        async with self._db.session() as s:
            return [conversation_of(r) for r in (await s.scalars(stmt)).all()]


async def save_fenced(s: AsyncSession, conversation: Conversation, fence: int) -> int:
    """Write ``conversation`` in the unit of work ``s`` under the lock token ``fence``
    (``ConversationStore.save``): its new version, once ``s`` commits. Raises ``Fenced`` when a
    newer holder saved already, or anyone saved since it was read."""
    values = {name: getattr(conversation, name) for name in _FIELDS}
    values["mode"] = conversation.mode.value
    stmt = (
        update(ConversationRow)
        .where(
            ConversationRow.key == conversation.key,
            ConversationRow.fence <= fence,
            # Also what this holder read: a holder that lost the lock while it worked
            # must not overwrite a save made meanwhile (even one under an older token).
            ConversationRow.version == conversation.version,
        )
        .values(**values, fence=fence, version=ConversationRow.version + 1)
        .returning(ConversationRow.version)
    )
    version = (await s.execute(stmt)).scalar_one_or_none()
    if version is not None:
        return int(version)
    if await s.get(ConversationRow, conversation.key) is not None:
        raise Fenced("conversation saved meanwhile under another lock")
    s.add(ConversationRow(key=conversation.key, **values, fence=fence, version=1))
    try:
        await s.flush()
    except IntegrityError:
        # Created meanwhile by a holder of the lock that took over from this one.
        raise Fenced(f"conversation created under a newer lock than {fence}") from None
    return 1


def conversation_of(row: ConversationRow) -> Conversation:
    """The conversation a stored row holds."""
    return Conversation(
        key=row.key,
        committee=row.committee,
        channel=row.channel,
        account=row.account,
        chat_id=row.chat_id,
        chat_type=row.chat_type,
        sender_id=row.sender_id,
        sender_name=row.sender_name,
        compound=row.compound,
        mode=Mode(row.mode),
        state=dict(row.state or {}),
        handoff_reason=row.handoff_reason,
        handoff_at=row.handoff_at,
        assignee_id=row.assignee_id,
        assignee_name=row.assignee_name,
        ticket_number=row.ticket_number,
        last_message_at=row.last_message_at,
        version=row.version,
    )
