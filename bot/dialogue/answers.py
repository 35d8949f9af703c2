"""The answer cache: a repeated question (a burst after a notice, "湿垃圾几点扔" two hundred
times) is answered without reading and searching it again.

Two pure results are kept per process, in one bounded LRU (``Settings.answer_cache_size``):

- the NLU's *reading* of a message's text (intent ranking and entities), keyed by the
  committee, the FAQ corpus revision, the day and the text as the NLU reads it (mentions
  removed, trimmed; entity spans point into it, so it is not folded further);
- the FAQ search's *outcome* (retrieval and calibration: an answer, choices or nothing),
  keyed by the committee, the corpus revision, the compound, the day and the normalised
  query (``RetrievalService.query_key``): different compounds never share an outcome.

Both are stored only when the FAQ route made an answer or "did you mean" choices of them:
ticket, crisis, hand-off and status messages never enter the cache, and whatever a route
decides from the conversation's state (the compound asked once, pending choices, a draft)
is decided again on every message. The crisis layer reads every message before a cached
reading is used (``NluService.reread``): a cached answer never passes the emergency step.

The corpus revision is the committee's index fingerprint, which every worker computes from
the same entries: any FAQ change (a save, revert or import here, or another worker's change
picked up by the corpus refresh) builds a new index, the keys change, and the committee's
older entries are dropped the first time the new revision is seen.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import date

from bot.metrics import Metrics
from bot.nlu import NluService
from bot.nlu.types import ParseResult
from bot.retrieval import RetrievalService
from bot.retrieval.service import SearchOutcome

READING = "reading"
OUTCOME = "outcome"

ReadingKey = tuple[str, str, str, date, str]
"""("reading", committee, corpus revision, day, text)."""
OutcomeKey = tuple[str, str, str, str | None, date, str, bool]
"""("outcome", committee, corpus revision, compound, day, normalised query, truncated)."""


class AnswerCache:
    """A bounded LRU of readings and outcomes (see the module doc). Thread-safe."""

    def __init__(self, size: int, metrics: Metrics | None = None) -> None:
        self.size = max(0, size)
        self._entries: OrderedDict[Hashable, ParseResult | SearchOutcome] = OrderedDict()
        self._revisions: dict[str, str] = {}
        self._lock = threading.Lock()
        self._metrics = metrics
        self.hits = {READING: 0, OUTCOME: 0}
        self.misses = {READING: 0, OUTCOME: 0}

    @property
    def enabled(self) -> bool:
        return self.size > 0

    def __len__(self) -> int:
        return len(self._entries)

    def reading(self, key: ReadingKey) -> ParseResult | None:
        found = self._get(key)
        return found if isinstance(found, ParseResult) else None

    def outcome(self, key: OutcomeKey) -> SearchOutcome | None:
        found = self._get(key)
        return found if isinstance(found, SearchOutcome) else None

    def remember(
        self, outcome_key: OutcomeKey, outcome: SearchOutcome, reading: ParseResult | None = None
    ) -> None:
        """Keep the FAQ route's outcome and the reading it was made from (a reading that
        is not a plain built-in one of a calm message is not kept). The caller checks that
        the key's revision is still the committee's index (``FaqRoute``)."""
        if not self.enabled or outcome.kind == "none":
            return
        _, committee, revision, _, day, _, _ = outcome_key
        with self._lock:
            self._current(committee, revision)
            self._put(outcome_key, outcome)
            if reading is not None and not reading.is_emergency and reading.backend == "builtin":
                self._put((READING, committee, revision, day, reading.text), reading)

    def drop(self, committee: str) -> None:
        """Forget every entry of ``committee``."""
        with self._lock:
            self._revisions.pop(committee, None)
            self._drop(committee)

    # -- inside the lock -------------------------------------------------------------------

    def _get(self, key: ReadingKey | OutcomeKey) -> ParseResult | SearchOutcome | None:
        part, committee, revision = key[0], key[1], key[2]
        found = None
        if self.enabled:
            with self._lock:
                self._current(committee, revision)
                found = self._entries.get(key)
                if found is not None:
                    self._entries.move_to_end(key)
        if found is None:
            self.misses[part] += 1
        else:
            self.hits[part] += 1
        if self._metrics is not None:
            self._metrics.answer_cache.labels(part, "miss" if found is None else "hit").inc()
        return found

    def _current(self, committee: str, revision: str) -> None:
        """Note ``revision`` as the committee's current one; when it changed, the entries
        of the one before are dropped. (Callers build keys from the index in use, so a new
        revision means the corpus changed; a revert to an earlier corpus is its revision
        again, and starts empty like any change.)"""
        if self._revisions.get(committee) != revision:
            self._revisions[committee] = revision
            self._drop(committee)

    def _drop(self, committee: str) -> None:
        for key in [k for k in self._entries if isinstance(k, tuple) and k[1] == committee]:
            del self._entries[key]

    def _put(self, key: Hashable, value: ParseResult | SearchOutcome) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


class CachedUnderstanding:
    """The NLU with the answer cache in front (what the pipeline reads messages with): a
    text the FAQ route answered before is not classified again, but the crisis layer reads
    it every time (``NluService.reread``) before its cached reading is used."""

    def __init__(
        self,
        nlu: NluService,
        retrieval: RetrievalService,
        cache: AnswerCache,
        today: Callable[[], date],
    ) -> None:
        self.nlu = nlu
        self._retrieval = retrieval
        self._cache = cache
        self._today = today

    async def aparse(
        self, text: str, *, committee: str | None = None, scan: str | None = None
    ) -> ParseResult:
        key = self.key(committee, text)
        held = self._cache.reading(key) if key is not None else None
        if held is not None:
            # the crisis layer reads this message now, before the cached reading is used
            return self.nlu.reread(held, scan=scan)
        return await self.nlu.aparse(text, committee=committee, scan=scan)

    def key(self, committee: str | None, text: str) -> ReadingKey | None:
        """The cache key of ``text``'s reading (None: not cached — no cache, no committee,
        no FAQ index yet, or a remote NLU whose model may change under us)."""
        if committee is None or not self._cache.enabled or self.nlu.rasa is not None:
            return None
        revision = self._retrieval.revision(committee)
        if revision is None or not text.strip():
            return None
        return (READING, committee, revision, self._today(), text)
