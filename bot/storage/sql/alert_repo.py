"""SQL implementation of the staff alert store (SQLite or PostgreSQL).

Idempotency rests on the unique index ``(source_key, kind)``: a second insert fails inside
its own transaction and the first row is read back. Updates are ``UPDATE … WHERE id = ? AND
version = ?``: exactly one of two concurrent writers wins on either database."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.storage.alerts import AlertStatus, AlertStore, NewAlert, StaffAlert
from bot.storage.sql.alert_models import StaffAlertRow
from bot.storage.sql.database import Database

__all__ = ["SqlAlertStore"]

_LAST_ERROR_CHARS = 1000
_MUTABLE = (
    "ticket_number",
    "holder",
    "level",
    "attempts",
    "next_attempt_at",
    "escalate_at",
    "last_error",
    "last_attempt_at",
    "acknowledged_by",
    "acknowledged_by_name",
    "acknowledged_at",
    "updated_at",
    "steps_posted",
)


class SqlAlertStore(AlertStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(self, alert: NewAlert) -> tuple[StaffAlert, bool]:
        row = StaffAlertRow(
            committee=alert.committee,
            source_key=alert.source_key,
            kind=alert.kind,
            category=alert.category,
            text=alert.text,
            conversation_key=alert.conversation_key,
            ticket_number=alert.ticket_number,
            holder=alert.holder,
            status=alert.status.value,
            level=0,
            recipients=[],
            attempts=0,
            next_attempt_at=alert.next_attempt_at,
            escalate_at=None,
            last_error="",
            last_attempt_at=None,
            acknowledged_by=None,
            acknowledged_by_name="",
            acknowledged_at=None,
            created_at=alert.created_at,
            updated_at=alert.created_at,
            steps=[dict(s) for s in alert.steps],
            steps_count=len(alert.steps),
            steps_posted=0,
            version=1,
        )
        try:
            async with self._db.session() as s:
                s.add(row)
                await s.flush()
                created = _from_row(row)
        except IntegrityError:
            existing = await self._one(alert.source_key, alert.kind)
            if existing is None:
                raise
            return existing, False
        return created, True

    async def _one(self, source_key: str, kind: str) -> StaffAlert | None:
        stmt = select(StaffAlertRow).where(
            StaffAlertRow.source_key == source_key, StaffAlertRow.kind == kind
        )
        async with self._db.session() as s:
            row = (await s.scalars(stmt)).one_or_none()
            return None if row is None else _from_row(row)

    async def get(self, alert_id: int) -> StaffAlert | None:
        async with self._db.session() as s:
            row = await s.get(StaffAlertRow, alert_id)
            return None if row is None else _from_row(row)

    async def by_source_key(self, source_key: str) -> list[StaffAlert]:
        stmt = (
            select(StaffAlertRow)
            .where(StaffAlertRow.source_key == source_key)
            .order_by(StaffAlertRow.id)
        )
        async with self._db.session() as s:
            return [_from_row(r) for r in (await s.scalars(stmt)).all()]

    async def update(self, before: StaffAlert, after: StaffAlert) -> StaffAlert | None:
        values: dict[str, Any] = {name: getattr(after, name) for name in _MUTABLE}
        values.update(
            status=after.status.value,
            recipients=list(after.recipients),
            last_error=after.last_error[:_LAST_ERROR_CHARS],
            steps=[dict(s) for s in after.steps],
            steps_count=len(after.steps),
            version=before.version + 1,
        )
        stmt = (
            update(StaffAlertRow)
            .where(StaffAlertRow.id == before.id, StaffAlertRow.version == before.version)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        async with self._db.session() as s:
            result = cast(CursorResult[Any], await s.execute(stmt))
            if result.rowcount != 1:
                return None
        return replace(after, version=before.version + 1)

    async def due(self, now: datetime, limit: int = 100) -> list[StaffAlert]:
        stmt = (
            select(StaffAlertRow)
            .where(
                or_(
                    and_(
                        StaffAlertRow.status == AlertStatus.QUEUED.value,
                        StaffAlertRow.next_attempt_at <= now,
                    ),
                    and_(
                        StaffAlertRow.status == AlertStatus.SENT.value,
                        StaffAlertRow.escalate_at <= now,
                    ),
                )
            )
            .order_by(StaffAlertRow.id)
            .limit(limit)
        )
        async with self._db.session() as s:
            return [_from_row(r) for r in (await s.scalars(stmt)).all()]

    async def unlinked(self, limit: int = 100) -> list[StaffAlert]:
        stmt = (
            select(StaffAlertRow)
            .where(
                or_(
                    StaffAlertRow.ticket_number.is_(None),
                    StaffAlertRow.steps_count > StaffAlertRow.steps_posted,
                )
            )
            .order_by(StaffAlertRow.id.desc())
            .limit(limit)
        )
        async with self._db.session() as s:
            return [_from_row(r) for r in (await s.scalars(stmt)).all()]

    async def search(
        self,
        committee: str | None,
        statuses: frozenset[AlertStatus] | None = None,
        *,
        limit: int = 100,
    ) -> list[StaffAlert]:
        stmt = select(StaffAlertRow)
        if committee is not None:
            stmt = stmt.where(StaffAlertRow.committee == committee)
        if statuses is not None:
            stmt = stmt.where(StaffAlertRow.status.in_(sorted(s.value for s in statuses)))
        stmt = stmt.order_by(StaffAlertRow.id.desc()).limit(limit)
        async with self._db.session() as s:
            return [_from_row(r) for r in (await s.scalars(stmt)).all()]

    async def last_attempted(self, committee: str) -> StaffAlert | None:
        stmt = (
            select(StaffAlertRow)
            .where(
                StaffAlertRow.committee == committee,
                StaffAlertRow.last_attempt_at.is_not(None),
            )
            .order_by(StaffAlertRow.last_attempt_at.desc(), StaffAlertRow.id.desc())
            .limit(1)
        )
        async with self._db.session() as s:
            row = (await s.scalars(stmt)).one_or_none()
            return None if row is None else _from_row(row)


def _from_row(row: StaffAlertRow) -> StaffAlert:
    return StaffAlert(
        id=row.id,
        committee=row.committee,
        source_key=row.source_key,
        kind=row.kind,
        category=row.category,
        text=row.text,
        conversation_key=row.conversation_key,
        ticket_number=row.ticket_number,
        holder=row.holder,
        status=AlertStatus(row.status),
        level=row.level,
        recipients=tuple(row.recipients or ()),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        escalate_at=row.escalate_at,
        last_error=row.last_error,
        last_attempt_at=row.last_attempt_at,
        acknowledged_by=row.acknowledged_by,
        acknowledged_by_name=row.acknowledged_by_name,
        acknowledged_at=row.acknowledged_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        steps=tuple(row.steps or ()),
        steps_posted=row.steps_posted,
        version=row.version,
    )
