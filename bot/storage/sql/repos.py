"""SQL implementations of the store interfaces."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta
from typing import Any, cast

import asyncpg
from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    case,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.dml import Insert, Update

from bot.domain import Chat, ChatType, IncomingMessage, MessageType, Reply, ReplyKind, Sender
from bot.domain.clock import UTC_OFFSET, ZONE_NAME, day_bounds
from bot.domain.once import RETRY_HOLD_S, Answer, Delivery, DeliveryReport
from bot.logs import mask_personal
from bot.storage.conversations import Conversation
from bot.storage.faqs import (
    NEVER_CHANGED,
    Expect,
    FaqConflict,
    FaqRevision,
    FaqStore,
    StoredFaq,
    UpsertSummary,
)
from bot.storage.messages import (
    NOT_FOR_BOT,
    DeliveryCount,
    InboundRecord,
    InboundStatus,
    Intake,
    LoggedMessage,
    MessageLog,
    OutcomeCount,
    PendingLate,
    Unfinished,
    outcome_of,
)
from bot.storage.sql.conversation_repo import (
    BY_KEY,
    TABLE_NAME,
    conversation_of,
    conversation_of_record,
    fenced_params,
    save_fenced,
    save_fenced_sql,
)
from bot.storage.sql.database import Database
from bot.storage.sql.models import FaqRevisionRow, FaqRow, MessageRow, utcnow

_MESSAGES = cast(Table, MessageRow.__table__)
_M = _MESSAGES.c
# The per-message statements, built once with bound parameters: SQLAlchemy reuses their
# cache keys and compiled forms (building them per message cost more than running them).
_CLAIM: dict[str, Insert] = {
    "postgresql": pg_insert(_MESSAGES).on_conflict_do_nothing(),
    "sqlite": sqlite_insert(_MESSAGES).on_conflict_do_nothing(),
}
"""Store an inbound message unless stored already (executed with the row's columns)."""
_INBOUND_ROW = (
    _M.direction == "in",
    _M.channel == bindparam("b_channel"),
    _M.account == bindparam("b_account"),
    _M.external_id == bindparam("b_external_id"),
)
_HELD_ROW = (*_INBOUND_ROW, _M.fence == bindparam("b_fence"), _M.claimed_until.is_not(None))
_OUTBOUND = insert(_MESSAGES)


def _answer_statement(fenced: bool, silent: bool, pending: bool) -> Update:
    # A silent turn keeps an outcome set during it (``human``).
    outcome: Any = (
        case((_M.outcome == "", NOT_FOR_BOT), else_=_M.outcome)
        if silent
        else bindparam("b_outcome", type_=_M.outcome.type)
    )
    values: dict[str, Any] = {
        "outcome": outcome,
        "result": bindparam("b_result", type_=_M.result.type),
        "claimed_until": None,
    }
    if not pending:
        # A pending late reply may have to be sent again: it keeps where it goes.
        values["reply_to"] = None
    return (
        update(_MESSAGES)
        .where(*(_HELD_ROW if fenced else _INBOUND_ROW))
        .values(**values)
        .returning(_M.id)
    )


_ANSWER = {
    (f, q, p): _answer_statement(f, q, p)
    for f in (False, True)
    for q in (False, True)
    for p in (False, True)
}
"""Answer an inbound row: by (held under a fence, silent, late reply pending)."""
_PENDING: ColumnElement[str] = literal_column(f"'{Delivery.PENDING.value}'")
"""``Delivery.PENDING`` as a literal: the partial index ``ix_messages_pending`` is used only
when the query names the very value it was built on."""


def _row_params(msg: IncomingMessage) -> dict[str, Any]:
    """The parameters of ``_INBOUND_ROW``."""
    return {
        "b_channel": msg.channel,
        "b_account": msg.account,
        "b_external_id": msg.message_id,
    }


class SqlMessageLog(MessageLog):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim_inbound(
        self,
        msg: IncomingMessage,
        *,
        fence: int,
        lease_s: float,
        reply_to: str = "",
        read_conversation: bool = False,
    ) -> InboundStatus:
        now = utcnow()
        until = now + timedelta(seconds=lease_s)
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
            # A group's personal data (phone, ID, a named flat) is never kept in clear.
            "text": mask_personal(msg.text) if msg.chat.type is ChatType.GROUP else msg.text,
            "kind": msg.event or "",
            "external_id": msg.message_id,
            "delivery": "",
            "created_at": msg.received_at,
            "mentioned": msg.mentioned,
            "media_id": msg.media_id,
            "event_key": msg.event_key,
            "reply_to": reply_to or None,
            "claimed_until": until,
            "fence": fence,
            "attempts": 1 if fence else 0,
        }
        if fence > 0 and self._db.single_statements:
            status = await _claim_new(self._db, values, msg, read_conversation)
            if status is not None:
                return status
        async with self._db.transaction() as conn:
            result = await conn.execute(_CLAIM[self._db.dialect], values)
            if getattr(result, "rowcount", 1):
                return await _held_status(conn, msg, Intake.NEW, read_conversation)
            if fence > 0:
                took = await conn.execute(
                    update(MessageRow)
                    .where(
                        *_inbound_row(msg),
                        MessageRow.claimed_until.is_not(None),
                        MessageRow.claimed_until <= now,
                        MessageRow.fence < fence,
                    )
                    .values(
                        fence=fence,
                        claimed_until=until,
                        attempts=MessageRow.attempts + 1,
                        reply_to=reply_to or MessageRow.reply_to,
                    )
                )
                if getattr(took, "rowcount", 0):
                    return await _held_status(conn, msg, Intake.TAKEN_OVER, read_conversation)
            return await _status(conn, msg) or InboundStatus(Intake.BUSY)

    async def renew_inbound(self, msg: IncomingMessage, fence: int, lease_s: float) -> bool:
        until = utcnow() + timedelta(seconds=lease_s)
        async with self._db.session() as s:
            result = await s.execute(
                update(MessageRow).where(*_held(msg, fence)).values(claimed_until=until)
            )
        return bool(getattr(result, "rowcount", 0))

    async def release_inbound(self, msg: IncomingMessage, fence: int) -> None:
        async with self._db.session() as s:
            await s.execute(
                update(MessageRow).where(*_held(msg, fence)).values(claimed_until=utcnow())
            )

    async def inbound_status(self, msg: IncomingMessage) -> InboundStatus | None:
        async with self._db.session() as s:
            return await _status(s, msg)

    async def unfinished(self, limit: int = 50) -> list[Unfinished]:
        stmt = (
            select(MessageRow)
            .where(
                MessageRow.claimed_until.is_not(None),
                MessageRow.claimed_until <= utcnow(),
                MessageRow.direction == "in",
            )
            .order_by(MessageRow.claimed_until)
            .limit(limit)
        )
        async with self._db.session() as s:
            rows = (await s.scalars(stmt)).all()
        return [Unfinished(_incoming(r), r.reply_to or "", r.attempts) for r in rows]

    async def record_outbound(
        self,
        msg: IncomingMessage,
        replies: list[Reply],
        delivery: str,
        *,
        fence: int | None = None,
        result: str | None = None,
    ) -> bool:
        async with self._db.transaction() as conn:
            return await _answer(conn, msg, replies, delivery, fence, result)

    async def record_answer(
        self,
        msg: IncomingMessage,
        replies: list[Reply],
        delivery: str,
        *,
        fence: int,
        result: str,
        conversation: Conversation,
        conversation_fence: int,
    ) -> bool:
        if conversation.version and self._db.single_statements:
            # One statement, one round trip; when it cannot tell (the conversation was not
            # saved), nothing was written and the transaction below decides.
            answered = await _answer_with_turn(
                self._db, msg, replies, delivery, fence, result, conversation, conversation_fence
            )
            if answered is not None:
                return answered
        async with self._db.transaction() as conn:
            # The inbound row first, as in ``record_outbound``: it locks the row, and a
            # message taken over meanwhile writes nothing, the turn included.
            if not await _answer(conn, msg, replies, delivery, fence, result):
                return False
            version = await save_fenced(conn, conversation, conversation_fence)
        conversation.version = version
        return True

    async def record_outcome(self, msg: IncomingMessage, outcome: str) -> None:
        async with self._db.session() as s:
            await s.execute(
                update(MessageRow).where(*_inbound_row(msg)).values(outcome=outcome[:16])
            )

    async def recent_inbound(
        self,
        committee: str,
        *,
        limit: int = 500,
        outcomes: Collection[str] | None = None,
        include_reviewed: bool = True,
    ) -> list[InboundRecord]:
        if limit <= 0 or (outcomes is not None and not outcomes):
            return []
        stmt = select(
            MessageRow.id,
            MessageRow.conversation_key,
            MessageRow.text,
            MessageRow.outcome,
            MessageRow.created_at,
            MessageRow.reviewed_at,
        ).where(
            MessageRow.committee == committee,
            MessageRow.direction == "in",
            MessageRow.msg_type != "event",
        )
        if outcomes is not None:
            stmt = stmt.where(MessageRow.outcome.in_(sorted(set(outcomes))))
        if not include_reviewed:
            stmt = stmt.where(MessageRow.reviewed_at.is_(None))
        stmt = stmt.order_by(MessageRow.id.desc()).limit(limit)
        async with self._db.session() as s:
            rows = (await s.execute(stmt)).all()
        return [InboundRecord(*row) for row in rows]

    async def mark_reviewed(self, committee: str, message_ids: Sequence[int]) -> int:
        ids = sorted({int(i) for i in message_ids})
        marked = 0
        now = utcnow()
        async with self._db.session() as s:
            for chunk in range(0, len(ids), 500):
                result = await s.execute(
                    update(MessageRow)
                    .where(
                        MessageRow.committee == committee,
                        MessageRow.direction == "in",
                        MessageRow.id.in_(ids[chunk : chunk + 500]),
                        MessageRow.reviewed_at.is_(None),
                    )
                    .values(reviewed_at=now)
                )
                marked += int(getattr(result, "rowcount", 0) or 0)
        return marked

    async def outcome_counts(
        self, start: date, end: date, committee: str | None = None
    ) -> list[OutcomeCount]:
        if end < start:
            return []
        lo, hi = day_bounds(start, end)
        day = self._local_day()
        stmt = (
            select(MessageRow.committee, day, MessageRow.outcome, func.count())
            .where(
                MessageRow.direction == "in",
                MessageRow.msg_type != "event",
                MessageRow.created_at >= lo,
                MessageRow.created_at < hi,
            )
            .group_by(MessageRow.committee, day, MessageRow.outcome)
        )
        if committee is not None:
            stmt = stmt.where(MessageRow.committee == committee)
        async with self._db.session() as s:
            rows = (await s.execute(stmt)).all()
        out = [
            OutcomeCount(c, d if isinstance(d, date) else date.fromisoformat(str(d)), o, int(n))
            for c, d, o, n in rows
        ]
        out.sort(key=lambda r: (r.committee, r.day, r.outcome))
        return out

    def _local_day(self) -> ColumnElement[Any]:
        """The Shanghai calendar day of ``created_at``, in SQL."""
        if self._db.dialect == "postgresql":
            return func.date(func.timezone(ZONE_NAME, MessageRow.created_at))
        # SQLite stores UTC and has no zone database: add the (fixed) offset.
        return func.date(MessageRow.created_at, f"+{UTC_OFFSET // timedelta(hours=1)} hours")

    async def record_proactive(
        self,
        to: Conversation,
        text: str,
        *,
        kind: str,
        direction: str,
        sender_name: str,
        delivery: str,
        error_code: int | None = None,
        error: str = "",
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
            delivery_code=error_code,
            delivery_error=error[:300],
            created_at=utcnow(),
        )
        async with self._db.session() as s:
            s.add(row)
            await s.flush()
            return row.id

    async def record_late_delivery(self, msg: IncomingMessage, report: DeliveryReport) -> int:
        async with self._db.session() as s:
            # The inbound row first (it is locked before its replies by every writer of
            # pending replies, so two of them never wait for each other).
            inbound = await s.scalar(
                update(MessageRow)
                .where(*_inbound_row(msg))
                .values(reply_to=None)
                .returning(MessageRow.id)
            )
            if inbound is None:
                return 0
            result = await s.execute(
                update(MessageRow)
                .where(*_pending_replies(msg.conversation_key, inbound))
                .values(**_delivery_values(report))
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def renew_late(self, msg: IncomingMessage) -> bool:
        async with self._db.session() as s:
            inbound = await s.scalar(
                select(MessageRow.id).where(*_inbound_row(msg)).with_for_update()
            )
            if inbound is None:
                return False
            result = await s.execute(
                update(MessageRow)
                .where(*_pending_replies(msg.conversation_key, inbound))
                .values(delivery_at=utcnow())
            )
        return bool(getattr(result, "rowcount", 0))

    async def take_late(self, lease_s: float, limit: int = 50) -> list[PendingLate]:
        stale = utcnow() - timedelta(seconds=lease_s)
        due = (
            select(MessageRow.reply_of)
            .where(
                MessageRow.delivery == _PENDING,
                MessageRow.delivery_at <= stale,
                MessageRow.direction == "out",
            )
            .order_by(MessageRow.delivery_at)
            .limit(limit * 4)  # a message's replies are several rows
        )
        async with self._db.session() as s:
            found = (await s.scalars(due)).all()
        taken: list[PendingLate] = []
        for inbound_id in dict.fromkeys(i for i in found if i is not None):
            if len(taken) >= limit:
                break
            item = await self._take_late_one(inbound_id, stale)
            if item is not None:
                taken.append(item)
        return taken

    async def _take_late_one(self, inbound_id: int, stale: datetime) -> PendingLate | None:
        """Claim the pending replies to one message if their claim is still older than
        ``stale``: the inbound row is locked first (PostgreSQL; SQLite's write lock is taken
        at BEGIN), so a second worker waits, then finds them claimed and takes nothing."""
        async with self._db.session() as s:
            inbound = await s.get(MessageRow, inbound_id, with_for_update=True)
            if inbound is None:
                return None
            claimed = (
                await s.execute(
                    update(MessageRow)
                    .where(
                        *_pending_replies(inbound.conversation_key, inbound_id),
                        MessageRow.delivery_at <= stale,
                    )
                    .values(delivery_at=utcnow())
                    .returning(MessageRow.id, MessageRow.text, MessageRow.kind)
                    .execution_options(synchronize_session=False)
                )
            ).all()
            if not claimed:
                return None
            replies = [Reply(text, ReplyKind(kind)) for _, text, kind in sorted(claimed)]
            if inbound.result:
                # The stored answer keeps every field of the replies (``private``, a ticket).
                replies = Answer.load(inbound.result).replies
            return PendingLate(_incoming(inbound), replies, inbound.reply_to or "")

    async def message(self, message_id: int) -> LoggedMessage | None:
        async with self._db.session() as s:
            row = await s.get(MessageRow, message_id)
        return None if row is None else _logged(row)

    async def hold_for_retry(self, conversation_key: str, message_id: int) -> bool:
        now = utcnow()
        stale = now - timedelta(seconds=RETRY_HOLD_S)
        async with self._db.session() as s:
            result = await s.execute(
                update(MessageRow)
                .where(
                    MessageRow.id == message_id,
                    MessageRow.conversation_key == conversation_key,
                    MessageRow.direction == "staff",
                    (MessageRow.delivery == Delivery.FAILED.value)
                    | (
                        (MessageRow.delivery == Delivery.SENDING.value)
                        & (MessageRow.delivery_at < stale)
                    ),
                )
                .values(delivery=Delivery.SENDING.value, delivery_at=now)
            )
        return bool(getattr(result, "rowcount", 0))

    async def record_delivery(self, message_id: int, report: DeliveryReport) -> None:
        async with self._db.session() as s:
            await s.execute(
                update(MessageRow)
                .where(MessageRow.id == message_id)
                .values(**_delivery_values(report))
            )

    async def delivery_counts(
        self, start: date, end: date, committee: str | None = None
    ) -> list[DeliveryCount]:
        if end < start:
            return []
        lo, hi = day_bounds(start, end)
        day = self._local_day()
        stmt = (
            select(MessageRow.committee, day, MessageRow.channel, MessageRow.delivery, func.count())
            .where(
                MessageRow.direction.in_(("out", "staff")),
                MessageRow.created_at >= lo,
                MessageRow.created_at < hi,
            )
            .group_by(MessageRow.committee, day, MessageRow.channel, MessageRow.delivery)
        )
        if committee is not None:
            stmt = stmt.where(MessageRow.committee == committee)
        async with self._db.session() as s:
            rows = (await s.execute(stmt)).all()
        out = [
            DeliveryCount(
                c, d if isinstance(d, date) else date.fromisoformat(str(d)), ch, dl, int(n)
            )
            for c, d, ch, dl, n in rows
        ]
        out.sort(key=lambda r: (r.committee, r.day, r.channel, r.delivery))
        return out

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
        # Every change writes a revision row: its id only grows, whatever the hosts' clocks.
        stmt = select(func.max(FaqRevisionRow.id)).where(FaqRevisionRow.committee == committee)
        async with self._db.session() as s:
            latest = await s.scalar(stmt)
        return f"r{latest}" if latest else NEVER_CHANGED

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
        return [_faq_revision(r) for r in rows]

    async def get(self, committee: str, faq_id: str) -> StoredFaq | None:
        async with self._db.session() as s:
            row = await s.get(FaqRow, (committee, faq_id))
            if row is None:
                return None
            return StoredFaq(
                row.faq_id, dict(row.data), row.deleted, row.updated_at, row.updated_by
            )

    async def write(
        self,
        committee: str,
        faq_id: str,
        data: dict[str, Any] | None,
        actor: str,
        action: str,
        *,
        expect: Expect = "any",
    ) -> FaqRevision | None:
        now = utcnow()
        try:
            async with self._db.session() as s:
                row = await s.get(FaqRow, (committee, faq_id), with_for_update=True)
                live = row is not None and not row.deleted
                if (expect == "absent" and live) or (expect == "present" and not live):
                    raise FaqConflict(f"FAQ {faq_id!r} is {'live' if live else 'not live'}")
                before = dict(row.data) if row is not None and live else None
                if data is None:
                    if row is None or not live:
                        return None
                    row.deleted, row.updated_at, row.updated_by = True, now, actor
                elif row is None:
                    s.add(
                        FaqRow(
                            committee=committee,
                            faq_id=faq_id,
                            data=data,
                            deleted=False,
                            updated_at=now,
                            updated_by=actor,
                        )
                    )
                elif live and row.data == data:
                    return None
                else:
                    row.data, row.deleted, row.updated_at, row.updated_by = data, False, now, actor
                revision = _revision(committee, faq_id, actor, action, before, data)
                revision.created_at = now
                s.add(revision)
                await s.flush()
                return _faq_revision(revision)
        except IntegrityError:
            # Two writers created the same id at once: the loser is told it exists.
            raise FaqConflict(f"FAQ {faq_id!r} was created concurrently") from None

    async def revision_of(
        self, committee: str, faq_id: str, revision_id: int
    ) -> FaqRevision | None:
        stmt = select(FaqRevisionRow).where(
            FaqRevisionRow.id == revision_id,
            FaqRevisionRow.committee == committee,
            FaqRevisionRow.faq_id == faq_id,
        )
        async with self._db.session() as s:
            row = (await s.scalars(stmt)).first()
            return _faq_revision(row) if row is not None else None


def _faq_revision(r: FaqRevisionRow) -> FaqRevision:
    return FaqRevision(r.id, r.faq_id, r.actor, r.action, r.before, r.after, r.created_at)


async def _answer(
    conn: AsyncConnection,
    msg: IncomingMessage,
    replies: list[Reply],
    delivery: str,
    fence: int | None,
    result: str | None,
) -> bool:
    """``MessageLog.record_outbound`` in the transaction of ``conn``."""
    now = utcnow()
    params = _row_params(msg)
    params["b_result"] = result
    if replies:
        params["b_outcome"] = outcome_of(replies)
    if fence is not None:
        params["b_fence"] = fence
    pending = delivery == Delivery.PENDING.value
    # The update comes first: it locks the inbound row, so of two workers answering the same
    # message only the holder of its latest claim writes anything.
    answered = await conn.execute(_ANSWER[fence is not None, not replies, pending], params)
    inbound_id = answered.scalar_one_or_none()
    if fence is not None and inbound_id is None:
        return False
    if replies:
        rows = [
            {
                "committee": msg.committee,
                "conversation_key": msg.conversation_key,
                "channel": msg.channel,
                "account": msg.account,
                "chat_id": msg.chat.id,
                "chat_type": msg.chat.type.value,
                "sender_id": "linli",
                "sender_name": "邻里",
                "direction": "out",
                "msg_type": "text",
                "text": r.text,
                "kind": r.kind.value,
                "external_id": None,
                "delivery": delivery,
                "created_at": now,
                "reply_of": inbound_id,
                # A pending late reply is claimed by its sender as of now (``take_late``).
                "delivery_at": now if pending else None,
            }
            for r in replies
        ]
        await conn.execute(_OUTBOUND, rows[0] if len(rows) == 1 else rows)
    return True


# PostgreSQL's single statements (``Database.statement``): the per-message transactions as
# one statement each, one round trip instead of BEGIN, two or three statements, COMMIT. Built
# once from the schema's own names; every value is a bound parameter.
_CLAIM_COLUMNS = (
    "committee",
    "conversation_key",
    "channel",
    "account",
    "chat_id",
    "chat_type",
    "sender_id",
    "sender_name",
    "direction",
    "msg_type",
    "text",
    "kind",
    "external_id",
    "delivery",
    "created_at",
    "mentioned",
    "media_id",
    "event_key",
    "reply_to",
    "claimed_until",
    "fence",
    "attempts",
)
_NEW = len(_CLAIM_COLUMNS)
_PG_CLAIM = (
    f"WITH stored AS (INSERT INTO {_MESSAGES.name} ({', '.join(_CLAIM_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(f'${i + 1}' for i in range(_NEW))}) "
    "ON CONFLICT DO NOTHING RETURNING 1) "
    "SELECT (SELECT count(*) FROM stored) AS stored, c.* FROM (SELECT 1) AS one "
    f"LEFT JOIN {TABLE_NAME} AS c ON c.key = ${_NEW + 1}"
)
"""``claim_inbound``'s insert and, in the same snapshot, the conversation (if any)."""
_PG_ANSWER = (
    # The inbound row first, as in ``_answer``: only the holder of the latest claim writes.
    f"WITH answered AS (UPDATE {_MESSAGES.name} "  # noqa: S608 - the schema's names, $n only
    "SET outcome = CASE WHEN $7::boolean AND outcome <> '' THEN outcome ELSE $1 END, "
    "result = $2, claimed_until = NULL, "
    f"reply_to = CASE WHEN $12::text = '{Delivery.PENDING.value}' THEN reply_to END "
    "WHERE direction = 'in' AND channel = $3 AND account = $4 AND external_id = $5 "
    "AND fence = $6 AND claimed_until IS NOT NULL RETURNING id), "
    f"replies AS (INSERT INTO {_MESSAGES.name} (committee, conversation_key, channel, account, "
    "chat_id, chat_type, sender_id, sender_name, direction, msg_type, text, kind, external_id, "
    "delivery, created_at, reply_of, delivery_at) "
    "SELECT $8::text, $9::text, $3::text, $4::text, $10::text, $11::text, 'linli', '邻里', "
    "'out', 'text', r.text, r.kind, NULL, $12::text, $13::timestamptz, answered.id, "
    f"CASE WHEN $12::text = '{Delivery.PENDING.value}' THEN $13::timestamptz END FROM answered "
    "CROSS JOIN unnest($14::text[], $15::text[]) WITH ORDINALITY AS r(text, kind, n) "
    "ORDER BY r.n), "
    f"saved AS ({save_fenced_sql(16, only_if='EXISTS (SELECT 1 FROM answered)')}) "
    "SELECT (SELECT id FROM answered) AS id, (SELECT version FROM saved) AS version, "
    # Answered but not saved (the conversation moved on): a division by zero aborts the
    # statement, so that nothing of it is written, as a transaction would roll back.
    "1 / (1 + (SELECT count(*) FROM saved) - (SELECT count(*) FROM answered)) AS whole"
)
"""``record_answer``: answer the held inbound row, store the replies, save the turn."""


async def _claim_new(
    db: Database, values: dict[str, Any], msg: IncomingMessage, read_conversation: bool
) -> InboundStatus | None:
    """``claim_inbound`` of a message not stored yet, in one statement; None: it was stored
    already (the caller's transaction takes it over, or says how it stands)."""
    async with db.statement() as conn:
        row = await conn.fetchrow(
            _PG_CLAIM, *(values[c] for c in _CLAIM_COLUMNS), msg.conversation_key
        )
    if not row["stored"]:
        return None
    known = conversation_of_record(row) if read_conversation and row["key"] is not None else None
    return InboundStatus(Intake.NEW, conversation=known)


async def _answer_with_turn(
    db: Database,
    msg: IncomingMessage,
    replies: list[Reply],
    delivery: str,
    fence: int,
    result: str,
    conversation: Conversation,
    conversation_fence: int,
) -> bool | None:
    """``record_answer`` in one statement: True (stored), False (the message was taken over:
    nothing stored), None (the conversation was not saved, so nothing was: the caller's
    transaction decides, and raises ``Fenced``)."""
    params = [
        outcome_of(replies) if replies else NOT_FOR_BOT,
        result,
        msg.channel,
        msg.account,
        msg.message_id,
        fence,
        not replies,
        msg.committee,
        msg.conversation_key,
        msg.chat.id,
        msg.chat.type.value,
        delivery,
        utcnow(),
        [r.text for r in replies],
        [r.kind.value for r in replies],
        *fenced_params(conversation, conversation_fence),
    ]
    try:
        async with db.statement() as conn:
            row = await conn.fetchrow(_PG_ANSWER, *params)
    except asyncpg.DivisionByZeroError:
        return None
    if row["id"] is None:
        return False
    conversation.version = int(row["version"])
    return True


def _inbound_row(msg: IncomingMessage) -> tuple[ColumnElement[bool], ...]:
    """The stored row of a resident's message (the unique inbound index)."""
    return (
        MessageRow.direction == "in",
        MessageRow.channel == msg.channel,
        MessageRow.account == msg.account,
        MessageRow.external_id == msg.message_id,
    )


def _pending_replies(conversation_key: str, inbound: int) -> tuple[ColumnElement[bool], ...]:
    """The pending late replies to inbound row ``inbound``."""
    return (
        # The conversation index, from the message on: a handful of rows.
        MessageRow.conversation_key == conversation_key,
        MessageRow.id > inbound,
        MessageRow.reply_of == inbound,
        MessageRow.direction == "out",
        MessageRow.delivery == _PENDING,
    )


def _held(msg: IncomingMessage, fence: int) -> tuple[ColumnElement[bool], ...]:
    """The inbound row while ``fence`` holds it unanswered."""
    return (
        *_inbound_row(msg),
        MessageRow.fence == fence,
        MessageRow.claimed_until.is_not(None),
    )


async def _held_status(
    conn: AsyncConnection, msg: IncomingMessage, intake: Intake, read_conversation: bool
) -> InboundStatus:
    if not read_conversation:
        return InboundStatus(intake)
    row = (await conn.execute(BY_KEY, {"b_key": msg.conversation_key})).first()
    return InboundStatus(intake, conversation=None if row is None else conversation_of(row))


_STATUS = select(_M.claimed_until, _M.result).where(*_INBOUND_ROW)


async def _status(s: AsyncConnection | AsyncSession, msg: IncomingMessage) -> InboundStatus | None:
    row = (await s.execute(_STATUS, _row_params(msg))).first()
    if row is None:
        return None
    claimed_until, result = row
    if claimed_until is None:
        return InboundStatus(Intake.DONE, result)
    return InboundStatus(Intake.BUSY)


def _incoming(r: MessageRow) -> IncomingMessage:
    """The resident's message as it came in, rebuilt from its stored row."""
    return IncomingMessage(
        message_id=r.external_id or "",
        channel=r.channel,
        account=r.account,
        committee=r.committee,
        chat=Chat(r.chat_id, ChatType(r.chat_type)),
        sender=Sender(r.sender_id, r.sender_name),
        text=r.text,
        type=MessageType(r.msg_type),
        mentioned=r.mentioned,
        event=r.kind or None,
        event_key=r.event_key,
        media_id=r.media_id,
        received_at=r.created_at,
    )


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
        delivery_code=r.delivery_code,
        delivery_error=r.delivery_error or "",
        channel=r.channel,
    )


def _delivery_values(report: DeliveryReport) -> dict[str, Any]:
    return {
        "delivery": report.status.value,
        "delivery_code": report.error_code,
        "delivery_error": report.error[:300],
        "delivery_at": utcnow(),
    }


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
