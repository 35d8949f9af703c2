"""SQL implementation of the ticket store (SQLite or PostgreSQL).

Concurrency: the day counter is one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` (a row
lock on PostgreSQL, the database write lock on SQLite), so concurrent creates get distinct,
gap-free numbers. Ticket updates read the row ``FOR NO KEY UPDATE`` (PostgreSQL) and write it
only if its ``version`` is unchanged, so a lost update is impossible on either database: the
loser gets ``TicketConflict`` and the service retries it. Importing this module registers the ticket
tables with ``Base.metadata``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, and_, case, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import ChatType
from bot.domain.tickets import (
    Actor,
    ActorKind,
    EventKind,
    Notification,
    NotificationKind,
    Reporter,
    ResidentId,
    Satisfaction,
    Ticket,
    TicketCategory,
    TicketEvent,
    TicketPriority,
    TicketStatus,
    format_number,
)
from bot.storage.sql.database import Database
from bot.storage.sql.ticket_models import (
    TicketCounterRow,
    TicketEventRow,
    TicketLinkRow,
    TicketOutboxRow,
    TicketRow,
)
from bot.storage.tickets import (
    DuplicateTicket,
    NewEvent,
    NewNotification,
    TicketConflict,
    TicketQuery,
    TicketStore,
    TicketUnit,
)

__all__ = ["SqlTicketStore"]

_LAST_ERROR_CHARS = 1000


class SqlTicketStore(TicketStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[TicketUnit]:
        async with self._db.session() as s:
            yield _SqlTicketUnit(s, self._db.dialect)

    async def get(self, committee: str, number: str) -> Ticket | None:
        stmt = select(TicketRow).where(TicketRow.committee == committee, TicketRow.number == number)
        async with self._db.session() as s:
            row = (await s.scalars(stmt)).one_or_none()
            return None if row is None else (await _tickets(s, [row]))[0]

    async def by_source_key(self, source_key: str) -> Ticket | None:
        async with self._db.session() as s:
            return await _by_source_key(s, source_key)

    async def may_await_rating(self, committee: str, resident: ResidentId) -> bool:
        if not self._db.single_statements:
            return True  # one query less is no gain on SQLite (the search reads as fast)
        async with self._db.statement() as conn:
            found = await conn.fetchval(
                _PG_AWAITS_RATING,
                committee,
                TicketStatus.RESOLVED.value,
                resident.channel,
                resident.account,
                resident.sender_id,
            )
        return bool(found)

    async def search(self, query: TicketQuery) -> list[Ticket]:
        stmt = _search(query)
        async with self._db.session() as s:
            rows = (await s.scalars(stmt)).all()
            return await _tickets(s, rows)

    async def history(
        self, committee: str, number: str, *, public_only: bool = False
    ) -> list[TicketEvent]:
        stmt = (
            select(TicketEventRow, TicketRow.number)
            .join(TicketRow, TicketRow.id == TicketEventRow.ticket_id)
            .where(TicketRow.committee == committee, TicketRow.number == number)
            .order_by(TicketEventRow.id)
        )
        if public_only:
            stmt = stmt.where(TicketEventRow.public.is_(True))
        async with self._db.session() as s:
            return [_event(ev, num) for ev, num in (await s.execute(stmt)).all()]

    async def events_between(
        self, committee: str, kinds: frozenset[EventKind], start: datetime, end: datetime
    ) -> list[TicketEvent]:
        stmt = (
            select(TicketEventRow, TicketRow.number)
            .join(TicketRow, TicketRow.id == TicketEventRow.ticket_id)
            .where(
                TicketEventRow.committee == committee,
                TicketEventRow.kind.in_(sorted(k.value for k in kinds)),
                TicketEventRow.created_at >= start,
                TicketEventRow.created_at < end,
            )
            .order_by(TicketEventRow.id)
        )
        async with self._db.session() as s:
            return [_event(ev, num) for ev, num in (await s.execute(stmt)).all()]

    async def awaiting_rating(
        self, requested_before: datetime, committee: str | None = None, limit: int = 500
    ) -> list[Ticket]:
        stmt = (
            select(TicketRow)
            .where(
                TicketRow.status == TicketStatus.RESOLVED.value,
                TicketRow.rating_requested_at.is_not(None),
                TicketRow.rating_requested_at < requested_before,
            )
            .order_by(TicketRow.rating_requested_at, TicketRow.id)
            .limit(limit)
        )
        if committee is not None:
            stmt = stmt.where(TicketRow.committee == committee)
        async with self._db.session() as s:
            return await _tickets(s, (await s.scalars(stmt)).all())

    async def lease_notifications(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[Notification]:
        pending = (
            select(TicketOutboxRow.id)
            .where(
                TicketOutboxRow.delivered_at.is_(None),
                TicketOutboxRow.failed_at.is_(None),
                or_(TicketOutboxRow.leased_until.is_(None), TicketOutboxRow.leased_until <= now),
            )
            .order_by(TicketOutboxRow.id)
            .limit(limit)
        )
        if self._db.dialect == "postgresql":
            pending = pending.with_for_update(skip_locked=True)
        stmt = (
            update(TicketOutboxRow)
            .where(TicketOutboxRow.id.in_(pending))
            .values(leased_until=lease_until)
            .returning(TicketOutboxRow)
            .execution_options(synchronize_session=False)
        )
        async with self._db.session() as s:
            rows = (await s.scalars(stmt)).all()
            return sorted((_notification(r) for r in rows), key=lambda n: n.id)

    async def mark_delivered(self, notification_id: int, at: datetime) -> bool:
        stmt = (
            update(TicketOutboxRow)
            .where(TicketOutboxRow.id == notification_id, TicketOutboxRow.delivered_at.is_(None))
            .values(delivered_at=at, leased_until=None)
            .execution_options(synchronize_session=False)
        )
        async with self._db.session() as s:
            return _rowcount(await s.execute(stmt)) > 0

    async def mark_failed(
        self, notification_id: int, error: str, retry_at: datetime | None, at: datetime
    ) -> bool:
        stmt = (
            update(TicketOutboxRow)
            .where(TicketOutboxRow.id == notification_id, TicketOutboxRow.delivered_at.is_(None))
            .values(
                attempts=TicketOutboxRow.attempts + 1,
                last_error=error[:_LAST_ERROR_CHARS],
                leased_until=retry_at,
                failed_at=None if retry_at is not None else at,
            )
            .execution_options(synchronize_session=False)
        )
        async with self._db.session() as s:
            return _rowcount(await s.execute(stmt)) > 0


class _SqlTicketUnit(TicketUnit):
    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._s = session
        self._insert = pg_insert if dialect == "postgresql" else sqlite_insert
        self._for_update = dialect == "postgresql"

    async def next_sequence(self, committee: str, day: str) -> int:
        stmt = (
            self._insert(TicketCounterRow)
            .values(committee=committee, day=day, last=1)
            .on_conflict_do_update(
                index_elements=[TicketCounterRow.committee, TicketCounterRow.day],
                set_={"last": TicketCounterRow.last + 1},
            )
            .returning(TicketCounterRow.last)
        )
        return int((await self._s.execute(stmt)).scalar_one())

    async def assign_number(
        self, ticket: Ticket, prefix: str, day: date, *, provisional: str, other: Ticket | None
    ) -> str:
        ids = {"id": ticket.id, "other": other.id if other is not None else ticket.id}
        if self._for_update:  # PostgreSQL: one statement, the counter's lock until the commit
            got = await self._s.execute(
                _PG_ASSIGN_NUMBER,
                {
                    "committee": ticket.committee,
                    "day": f"{day:%Y%m%d}",
                    "head": format_number(prefix, day, 1)[:-4],
                    "token": provisional,
                    **ids,
                },
            )
            return str(got.scalar_one())
        number = format_number(
            prefix, day, await self.next_sequence(ticket.committee, f"{day:%Y%m%d}")
        )
        params = {"number": number, "token": provisional, **ids}
        await self._s.execute(_SET_NUMBER, params)
        await self._s.execute(_NAME_NUMBER_IN_EVENTS, params)
        return number

    async def find_by_source_key(self, source_key: str) -> Ticket | None:
        return await _by_source_key(self._s, source_key)

    async def insert(self, ticket: Ticket, *, building_key: str) -> Ticket:
        r = ticket.reporter
        row = TicketRow(
            number=ticket.number,
            committee=ticket.committee,
            category=ticket.category.value,
            description=ticket.description,
            compound=ticket.compound,
            building=ticket.building,
            building_key=building_key,
            unit=ticket.unit,
            room=ticket.room,
            reporter_channel=r.channel,
            reporter_account=r.account,
            reporter_chat_id=r.chat_id,
            reporter_chat_type=r.chat_type.value,
            reporter_sender_id=r.sender_id,
            reporter_name=r.name,
            reporter_phone=r.phone,
            conversation_key=r.conversation_key,
            source_key=ticket.source_message_key,
            created_at=ticket.created_at,
            first_response_due=ticket.first_response_due,
            **_mutable(ticket),
            version=1,
        )
        self._s.add(row)
        try:
            await self._s.flush()
        except IntegrityError as exc:
            raise DuplicateTicket(f"ticket {ticket.number} or its source key exists") from exc
        return replace(ticket, id=row.id, version=1)

    async def lock(self, committee: str, number: str) -> Ticket | None:
        stmt = select(TicketRow).where(TicketRow.committee == committee, TicketRow.number == number)
        if self._for_update:
            # FOR NO KEY UPDATE: serialises writers of the ticket without blocking inserts
            # of events, links and outbox rows that reference it.
            stmt = stmt.with_for_update(key_share=True)
        row = (await self._s.scalars(stmt.execution_options(populate_existing=True))).one_or_none()
        return None if row is None else (await _tickets(self._s, [row]))[0]

    async def update(
        self, before: Ticket, after: Ticket, *, building_key: str | None = None
    ) -> Ticket:
        values = _mutable(after)
        values.update(compound=after.compound, building=after.building, unit=after.unit)
        values["room"] = after.room
        if building_key is not None:
            values["building_key"] = building_key
        stmt = (
            update(TicketRow)
            .where(TicketRow.id == before.id, TicketRow.version == before.version)
            .values(**values, version=before.version + 1)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(await self._s.execute(stmt)) != 1:
            raise TicketConflict(f"ticket {before.number} changed concurrently")
        return replace(after, version=before.version + 1)

    async def add_event(self, ticket: Ticket, event: NewEvent) -> None:
        self._s.add(
            TicketEventRow(
                ticket_id=ticket.id,
                committee=ticket.committee,
                kind=event.kind.value,
                actor_kind=event.actor.kind.value,
                actor_id=event.actor.id,
                actor_name=event.actor.name,
                public=event.public,
                summary=event.summary,
                data=dict(event.data),
                status_from=None if event.status_from is None else event.status_from.value,
                status_to=None if event.status_to is None else event.status_to.value,
                created_at=event.created_at,
            )
        )
        await self._s.flush()

    async def add_link(self, a: Ticket, b: Ticket, created_at: datetime) -> bool:
        stmt = (
            self._insert(TicketLinkRow)
            .values(
                [
                    {
                        "committee": a.committee,
                        "ticket_id": a.id,
                        "other_id": b.id,
                        "created_at": created_at,
                    },
                    {
                        "committee": b.committee,
                        "ticket_id": b.id,
                        "other_id": a.id,
                        "created_at": created_at,
                    },
                ]
            )
            .on_conflict_do_nothing()
        )
        return _rowcount(await self._s.execute(stmt)) > 0

    async def enqueue(self, ticket: Ticket, notification: NewNotification) -> None:
        r = ticket.reporter
        self._s.add(
            TicketOutboxRow(
                ticket_id=ticket.id,
                committee=ticket.committee,
                ticket_number=ticket.number,
                kind=notification.kind.value,
                text=notification.text,
                conversation_key=r.conversation_key,
                channel=r.channel,
                account=r.account,
                chat_id=r.chat_id,
                chat_type=r.chat_type.value,
                recipient_id=r.sender_id,
                created_at=notification.created_at,
                delivered_at=None,
                leased_until=None,
                attempts=0,
                last_error="",
                failed_at=None,
            )
        )
        await self._s.flush()


_PG_ASSIGN_NUMBER = text(
    "WITH seq AS (INSERT INTO ticket_counters (committee, day, last) "
    "VALUES (:committee, :day, 1) ON CONFLICT (committee, day) "
    "DO UPDATE SET last = ticket_counters.last + 1 RETURNING last), "
    # format_number's "PX-20261125-" and the sequence, four digits at least
    "num AS (SELECT CAST(:head AS text) || CASE WHEN last < 10000 "
    "THEN lpad(CAST(last AS text), 4, '0') ELSE CAST(last AS text) END AS number FROM seq), "
    "numbered AS (UPDATE tickets SET number = num.number FROM num "
    "WHERE tickets.id = :id RETURNING tickets.number), "
    "named AS (UPDATE ticket_events SET summary = replace(summary, :token, num.number), "
    "data = CAST(replace(CAST(data AS text), :token, num.number) AS json) FROM num "
    "WHERE ticket_events.ticket_id IN (:id, :other) AND (strpos(summary, :token) > 0 "
    "OR strpos(CAST(data AS text), :token) > 0)) "
    "SELECT number FROM numbered"
)
"""``assign_number`` on PostgreSQL: the counter, the ticket and its mentions in one statement."""
_PG_AWAITS_RATING = (
    "SELECT EXISTS (SELECT 1 FROM tickets WHERE committee = $1 AND status = $2 "
    "AND reporter_channel = $3 AND reporter_account = $4 AND reporter_sender_id = $5 "
    "AND rating_requested_at IS NOT NULL)"
)
"""``may_await_rating`` on PostgreSQL: one round trip, outside any transaction."""
_SET_NUMBER = text("UPDATE tickets SET number = :number WHERE id = :id")
_NAME_NUMBER_IN_EVENTS = text(
    "UPDATE ticket_events SET summary = replace(summary, :token, :number), "
    "data = replace(data, :token, :number) WHERE ticket_id IN (:id, :other) "
    "AND (instr(summary, :token) > 0 OR instr(data, :token) > 0)"
)


# -- helpers ---------------------------------------------------------------------------------


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _mutable(t: Ticket) -> dict[str, Any]:
    """Columns an update may change besides the place (everything but identity, reporter
    and dues)."""
    return {
        "status": t.status.value,
        "priority": t.priority.value,
        "assignee_id": None if t.assignee is None else t.assignee.id,
        "assignee_name": "" if t.assignee is None else t.assignee.name,
        "attachments": list(t.attachments),
        "updated_at": t.updated_at,
        "resolution_due": t.resolution_due,
        "first_response_at": t.first_response_at,
        "resolved_at": t.resolved_at,
        "closed_at": t.closed_at,
        "reopened_at": t.reopened_at,
        "rating_requested_at": t.rating_requested_at,
        "satisfaction": None if t.satisfaction is None else int(t.satisfaction),
        "satisfaction_comment": t.satisfaction_comment,
        "rated_at": t.rated_at,
        "reopen_count": t.reopen_count,
    }


async def _by_source_key(s: AsyncSession, source_key: str) -> Ticket | None:
    stmt = select(TicketRow).where(TicketRow.source_key == source_key)
    row = (await s.scalars(stmt)).one_or_none()
    return None if row is None else (await _tickets(s, [row]))[0]


_PRIORITY_RANK = case(
    {p.value: p.rank for p in TicketPriority}, value=TicketRow.priority, else_=len(TicketPriority)
)
_NEXT_DUE = case(
    (
        and_(
            TicketRow.first_response_at.is_(None),
            TicketRow.first_response_due < TicketRow.resolution_due,
        ),
        TicketRow.first_response_due,
    ),
    else_=TicketRow.resolution_due,
)


def _search(q: TicketQuery) -> Select[TicketRow]:
    stmt = select(TicketRow).where(TicketRow.committee == q.committee)
    if q.statuses is not None:
        stmt = stmt.where(TicketRow.status.in_(sorted(s.value for s in q.statuses)))
    equal: list[tuple[Any, str | None]] = [
        (TicketRow.category, None if q.category is None else q.category.value),
        (TicketRow.compound, q.compound),
        (TicketRow.building_key, q.building_key),
        (TicketRow.assignee_id, q.assignee_id),
        (TicketRow.reporter_channel, q.channel),
        (TicketRow.reporter_account, q.account),
        (TicketRow.reporter_sender_id, q.sender_id),
        (TicketRow.conversation_key, q.conversation_key),
    ]
    for column, value in equal:
        if value is not None:
            stmt = stmt.where(column == value)
    if q.created_from is not None:
        stmt = stmt.where(TicketRow.created_at >= q.created_from)
    if q.created_before is not None:
        stmt = stmt.where(TicketRow.created_at < q.created_before)
    if q.order == "inbox":
        stmt = stmt.order_by(_PRIORITY_RANK, _NEXT_DUE, TicketRow.created_at, TicketRow.id)
    else:
        stmt = stmt.order_by(TicketRow.created_at.desc(), TicketRow.id.desc())
    if q.limit is not None:
        stmt = stmt.limit(q.limit)
    return stmt


async def _tickets(s: AsyncSession, rows: Sequence[TicketRow]) -> list[Ticket]:
    """Domain tickets for ``rows``, with their links loaded in one query."""
    if not rows:
        return []
    links: dict[int, list[str]] = {}
    ids = [r.id for r in rows]
    other = TicketRow.__table__.alias("other")
    stmt = (
        select(TicketLinkRow.ticket_id, other.c.number)
        .join(other, other.c.id == TicketLinkRow.other_id)
        .where(TicketLinkRow.ticket_id.in_(ids))
        .order_by(TicketLinkRow.ticket_id, other.c.id)
    )
    for ticket_id, number in (await s.execute(stmt)).all():
        links.setdefault(ticket_id, []).append(str(number))
    return [_ticket(r, links.get(r.id, ())) for r in rows]


def _ticket(r: TicketRow, links: Iterable[str]) -> Ticket:
    return Ticket(
        id=r.id,
        number=r.number,
        committee=r.committee,
        category=TicketCategory(r.category),
        priority=TicketPriority(r.priority),
        status=TicketStatus(r.status),
        description=r.description,
        reporter=Reporter(
            channel=r.reporter_channel,
            account=r.reporter_account,
            chat_id=r.reporter_chat_id,
            sender_id=r.reporter_sender_id,
            conversation_key=r.conversation_key,
            name=r.reporter_name,
            chat_type=ChatType(r.reporter_chat_type),
            phone=r.reporter_phone,
        ),
        compound=r.compound,
        building=r.building,
        unit=r.unit,
        room=r.room,
        assignee=None
        if r.assignee_id is None
        else Actor(ActorKind.CASEWORKER, r.assignee_id, r.assignee_name),
        attachments=tuple(r.attachments),
        created_at=r.created_at,
        updated_at=r.updated_at,
        first_response_due=r.first_response_due,
        resolution_due=r.resolution_due,
        first_response_at=r.first_response_at,
        resolved_at=r.resolved_at,
        closed_at=r.closed_at,
        reopened_at=r.reopened_at,
        rating_requested_at=r.rating_requested_at,
        satisfaction=None if r.satisfaction is None else Satisfaction(r.satisfaction),
        satisfaction_comment=r.satisfaction_comment,
        rated_at=r.rated_at,
        reopen_count=r.reopen_count,
        links=tuple(links),
        source_message_key=r.source_key,
        version=r.version,
    )


def _event(r: TicketEventRow, number: str) -> TicketEvent:
    return TicketEvent(
        id=r.id,
        ticket_number=number,
        kind=EventKind(r.kind),
        actor=Actor(ActorKind(r.actor_kind), r.actor_id, r.actor_name),
        summary=r.summary,
        public=r.public,
        created_at=r.created_at,
        data=dict(r.data),
        status_from=None if r.status_from is None else TicketStatus(r.status_from),
        status_to=None if r.status_to is None else TicketStatus(r.status_to),
    )


def _notification(r: TicketOutboxRow) -> Notification:
    return Notification(
        id=r.id,
        committee=r.committee,
        ticket_number=r.ticket_number,
        kind=NotificationKind(r.kind),
        text=r.text,
        conversation_key=r.conversation_key,
        channel=r.channel,
        account=r.account,
        chat_id=r.chat_id,
        chat_type=ChatType(r.chat_type),
        recipient_id=r.recipient_id,
        created_at=r.created_at,
        attempts=r.attempts,
    )
