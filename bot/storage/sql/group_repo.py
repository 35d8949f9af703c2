"""SQL group-post store (``group_posts``): every change is one conditional UPDATE (state and
version checked), so two workers never both join, cancel or send the same post."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.storage.group_posts import (
    Asker,
    GroupPost,
    GroupPostStore,
    NewPost,
    PostKind,
    PostState,
)
from bot.storage.sql.database import Database
from bot.storage.sql.group_models import GroupPostRow
from bot.storage.sql.models import utcnow

_ATTEMPTS = 8
"""Optimistic retries of a join that raced another worker's."""


class SqlGroupPostStore(GroupPostStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, post: NewPost) -> tuple[GroupPost, bool]:
        key = _open_key(post.channel, post.account, post.chat_id, post.kind, post.topic)
        asker = _asker_json(post.asker)
        for _ in range(_ATTEMPTS):
            async with self._db.session() as s:
                row = await s.scalar(select(GroupPostRow).where(GroupPostRow.open_key == key))
                if row is not None:
                    if any(a.get("id") == post.asker.id for a in row.askers):
                        return _post(row), False
                    joined = await s.execute(
                        update(GroupPostRow)
                        .where(
                            GroupPostRow.id == row.id,
                            GroupPostRow.version == row.version,
                            GroupPostRow.state == PostState.PENDING.value,
                        )
                        .values(
                            askers=[*row.askers, asker],
                            version=row.version + 1,
                            updated_at=utcnow(),
                        )
                        .execution_options(synchronize_session=False)
                    )
                    if _count(joined) == 1:
                        await s.refresh(row)
                        return _post(row), False
                    continue  # raced: read it again
            try:
                async with self._db.session() as s:
                    created = GroupPostRow(
                        committee=post.committee,
                        channel=post.channel,
                        account=post.account,
                        chat_id=post.chat_id,
                        kind=post.kind.value,
                        topic=post.topic,
                        question=post.question,
                        answer=post.answer,
                        askers=[asker],
                        asked_at=post.asked_at,
                        due_at=post.due_at,
                        state=PostState.PENDING.value,
                        open_key=key,
                        version=0,
                        delivery="",
                        updated_at=utcnow(),
                    )
                    s.add(created)
                    await s.flush()
                    return _post(created), True
            except IntegrityError:
                continue  # another worker created it first: join it
        raise RuntimeError("could not add a group post: too many concurrent changes")

    async def spoke(
        self,
        channel: str,
        account: str,
        chat_id: str,
        sender_id: str,
        now: datetime,
        *,
        joining: str = "",
    ) -> int:
        cancelled = 0
        async with self._db.session() as s:
            rows = (
                await s.scalars(
                    select(GroupPostRow).where(
                        GroupPostRow.channel == channel,
                        GroupPostRow.account == account,
                        GroupPostRow.chat_id == chat_id,
                        GroupPostRow.state == PostState.PENDING.value,
                        GroupPostRow.kind == PostKind.UNANSWERED.value,
                        GroupPostRow.due_at > now,
                    )
                )
            ).all()
            for row in rows:
                if row.topic == joining or any(a.get("id") == sender_id for a in row.askers):
                    continue
                done = await s.execute(
                    update(GroupPostRow)
                    .where(
                        GroupPostRow.id == row.id,
                        GroupPostRow.state == PostState.PENDING.value,
                        GroupPostRow.version == row.version,
                    )
                    .values(
                        state=PostState.CANCELLED.value,
                        open_key=None,
                        version=row.version + 1,
                        updated_at=utcnow(),
                    )
                    .execution_options(synchronize_session=False)
                )
                cancelled += _count(done)
        return cancelled

    async def due(self, now: datetime, limit: int = 100) -> list[GroupPost]:
        async with self._db.session() as s:
            rows = (
                await s.scalars(
                    select(GroupPostRow)
                    .where(
                        GroupPostRow.state == PostState.PENDING.value,
                        GroupPostRow.due_at <= now,
                    )
                    .order_by(GroupPostRow.due_at, GroupPostRow.id)
                    .limit(limit)
                )
            ).all()
            return [_post(r) for r in rows]

    async def claim(self, post_id: int) -> bool:
        async with self._db.session() as s:
            done = await s.execute(
                update(GroupPostRow)
                .where(GroupPostRow.id == post_id, GroupPostRow.state == PostState.PENDING.value)
                .values(
                    state=PostState.SENDING.value,
                    open_key=None,
                    version=GroupPostRow.version + 1,
                    updated_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
            return _count(done) == 1

    async def finish(self, post_id: int, state: PostState, delivery: str) -> None:
        async with self._db.session() as s:
            await s.execute(
                update(GroupPostRow)
                .where(GroupPostRow.id == post_id, GroupPostRow.state == PostState.SENDING.value)
                .values(state=state.value, delivery=delivery[:16], updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )

    async def get(self, post_id: int) -> GroupPost | None:
        async with self._db.session() as s:
            row = await s.get(GroupPostRow, post_id)
            return None if row is None else _post(row)


def _open_key(channel: str, account: str, chat_id: str, kind: PostKind, topic: str) -> str:
    return f"{channel}:{account}:{chat_id}:{kind.value}:{topic}"[:600]


def _asker_json(asker: Asker) -> dict[str, Any]:
    return {"id": asker.id, "name": asker.name, "conversation_key": asker.conversation_key}


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _post(row: GroupPostRow) -> GroupPost:
    return GroupPost(
        id=row.id,
        committee=row.committee,
        channel=row.channel,
        account=row.account,
        chat_id=row.chat_id,
        kind=PostKind(row.kind),
        topic=row.topic,
        question=row.question,
        answer=row.answer,
        askers=tuple(
            Asker(str(a.get("id", "")), str(a.get("name", "")), str(a.get("conversation_key", "")))
            for a in row.askers
        ),
        asked_at=row.asked_at,
        due_at=row.due_at,
        state=PostState(row.state),
        delivery=row.delivery,
    )
