"""SQL implementations of the store interfaces."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.domain import IncomingMessage, Reply
from bot.storage.conversations import Conversation
from bot.storage.faqs import FaqRevision, FaqStore, UpsertSummary
from bot.storage.messages import LoggedMessage, MessageLog
from bot.storage.sql.database import Database
from bot.storage.sql.models import FaqRevisionRow, FaqRow, MessageRow, utcnow


class SqlMessageLog(MessageLog):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record_inbound(self, msg: IncomingMessage) -> bool:
        values = {
            "committee": msg.committee,
            "conversation_key": msg.conversation_key,
            "channel": msg.channel,
            "account": msg.account,
            "chat_id": msg.chat.id,
            "chat_type": msg.chat.type.value,
            "sender_id": msg.sender.id,
            "sender_name": msg.sender.name,
            "direction": "in",
            "msg_type": msg.type.value,
            "text": msg.text,
            "kind": msg.event or "",
            "external_id": msg.message_id,
            "delivery": "",
            "created_at": msg.received_at,
        }
        insert = pg_insert if self._db.dialect == "postgresql" else sqlite_insert
        stmt = insert(MessageRow).values(**values).on_conflict_do_nothing()
        async with self._db.session() as s:
            result = await s.execute(stmt)
        return bool(getattr(result, "rowcount", 1))

    async def record_outbound(
        self, msg: IncomingMessage, replies: list[Reply], delivery: str
    ) -> None:
        now = utcnow()
        async with self._db.session() as s:
            s.add_all(
                MessageRow(
                    committee=msg.committee,
                    conversation_key=msg.conversation_key,
                    channel=msg.channel,
                    account=msg.account,
                    chat_id=msg.chat.id,
                    chat_type=msg.chat.type.value,
                    sender_id="linli",
                    sender_name="邻里",
                    direction="out",
                    msg_type="text",
                    text=r.text,
                    kind=r.kind.value,
                    external_id=None,
                    delivery=delivery,
                    created_at=now,
                )
                for r in replies
            )

    async def record_proactive(
        self,
        to: Conversation,
        text: str,
        *,
        kind: str,
        direction: str,
        sender_name: str,
        delivery: str,
    ) -> int:
        row = MessageRow(
            committee=to.committee,
            conversation_key=to.key,
            channel=to.channel,
            account=to.account,
            chat_id=to.chat_id,
            chat_type=to.chat_type,
            sender_id="linli" if direction == "out" else "staff",
            sender_name=sender_name,
            direction=direction,
            msg_type="text",
            text=text,
            kind=kind,
            external_id=None,
            delivery=delivery,
            created_at=utcnow(),
        )
        async with self._db.session() as s:
            s.add(row)
            await s.flush()
            return row.id

    async def since(self, conversation_key: str, after_id: int) -> list[LoggedMessage]:
        stmt = (
            select(MessageRow)
            .where(MessageRow.conversation_key == conversation_key, MessageRow.id > after_id)
            .order_by(MessageRow.id)
            .limit(200)
        )
        async with self._db.session() as s:
            return [_logged(r) for r in (await s.scalars(stmt)).all()]

    async def conversation(self, conversation_key: str, limit: int = 200) -> list[LoggedMessage]:
        stmt = (
            select(MessageRow)
            .where(MessageRow.conversation_key == conversation_key)
            .order_by(MessageRow.id.desc())
            .limit(limit)
        )
        async with self._db.session() as s:
            rows = (await s.scalars(stmt)).all()
        return [_logged(r) for r in reversed(rows)]


class SqlFaqStore(FaqStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def load(self, committee: str) -> list[dict[str, Any]]:
        stmt = (
            select(FaqRow.data)
            .where(FaqRow.committee == committee, FaqRow.deleted.is_(False))
            .order_by(FaqRow.faq_id)
        )
        async with self._db.session() as s:
            return [dict(d) for d in (await s.scalars(stmt)).all()]

    async def revision(self, committee: str) -> str:
        stmt = select(func.count(), func.max(FaqRow.updated_at)).where(
            FaqRow.committee == committee
        )
        async with self._db.session() as s:
            count, latest = (await s.execute(stmt)).one()
        return f"{count}:{latest.isoformat() if latest else '-'}"

    async def upsert_many(
        self, committee: str, entries: list[dict[str, Any]], actor: str
    ) -> UpsertSummary:
        ids = [str(e["id"]) for e in entries]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate FAQ ids in one upsert")
        created = updated = unchanged = 0
        now = utcnow()
        async with self._db.session() as s:
            existing = {
                r.faq_id: r
                for r in (
                    await s.scalars(
                        select(FaqRow).where(FaqRow.committee == committee, FaqRow.faq_id.in_(ids))
                    )
                ).all()
            }
            for entry, faq_id in zip(entries, ids, strict=True):
                row = existing.get(faq_id)
                if row is None:
                    s.add(
                        FaqRow(
                            committee=committee,
                            faq_id=faq_id,
                            data=entry,
                            deleted=False,
                            updated_at=now,
                            updated_by=actor,
                        )
                    )
                    s.add(_revision(committee, faq_id, actor, "create", None, entry))
                    created += 1
                elif row.deleted or row.data != entry:
                    before = None if row.deleted else dict(row.data)
                    row.data, row.deleted, row.updated_at, row.updated_by = (
                        entry,
                        False,
                        now,
                        actor,
                    )
                    action = "create" if before is None else "update"
                    s.add(_revision(committee, faq_id, actor, action, before, entry))
                    updated += 1
                else:
                    unchanged += 1
        return UpsertSummary(created, updated, unchanged)

    async def delete(self, committee: str, faq_id: str, actor: str) -> bool:
        async with self._db.session() as s:
            row = await s.get(FaqRow, (committee, faq_id))
            if row is None or row.deleted:
                return False
            s.add(_revision(committee, faq_id, actor, "delete", dict(row.data), None))
            row.deleted, row.updated_at, row.updated_by = True, utcnow(), actor
        return True

    async def history(self, committee: str, faq_id: str) -> list[FaqRevision]:
        stmt = (
            select(FaqRevisionRow)
            .where(FaqRevisionRow.committee == committee, FaqRevisionRow.faq_id == faq_id)
            .order_by(FaqRevisionRow.id)
        )
        async with self._db.session() as s:
            rows = (await s.scalars(stmt)).all()
        return [
            FaqRevision(r.id, r.faq_id, r.actor, r.action, r.before, r.after, r.created_at)
            for r in rows
        ]


def _logged(r: MessageRow) -> LoggedMessage:
    return LoggedMessage(
        id=r.id,
        conversation_key=r.conversation_key,
        direction=r.direction,
        sender_name=r.sender_name,
        text=r.text,
        kind=r.kind,
        delivery=r.delivery,
        created_at=r.created_at,
    )


def _revision(
    committee: str,
    faq_id: str,
    actor: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> FaqRevisionRow:
    return FaqRevisionRow(
        committee=committee, faq_id=faq_id, actor=actor, action=action, before=before, after=after
    )
