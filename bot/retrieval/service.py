"""The retrieval service: one FAQ index per committee, searched with three outcomes.

``search`` (sync, CPU-bound) and ``asearch`` (runs it in an executor) return a
``SearchOutcome``:

- ``answer``: the best entry is clearly right: its score reaches ``Thresholds.answer`` and
  leads the next entry by ``Thresholds.margin``, and the message is more than one keyword
  (with a fitted ``Calibration``, ``bot.retrieval.calibration``: its probability that the
  top entry is right reaches the calibrated threshold);
- ``clarify``: the best entry is plausible but not clear: offer 2–3 choices ("did you mean");
- ``none``: nothing in the FAQ fits (the caller falls back to a ticket, a person, …).

Scope (the resident's compound) and validity (``valid_from``/``valid_until`` against
``today``, Shanghai time by default) filter candidates before ranking, so an expired or
not-yet-valid entry, or one for another compound, is never answered nor offered.

``rebuild`` builds a new index beside the old one and swaps the reference in one assignment:
searches in flight finish on the index they started with, new ones use the new index, none
fails. With an ``index_dir`` the index is also published on disk (``IndexStore``) and
``load_or_build`` reuses it at the next start when the corpus has not changed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from bot.domain.clock import shanghai_today
from bot.domain.faq import FaqEntry
from bot.encoders import Encoder
from bot.retrieval.calibration import Calibration, features
from bot.retrieval.errors import IndexFormatError, RetrievalError
from bot.retrieval.index import (
    Candidate,
    FaqIndex,
    IndexStore,
    ScoringConfig,
    corpus_fingerprint,
)
from bot.retrieval.normalize import MAX_QUERY_CHARS, Normalizer, core_text
from bot.retrieval.text import Tokenizer

AnswerKey = tuple[str, str | None, date, int, bool]
"""Normalised query, compound, day, ``limit``, truncated."""
ANSWER_CACHE_SIZE = 1024
"""Recent search outcomes kept per committee (their hits hold references to the index's own
entries, so the memory is a few tuples each)."""
OutcomeKind = Literal["answer", "clarify", "none"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Where the three outcomes split, on the hybrid score of ``bot.retrieval.index``.

    Calibrated with ``bench/retrieval_calibrate.py`` on our own data only: the sample
    corpus's alternates (left out of the index fold by fold) as in-scope queries and the
    phrasings in ``knowledge/calibration/out_of_scope.yml`` as out-of-scope ones. ``answer``:
    ≤1% of out-of-scope queries answered, ≥85% of answered left-out alternates right, with a
    lead of ``margin`` over the next entry; ``clarify``: ≤15% of out-of-scope queries offered
    choices. A message that is a single keyword (``居住证``, ``维修基金``) names a topic, not a
    question: it gets choices, never a direct answer.
    """

    answer: float = 0.56
    margin: float = 0.03
    clarify: float = 0.43
    clarify_window: float = 0.12
    """Further choices score within this of the best one; a second choice is always offered
    when it scores at least ``clarify - clarify_window``."""
    max_choices: int = 3
    min_core_chars: int = 1
    """Queries with fewer letters/digits than this (after normalisation) get no answer."""


@dataclass(frozen=True, slots=True)
class Hit:
    """A ranked entry: its score and the phrasing that matched best."""

    entry: FaqEntry
    score: float
    matched: str
    dense: float = 0.0
    lexical: float = 0.0


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    """What a search found.

    ``hits``: the best eligible entries, best first (diagnostics and ``kb search``);
    ``choices``: what to offer: the answer (one hit) for ``answer``, 2–3 hits for
    ``clarify``, nothing for ``none``.
    """

    kind: OutcomeKind
    query: str
    compound_id: str | None
    hits: tuple[Hit, ...] = ()
    choices: tuple[Hit, ...] = ()
    latency_ms: float = 0.0
    truncated: bool = False

    @property
    def best(self) -> Hit | None:
        return self.hits[0] if self.hits else None

    @property
    def answer(self) -> FaqEntry | None:
        return self.choices[0].entry if self.kind == "answer" and self.choices else None


class NoIndexError(RetrievalError):
    """The committee has no FAQ index yet (call ``rebuild`` or ``load_or_build``)."""


def decide(
    query: str,
    compound_id: str | None,
    candidates: Sequence[Candidate],
    thresholds: Thresholds,
    *,
    truncated: bool = False,
    single_keyword: bool = False,
    calibration: Calibration | None = None,
    core_chars: int = 0,
    n_words: int = 0,
) -> SearchOutcome:
    """Turn ranked candidates into one of the three outcomes (pure).

    ``single_keyword``: the message is one content word; it may get choices, not an answer.
    With a ``calibration`` the outcome follows its probabilities (``core_chars`` and
    ``n_words`` describe the normalised query); without one, the fixed ``thresholds``.
    """
    hits = tuple(
        Hit(c.entry, c.score, c.text, c.dense, round((c.chars + c.words) / 2, 6))
        for c in candidates
    )
    if not hits:
        return SearchOutcome("none", query, compound_id, hits, (), truncated=truncated)
    top = hits[0].score
    second = hits[1].score if len(hits) > 1 else float("-inf")
    if calibration is not None:
        kind = calibration.outcome(
            features(candidates, core_chars, n_words), single_keyword=single_keyword
        )
        if kind == "answer":
            return SearchOutcome("answer", query, compound_id, hits, hits[:1], truncated=truncated)
        if kind == "none":
            return SearchOutcome("none", query, compound_id, hits, (), truncated=truncated)
    elif top < thresholds.clarify:
        return SearchOutcome("none", query, compound_id, hits, (), truncated=truncated)
    elif not single_keyword and top >= thresholds.answer and top - second >= thresholds.margin:
        return SearchOutcome("answer", query, compound_id, hits, hits[:1], truncated=truncated)
    # the best hit, the others within the window of it, and at least a second one when it is
    # still plausible (within the window below the clarify threshold): "did you mean" offers
    # a choice
    floor = thresholds.clarify - thresholds.clarify_window
    choices = [hits[0]] + [h for h in hits[1:] if h.score >= top - thresholds.clarify_window]
    if len(choices) == 1 and len(hits) > 1 and hits[1].score >= floor:
        choices.append(hits[1])
    return SearchOutcome(
        "clarify",
        query,
        compound_id,
        hits,
        tuple(choices[: thresholds.max_choices]),
        truncated=truncated,
    )


class RetrievalService:
    """Holds one index per committee; thread-safe; sync core plus async wrappers.

    Nothing loads at construction: the encoder, jieba and OpenCC load on first use, inside
    whichever thread does the first build or search.
    """

    def __init__(
        self,
        encoder: Encoder,
        *,
        index_dir: Path | None = None,
        thresholds: Thresholds | None = None,
        scoring: ScoringConfig | None = None,
        executor: Executor | None = None,
        today: Callable[[], date] = shanghai_today,
        calibration: Calibration | None = None,
    ) -> None:
        self.encoder = encoder
        self.thresholds = thresholds or Thresholds()
        self.calibration = calibration
        """When set, answer / clarify / none follow it instead of ``thresholds``."""
        self.scoring = scoring or ScoringConfig()
        self.store = IndexStore(index_dir) if index_dir is not None else None
        self._executor = executor
        self._today = today
        self._normalizer = Normalizer()
        self._tokenizer = Tokenizer()
        self._indexes: dict[str, FaqIndex] = {}
        self._answers: dict[str, tuple[FaqIndex, OrderedDict[AnswerKey, SearchOutcome]]] = {}
        """Per committee, the outcomes of its current index's recent searches (see
        ``search``); an index swap or drop makes them unreachable."""
        self._answers_guard = threading.Lock()
        self._build_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # -- indexes ---------------------------------------------------------------------------

    def committees(self) -> list[str]:
        return sorted(self._indexes)

    def index(self, committee: str) -> FaqIndex:
        idx = self._indexes.get(committee)
        if idx is None:
            raise NoIndexError(f"no FAQ index for committee {committee!r}")
        return idx

    def revision(self, committee: str) -> str | None:
        """The committee's corpus revision in this process: its index's fingerprint (None:
        no index). Every worker computes the same one from the same entries."""
        idx = self._indexes.get(committee)
        return idx.fingerprint if idx is not None else None

    def query_key(self, text: str) -> tuple[str, bool]:
        """What ``search`` ranks ``text`` as: the normalised query and whether it was
        truncated (two texts with the same key get the same outcome)."""
        query = self._normalizer.normalize(text, max_chars=MAX_QUERY_CHARS)
        return query, len(text) > MAX_QUERY_CHARS and len(query) >= MAX_QUERY_CHARS

    def _build_lock(self, committee: str) -> threading.Lock:
        with self._locks_guard:
            return self._build_locks.setdefault(committee, threading.Lock())

    def rebuild(self, committee: str, entries: Sequence[FaqEntry]) -> FaqIndex:
        """Build a new index for ``committee`` and swap it in; searches never wait for it.

        Only texts not in the embedding cache are encoded. With an ``index_dir`` the new
        index is published on disk before it is swapped in memory.
        """
        with self._build_lock(committee):
            cache = self.store.cache(committee) if self.store else None
            index, _ = FaqIndex.build(
                entries,
                self.encoder,
                tokenizer=self._tokenizer,
                normalizer=self._normalizer,
                cache=cache,
                scoring=self.scoring,
            )
            if self.store is not None and cache is not None:
                self.store.publish(committee, index)
                cache.save(keep=index.text_keys())
            self._indexes[committee] = index  # the atomic swap
            return index

    def load_or_build(
        self, committee: str, entries: Sequence[FaqEntry], index_dir: Path | None = None
    ) -> FaqIndex:
        """Use the persisted index when it was built from exactly these entries (and this
        encoder), otherwise build, publish and use a new one."""
        if index_dir is not None and (self.store is None or self.store.root != index_dir):
            self.store = IndexStore(index_dir)
        if self.store is not None:
            current = self.store.current(committee)
            if current is not None:
                wanted = corpus_fingerprint(entries, self.encoder.name)
                try:
                    index = FaqIndex.load(
                        current,
                        self.encoder,
                        tokenizer=self._tokenizer,
                        normalizer=self._normalizer,
                        scoring=self.scoring,
                    )
                except IndexFormatError:
                    index = None
                if index is not None and index.fingerprint == wanted:
                    self._indexes[committee] = index
                    return index
        return self.rebuild(committee, entries)

    def drop(self, committee: str) -> None:
        self._indexes.pop(committee, None)
        with self._answers_guard:
            self._answers.pop(committee, None)

    def _cached(self, committee: str, index: FaqIndex, key: AnswerKey) -> SearchOutcome | None:
        with self._answers_guard:
            held = self._answers.get(committee)
            if held is None or held[0] is not index:
                return None
            outcome = held[1].get(key)
            if outcome is not None:
                held[1].move_to_end(key)
            return outcome

    def _remember(
        self, committee: str, index: FaqIndex, key: AnswerKey, outcome: SearchOutcome
    ) -> None:
        with self._answers_guard:
            held = self._answers.get(committee)
            if held is None or held[0] is not index:
                if self._indexes.get(committee) is not index:
                    return  # swapped meanwhile: this outcome belongs to the old corpus
                held = (index, OrderedDict())
                self._answers[committee] = held
            held[1][key] = outcome
            while len(held[1]) > ANSWER_CACHE_SIZE:
                held[1].popitem(last=False)

    # -- searching -------------------------------------------------------------------------

    def search(
        self,
        committee: str,
        text: str,
        compound_id: str | None = None,
        today: date | None = None,
        *,
        limit: int = 5,
    ) -> SearchOutcome:
        """Search one committee's FAQ for a resident's message. Never raises for any text;
        raises ``NoIndexError`` if the committee has no index.

        Repeated questions (a burst after a notice) are answered from a cache of the index's
        recent outcomes, keyed by the normalised text, the compound, the day and ``limit``;
        the cache belongs to the index, so any FAQ change (a new index) drops it. Only the
        FAQ search is cached: the message still goes through crisis detection and the NLU
        first, and routes that do not search the FAQ never see it."""
        started = time.perf_counter()
        index = self.index(committee)  # one read: a concurrent swap cannot split this search
        day = today or self._today()
        query, truncated = self.query_key(text)
        key: AnswerKey = (query, compound_id, day, limit, truncated)
        cached = self._cached(committee, index, key)
        if cached is not None:
            return dataclasses.replace(
                cached, latency_ms=round((time.perf_counter() - started) * 1000.0, 3)
            )
        if len(core_text(query)) < self.thresholds.min_core_chars:
            outcome = SearchOutcome("none", query, compound_id, truncated=truncated)
        else:
            candidates = index.rank(query, compound_id=compound_id, today=day, limit=max(limit, 3))
            n_words = len(self._tokenizer.words(query, query=True))
            outcome = decide(
                query,
                compound_id,
                candidates,
                self.thresholds,
                truncated=truncated,
                single_keyword=n_words <= 1,
                calibration=self.calibration,
                core_chars=len(core_text(query)),
                n_words=n_words,
            )
        elapsed = (time.perf_counter() - started) * 1000.0
        result = SearchOutcome(
            outcome.kind,
            outcome.query,
            outcome.compound_id,
            outcome.hits[:limit],
            outcome.choices,
            round(elapsed, 3),
            outcome.truncated,
        )
        self._remember(committee, index, key, result)
        return result

    async def asearch(
        self,
        committee: str,
        text: str,
        compound_id: str | None = None,
        today: date | None = None,
        *,
        limit: int = 5,
    ) -> SearchOutcome:
        loop = asyncio.get_running_loop()
        call = functools.partial(self.search, committee, text, compound_id, today, limit=limit)
        return await loop.run_in_executor(self._executor, call)

    async def arebuild(self, committee: str, entries: Sequence[FaqEntry]) -> FaqIndex:
        loop = asyncio.get_running_loop()
        call = functools.partial(self.rebuild, committee, list(entries))
        return await loop.run_in_executor(self._executor, call)

    async def aload_or_build(
        self, committee: str, entries: Sequence[FaqEntry], index_dir: Path | None = None
    ) -> FaqIndex:
        loop = asyncio.get_running_loop()
        call = functools.partial(self.load_or_build, committee, list(entries), index_dir)
        return await loop.run_in_executor(self._executor, call)

    def warm_up(self) -> None:
        """Load the encoder, jieba and OpenCC now (e.g. at start, in an executor)."""
        self.encoder.encode(["预热"])
        self._tokenizer.words(self._normalizer.normalize("预热"))
