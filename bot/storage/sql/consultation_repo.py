"""The consultation store in SQL (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.consultations import (
    AuditEntry,
    AuditNote,
    Consultation,
    ConsultationDraft,
    ConsultationError,
    ConsultationNotFound,
    ConsultationStatus,
    ConsultationStore,
    Eligible,
    Link,
    Reminder,
    Vote,
    VoteResult,
)
from bot.storage.sql.consultation_models import (
    ConsultationAuditRow,
    ConsultationHouseholdRow,
    ConsultationLinkRow,
    ConsultationReminderRow,
    ConsultationRow,
    ConsultationVoteRow,
)
from bot.storage.sql.database import Database

NOT_FOUND = "没有找到该征询。"
CLOSED = "本次征询已经结束，不能再投票或修改。"
NOT_OPEN = "本次征询还没有开始投票。"
NOT_ELIGIBLE = "您家不在本次征询的范围内。"
LINK_USED = "这个投票链接已经用过了，请在聊天里重新获取。"


class SqlConsultationStore(ConsultationStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self, committee: str, draft: ConsultationDraft, by: str, now: datetime, note: AuditNote
    ) -> Consultation:
        row = ConsultationRow(
            committee=committee,
            status=ConsultationStatus.DRAFT.value,
            reminders_sent=0,
            result=None,
            created_by=by[:200],
            created_at=now,
            updated_at=now,
            published_at=None,
            invited_at=None,
            closed_at=None,
            closed_by="",
        )
        _fill(row, draft)
        async with self._db.session() as s:
            s.add(row)
            await s.flush()
            _audit(s, row, note, now)
            await s.flush()
            return _consultation(row)

    async def edit(
        self, committee: str, cid: int, draft: ConsultationDraft, now: datetime, note: AuditNote
    ) -> Consultation:
        async with self._db.session() as s:
            row = await _row(s, committee, cid, lock=True)
            if row.status != ConsultationStatus.DRAFT.value:
                raise ConsultationError("征询发布后不能再修改内容。")
            _fill(row, draft)
            row.updated_at = now
            _audit(s, row, note, now)
            await s.flush()
            return _consultation(row)

    async def publish(
        self,
        committee: str,
        cid: int,
        eligible: Sequence[Eligible],
        now: datetime,
        note: AuditNote,
    ) -> Consultation:
        async with self._db.session() as s:
            row = await _row(s, committee, cid, lock=True)
            if row.status != ConsultationStatus.DRAFT.value:
                raise ConsultationError("这个征询已经发布过了。")
            for e in eligible:
                s.add(
                    ConsultationHouseholdRow(
                        committee=committee,
                        consultation_id=row.id,
                        household_id=e.household_id,
                        floor_area=e.floor_area,
                    )
                )
            row.status = ConsultationStatus.PUBLISHED.value
            row.published_at = now
            row.updated_at = now
            _audit(s, row, note, now)
            await s.flush()
            return _consultation(row)

    async def close(
        self,
        committee: str,
        cid: int,
        result: dict[str, Any],
        by: str,
        now: datetime,
        note: AuditNote,
    ) -> Consultation | None:
        async with self._db.session() as s:
            done = await s.execute(
                update(ConsultationRow)
                .where(
                    ConsultationRow.committee == committee,
                    ConsultationRow.id == cid,
                    ConsultationRow.status == ConsultationStatus.PUBLISHED.value,
                )
                .values(
                    status=ConsultationStatus.CLOSED.value,
                    result=result,
                    closed_at=now,
                    closed_by=by[:200],
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if int(getattr(done, "rowcount", 0) or 0) != 1:
                return None
            row = await _row(s, committee, cid)
            await s.refresh(row)
            _audit(s, row, note, now)
            await s.flush()
            return _consultation(row)

    async def get(self, committee: str, cid: int) -> Consultation | None:
        async with self._db.session() as s:
            row = await _find(s, committee, cid)
            return None if row is None else _consultation(row)

    async def all(
        self, committee: str, *, status: ConsultationStatus | None = None
    ) -> list[Consultation]:
        stmt = select(ConsultationRow).where(ConsultationRow.committee == committee)
        if status is not None:
            stmt = stmt.where(ConsultationRow.status == status.value)
        async with self._db.session() as s:
            rows = await s.scalars(stmt.order_by(ConsultationRow.id.desc()).limit(500))
            return [_consultation(r) for r in rows]

    async def due(self, now: datetime) -> list[Consultation]:
        stmt = select(ConsultationRow).where(
            ConsultationRow.status == ConsultationStatus.PUBLISHED.value,
            ConsultationRow.closes_at <= now,
        )
        async with self._db.session() as s:
            return [_consultation(r) for r in await s.scalars(stmt.order_by(ConsultationRow.id))]

    async def published_for(self, committee: str, household_id: int) -> list[Consultation]:
        stmt = (
            select(ConsultationRow)
            .join(
                ConsultationHouseholdRow,
                ConsultationHouseholdRow.consultation_id == ConsultationRow.id,
            )
            .where(
                ConsultationRow.committee == committee,
                ConsultationHouseholdRow.committee == committee,
                ConsultationHouseholdRow.household_id == household_id,
                ConsultationRow.status == ConsultationStatus.PUBLISHED.value,
            )
            .order_by(ConsultationRow.closes_at, ConsultationRow.id)
        )
        async with self._db.session() as s:
            return [_consultation(r) for r in await s.scalars(stmt)]

    async def published_in(self, committee: str, compound: str) -> list[Consultation]:
        stmt = (
            select(ConsultationRow)
            .where(
                ConsultationRow.committee == committee,
                ConsultationRow.compound == compound,
                ConsultationRow.status != ConsultationStatus.DRAFT.value,
            )
            .order_by(ConsultationRow.id.desc())
            .limit(20)
        )
        async with self._db.session() as s:
            return [_consultation(r) for r in await s.scalars(stmt)]

    async def eligible(self, committee: str, cid: int) -> list[Eligible]:
        stmt = (
            select(ConsultationHouseholdRow)
            .where(
                ConsultationHouseholdRow.committee == committee,
                ConsultationHouseholdRow.consultation_id == cid,
            )
            .order_by(ConsultationHouseholdRow.id)
        )
        async with self._db.session() as s:
            return [Eligible(r.household_id, r.floor_area) for r in await s.scalars(stmt)]

    async def cast(
        self,
        committee: str,
        cid: int,
        household_id: int,
        binding_id: int,
        voter_name: str,
        choice: int,
        via: str,
        receipt: str,
        now: datetime,
        note: AuditNote,
        link_id: int | None = None,
    ) -> VoteResult:
        args = (committee, cid, household_id, binding_id, voter_name, choice, via, receipt)
        try:
            async with self._db.session() as s:
                return await self._cast(s, *args, now, note, link_id)
        except IntegrityError:
            # The household's first vote, cast twice at once: the other one is in; change it.
            async with self._db.session() as s:
                return await self._cast(s, *args, now, note, link_id)

    async def _cast(
        self,
        s: AsyncSession,
        committee: str,
        cid: int,
        household_id: int,
        binding_id: int,
        voter_name: str,
        choice: int,
        via: str,
        receipt: str,
        now: datetime,
        note: AuditNote,
        link_id: int | None,
    ) -> VoteResult:
        row = await _row(s, committee, cid, lock=True)
        if row.status == ConsultationStatus.CLOSED.value or now >= row.closes_at:
            raise ConsultationError(CLOSED)
        if row.status != ConsultationStatus.PUBLISHED.value or now < row.opens_at:
            raise ConsultationError(NOT_OPEN)
        if not 0 <= choice < len(row.options):
            raise ConsultationError("没有这个选项。")
        member = await s.scalar(
            select(ConsultationHouseholdRow.id).where(
                ConsultationHouseholdRow.committee == committee,
                ConsultationHouseholdRow.consultation_id == cid,
                ConsultationHouseholdRow.household_id == household_id,
            )
        )
        if member is None:
            raise ConsultationError(NOT_ELIGIBLE)
        if link_id is not None:
            used = await s.execute(
                update(ConsultationLinkRow)
                .where(
                    ConsultationLinkRow.committee == committee,
                    ConsultationLinkRow.id == link_id,
                    ConsultationLinkRow.consultation_id == cid,
                    ConsultationLinkRow.used_at.is_(None),
                    ConsultationLinkRow.expires_at > now,
                )
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            if int(getattr(used, "rowcount", 0) or 0) != 1:
                raise ConsultationError(LINK_USED)
        vote = (
            await s.scalars(
                select(ConsultationVoteRow).where(
                    ConsultationVoteRow.committee == committee,
                    ConsultationVoteRow.consultation_id == cid,
                    ConsultationVoteRow.household_id == household_id,
                )
            )
        ).one_or_none()
        previous: int | None = None
        if vote is None:
            vote = ConsultationVoteRow(
                committee=committee,
                consultation_id=cid,
                household_id=household_id,
                binding_id=binding_id,
                voter_name=voter_name[:200],
                choice=choice,
                via=via,
                receipt=receipt,
                cast_at=now,
                changed_at=now,
                changes=0,
            )
            s.add(vote)
        else:
            previous = vote.choice
            vote.binding_id = binding_id
            vote.voter_name = voter_name[:200]
            vote.choice = choice
            vote.via = via
            vote.receipt = receipt
            vote.changed_at = now
            vote.changes += 1
        _audit(s, row, note, now)
        await s.flush()
        return VoteResult(_vote(vote), previous is not None, previous)

    async def vote_of(self, committee: str, cid: int, household_id: int) -> Vote | None:
        stmt = select(ConsultationVoteRow).where(
            ConsultationVoteRow.committee == committee,
            ConsultationVoteRow.consultation_id == cid,
            ConsultationVoteRow.household_id == household_id,
        )
        async with self._db.session() as s:
            row = (await s.scalars(stmt)).one_or_none()
            return None if row is None else _vote(row)

    async def votes(self, committee: str, cid: int) -> list[Vote]:
        stmt = (
            select(ConsultationVoteRow)
            .where(
                ConsultationVoteRow.committee == committee,
                ConsultationVoteRow.consultation_id == cid,
            )
            .order_by(ConsultationVoteRow.id)
        )
        async with self._db.session() as s:
            return [_vote(r) for r in await s.scalars(stmt)]

    async def add_link(
        self,
        committee: str,
        cid: int,
        household_id: int,
        binding_id: int,
        now: datetime,
        expires_at: datetime,
    ) -> int:
        async with self._db.session() as s:
            await _row(s, committee, cid)
            row = ConsultationLinkRow(
                committee=committee,
                consultation_id=cid,
                household_id=household_id,
                binding_id=binding_id,
                created_at=now,
                expires_at=expires_at,
                used_at=None,
            )
            s.add(row)
            await s.flush()
            return int(row.id)

    async def link(self, committee: str, link_id: int) -> Link | None:
        stmt = select(ConsultationLinkRow).where(
            ConsultationLinkRow.committee == committee, ConsultationLinkRow.id == link_id
        )
        async with self._db.session() as s:
            r = (await s.scalars(stmt)).one_or_none()
            if r is None:
                return None
            return Link(
                r.id, r.consultation_id, r.household_id, r.binding_id, r.expires_at, r.used_at
            )

    async def record_reminder(
        self,
        committee: str,
        cid: int,
        sent: Sequence[tuple[int, int, bool]],
        now: datetime,
        note: AuditNote,
        *,
        invitation: bool = False,
    ) -> int:
        async with self._db.session() as s:
            row = await _row(s, committee, cid, lock=True)
            if not invitation:
                if row.reminders_sent >= row.max_reminders:
                    raise ConsultationError(f"本次征询最多提醒 {row.max_reminders} 次，已经用完。")
                row.reminders_sent += 1
            round_no = 0 if invitation else row.reminders_sent
            for household_id, binding_id, delivered in sent:
                s.add(
                    ConsultationReminderRow(
                        committee=committee,
                        consultation_id=cid,
                        household_id=household_id,
                        binding_id=binding_id,
                        round=round_no,
                        delivered=delivered,
                        at=now,
                    )
                )
            _audit(s, row, note, now)
            await s.flush()
            return int(round_no)

    async def to_invite(self, now: datetime) -> list[Consultation]:
        stmt = select(ConsultationRow).where(
            ConsultationRow.status == ConsultationStatus.PUBLISHED.value,
            ConsultationRow.invited_at.is_(None),
            ConsultationRow.opens_at <= now,
            ConsultationRow.closes_at > now,
        )
        async with self._db.session() as s:
            return [_consultation(r) for r in await s.scalars(stmt.order_by(ConsultationRow.id))]

    async def claim_invitations(self, committee: str, cid: int, now: datetime) -> bool:
        async with self._db.session() as s:
            done = await s.execute(
                update(ConsultationRow)
                .where(
                    ConsultationRow.committee == committee,
                    ConsultationRow.id == cid,
                    ConsultationRow.invited_at.is_(None),
                )
                .values(invited_at=now)
                .execution_options(synchronize_session=False)
            )
            return int(getattr(done, "rowcount", 0) or 0) == 1

    async def reminders(self, committee: str, cid: int) -> list[Reminder]:
        stmt = (
            select(ConsultationReminderRow)
            .where(
                ConsultationReminderRow.committee == committee,
                ConsultationReminderRow.consultation_id == cid,
            )
            .order_by(ConsultationReminderRow.id)
        )
        async with self._db.session() as s:
            return [
                Reminder(r.household_id, r.binding_id, r.round, r.delivered, r.at)
                for r in await s.scalars(stmt)
            ]

    async def audit(self, committee: str, cid: int) -> list[AuditEntry]:
        stmt = (
            select(ConsultationAuditRow)
            .where(
                ConsultationAuditRow.committee == committee,
                ConsultationAuditRow.consultation_id == cid,
            )
            .order_by(ConsultationAuditRow.id)
        )
        async with self._db.session() as s:
            return [
                AuditEntry(
                    r.id, r.consultation_id, r.actor_id, r.actor_name, r.action, r.detail, r.at
                )
                for r in await s.scalars(stmt)
            ]

    async def log(self, committee: str, cid: int, now: datetime, note: AuditNote) -> None:
        async with self._db.session() as s:
            row = await _row(s, committee, cid)
            _audit(s, row, note, now)


async def _find(
    s: AsyncSession, committee: str, cid: int, lock: bool = False
) -> ConsultationRow | None:
    stmt = select(ConsultationRow).where(
        ConsultationRow.committee == committee, ConsultationRow.id == cid
    )
    if lock:
        stmt = stmt.with_for_update()
    return (await s.scalars(stmt)).one_or_none()


async def _row(s: AsyncSession, committee: str, cid: int, lock: bool = False) -> ConsultationRow:
    row = await _find(s, committee, cid, lock)
    if row is None:
        raise ConsultationNotFound(NOT_FOUND)
    return row


def _fill(row: ConsultationRow, d: ConsultationDraft) -> None:
    row.title = d.title
    row.plan = d.plan
    row.options = list(d.options)
    row.compound = d.compound
    row.buildings = list(d.buildings)
    row.opens_at = d.opens_at
    row.closes_at = d.closes_at
    row.secret = d.secret
    row.rule = d.rule
    row.max_reminders = d.max_reminders


def _audit(s: AsyncSession, row: ConsultationRow, note: AuditNote, now: datetime) -> None:
    s.add(
        ConsultationAuditRow(
            committee=row.committee,
            consultation_id=row.id,
            actor_id=note.actor_id[:200],
            actor_name=note.actor_name[:200],
            action=note.action,
            detail=note.detail,
            at=now,
        )
    )


def _consultation(r: ConsultationRow) -> Consultation:
    return Consultation(
        id=r.id,
        committee=r.committee,
        title=r.title,
        plan=r.plan,
        options=tuple(r.options),
        compound=r.compound,
        buildings=tuple(r.buildings),
        opens_at=r.opens_at,
        closes_at=r.closes_at,
        secret=r.secret,
        rule=r.rule,
        max_reminders=r.max_reminders,
        status=ConsultationStatus(r.status),
        reminders_sent=r.reminders_sent,
        result=None if r.result is None else dict(r.result),
        created_by=r.created_by,
        created_at=r.created_at,
        updated_at=r.updated_at,
        published_at=r.published_at,
        invited_at=r.invited_at,
        closed_at=r.closed_at,
        closed_by=r.closed_by,
    )


def _vote(r: ConsultationVoteRow) -> Vote:
    return Vote(
        id=r.id,
        consultation_id=r.consultation_id,
        household_id=r.household_id,
        binding_id=r.binding_id,
        voter_name=r.voter_name,
        choice=r.choice,
        via=r.via,
        receipt=r.receipt,
        cast_at=r.cast_at,
        changed_at=r.changed_at,
        changes=r.changes,
    )
