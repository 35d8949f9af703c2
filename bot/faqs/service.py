"""The committee's FAQ transactions: one place for reading, saving, retiring, reverting and
importing entries, and for *applying* a change (the corpus change logic the console, the
admin API and ``linli kb import`` share).

Applying a change means: rebuild the committee's index in this process (when the process
serves residents), then publish ``keys.channel("corpus")`` with the committee id on the state
store so every other worker rebuilds too (``bot.periodic.corpus_changes`` listens, and polls
the store's revision as a fallback). A save returns only after this process's index is rebuilt,
so the bot answers from the new entry as soon as the admin sees "saved".

Reverting restores the entry to the state *after* the chosen revision ("恢复到此版本"):
reverting the revision of an edit brings back that edit's result, reverting an older
revision undoes every later change; a retired entry is revived by reverting to any revision
that left it live. A revision that retired the entry has no state to restore to. The revert
is itself recorded as a revision with action ``revert``.

Validation is ``bot.faqs.validation``'s (messages in Chinese, admins read them).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.domain.clock import shanghai_today
from bot.domain.faq import FaqEntry, FaqFormatError
from bot.domain.registry import Registry
from bot.faqs.validation import check_reserved_ids, validate_entry
from bot.retrieval import CorpusError, RetrievalError, RetrievalService, load_corpus
from bot.storage import keys
from bot.storage.faqs import (
    NEVER_CHANGED,
    PROPOSAL_MAX_CHARS,
    FaqConflict,
    FaqRevision,
    FaqStore,
    Proposal,
    ProposalStore,
    StoredFaq,
    UpsertSummary,
)
from bot.storage.state import StateStore

log = logging.getLogger(__name__)

CORPUS_CHANNEL = keys.channel("corpus")


class RevisionNotFound(LookupError):
    """No such revision of this entry in this committee."""


class ProposalNotFound(LookupError):
    """No open proposal with this id for this entry."""


class NothingToRestore(ValueError):
    """The revision retired the entry: there is no state to restore to."""


class FaqService:
    """A committee's FAQ for the console, the admin API and the CLI.

    ``retrieval`` is None in processes that do not answer residents (``linli kb import``):
    there a change is only published."""

    def __init__(
        self,
        store: FaqStore,
        state: StateStore,
        registry: Registry,
        retrieval: RetrievalService | None = None,
        *,
        seed_dir: Path | None = None,
        proposals: ProposalStore | None = None,
    ) -> None:
        self.store = store
        self.proposals = proposals
        self.state = state
        self.registry = registry
        self.retrieval = retrieval
        self.seed_dir = seed_dir
        self._locks: dict[str, asyncio.Lock] = {}
        self._built: dict[str, str] = {}

    # -- reading ---------------------------------------------------------------------------
    async def entries(self, committee: str) -> list[FaqEntry]:
        """The committee's live entries, seeded from the sample corpus the first time (only
        when the committee never had any entry: retiring every entry does not bring the
        sample back). An unreadable stored entry is skipped and logged."""
        rows = await self.store.load(committee)
        if not rows and self.seed_dir is not None and await self._never_had_entries(committee):
            try:
                # File reading and validation run off the event loop.
                seed = await asyncio.get_running_loop().run_in_executor(
                    None, load_corpus, [self.seed_dir], self.registry, committee
                )
            except CorpusError as exc:
                log.warning(
                    "sample corpus does not fit this committee; starting empty",
                    extra={"committee": committee, "errors": len(exc.errors)},
                )
                return []
            await self.store.upsert_many(committee, [e.to_dict() for e in seed], actor="seed")
            rows = await self.store.load(committee)
        entries = []
        for row in rows:
            try:
                entries.append(FaqEntry.from_dict(row))
            except FaqFormatError as exc:
                # One bad row must not take the committee's whole FAQ down.
                log.error(
                    "unreadable FAQ entry skipped",
                    extra={"committee": committee, "faq": row.get("id"), "error": str(exc)},
                )
        return entries

    async def _never_had_entries(self, committee: str) -> bool:
        return await self.store.revision(committee) == NEVER_CHANGED

    async def get(self, committee: str, faq_id: str) -> StoredFaq | None:
        return await self.store.get(committee, faq_id)

    async def entry(self, committee: str, faq_id: str) -> FaqEntry | None:
        """A live, readable entry, or None."""
        stored = await self.store.get(committee, faq_id)
        if stored is None or stored.deleted:
            return None
        try:
            return FaqEntry.from_dict(stored.data)
        except FaqFormatError:
            return None

    async def history(self, committee: str, faq_id: str) -> list[FaqRevision]:
        return await self.store.history(committee, faq_id)

    # -- validation ------------------------------------------------------------------------
    def validate(self, committee: str, data: Mapping[str, Any], *, new: bool = False) -> FaqEntry:
        """An entry from admin input for this committee (``validate_entry``)."""
        return validate_entry(self.registry, committee, data, new=new)

    # -- changing --------------------------------------------------------------------------
    async def create(self, committee: str, entry: FaqEntry, actor: str) -> FaqRevision:
        """Add a new entry; FaqConflict when a live entry has its id."""
        data = _stamped(entry, None)
        revision = await self.store.write(
            committee, entry.id, data, actor, "create", expect="absent"
        )
        assert revision is not None  # a new entry is always a change
        await self.apply(committee)
        return revision

    async def update(self, committee: str, entry: FaqEntry, actor: str) -> FaqRevision | None:
        """Replace a live entry (``updated`` set to today when something changed); None when
        nothing changed; FaqConflict when it is not live."""
        current = await self.store.get(committee, entry.id)
        if current is None or current.deleted:
            raise FaqConflict(f"FAQ {entry.id!r} is not live")
        revision = await self.store.write(
            committee, entry.id, _stamped(entry, current.data), actor, "update", expect="present"
        )
        if revision is not None:
            await self.apply(committee)
        return revision

    async def delete(self, committee: str, faq_id: str, actor: str) -> FaqRevision | None:
        """Retire a live entry (kept with its history); None when it was not live."""
        revision = await self.store.write(committee, faq_id, None, actor, "delete")
        if revision is not None:
            await self.apply(committee)
        return revision

    async def revert(
        self, committee: str, faq_id: str, revision_id: int, actor: str
    ) -> FaqRevision | None:
        """Restore the entry to its state after ``revision_id`` (see the module doc); None
        when it is in that state already."""
        revision = await self.store.revision_of(committee, faq_id, revision_id)
        if revision is None:
            raise RevisionNotFound(f"no revision {revision_id} of {faq_id!r}")
        if revision.after is None:
            raise NothingToRestore(f"revision {revision_id} retired {faq_id!r}")
        # The registry may have changed since (a compound renamed or gone): check it again.
        entry = self.validate(committee, revision.after)
        restored = await self.store.write(committee, faq_id, entry.to_dict(), actor, "revert")
        if restored is not None:
            await self.apply(committee)
        return restored

    async def import_entries(
        self, committee: str, entries: Sequence[FaqEntry], actor: str
    ) -> UpsertSummary:
        """Create or update validated entries (all in one transaction) and apply."""
        check_reserved_ids(entries)
        summary = await self.store.upsert_many(committee, [e.to_dict() for e in entries], actor)
        if summary.created or summary.updated:
            await self.apply(committee)
        return summary

    # -- learning from residents -------------------------------------------------------------
    async def propose(self, committee: str, faq_id: str, text: str, source: str) -> Proposal | None:
        """Record ``text`` (a resident's phrasing) as a proposed alternate of a live entry;
        None when there is no proposal store, the entry is not live, or the phrasing is
        already one of the entry's (or blank, or too long to be a question)."""
        phrase = re.sub(r"\s+", " ", text).strip()
        if self.proposals is None or not phrase or len(phrase) > PROPOSAL_MAX_CHARS:
            return None
        entry = await self.entry(committee, faq_id)
        if entry is None or phrase in entry.texts:
            return None
        return await self.proposals.propose(committee, faq_id, phrase, source)

    async def proposals_for(self, committee: str, faq_id: str) -> list[Proposal]:
        if self.proposals is None:
            return []
        return await self.proposals.open_for(committee, faq_id)

    async def proposal_counts(self, committee: str) -> dict[str, int]:
        if self.proposals is None:
            return {}
        return await self.proposals.open_counts(committee)

    async def accept_proposal(
        self, committee: str, faq_id: str, proposal_id: int, actor: str
    ) -> FaqRevision | None:
        """Add the proposed phrasing to the entry's alternates: a normal revision (revertible
        like any other), live at once; the proposal is closed as accepted."""
        proposal = await self._open_proposal(committee, faq_id, proposal_id)
        entry = await self.entry(committee, faq_id)
        if entry is None:
            raise FaqConflict(f"FAQ {faq_id!r} is not live")
        revision = None
        if proposal.text not in entry.texts:
            data = {**entry.to_dict(), "alternates": [*entry.alternates, proposal.text]}
            revision = await self.update(committee, self.validate(committee, data), actor)
        assert self.proposals is not None
        await self.proposals.decide(committee, proposal_id, "accepted", actor)
        return revision

    async def dismiss_proposal(
        self, committee: str, faq_id: str, proposal_id: int, actor: str
    ) -> None:
        await self._open_proposal(committee, faq_id, proposal_id)
        assert self.proposals is not None
        await self.proposals.decide(committee, proposal_id, "dismissed", actor)

    async def _open_proposal(self, committee: str, faq_id: str, proposal_id: int) -> Proposal:
        found = None
        if self.proposals is not None:
            found = await self.proposals.get(committee, proposal_id)
        if found is None or found.faq_id != faq_id or found.status != "open":
            raise ProposalNotFound(f"no open proposal {proposal_id} of {faq_id!r}")
        return found

    # -- applying --------------------------------------------------------------------------
    async def apply(self, committee: str) -> None:
        """Make a change live: this process's index at once, the other workers' through the
        corpus channel. An index that cannot be rebuilt here is logged (the saved change
        stays; the background refresh retries)."""
        if self.retrieval is not None:
            try:
                await self.rebuild(committee)
            except RetrievalError:
                log.exception("index rebuild failed after a FAQ change")
        await self.state.publish(CORPUS_CHANNEL, committee)

    async def rebuild(self, committee: str) -> int:
        """Rebuild this process's index of ``committee`` from the store; returns the number
        of entries. Serialised per committee, so a slower rebuild never replaces a newer
        one."""
        if self.retrieval is None:
            return 0
        lock = self._locks.setdefault(committee, asyncio.Lock())
        async with lock:
            revision = await self.store.revision(committee)
            entries = await self.entries(committee)
            await self.retrieval.arebuild(committee, entries)
            self._built[committee] = revision
            return len(entries)

    async def refresh(self, committee: str, *, force: bool = False) -> bool:
        """Rebuild when the stored corpus changed since this process last built it (another
        process saved); True when it rebuilt. A committee this process never loaded nor
        built (an application started without its models) has no index to refresh."""
        if not force:
            built = self._built.get(committee)
            if built is None or built == await self.store.revision(committee):
                return False
        await self.rebuild(committee)
        return True

    def remember(self, committee: str, revision: str) -> None:
        """Note ``revision`` (read before the start-up load) as the one this index holds."""
        self._built[committee] = revision


def _stamped(entry: FaqEntry, before: Mapping[str, Any] | None) -> dict[str, Any]:
    """The entry to store: ``updated`` is today's date when the content changed."""
    data = entry.to_dict()
    if before is not None:
        unchanged = {**data, "updated": before.get("updated")} == dict(before)
        if unchanged:
            return dict(before)
    data["updated"] = shanghai_today().isoformat()
    return data
