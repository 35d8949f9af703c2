"""Collect the scored queries a ``Calibration`` is fitted on (``linli kb calibrate``).

Three sources, each scored exactly as a resident's message is at search time:

- ``alternates``: every alternate phrasing of the corpus, searched on an index built
  without it (``folds`` folds: a fold's alternates are removed from their entries, the rest
  stays) — the right entry is known;
- ``missing-null``: the questions and alternates of entries removed entirely from the index
  (another fold split, over entries) — in-domain questions the corpus does not answer, so
  the right outcome is no answer;
- ``labelled`` / ``labelled-null``: labelled resident queries (``kb eval`` files, e.g. the
  dev set) on the full index, and ``out-of-scope-null``: messages the FAQ must not answer
  (``knowledge/calibration/out_of_scope.yml``) on the full index. A query labelled "no
  answer" whose top entry is a referral (tag ``转介``) is left out: its label predates the
  referral that now answers it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import date

from bot.domain.faq import FaqEntry
from bot.encoders import Encoder
from bot.retrieval.calibration import Sample, features
from bot.retrieval.encoder import EmbeddingCache
from bot.retrieval.evaluate import EvalQuery
from bot.retrieval.index import FaqIndex
from bot.retrieval.normalize import MAX_QUERY_CHARS, Normalizer, core_text
from bot.retrieval.text import Tokenizer

REFERRAL_TAG = "转介"
"""Tag of the "not handled here, go to …" entries (knowledge/faq/referrals.yml)."""


class _Scorer:
    def __init__(self, encoder: Encoder, today: date) -> None:
        self.encoder = encoder
        self.today = today
        self.cache = EmbeddingCache(None)
        self.tokenizer = Tokenizer()
        self.normalizer = Normalizer()

    def build(self, entries: Sequence[FaqEntry]) -> FaqIndex:
        index, _ = FaqIndex.build(
            entries,
            self.encoder,
            tokenizer=self.tokenizer,
            normalizer=self.normalizer,
            cache=self.cache,
        )
        return index

    def score(
        self,
        index: FaqIndex,
        text: str,
        expected: frozenset[str],
        source: str,
        compound: str | None = None,
    ) -> Scored:
        query = self.normalizer.normalize(text, max_chars=MAX_QUERY_CHARS)
        core = len(core_text(query))
        if core < 1:
            return Scored(None, False, True, False, ())
        cands = index.rank(query, compound_id=compound, today=self.today, limit=3)
        ids = [c.entry.id for c in cands]
        n_words = len(self.tokenizer.words(query, query=True))
        x = features(cands, core, n_words)
        sample = Sample(
            tuple(x),
            bool(ids) and ids[0] in expected,
            any(i in expected for i in ids[:3]),
            source,
            text,
            ids[0] if ids else "",
        )
        # labels written before the referral entries existed: a question "the corpus does
        # not answer" that a referral now answers is neither right nor wrong in the fit
        referral = not expected and bool(cands) and REFERRAL_TAG in cands[0].entry.tags
        return Scored(sample, not referral, False, n_words <= 1, tuple(ids))

    def sample(
        self,
        index: FaqIndex,
        text: str,
        expected: frozenset[str],
        source: str,
        compound: str | None = None,
    ) -> Sample | None:
        scored = self.score(index, text, expected, source, compound)
        return scored.sample if scored.fit else None


@dataclasses.dataclass(frozen=True, slots=True)
class Scored:
    """A labelled query scored on the full index: its sample (``None`` if the message has
    nothing to search), whether the fit uses it (``fit``), and what the search sees."""

    sample: Sample | None
    fit: bool
    too_short: bool
    single_keyword: bool
    ranked: tuple[str, ...]


def score_labelled(
    entries: Sequence[FaqEntry],
    encoder: Encoder,
    labelled: Sequence[EvalQuery],
    *,
    compound_id: Callable[[str | None], str | None] = lambda c: c,
    today: date,
) -> list[Scored]:
    """Score labelled queries on the full index, one ``Scored`` per query in order (for
    out-of-fold evaluation: the decision on every query, including those the fit skips)."""
    scorer = _Scorer(encoder, today)
    full = scorer.build(entries)
    return [
        scorer.score(
            full,
            q.text,
            frozenset(q.expected or ()),
            "labelled" if q.expected else "labelled-null",
            compound_id(q.compound),
        )
        for q in labelled
    ]


def collect_samples(
    entries: Sequence[FaqEntry],
    encoder: Encoder,
    *,
    labelled: Sequence[EvalQuery] = (),
    out_of_scope: Sequence[str] = (),
    compound_id: Callable[[str | None], str | None] = lambda c: c,
    today: date,
    folds: int = 5,
) -> list[Sample]:
    """Score every query of the three sources (see the module doc)."""
    live = [e for e in entries if e.is_valid_on(today)]
    scorer = _Scorer(encoder, today)
    samples: list[Sample] = []

    pairs = [(alt, e.id) for e in live for alt in e.alternates]
    for fold in range(folds):
        held = {pairs[i] for i in range(fold, len(pairs), folds)}
        reduced = [
            dataclasses.replace(
                e, alternates=tuple(a for a in e.alternates if (a, e.id) not in held)
            )
            for e in live
        ]
        index = scorer.build(reduced)
        for alt, eid in sorted(held):
            s = scorer.sample(index, alt, frozenset({eid}), "alternates")
            if s is not None:
                samples.append(s)

    for fold in range(folds):
        removed = live[fold::folds]
        removed_ids = {e.id for e in removed}
        index = scorer.build([e for e in live if e.id not in removed_ids])
        for e in removed:
            for text in (e.question, *e.alternates):
                s = scorer.sample(index, text, frozenset(), "missing-null")
                if s is not None:
                    samples.append(s)

    # the full index holds every entry, as the service's does (validity filters the ranking,
    # it does not change the keyword statistics): labelled messages are scored as served
    full = scorer.build(entries)
    for q in labelled:
        source = "labelled" if q.expected else "labelled-null"
        s = scorer.sample(
            full, q.text, frozenset(q.expected or ()), source, compound_id(q.compound)
        )
        if s is not None:
            samples.append(s)
    for text in out_of_scope:
        s = scorer.sample(full, text, frozenset(), "out-of-scope-null")
        if s is not None:
            samples.append(s)
    return samples
