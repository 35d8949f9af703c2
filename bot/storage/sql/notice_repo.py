"""The notice store in SQL (SQLite and PostgreSQL alike): publishing is one conditional
UPDATE on the draft state with its households and recipients in the same transaction, and
each send is claimed with one conditional UPDATE (pending → sending), so two workers never
both send the same notice to the same recipient."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.once import Delivery, DeliveryReport
from bot.domain.tickets import ResidentId
from bot.storage.notices import (
    Audience,
    DeliveryRow,
    FollowUp,
    FollowUpOutcome,
    NewDelivery,
    NewNotice,
    Notice,
    NoticeKind,
    NoticeNotDraft,
    NoticeNotFound,
    NoticeState,
    NoticeStore,
    Planned,
    SendState,
    Target,
)
from bot.storage.sql.database import Database
from bot.storage.sql.notice_models import (
    NoticeDeliveryRow,
    NoticeFollowUpRow,
    NoticeHouseholdRow,
    NoticeRow,
)

NOT_FOUND = "没有找到该通知。"
FAILED = Delivery.FAILED.value
UNDELIVERABLE = Delivery.UNDELIVERABLE.value
DELIVERED = tuple(d.value for d in Delivery if DeliveryReport(d).delivered)
"""Deliveries that count as handed to the platform (``DeliveryReport.delivered``)."""


class SqlNoticeStore(NoticeStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, notice: NewNotice) -> Notice:
        row = NoticeRow(
            committee=notice.committee,
            **_content(notice),
            state=NoticeState.DRAFT.value,
            created_by_id=notice.created_by_id[:128],
            created_by_name=notice.created_by_name[:200],
            created_at=notice.created_at,
            published_at=None,
        )
        async with self._db.session() as s:
            s.add(row)
            await s.flush()
            return _notice(row)

    async def get(self, committee: str, notice_id: int) -> Notice | None:
        async with self._db.session() as s:
            row = await _notice_row(s, committee, notice_id)
            return None if row is None else _notice(row)

    async def notices(self, committee: str, *, limit: int = 200) -> list[Notice]:
        stmt = (
            select(NoticeRow)
            .where(NoticeRow.committee == committee)
            .order_by(NoticeRow.id.desc())
            .limit(limit)
        )
        async with self._db.session() as s:
            return [_notice(r) for r in await s.scalars(stmt)]

    async def publish(
        self,
        committee: str,
        notice_id: int,
        households: Sequence[int],
        deliveries: Sequence[NewDelivery],
        now: datetime,
    ) -> Planned:
        async with self._db.session() as s:
            if await _notice_row(s, committee, notice_id) is None:
                raise NoticeNotFound(NOT_FOUND)
            moved = await s.execute(
                update(NoticeRow)
                .where(
                    NoticeRow.id == notice_id,
                    NoticeRow.committee == committee,
                    NoticeRow.state == NoticeState.DRAFT.value,
                )
                .values(state=NoticeState.PUBLISHED.value, published_at=now)
                .execution_options(synchronize_session=False)
            )
            if _count(moved) != 1:
                return Planned(0, 0, False)
            for household_id in dict.fromkeys(households):
                s.add(
                    NoticeHouseholdRow(
                        committee=committee, notice_id=notice_id, household_id=household_id
                    )
                )
            seen: set[tuple[str, str, str, str]] = set()
            rows: list[NoticeDeliveryRow] = []
            for d in deliveries:
                key = (d.target.value, d.channel, d.account, d.address)
                if key in seen:
                    continue  # one resident, one delivery
                seen.add(key)
                row = NoticeDeliveryRow(
                    committee=committee,
                    notice_id=notice_id,
                    target=d.target.value,
                    channel=d.channel[:32],
                    account=d.account[:128],
                    address=d.address[:200],
                    household_id=d.household_id,
                    conversation_key=d.conversation_key[:400],
                    name=d.name[:200],
                    state=SendState.PENDING.value,
                    delivery="",
                    error="",
                    claimed_at=None,
                    finished_at=None,
                    read_at=None,
                    acknowledged_at=None,
                )
                s.add(row)
                rows.append(row)
            await s.flush()
            return Planned(len(set(households)), len(rows), True, [_delivery(r) for r in rows])

    async def edit(self, committee: str, notice_id: int, notice: NewNotice) -> Notice:
        async with self._db.session() as s:
            done = await s.execute(
                update(NoticeRow)
                .where(
                    NoticeRow.committee == committee,
                    NoticeRow.id == notice_id,
                    NoticeRow.state == NoticeState.DRAFT.value,
                )
                .values(**_content(notice))
                .execution_options(synchronize_session=False)
            )
            row = await _notice_row(s, committee, notice_id)
            if row is None:
                raise NoticeNotFound(NOT_FOUND)
            if _count(done) != 1:
                raise NoticeNotDraft("这条通知已经发送（或已撤回），不能再修改。")
            await s.refresh(row)
            return _notice(row)

    async def withdraw(self, committee: str, notice_id: int, now: datetime) -> Notice:
        async with self._db.session() as s:
            row = await _notice_row(s, committee, notice_id)
            if row is None:
                raise NoticeNotFound(NOT_FOUND)
            row.state = NoticeState.WITHDRAWN.value
            await s.execute(
                update(NoticeDeliveryRow)
                .where(
                    NoticeDeliveryRow.committee == committee,
                    NoticeDeliveryRow.notice_id == notice_id,
                    NoticeDeliveryRow.state == SendState.PENDING.value,
                )
                .values(
                    state=SendState.DONE.value,
                    delivery=UNDELIVERABLE,
                    error="通知已撤回",
                    finished_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            await s.flush()
            return _notice(row)

    async def current(self, committee: str, now: datetime) -> list[Notice]:
        stmt = select(NoticeRow).where(
            NoticeRow.committee == committee,
            NoticeRow.state == NoticeState.PUBLISHED.value,
            NoticeRow.valid_until > now,
            NoticeRow.valid_from <= now,
        )
        async with self._db.session() as s:
            return [_notice(r) for r in await s.scalars(stmt.order_by(NoticeRow.id.desc()))]

    async def pending(self, limit: int = 200) -> list[DeliveryRow]:
        stmt = (
            select(NoticeDeliveryRow)
            .where(NoticeDeliveryRow.state == SendState.PENDING.value)
            .order_by(NoticeDeliveryRow.id)
            .limit(limit)
        )
        async with self._db.session() as s:
            return [_delivery(r) for r in await s.scalars(stmt)]

    async def claim(self, delivery_id: int, now: datetime) -> bool:
        async with self._db.session() as s:
            done = await s.execute(
                update(NoticeDeliveryRow)
                .where(
                    NoticeDeliveryRow.id == delivery_id,
                    NoticeDeliveryRow.state == SendState.PENDING.value,
                )
                .values(state=SendState.SENDING.value, claimed_at=now)
                .execution_options(synchronize_session=False)
            )
            return _count(done) == 1

    async def finish(self, delivery_id: int, delivery: str, error: str, now: datetime) -> None:
        async with self._db.session() as s:
            await s.execute(
                update(NoticeDeliveryRow)
                .where(
                    NoticeDeliveryRow.id == delivery_id,
                    NoticeDeliveryRow.state == SendState.SENDING.value,
                )
                .values(
                    state=SendState.DONE.value,
                    delivery=delivery[:16],
                    error=error[:200],
                    finished_at=now,
                )
                .execution_options(synchronize_session=False)
            )

    async def give_up_stale(self, claimed_before: datetime, now: datetime) -> int:
        async with self._db.session() as s:
            done = await s.execute(
                update(NoticeDeliveryRow)
                .where(
                    NoticeDeliveryRow.state == SendState.SENDING.value,
                    NoticeDeliveryRow.claimed_at < claimed_before,
                )
                .values(
                    state=SendState.DONE.value,
                    delivery=FAILED,
                    error="发送中断，结果未知（不再重发）",
                    finished_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            return _count(done)

    async def deliveries(self, committee: str, notice_id: int) -> list[DeliveryRow]:
        stmt = (
            select(NoticeDeliveryRow)
            .where(
                NoticeDeliveryRow.committee == committee,
                NoticeDeliveryRow.notice_id == notice_id,
            )
            .order_by(NoticeDeliveryRow.id)
        )
        async with self._db.session() as s:
            return [_delivery(r) for r in await s.scalars(stmt)]

    async def household_ids(self, committee: str, notice_id: int) -> list[int]:
        stmt = (
            select(NoticeHouseholdRow.household_id)
            .where(
                NoticeHouseholdRow.committee == committee,
                NoticeHouseholdRow.notice_id == notice_id,
            )
            .order_by(NoticeHouseholdRow.id)
        )
        async with self._db.session() as s:
            return [int(x) for x in await s.scalars(stmt)]

    async def targeting(
        self, committee: str, household_id: int, notice_ids: Sequence[int]
    ) -> list[int]:
        if not notice_ids:
            return []
        stmt = select(NoticeHouseholdRow.notice_id).where(
            NoticeHouseholdRow.committee == committee,
            NoticeHouseholdRow.household_id == household_id,
            NoticeHouseholdRow.notice_id.in_(list(notice_ids)),
        )
        async with self._db.session() as s:
            return [int(x) for x in await s.scalars(stmt)]

    async def received(
        self, committee: str, resident: ResidentId, notice_ids: Sequence[int]
    ) -> list[DeliveryRow]:
        if not notice_ids:
            return []
        async with self._db.session() as s:
            rows = await s.scalars(
                _resident_rows(committee, resident, notice_ids).order_by(NoticeDeliveryRow.id)
            )
            return [_delivery(r) for r in rows]

    async def mark_read(
        self, committee: str, resident: ResidentId, notice_ids: Sequence[int], now: datetime
    ) -> int:
        if not notice_ids:
            return 0
        async with self._db.session() as s:
            done = await s.execute(
                _resident_update(committee, resident, notice_ids)
                .where(NoticeDeliveryRow.read_at.is_(None))
                .values(read_at=now)
                .execution_options(synchronize_session=False)
            )
            return _count(done)

    async def acknowledge(
        self, committee: str, resident: ResidentId, notice_ids: Sequence[int], now: datetime
    ) -> list[int]:
        if not notice_ids:
            return []
        async with self._db.session() as s:
            rows = list(
                await s.scalars(
                    _resident_rows(committee, resident, notice_ids).where(
                        NoticeDeliveryRow.acknowledged_at.is_(None)
                    )
                )
            )
            acked: list[int] = []
            for row in rows:
                row.acknowledged_at = now
                if row.read_at is None:
                    row.read_at = now
                acked.append(row.notice_id)
            await s.flush()
            return acked

    async def delivery(self, committee: str, delivery_id: int) -> DeliveryRow | None:
        stmt = select(NoticeDeliveryRow).where(
            NoticeDeliveryRow.committee == committee, NoticeDeliveryRow.id == delivery_id
        )
        async with self._db.session() as s:
            row = (await s.scalars(stmt)).one_or_none()
            return None if row is None else _delivery(row)

    async def read_delivery(self, committee: str, delivery_id: int, now: datetime) -> bool:
        async with self._db.session() as s:
            done = await s.execute(
                _delivery_update(committee, delivery_id)
                .where(NoticeDeliveryRow.read_at.is_(None))
                .values(read_at=now)
                .execution_options(synchronize_session=False)
            )
            return _count(done) == 1

    async def acknowledge_delivery(self, committee: str, delivery_id: int, now: datetime) -> bool:
        async with self._db.session() as s:
            done = await s.execute(
                _delivery_update(committee, delivery_id)
                .where(NoticeDeliveryRow.acknowledged_at.is_(None))
                .values(acknowledged_at=now)
                .execution_options(synchronize_session=False)
            )
            await s.execute(
                _delivery_update(committee, delivery_id)
                .where(NoticeDeliveryRow.read_at.is_(None))
                .values(read_at=now)
                .execution_options(synchronize_session=False)
            )
            return _count(done) == 1

    async def add_follow_up(
        self,
        committee: str,
        notice_id: int,
        household_id: int,
        outcome: FollowUpOutcome,
        note: str,
        actor_id: str,
        actor_name: str,
        now: datetime,
    ) -> FollowUp:
        async with self._db.session() as s:
            targeted = await s.scalar(
                select(NoticeHouseholdRow.id).where(
                    NoticeHouseholdRow.committee == committee,
                    NoticeHouseholdRow.notice_id == notice_id,
                    NoticeHouseholdRow.household_id == household_id,
                )
            )
            if targeted is None:
                raise NoticeNotFound("该户不在这条通知的范围内。")
            row = NoticeFollowUpRow(
                committee=committee,
                notice_id=notice_id,
                household_id=household_id,
                outcome=outcome.value,
                note=note,
                actor_id=actor_id[:128],
                actor_name=actor_name[:200],
                at=now,
            )
            s.add(row)
            await s.flush()
            return _follow_up(row)

    async def follow_ups(self, committee: str, notice_id: int) -> list[FollowUp]:
        stmt = (
            select(NoticeFollowUpRow)
            .where(
                NoticeFollowUpRow.committee == committee,
                NoticeFollowUpRow.notice_id == notice_id,
            )
            .order_by(NoticeFollowUpRow.id)
        )
        async with self._db.session() as s:
            return [_follow_up(r) for r in await s.scalars(stmt)]


def _resident_rows(committee: str, resident: ResidentId, notice_ids: Sequence[int]) -> Any:
    return select(NoticeDeliveryRow).where(*_resident_filter(committee, resident, notice_ids))


def _resident_update(committee: str, resident: ResidentId, notice_ids: Sequence[int]) -> Any:
    return update(NoticeDeliveryRow).where(*_resident_filter(committee, resident, notice_ids))


def _content(notice: NewNotice) -> dict[str, Any]:
    """The columns a caseworker writes (and may edit while the notice is a draft)."""
    return {
        "kind": notice.kind.value,
        "title": notice.title,
        "body": notice.body,
        "valid_from": notice.valid_from,
        "valid_until": notice.valid_until,
        "compounds": list(notice.audience.compounds),
        "buildings": [list(b) for b in notice.audience.buildings],
        "labels": list(notice.audience.labels),
        "post_groups": notice.post_groups,
    }


def _delivery_update(committee: str, delivery_id: int) -> Any:
    """A private delivery (its link exists only in the message that was sent: a page opened
    from it proves it arrived, even before its send is recorded as done)."""
    return update(NoticeDeliveryRow).where(
        NoticeDeliveryRow.committee == committee,
        NoticeDeliveryRow.id == delivery_id,
        NoticeDeliveryRow.target == Target.PRIVATE.value,
    )


def _resident_filter(committee: str, resident: ResidentId, notice_ids: Sequence[int]) -> list[Any]:
    return [
        NoticeDeliveryRow.committee == committee,
        NoticeDeliveryRow.channel == resident.channel,
        NoticeDeliveryRow.account == resident.account,
        NoticeDeliveryRow.address == resident.sender_id,
        NoticeDeliveryRow.target == Target.PRIVATE.value,
        NoticeDeliveryRow.notice_id.in_(list(notice_ids)),
        NoticeDeliveryRow.delivery.in_(DELIVERED),
    ]


async def _notice_row(s: AsyncSession, committee: str, notice_id: int) -> NoticeRow | None:
    return (
        await s.scalars(
            select(NoticeRow).where(NoticeRow.committee == committee, NoticeRow.id == notice_id)
        )
    ).one_or_none()


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _notice(row: NoticeRow) -> Notice:
    return Notice(
        id=row.id,
        committee=row.committee,
        kind=NoticeKind(row.kind),
        title=row.title,
        body=row.body,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        audience=Audience(
            compounds=tuple(str(c) for c in row.compounds),
            buildings=tuple((str(b[0]), str(b[1])) for b in row.buildings if len(b) == 2),
            labels=tuple(str(x) for x in row.labels),
        ),
        post_groups=row.post_groups,
        state=NoticeState(row.state),
        created_by_id=row.created_by_id,
        created_by_name=row.created_by_name,
        created_at=row.created_at,
        published_at=row.published_at,
    )


def _delivery(row: NoticeDeliveryRow) -> DeliveryRow:
    return DeliveryRow(
        id=row.id,
        committee=row.committee,
        notice_id=row.notice_id,
        target=Target(row.target),
        channel=row.channel,
        account=row.account,
        address=row.address,
        household_id=row.household_id,
        conversation_key=row.conversation_key,
        name=row.name,
        state=SendState(row.state),
        delivery=row.delivery,
        error=row.error,
        claimed_at=row.claimed_at,
        finished_at=row.finished_at,
        read_at=row.read_at,
        acknowledged_at=row.acknowledged_at,
    )


def _follow_up(row: NoticeFollowUpRow) -> FollowUp:
    return FollowUp(
        id=row.id,
        committee=row.committee,
        notice_id=row.notice_id,
        household_id=row.household_id,
        outcome=FollowUpOutcome(row.outcome),
        note=row.note,
        actor_id=row.actor_id,
        actor_name=row.actor_name,
        at=row.at,
    )
