"""One committee's FAQ index: dense (encoder + FAISS) and keyword (jieba words and character
n-grams, BM25 via bm25s) over every question and alternate, with hybrid re-scoring.

Ranking, for a normalised query:

1. candidates: the FAISS top ``k_dense`` entries by cosine to the entry's centroid (the
   normalised mean vector of its question and alternates), and the entries of the BM25 top
   ``k_lexical`` texts on jieba words and on character uni+bigrams; all restricted to eligible
   entries (scope and validity are filters, never a score). A second FAISS index holds every
   phrasing's vector (for exact cosines in step 2); searching it for candidates too
   (``ScoringConfig.text_search``) changed no result on the sample corpus and costs most of
   the search time at 10k entries, so it is off by default;
2. every candidate text gets a *text score*: the weighted sum of the cosine of the two
   sentence vectors and IDF-weighted F1 overlaps of the character n-grams and of the words
   (how much of the query the text covers and how much of the text the query covers, rare
   n-grams counting more; IDF is over entries, so an entry repeating a word in all its
   phrasings does not make that word common);
3. every candidate entry scores ``text`` × its best text score + ``centroid`` × the cosine to
   its centroid + ``answer`` × how much of the query its answer, materials and tags cover
   (IDF-weighted recall of words and character n-grams), minus a penalty when the query and
   the best text both carry numbers and none agree; entries are returned best first, each
   with how much of the query it has anywhere (``Candidate.cover_words``/``cover_chars``,
   ``missing_words``/``missing_chars``: not part of the score, read by the calibrated
   decision in ``bot.retrieval.calibration``).

The centroid recognises a topic phrased in a way no single alternate matches; the answer
coverage recognises "what kind of garbage is a watermelon rind" from the answer listing
瓜皮果核. All parts are bounded similarities, so the score is absolute (comparable across
queries), which is what the answer / clarify / none thresholds in ``bot.retrieval.service``
rely on. The weights were chosen on the sample corpus with its alternates as left-out
queries (``bench/retrieval_calibrate.py``), not on evaluation data.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bot.domain.faq import FaqEntry, FaqFormatError
from bot.domain.text import default_phrasing
from bot.encoders import Encoder
from bot.retrieval.encoder import EmbeddingCache, text_key
from bot.retrieval.errors import IndexFormatError
from bot.retrieval.lexicon import LEXICON_VERSION
from bot.retrieval.normalize import Normalizer
from bot.retrieval.text import Tokenizer

INDEX_FORMAT = 1
_NUMBER = re.compile(r"\d+")
_COMMITTEE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class ScoringConfig:
    """Weights of the hybrid score; each group sums to one so scores stay within [-1, 1]."""

    dense: float = 0.6
    """Text score: weight of the sentence-vector cosine…"""
    chars: float = 0.2
    """…of the character n-gram overlap…"""
    words: float = 0.2
    """…and of the word overlap."""
    text: float = 0.35
    """Entry score: weight of the best text score…"""
    centroid: float = 0.45
    """…of the cosine to the entry's centroid…"""
    answer: float = 0.2
    """…and of the query's coverage by the answer, materials and tags."""
    number_penalty: float = 0.1
    text_search: bool = False
    """Also take the FAISS top ``k_dense`` phrasings as candidates (see the module doc)."""
    k_dense: int = 40
    k_lexical: int = 30


@dataclass(frozen=True, slots=True)
class Candidate:
    """An eligible entry with its best-matching text and the parts of its score."""

    entry: FaqEntry
    score: float
    text: str
    dense: float
    chars: float
    words: float
    centroid: float = 0.0
    answer: float = 0.0
    cover_words: float = 0.0
    """IDF-weighted share of the query's words found anywhere in the entry (its phrasings,
    answer, materials and tags)…"""
    cover_chars: float = 0.0
    """…and of its character n-grams."""
    missing_words: float = 0.0
    """IDF of the rarest query word the entry lacks, as a share of the highest IDF (1.0: a
    word no entry has; 0.0: the entry has every word)…"""
    missing_chars: float = 0.0
    """…and the same for character n-grams."""
    phrase_words: float = 0.0
    """IDF-weighted share of the query's words found in the entry's phrasings (question
    and alternates) alone…"""
    phrase_chars: float = 0.0
    """…and of its character n-grams."""


def _faiss() -> Any:
    import faiss

    faiss.omp_set_num_threads(1)
    return faiss


def _bm25(corpus_tokens: Sequence[Sequence[str]]) -> Any:
    import bm25s

    model = bm25s.BM25()
    model.index([list(t) for t in corpus_tokens], show_progress=False)
    return model


def corpus_fingerprint(entries: Sequence[FaqEntry], encoder_name: str) -> str:
    """Changes whenever anything that goes into an index changes."""
    payload = json.dumps(
        [
            INDEX_FORMAT,
            LEXICON_VERSION,
            default_phrasing().fingerprint,
            encoder_name,
            [e.to_dict() for e in entries],
        ],
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _binary_rows(token_lists: Sequence[Sequence[str]], vocab: dict[str, int]) -> Any:
    """A CSR matrix with a 1 where row i contains token j; grows ``vocab`` as it goes."""
    from scipy import sparse

    indptr = [0]
    indices: list[int] = []
    for tokens in token_lists:
        ids = {vocab.setdefault(t, len(vocab)) for t in tokens}
        indices.extend(sorted(ids))
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float32)
    return sparse.csr_matrix(
        (data, np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int64)),
        shape=(len(token_lists), max(len(vocab), 1)),
    )


class _Lexicon:
    """Token ids, IDF over entries and the binary text/answer matrices of one token kind."""

    def __init__(
        self,
        text_tokens: Sequence[Sequence[str]],
        answer_tokens: Sequence[Sequence[str]],
        text_entry: NDArray[np.int32],
        n_entries: int,
    ) -> None:
        from scipy import sparse

        self.vocab: dict[str, int] = {}
        texts = _binary_rows(text_tokens, self.vocab)
        answers = _binary_rows(answer_tokens, self.vocab)
        size = max(len(self.vocab), 1)
        texts.resize((texts.shape[0], size))
        answers.resize((answers.shape[0], size))
        self.texts = texts.tocsr()
        self.answers = answers.tocsr()
        # document frequency over entries: an entry is the union of its phrasings
        owner = sparse.csr_matrix(
            (
                np.ones(len(text_entry), dtype=np.float32),
                (text_entry, np.arange(len(text_entry))),
            ),
            shape=(n_entries, len(text_entry)),
        )
        in_texts = ((owner @ self.texts) > 0).astype(np.float32)
        df = np.asarray(in_texts.sum(axis=0)).ravel()
        n = float(n_entries)
        self.idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        self.unseen = float(math.log1p((n + 0.5) / 0.5))
        self.text_mass = np.asarray(self.texts @ self.idf).ravel()
        # every token an entry has anywhere: 2 if its phrasings (question and alternates)
        # have it, plus 1 if its answer text has it
        self.entry_tokens = (
            (2.0 * (in_texts > 0).astype(np.float32) + (self.answers > 0).astype(np.float32))
            .astype(np.float32)
            .tocsr()
        )

    def query(self, tokens: Sequence[str]) -> tuple[NDArray[np.float32], float]:
        """The query's IDF vector over the vocabulary, and its total IDF mass (unknown tokens
        count with the highest IDF: a word no entry has makes every match partial)."""
        unique = set(tokens)
        ids = [self.vocab[t] for t in unique if t in self.vocab]
        vec = np.zeros(self.idf.shape[0], dtype=np.float32)
        vec[ids] = self.idf[ids]
        mass = float(vec.sum()) + self.unseen * (len(unique) - len(ids))
        return vec, mass

    def f1(self, rows: NDArray[np.int64], qvec: NDArray[np.float32], qmass: float) -> Any:
        """IDF-weighted F1 of the query and each text in ``rows``: 2·common / (|q| + |t|)."""
        if qmass <= 0.0:
            return np.zeros(len(rows), dtype=np.float32)
        common = np.asarray(self.texts[rows] @ qvec).ravel()
        return 2.0 * common / (qmass + self.text_mass[rows])

    def recall(self, entries: NDArray[np.int64], qvec: NDArray[np.float32], qmass: float) -> Any:
        """IDF-weighted share of the query that each entry's answer text contains."""
        if qmass <= 0.0:
            return np.zeros(len(entries), dtype=np.float32)
        return np.asarray(self.answers[entries] @ qvec).ravel() / qmass

    def coverage(
        self, entries: NDArray[np.int64], tokens: Sequence[str], qmass: float
    ) -> tuple[Any, Any, Any]:
        """For each entry: the IDF-weighted share of the query's tokens it has anywhere,
        the IDF of the rarest token it lacks over the highest possible IDF (a token no
        entry has counts with that highest IDF), and the share its phrasings alone have
        (an entry that has the query's words only in its answer, say a warning or a
        pointer to another entry, is about something else)."""
        unique = set(tokens)
        ids = np.asarray(sorted({self.vocab[t] for t in unique if t in self.vocab}), dtype=np.int64)
        unknown = len(unique) - len(ids)
        if qmass <= 0.0:
            zeros = np.zeros(len(entries), dtype=np.float32)
            return zeros, zeros, zeros
        idf = self.idf[ids]
        where = self.entry_tokens[entries][:, ids].toarray()
        has = where > 0
        cover = (has @ idf) / qmass
        phrase_cover = ((where >= 2) @ idf) / qmass
        lacking = np.where(has, 0.0, idf[np.newaxis, :]).max(axis=1, initial=0.0)
        if unknown:
            lacking = np.maximum(lacking, self.unseen)
        return cover, lacking / self.unseen, phrase_cover

    def nbytes(self) -> int:
        total = self.idf.nbytes + self.text_mass.nbytes
        for m in (self.texts, self.answers, self.entry_tokens):
            total += m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
        return total


class FaqIndex:
    """Immutable once built; safe to search from many threads at once."""

    def __init__(
        self,
        *,
        entries: Sequence[FaqEntry],
        text_entry: NDArray[np.int32],
        texts: Sequence[str],
        words: Sequence[Sequence[str]],
        answer_texts: Sequence[str],
        answer_words: Sequence[Sequence[str]],
        dense: Any,
        bm25_words: Any,
        bm25_chars: Any,
        encoder: Encoder,
        tokenizer: Tokenizer,
        normalizer: Normalizer,
        fingerprint: str,
        built_at: float,
        scoring: ScoringConfig,
    ) -> None:
        self.entries: tuple[FaqEntry, ...] = tuple(entries)
        self.fingerprint = fingerprint
        self.built_at = built_at
        self.encoder = encoder
        self.scoring = scoring
        if len(text_entry) and np.any(np.diff(text_entry) < 0):
            raise IndexFormatError("texts must be grouped by entry")
        self._text_entry = text_entry
        self._texts = list(texts)
        self._words = [list(w) for w in words]
        self._answer_texts = list(answer_texts)
        self._answer_words = [list(w) for w in answer_words]
        self._dense = dense
        self._bm25_words = bm25_words
        self._bm25_chars = bm25_chars
        self._tokenizer = tokenizer
        self._normalizer = normalizer
        n_entries = len(self.entries)
        # texts of entry e are _starts[e]:_starts[e + 1]
        self._starts = np.searchsorted(text_entry, np.arange(n_entries + 1)).astype(np.int64)
        self._lex_w = _Lexicon(self._words, self._answer_words, text_entry, n_entries)
        self._lex_c = _Lexicon(
            [Tokenizer.chars(t) for t in self._texts],
            [Tokenizer.chars(t) for t in self._answer_texts],
            text_entry,
            n_entries,
        )
        self._numbers: dict[int, frozenset[str]] = {}
        for tid, text in enumerate(self._texts):
            found = _NUMBER.findall(text)
            if found:
                self._numbers[tid] = frozenset(found)
        self._centroids = self._compute_centroids(n_entries)
        self._eligible_cache: dict[tuple[str | None, date], NDArray[np.bool_]] = {}
        self._eligible_lock = threading.Lock()

    def _compute_centroids(self, n_entries: int) -> Any:
        faiss = _faiss()
        dim = self.encoder.dim
        index = faiss.IndexFlatIP(dim)
        if not self._texts:
            return index
        sums = np.zeros((n_entries, dim), dtype=np.float32)
        step = 8192
        for first in range(0, self.n_texts, step):
            count = min(step, self.n_texts - first)
            block = self._dense.reconstruct_n(first, count)
            np.add.at(sums, self._text_entry[first : first + count], block)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        index.add(np.ascontiguousarray(sums / norms, dtype=np.float32))
        return index

    # -- facts -----------------------------------------------------------------------------

    @property
    def n_texts(self) -> int:
        return len(self._texts)

    def memory_bytes(self) -> int:
        """Approximate size of the numeric structures (vectors, BM25 and overlap matrices)."""
        total = (self.n_texts + len(self.entries)) * self.encoder.dim * 4
        total += self._lex_w.nbytes() + self._lex_c.nbytes()
        for model in (self._bm25_words, self._bm25_chars):
            if model is None:
                continue
            for arr in model.scores.values():
                if isinstance(arr, np.ndarray):
                    total += arr.nbytes
        return total

    # -- building --------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        entries: Sequence[FaqEntry],
        encoder: Encoder,
        *,
        tokenizer: Tokenizer,
        normalizer: Normalizer,
        cache: EmbeddingCache | None = None,
        scoring: ScoringConfig | None = None,
    ) -> tuple[FaqIndex, int]:
        """Build from entries; returns the index and how many texts had to be encoded."""
        seen_ids: set[str] = set()
        for e in entries:
            if e.id in seen_ids:
                raise FaqFormatError(f"duplicate id {e.id!r}")
            seen_ids.add(e.id)
        text_entry: list[int] = []
        texts: list[str] = []
        for i, entry in enumerate(entries):
            seen: set[str] = set()
            for raw in entry.texts:
                norm = normalizer.normalize(raw, max_chars=None)
                if norm and norm not in seen:
                    seen.add(norm)
                    text_entry.append(i)
                    texts.append(norm)
        if cache is None:
            cache = EmbeddingCache(None)
        vectors, encoded = cache.embed(encoder, texts)
        faiss = _faiss()
        dense = faiss.IndexFlatIP(encoder.dim)
        if texts:
            dense.add(vectors)
        del vectors
        words = [tokenizer.words(t) for t in texts]
        answer_texts = [_answer_text(e, normalizer) for e in entries]
        answer_words = [tokenizer.words(t) for t in answer_texts]
        index = cls(
            entries=entries,
            text_entry=np.asarray(text_entry, dtype=np.int32),
            texts=texts,
            words=words,
            answer_texts=answer_texts,
            answer_words=answer_words,
            dense=dense,
            bm25_words=_bm25(words) if texts else None,
            bm25_chars=_bm25([Tokenizer.chars(t) for t in texts]) if texts else None,
            encoder=encoder,
            tokenizer=tokenizer,
            normalizer=normalizer,
            fingerprint=corpus_fingerprint(entries, encoder.name),
            built_at=time.time(),
            scoring=scoring or ScoringConfig(),
        )
        return index, encoded

    def text_keys(self) -> list[str]:
        """Embedding-cache keys of the indexed texts (what a cache prune keeps)."""
        return [text_key(self.encoder.name, t) for t in self._texts]

    # -- persistence -----------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write every file into ``directory`` (created; must not be in use)."""
        directory.mkdir(parents=True, exist_ok=False)
        faiss = _faiss()
        faiss.write_index(self._dense, str(directory / "dense.faiss"))
        if self._bm25_words is not None:
            self._bm25_words.save(str(directory / "bm25_words"), show_progress=False)
            self._bm25_chars.save(str(directory / "bm25_chars"), show_progress=False)
        entries = [
            {"entry": e.to_dict(), "answer_text": t, "answer_words": w}
            for e, t, w in zip(self.entries, self._answer_texts, self._answer_words, strict=True)
        ]
        (directory / "entries.json").write_text(
            json.dumps(entries, ensure_ascii=False), encoding="utf-8"
        )
        texts = [
            {"e": int(e), "t": t, "w": w}
            for e, t, w in zip(self._text_entry.tolist(), self._texts, self._words, strict=True)
        ]
        (directory / "texts.json").write_text(
            json.dumps(texts, ensure_ascii=False), encoding="utf-8"
        )
        manifest = {
            "format": INDEX_FORMAT,
            "lexicon": LEXICON_VERSION,
            "encoder": self.encoder.name,
            "dim": self.encoder.dim,
            "fingerprint": self.fingerprint,
            "built_at": self.built_at,
            "n_entries": len(self.entries),
            "n_texts": self.n_texts,
        }
        # the manifest goes last: a directory without one is incomplete
        (directory / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")

    @classmethod
    def load(
        cls,
        directory: Path,
        encoder: Encoder,
        *,
        tokenizer: Tokenizer,
        normalizer: Normalizer,
        scoring: ScoringConfig | None = None,
    ) -> FaqIndex:
        """Load a saved index; IndexFormatError when it is incomplete or incompatible."""
        try:
            manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
            if manifest.get("format") != INDEX_FORMAT or manifest.get("lexicon") != LEXICON_VERSION:
                raise IndexFormatError(f"{directory}: index from another version")
            if manifest.get("encoder") != encoder.name:
                raise IndexFormatError(
                    f"{directory}: built with encoder {manifest.get('encoder')!r}, "
                    f"not {encoder.name!r}"
                )
            stored = json.loads((directory / "entries.json").read_text(encoding="utf-8"))
            entries = [FaqEntry.from_dict(d["entry"]) for d in stored]
            answer_texts = [str(d["answer_text"]) for d in stored]
            answer_words = [list(d["answer_words"]) for d in stored]
            texts = json.loads((directory / "texts.json").read_text(encoding="utf-8"))
            faiss = _faiss()
            dense = faiss.read_index(str(directory / "dense.faiss"))
            bm25_w = bm25_c = None
            if texts:
                import bm25s

                bm25_w = bm25s.BM25.load(str(directory / "bm25_words"), show_progress=False)
                bm25_c = bm25s.BM25.load(str(directory / "bm25_chars"), show_progress=False)
            if dense.ntotal != len(texts) or manifest.get("n_texts") != len(texts):
                raise IndexFormatError(f"{directory}: index files disagree")
            return cls(
                entries=entries,
                text_entry=np.asarray([t["e"] for t in texts], dtype=np.int32),
                texts=[t["t"] for t in texts],
                words=[t["w"] for t in texts],
                answer_texts=answer_texts,
                answer_words=answer_words,
                dense=dense,
                bm25_words=bm25_w,
                bm25_chars=bm25_c,
                encoder=encoder,
                tokenizer=tokenizer,
                normalizer=normalizer,
                fingerprint=str(manifest["fingerprint"]),
                built_at=float(manifest["built_at"]),
                scoring=scoring or ScoringConfig(),
            )
        except IndexFormatError:
            raise
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, FaqFormatError) as exc:
            raise IndexFormatError(f"{directory}: cannot load index ({exc})") from exc

    # -- searching -------------------------------------------------------------------------

    def eligible(self, compound_id: str | None, today: date) -> NDArray[np.bool_]:
        """Entries a resident of ``compound_id`` may get on ``today`` (cached per key)."""
        key = (compound_id, today)
        mask = self._eligible_cache.get(key)
        if mask is None:
            mask = np.fromiter(
                (e.is_valid_on(today) and e.applies_to(compound_id) for e in self.entries),
                dtype=np.bool_,
                count=len(self.entries),
            )
            with self._eligible_lock:
                if len(self._eligible_cache) >= 64:
                    self._eligible_cache.clear()
                self._eligible_cache[key] = mask
        return mask

    @staticmethod
    def _search(
        index: Any, qvec: NDArray[np.float32], k: int, allowed: NDArray[np.bool_]
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        faiss = _faiss()
        k = min(k, index.ntotal)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if allowed.all():
            sims, ids = index.search(qvec, k)
        else:
            bitmap = np.packbits(allowed, bitorder="little")
            params = faiss.SearchParameters(sel=faiss.IDSelectorBitmap(bitmap))
            sims, ids = index.search(qvec, k, params=params)
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), sims[0][keep]

    def rank(
        self,
        query: str,
        *,
        compound_id: str | None,
        today: date,
        limit: int = 5,
        query_vector: NDArray[np.float32] | None = None,
    ) -> list[Candidate]:
        """Eligible entries best first for a *normalised* query (see ``Normalizer``)."""
        if not query or not self._texts:
            return []
        allowed_entries = self.eligible(compound_id, today)
        if not allowed_entries.any():
            return []
        allowed = allowed_entries[self._text_entry]
        cfg = self.scoring
        qvec = query_vector if query_vector is not None else self.encoder.encode([query])[0]
        qvec = np.ascontiguousarray(qvec, dtype=np.float32).reshape(1, -1)

        # 1. candidate entries
        text_ids = (
            self._search(self._dense, qvec, cfg.k_dense, allowed)[0]
            if cfg.text_search
            else np.zeros(0, dtype=np.int64)
        )
        centroid_ids, _ = self._search(self._centroids, qvec, cfg.k_dense, allowed_entries)
        qwords = self._tokenizer.words(query, query=True)
        qchars = Tokenizer.chars(query)
        lexical: list[NDArray[np.int64]] = []
        for model, tokens in ((self._bm25_words, qwords), (self._bm25_chars, qchars)):
            known = [t for t in tokens if t in model.vocab_dict]
            if not known:
                continue
            scores = np.where(allowed, model.get_scores(known), 0.0)
            kk = min(cfg.k_lexical, len(scores))
            top = np.argpartition(-scores, kk - 1)[:kk]
            lexical.append(top[scores[top] > 0].astype(np.int64))
        cand_entries = np.unique(
            np.concatenate(
                [self._text_entry[text_ids], centroid_ids, *[self._text_entry[t] for t in lexical]]
            ).astype(np.int64)
        )
        if not len(cand_entries):
            return []

        # 2. text scores over every phrasing of every candidate entry (grouped by entry)
        starts, ends = self._starts[cand_entries], self._starts[cand_entries + 1]
        lengths = ends - starts
        rows = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        vecs = self._dense.reconstruct_batch(rows)
        cos = vecs @ qvec[0]
        wvec, wmass = self._lex_w.query(qwords)
        cvec, cmass = self._lex_c.query(qchars)
        f_w = self._lex_w.f1(rows, wvec, wmass)
        f_c = self._lex_c.f1(rows, cvec, cmass)
        text_score = cfg.dense * cos + cfg.chars * f_c + cfg.words * f_w
        group_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        best_text = np.maximum.reduceat(text_score, group_starts)
        # the row of each group's best text
        is_best = text_score == np.repeat(best_text, lengths)
        best_row = np.empty(len(cand_entries), dtype=np.int64)
        best_pos = np.empty(len(cand_entries), dtype=np.int64)
        for g, (lo, n) in enumerate(zip(group_starts.tolist(), lengths.tolist(), strict=True)):
            pos = lo + int(np.argmax(is_best[lo : lo + n]))
            best_pos[g], best_row[g] = pos, rows[pos]

        # 3. entry scores
        centroid_cos = self._centroids.reconstruct_batch(cand_entries) @ qvec[0]
        answer = 0.5 * (
            self._lex_w.recall(cand_entries, wvec, wmass)
            + self._lex_c.recall(cand_entries, cvec, cmass)
        )
        score = cfg.text * best_text + cfg.centroid * centroid_cos + cfg.answer * answer
        cover_w, missing_w, phrase_w = self._lex_w.coverage(cand_entries, qwords, wmass)
        cover_c, missing_c, phrase_c = self._lex_c.coverage(cand_entries, qchars, cmass)
        qnums = frozenset(_NUMBER.findall(query))
        if qnums:
            for g, row in enumerate(best_row.tolist()):
                tnums = self._numbers.get(row)
                if tnums and qnums.isdisjoint(tnums):
                    score[g] -= cfg.number_penalty
        order = np.lexsort((cand_entries, -score))[:limit]
        return [
            Candidate(
                entry=self.entries[int(cand_entries[g])],
                score=round(float(score[g]), 6),
                text=self._texts[int(best_row[g])],
                dense=round(float(cos[best_pos[g]]), 6),
                chars=round(float(f_c[best_pos[g]]), 6),
                words=round(float(f_w[best_pos[g]]), 6),
                centroid=round(float(centroid_cos[g]), 6),
                answer=round(float(answer[g]), 6),
                cover_words=round(float(cover_w[g]), 6),
                cover_chars=round(float(cover_c[g]), 6),
                missing_words=round(float(missing_w[g]), 6),
                missing_chars=round(float(missing_c[g]), 6),
                phrase_words=round(float(phrase_w[g]), 6),
                phrase_chars=round(float(phrase_c[g]), 6),
            )
            for g in order.tolist()
        ]


def _answer_text(entry: FaqEntry, normalizer: Normalizer) -> str:
    """What answer coverage looks at: answers (with variants), materials and tags."""
    parts = [entry.answer, *entry.materials, *entry.tags]
    for variant in entry.variants.values():
        parts.append(variant.answer)
        parts.extend(variant.materials)
    return normalizer.normalize(" ".join(parts), max_chars=None)


# ----------------------------------------------------------------------------------------
# on-disk layout


class IndexStore:
    """Versioned index folders per committee under one root, switched by a pointer file.

    ``<root>/<committee>/v-<fingerprint>-<nonce>/`` holds one complete index;
    ``<root>/<committee>/CURRENT`` names the folder in use and is replaced atomically
    (``os.replace``), so a reader sees the old index or the new one, never a mix. Older
    folders than the previous one are removed. ``embeddings.npz`` caches vectors by text hash.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, committee: str) -> Path:
        if not _COMMITTEE_ID.match(committee):
            raise ValueError(f"invalid committee id {committee!r}")
        return self.root / committee

    def cache(self, committee: str) -> EmbeddingCache:
        return EmbeddingCache(self._dir(committee) / "embeddings.npz")

    def current(self, committee: str) -> Path | None:
        pointer = self._dir(committee) / "CURRENT"
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        path = self._dir(committee) / name
        return path if name and path.is_dir() else None

    def publish(self, committee: str, index: FaqIndex) -> Path:
        """Save ``index`` as a new version and make it current."""
        base = self._dir(committee)
        base.mkdir(parents=True, exist_ok=True)
        name = f"v-{index.fingerprint[:16]}-{uuid.uuid4().hex[:8]}"
        staging = base / f".staging-{name}"
        try:
            index.save(staging)
            os.replace(staging, base / name)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        previous = self.current(committee)
        tmp = base / f".CURRENT.{uuid.uuid4().hex[:8]}"
        tmp.write_text(name, encoding="utf-8")
        os.replace(tmp, base / "CURRENT")
        keep = {name, previous.name if previous else ""}
        for old in base.iterdir():
            if old.is_dir() and old.name.startswith("v-") and old.name not in keep:
                shutil.rmtree(old, ignore_errors=True)
        return base / name
