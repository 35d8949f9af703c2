"""SQL conversation store."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

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


_TABLE = cast(Table, ConversationRow.__table__)
_C = _TABLE.c
# The hot path's statements, built once: their cache keys and compiled forms are reused.
_SAVE = (
    update(_TABLE)
    .where(
        _C.key == bindparam("b_key"),
        _C.fence <= bindparam("b_fence"),
        # Also what this holder read: a holder that lost the lock while it worked
        # must not overwrite a save made meanwhile (even one under an older token).
        _C.version == bindparam("b_version"),
    )
    .values(version=_C.version + 1)
    .returning(_C.version)
)
"""Executed with the columns to write as parameters (``_FIELDS``, ``mode``, ``fence``)."""
_EXISTS = select(_C.key).where(_C.key == bindparam("b_key"))
_CREATE = insert(_TABLE)
BY_KEY = select(_TABLE).where(_C.key == bindparam("b_key"))
"""A conversation's row by its key (parameter ``b_key``)."""

TABLE_NAME = _TABLE.name


def save_fenced_sql(first: int, *, only_if: str) -> str:
    """``save_fenced``'s update as PostgreSQL text for ``Database.statement``, its parameters
    numbered from ``first`` (``fenced_params``), made also conditional on the SQL condition
    ``only_if``; returns the new version, or no row."""
    n = iter(range(first, first + len(_FIELDS) + 5))
    sets = ", ".join(f"{name} = ${next(n)}" for name in (*_FIELDS, "mode", "fence"))
    return (
        f"UPDATE {TABLE_NAME} SET {sets}, version = version + 1 "  # noqa: S608 - names, $n only
        f"WHERE key = ${next(n)} AND fence <= ${next(n)} AND version = ${next(n)} "
        f"AND {only_if} RETURNING version"
    )


def fenced_params(conversation: Conversation, fence: int) -> list[Any]:
    """The parameters of ``save_fenced_sql``, in order."""
    values: list[Any] = [getattr(conversation, name) for name in _FIELDS]
    values[_FIELDS.index("state")] = json.dumps(conversation.state)
    values += [conversation.mode.value, fence, conversation.key, fence, conversation.version]
    return values


class SqlConversationStore(ConversationStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, key: str) -> Conversation | None:
        async with self._db.transaction() as conn:
            row = (await conn.execute(BY_KEY, {"b_key": key})).first()
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
        async with self._db.transaction() as conn:
            version = await save_fenced(conn, conversation, fence)
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


async def save_fenced(conn: AsyncConnection, conversation: Conversation, fence: int) -> int:
    """Write ``conversation`` in the transaction of ``conn`` under the lock token ``fence``
    (``ConversationStore.save``): its new version, once the transaction commits. Raises
    ``Fenced`` when a newer holder saved already, or anyone saved since it was read."""
    values: dict[str, Any] = {name: getattr(conversation, name) for name in _FIELDS}
    values["mode"] = conversation.mode.value
    values["fence"] = fence
    params = {**values, "b_key": conversation.key, "b_fence": fence}
    params["b_version"] = conversation.version
    version = (await conn.execute(_SAVE, params)).scalar_one_or_none()
    if version is not None:
        return int(version)
    if (await conn.execute(_EXISTS, {"b_key": conversation.key})).first() is not None:
        raise Fenced("conversation saved meanwhile under another lock")
    try:
        await conn.execute(_CREATE, {**values, "key": conversation.key, "version": 1})
    except IntegrityError:
        # Created meanwhile by a holder of the lock that took over from this one.
        raise Fenced(f"conversation created under a newer lock than {fence}") from None
    return 1


def conversation_of_record(rec: Mapping[str, Any]) -> Conversation:
    """The conversation a row read by the driver itself holds (``Database.statement``)."""
    values = {field: rec[field] for field in _FIELDS}
    values["state"] = dict(values["state"] or {})
    return Conversation(key=rec["key"], mode=Mode(rec["mode"]), version=rec["version"], **values)


def conversation_of(row: ConversationRow | Row[Any]) -> Conversation:
    """The conversation a stored row holds (an ORM row or a Core row of the table)."""
    record = {field: getattr(row, field) for field in (*_FIELDS, "key", "mode", "version")}
    return conversation_of_record(record)
