"""The household store in SQL (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.tickets import ResidentId
from bot.storage.households import (
    AccessEntry,
    Binding,
    BindingStatus,
    Household,
    HouseholdError,
    HouseholdNotFound,
    HouseholdRecord,
    HouseholdStore,
    ImportCounts,
    IssuedCode,
    PurgeCounts,
)
from bot.storage.sql.database import Database
from bot.storage.sql.household_models import (
    HouseholdAccessRow,
    HouseholdBindingRow,
    HouseholdCodeRow,
    HouseholdLabelRow,
    HouseholdRow,
)
from bot.storage.sql.models import utcnow

NOT_FOUND = "没有找到该户。"
BINDING_NOT_FOUND = "没有找到该绑定。"


class SqlHouseholdStore(HouseholdStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def import_households(
        self, committee: str, records: Sequence[HouseholdRecord]
    ) -> ImportCounts:
        created = updated = unchanged = 0
        now = utcnow()
        async with self._db.session() as s:
            existing = {
                (r.compound, r.building, r.unit, r.room): r
                for r in await s.scalars(
                    select(HouseholdRow).where(HouseholdRow.committee == committee)
                )
            }
            labels = await _labels(s, committee, [r.id for r in existing.values()])
            for rec in records:
                row = existing.get((rec.compound, rec.building, rec.unit, rec.room))
                if row is None:
                    row = HouseholdRow(
                        committee=committee,
                        compound=rec.compound,
                        building=rec.building,
                        unit=rec.unit,
                        room=rec.room,
                        floor_area=rec.floor_area,
                        created_at=now,
                        updated_at=now,
                    )
                    s.add(row)
                    await s.flush()
                    created += 1
                    have: tuple[str, ...] = ()
                else:
                    have = labels.get(row.id, ())
                    new_labels = [x for x in rec.labels if x not in have]
                    area_changed = rec.floor_area is not None and rec.floor_area != row.floor_area
                    if area_changed:
                        row.floor_area = rec.floor_area
                        row.updated_at = now
                    if area_changed or new_labels:
                        updated += 1
                    else:
                        unchanged += 1
                for label in rec.labels:
                    if label not in have:
                        s.add(
                            HouseholdLabelRow(
                                committee=committee,
                                household_id=row.id,
                                label=label,
                                added_by="import",
                                added_at=now,
                            )
                        )
        return ImportCounts(created, updated, unchanged)

    async def households(
        self, committee: str, *, compound: str = "", building: str = ""
    ) -> list[Household]:
        stmt = select(HouseholdRow).where(HouseholdRow.committee == committee)
        if compound:
            stmt = stmt.where(HouseholdRow.compound == compound)
        if building:
            stmt = stmt.where(HouseholdRow.building == building)
        async with self._db.session() as s:
            rows = list(await s.scalars(stmt))
            labels = await _labels(s, committee, [r.id for r in rows])
        found = [_household(r, labels.get(r.id, ())) for r in rows]
        return sorted(found, key=_order)

    async def household(self, committee: str, household_id: int) -> Household | None:
        async with self._db.session() as s:
            row = await _household_row(s, committee, household_id)
            if row is None:
                return None
            labels = await _labels(s, committee, [row.id])
        return _household(row, labels.get(row.id, ()))

    async def set_labels(
        self, committee: str, household_id: int, labels: Sequence[str], actor: str
    ) -> Household:
        now = utcnow()
        async with self._db.session() as s:
            row = await _household_row(s, committee, household_id)
            if row is None:
                raise HouseholdNotFound(NOT_FOUND)
            have = (await _labels(s, committee, [row.id])).get(row.id, ())
            gone = [x for x in have if x not in labels]
            if gone:
                await s.execute(
                    delete(HouseholdLabelRow).where(
                        HouseholdLabelRow.household_id == row.id,
                        HouseholdLabelRow.label.in_(gone),
                    )
                )
            for label in labels:
                if label not in have:
                    s.add(
                        HouseholdLabelRow(
                            committee=committee,
                            household_id=row.id,
                            label=label,
                            added_by=actor,
                            added_at=now,
                        )
                    )
            row.updated_at = now
            await s.flush()
            kept = (await _labels(s, committee, [row.id])).get(row.id, ())
        return _household(row, kept)

    async def binding_of(self, committee: str, resident: ResidentId) -> Binding | None:
        async with self._db.session() as s:
            row = await _resident_row(s, committee, resident)
        return None if row is None else _binding(row)

    async def binding(self, committee: str, binding_id: int) -> Binding | None:
        async with self._db.session() as s:
            row = await _binding_row(s, committee, binding_id)
        return None if row is None else _binding(row)

    async def bindings(
        self,
        committee: str,
        *,
        household_id: int | None = None,
        status: BindingStatus | None = None,
    ) -> list[Binding]:
        stmt = select(HouseholdBindingRow).where(HouseholdBindingRow.committee == committee)
        if household_id is not None:
            stmt = stmt.where(HouseholdBindingRow.household_id == household_id)
        if status is not None:
            stmt = stmt.where(HouseholdBindingRow.status == status.value)
        async with self._db.session() as s:
            rows = await s.scalars(stmt.order_by(HouseholdBindingRow.id))
            return [_binding(r) for r in rows]

    async def claim(
        self,
        committee: str,
        household_id: int,
        resident: ResidentId,
        sender_name: str,
        now: datetime,
    ) -> Binding:
        async with self._db.session() as s:
            if await _household_row(s, committee, household_id) is None:
                raise HouseholdNotFound(NOT_FOUND)
            row = await _resident_row(s, committee, resident)
            if row is not None:
                old_household, was_voter = row.household_id, row.voter
                row.household_id = household_id
                row.status = BindingStatus.CLAIMED.value
                row.voter = False
                row.method = ""
                row.verified_at = None
                row.verified_by = ""
                row.code_failures = 0
                row.consented_at = now
                row.updated_at = now
                row.sender_name = sender_name[:200]
                await s.flush()
                if was_voter:
                    await _pass_vote(s, committee, old_household)
            else:
                row = HouseholdBindingRow(
                    committee=committee,
                    household_id=household_id,
                    channel=resident.channel,
                    account=resident.account,
                    sender_id=resident.sender_id,
                    sender_name=sender_name[:200],
                    status=BindingStatus.CLAIMED.value,
                    voter=False,
                    method="",
                    consented_at=now,
                    created_at=now,
                    updated_at=now,
                    verified_at=None,
                    verified_by="",
                    code_failures=0,
                )
                s.add(row)
                await s.flush()
            return _binding(row)

    async def decide(
        self,
        committee: str,
        binding_id: int,
        status: BindingStatus,
        by: str,
        method: str,
        now: datetime,
    ) -> Binding:
        async with self._db.session() as s:
            row = await _binding_row(s, committee, binding_id)
            if row is None:
                raise HouseholdNotFound(BINDING_NOT_FOUND)
            await _decide(s, row, status, by, method, now)
            return _binding(row)

    async def make_voter(self, committee: str, binding_id: int, now: datetime) -> Binding:
        async with self._db.session() as s:
            row = await _binding_row(s, committee, binding_id)
            if row is None:
                raise HouseholdNotFound(BINDING_NOT_FOUND)
            if row.status != BindingStatus.VERIFIED.value:
                raise HouseholdError("只有已核实的绑定才能设为投票人。")
            await s.execute(
                update(HouseholdBindingRow)
                .where(
                    HouseholdBindingRow.committee == committee,
                    HouseholdBindingRow.household_id == row.household_id,
                    HouseholdBindingRow.id != row.id,
                )
                .values(voter=False)
                .execution_options(synchronize_session=False)
            )
            row.voter = True
            row.updated_at = now
            await s.flush()
            return _binding(row)

    async def unbind(self, committee: str, resident: ResidentId) -> Binding | None:
        async with self._db.session() as s:
            row = await _resident_row(s, committee, resident)
            if row is None:
                return None
            gone = _binding(row)
            await s.delete(row)
            await s.flush()
            if gone.voter:
                await _pass_vote(s, committee, gone.household_id)
            return gone

    async def add_code(
        self,
        committee: str,
        household_id: int,
        code_hash: str,
        by: str,
        now: datetime,
        expires_at: datetime,
    ) -> int:
        async with self._db.session() as s:
            if await _household_row(s, committee, household_id) is None:
                raise HouseholdNotFound(NOT_FOUND)
            row = HouseholdCodeRow(
                committee=committee,
                household_id=household_id,
                code_hash=code_hash,
                created_by=by,
                created_at=now,
                expires_at=expires_at,
                used_at=None,
                used_by=None,
            )
            s.add(row)
            await s.flush()
            return int(row.id)

    async def live_codes(
        self, committee: str, household_id: int, now: datetime
    ) -> list[IssuedCode]:
        stmt = select(HouseholdCodeRow).where(
            HouseholdCodeRow.committee == committee,
            HouseholdCodeRow.household_id == household_id,
            HouseholdCodeRow.used_at.is_(None),
            HouseholdCodeRow.expires_at > now,
        )
        async with self._db.session() as s:
            return [
                IssuedCode(r.id, r.household_id, r.code_hash, r.expires_at)
                for r in await s.scalars(stmt)
            ]

    async def redeem(
        self, committee: str, code_id: int, binding_id: int, now: datetime
    ) -> Binding | None:
        async with self._db.session() as s:
            row = await _binding_row(s, committee, binding_id)
            if row is None:
                return None
            used = await s.execute(
                update(HouseholdCodeRow)
                .where(
                    HouseholdCodeRow.id == code_id,
                    HouseholdCodeRow.committee == committee,
                    HouseholdCodeRow.household_id == row.household_id,
                    HouseholdCodeRow.used_at.is_(None),
                    HouseholdCodeRow.expires_at > now,
                )
                .values(used_at=now, used_by=binding_id)
                .execution_options(synchronize_session=False)
            )
            if int(getattr(used, "rowcount", 0) or 0) != 1:
                return None
            await _decide(s, row, BindingStatus.VERIFIED, "code", "code", now)
            return _binding(row)

    async def code_failed(self, committee: str, binding_id: int) -> int:
        async with self._db.session() as s:
            row = await _binding_row(s, committee, binding_id)
            if row is None:
                return 0
            row.code_failures += 1
            return int(row.code_failures)

    async def log_access(
        self,
        committee: str,
        household_id: int | None,
        actor_id: str,
        actor_name: str,
        action: str,
        detail: str,
        now: datetime,
    ) -> None:
        async with self._db.session() as s:
            s.add(
                HouseholdAccessRow(
                    committee=committee,
                    household_id=household_id,
                    actor_id=actor_id[:128],
                    actor_name=actor_name[:200],
                    action=action,
                    detail=detail,
                    at=now,
                )
            )

    async def access_log(
        self, committee: str, *, household_id: int | None = None, limit: int = 200
    ) -> list[AccessEntry]:
        stmt = select(HouseholdAccessRow).where(HouseholdAccessRow.committee == committee)
        if household_id is not None:
            stmt = stmt.where(HouseholdAccessRow.household_id == household_id)
        stmt = stmt.order_by(HouseholdAccessRow.id.desc()).limit(limit)
        async with self._db.session() as s:
            return [
                AccessEntry(
                    r.id,
                    r.committee,
                    r.household_id,
                    r.actor_id,
                    r.actor_name,
                    r.action,
                    r.detail,
                    r.at,
                )
                for r in await s.scalars(stmt)
            ]

    async def purge(self, bindings_before: datetime, now: datetime) -> PurgeCounts:
        async with self._db.session() as s:
            old = list(
                await s.scalars(
                    select(HouseholdBindingRow).where(
                        HouseholdBindingRow.updated_at < bindings_before
                    )
                )
            )
            voters = {(r.committee, r.household_id) for r in old if r.voter}
            for row in old:
                await s.delete(row)
            await s.flush()
            for committee, household_id in voters:
                await _pass_vote(s, committee, household_id)
            codes = await s.execute(
                delete(HouseholdCodeRow)
                .where(
                    or_(HouseholdCodeRow.used_at.is_not(None), HouseholdCodeRow.expires_at <= now)
                )
                .execution_options(synchronize_session=False)
            )
            return PurgeCounts(len(old), int(getattr(codes, "rowcount", 0) or 0))


async def _household_row(s: AsyncSession, committee: str, household_id: int) -> HouseholdRow | None:
    return (
        await s.scalars(
            select(HouseholdRow).where(
                HouseholdRow.committee == committee, HouseholdRow.id == household_id
            )
        )
    ).one_or_none()


async def _binding_row(
    s: AsyncSession, committee: str, binding_id: int
) -> HouseholdBindingRow | None:
    return (
        await s.scalars(
            select(HouseholdBindingRow).where(
                HouseholdBindingRow.committee == committee, HouseholdBindingRow.id == binding_id
            )
        )
    ).one_or_none()


async def _resident_row(
    s: AsyncSession, committee: str, resident: ResidentId
) -> HouseholdBindingRow | None:
    return (
        await s.scalars(
            select(HouseholdBindingRow).where(
                HouseholdBindingRow.committee == committee,
                HouseholdBindingRow.channel == resident.channel,
                HouseholdBindingRow.account == resident.account,
                HouseholdBindingRow.sender_id == resident.sender_id,
            )
        )
    ).one_or_none()


async def _decide(
    s: AsyncSession,
    row: HouseholdBindingRow,
    status: BindingStatus,
    by: str,
    method: str,
    now: datetime,
) -> None:
    was_voter = row.voter
    row.status = status.value
    row.updated_at = now
    if status is BindingStatus.VERIFIED:
        row.verified_at = now
        row.verified_by = by
        row.method = method
        has_voter = (
            await s.scalar(
                select(func.count())
                .select_from(HouseholdBindingRow)
                .where(
                    HouseholdBindingRow.committee == row.committee,
                    HouseholdBindingRow.household_id == row.household_id,
                    HouseholdBindingRow.voter.is_(True),
                    HouseholdBindingRow.id != row.id,
                )
            )
        ) or 0
        row.voter = was_voter or has_voter == 0
    else:
        row.verified_at = None
        row.verified_by = by
        row.method = ""
        row.voter = False
    await s.flush()
    if was_voter and not row.voter:
        await _pass_vote(s, row.committee, row.household_id)


async def _pass_vote(s: AsyncSession, committee: str, household_id: int) -> None:
    """The household's earliest verified binding becomes its voter when it has none."""
    rows = list(
        await s.scalars(
            select(HouseholdBindingRow)
            .where(
                HouseholdBindingRow.committee == committee,
                HouseholdBindingRow.household_id == household_id,
                HouseholdBindingRow.status == BindingStatus.VERIFIED.value,
            )
            .order_by(HouseholdBindingRow.verified_at, HouseholdBindingRow.id)
        )
    )
    if rows and not any(r.voter for r in rows):
        rows[0].voter = True
        await s.flush()


async def _labels(
    s: AsyncSession, committee: str, household_ids: Sequence[int]
) -> dict[int, tuple[str, ...]]:
    if not household_ids:
        return {}
    out: dict[int, list[str]] = {}
    stmt = (
        select(HouseholdLabelRow)
        .where(HouseholdLabelRow.committee == committee)
        .order_by(HouseholdLabelRow.id)
    )
    if len(household_ids) < 500:
        stmt = stmt.where(HouseholdLabelRow.household_id.in_(list(household_ids)))
    wanted = set(household_ids)
    for row in await s.scalars(stmt):
        if row.household_id in wanted:
            out.setdefault(row.household_id, []).append(row.label)
    return {k: tuple(v) for k, v in out.items()}


def _household(row: HouseholdRow, labels: tuple[str, ...]) -> Household:
    return Household(
        id=row.id,
        committee=row.committee,
        compound=row.compound,
        building=row.building,
        unit=row.unit,
        room=row.room,
        floor_area=row.floor_area,
        labels=labels,
        created_at=row.created_at,
    )


def _binding(row: HouseholdBindingRow) -> Binding:
    return Binding(
        id=row.id,
        committee=row.committee,
        household_id=row.household_id,
        resident=ResidentId(row.channel, row.account, row.sender_id),
        sender_name=row.sender_name,
        status=BindingStatus(row.status),
        voter=row.voter,
        method=row.method,
        consented_at=row.consented_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        verified_at=row.verified_at,
        verified_by=row.verified_by,
        code_failures=row.code_failures,
    )


def _order(h: Household) -> tuple[str, tuple[int, str], tuple[int, str], tuple[int, str]]:
    return (h.compound, _natural(h.building), _natural(h.unit), _natural(h.room))


def _natural(text: str) -> tuple[int, str]:
    digits = "".join(c for c in text if c.isdigit())
    return (int(digits) if digits and len(digits) < 9 else 0, text)
