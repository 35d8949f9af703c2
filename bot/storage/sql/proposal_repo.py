"""Proposed FAQ alternates in the SQL store (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from bot.storage.faqs import Proposal, ProposalStore
from bot.storage.sql.database import Database
from bot.storage.sql.models import FaqProposalRow, utcnow

OPEN = "open"


class SqlProposalStore(ProposalStore):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def propose(self, committee: str, faq_id: str, text: str, source: str) -> Proposal:
        # An atomic increment, else an insert; a concurrent insert of the same phrasing makes
        # ours fail on the unique index, and the increment is tried again.
        same = (
            FaqProposalRow.committee == committee,
            FaqProposalRow.faq_id == faq_id,
            FaqProposalRow.text == text,
        )
        for _ in range(3):
            now = utcnow()
            bump = (
                update(FaqProposalRow)
                .where(*same)
                .values(count=FaqProposalRow.count + 1, source=source, last_at=now)
                .execution_options(synchronize_session=False)
            )
            try:
                async with self._db.session() as s:
                    done = await s.execute(bump)
                    if int(getattr(done, "rowcount", 0) or 0) == 0:
                        s.add(
                            FaqProposalRow(
                                committee=committee,
                                faq_id=faq_id,
                                text=text,
                                count=1,
                                source=source,
                                status=OPEN,
                                first_at=now,
                                last_at=now,
                                decided_by="",
                            )
                        )
                        await s.flush()
                    row = (await s.scalars(select(FaqProposalRow).where(*same))).one()
                    return _proposal(row)
            except IntegrityError:
                continue
        raise RuntimeError("could not record the proposal")

    async def open_for(self, committee: str, faq_id: str) -> list[Proposal]:
        stmt = (
            select(FaqProposalRow)
            .where(
                FaqProposalRow.committee == committee,
                FaqProposalRow.faq_id == faq_id,
                FaqProposalRow.status == OPEN,
            )
            .order_by(FaqProposalRow.count.desc(), FaqProposalRow.id)
        )
        async with self._db.session() as s:
            return [_proposal(r) for r in (await s.scalars(stmt)).all()]

    async def open_counts(self, committee: str) -> dict[str, int]:
        stmt = (
            select(FaqProposalRow.faq_id, func.count())
            .where(FaqProposalRow.committee == committee, FaqProposalRow.status == OPEN)
            .group_by(FaqProposalRow.faq_id)
        )
        async with self._db.session() as s:
            return {str(faq_id): int(n) for faq_id, n in (await s.execute(stmt)).all()}

    async def get(self, committee: str, proposal_id: int) -> Proposal | None:
        async with self._db.session() as s:
            row = await s.get(FaqProposalRow, proposal_id)
            if row is None or row.committee != committee:
                return None
            return _proposal(row)

    async def decide(
        self, committee: str, proposal_id: int, status: str, actor: str
    ) -> Proposal | None:
        if status not in {"accepted", "dismissed"}:
            raise ValueError(f"unknown decision {status!r}")
        stmt = (
            update(FaqProposalRow)
            .where(
                FaqProposalRow.id == proposal_id,
                FaqProposalRow.committee == committee,
                FaqProposalRow.status == OPEN,
            )
            .values(status=status, decided_by=actor, decided_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        async with self._db.session() as s:
            done = await s.execute(stmt)
            if int(getattr(done, "rowcount", 0) or 0) != 1:
                return None
        return await self.get(committee, proposal_id)


def _proposal(r: FaqProposalRow) -> Proposal:
    return Proposal(r.id, r.faq_id, r.text, r.count, r.source, r.status, r.first_at, r.last_at)
