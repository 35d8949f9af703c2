"""The built-in intent classifier: three views of a message, averaged and calibrated.

Features (all computed on the normalised text):
- dense: the USE-m3 sentence embedding, plus the mean and the max of the USE-m3 embeddings
  of its jieba words (word-level semantics that a sentence embedding blurs);
- sparse: character 1–4-grams of the text anchored with ``^…$`` and jieba word 1–2-grams,
  TF-IDF with sublinear tf for the logistic models and binary for NB weighting.

Models (scikit-learn, class-balanced): (1) multinomial logistic regression on sparse+dense,
(2) logistic regression on the dense view, (3) NB-LR (one-vs-rest logistic regression on
naive-Bayes log-count-ratio scaled binary n-grams, Wang & Manning 2012). Their probabilities
are averaged and temperature-scaled; the temperature is fitted on out-of-fold predictions
(k-fold on the training data only), so confidences mean what they say.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from bot.encoders import blas_pinned
from bot.nlu.encoder import SentenceEncoder
from bot.nlu.errors import NluError
from bot.nlu.normalize import classifier_text
from bot.segmenter import shared_tokenizer

FEATURE_VERSION = 2
"""Bumped whenever features change: saved models with another version are stale."""

_MAX_WORDS = 64
_WORD_CACHE_MAX = 8192
"""Word vectors one cache keeps (then it starts afresh): some 2.3 KB each, so at most some
20 MB, shared by the classifiers of one process (``share_words``). Residents' words follow
a steep curve: the common ones stay cached, a rare one costs a token or two more in the
message's encoding batch."""
Floats = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ClassifierConfig:
    char_ngrams: tuple[int, int] = (1, 4)
    c_joint: float = 30.0
    c_dense: float = 30.0
    c_nb: float = 3.0
    calibration_folds: int = 3
    max_iter: int = 3000
    seed: int = 0


@dataclass(slots=True)
class TrainReport:
    n_examples: int = 0
    n_intents: int = 0
    seconds: float = 0.0
    temperature: float = 1.0
    oof_accuracy: float | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _passthrough(tokens: list[str]) -> list[str]:
    """Analyzer for pre-tokenised documents (module level so the vectorizer pickles)."""
    return tokens


def _sublinear_tfidf(counts: sparse.csr_matrix, idf: Floats) -> sparse.csr_matrix:
    x = counts.astype(np.float64, copy=True)
    np.log(x.data, out=x.data)
    x.data += 1.0
    x = x.multiply(idf).tocsr()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ x)


def _binary(counts: sparse.csr_matrix) -> sparse.csr_matrix:
    x = counts.astype(np.float64, copy=True)
    x.data[:] = 1.0
    return x


def _idf(counts: sparse.csr_matrix) -> Floats:
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
    return np.asarray(np.log((1.0 + n) / (1.0 + df)) + 1.0, dtype=np.float64)


def _softmax(z: Floats) -> Floats:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


class _Vocabulary:
    """An n-gram vocabulary (n-gram → column) held as two arrays: the hashes of the n-grams'
    UTF-8 bytes, sorted, and their columns. A dict of a few hundred thousand short strings
    costs some 150 bytes an entry; this costs 16. Pickled as the n-grams joined in column
    order (hashes differ between processes), so a loaded model rebuilds the arrays and
    keeps the one joined string."""

    _SEP = "\x00"  # never inside an n-gram: the normaliser drops control characters

    def __init__(self, terms: Sequence[str]) -> None:
        self._joined = self._SEP.join(terms)
        if self._joined.count(self._SEP) != max(len(terms) - 1, 0):
            raise NluError("an n-gram holds a NUL character: the vocabulary cannot be saved")
        self._build(terms)

    def _build(self, terms: Sequence[str]) -> None:
        hashes = np.fromiter((_hash(t) for t in terms), dtype=np.int64, count=len(terms))
        order = np.argsort(hashes, kind="stable")
        self._keys: NDArray[np.int64] = hashes[order]
        self._cols: NDArray[np.int64] = order.astype(np.int64)
        self._n = len(terms)

    def __len__(self) -> int:
        return self._n

    def __getstate__(self) -> dict[str, Any]:
        return {"joined": self._joined, "n": self._n}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._joined = state["joined"]
        self._build(self._joined.split(self._SEP) if state["n"] else [])

    def columns(self, grams: list[str]) -> NDArray[np.int64]:
        """The columns of the grams in the vocabulary (a repeated gram, repeated)."""
        if not grams or not self._n:
            return np.zeros(0, dtype=np.int64)
        h = np.fromiter((_hash(g) for g in grams), dtype=np.int64, count=len(grams))
        pos = np.searchsorted(self._keys, h)
        pos[pos == self._n] = 0
        found = self._keys[pos] == h
        cols: NDArray[np.int64] = self._cols[pos[found]]
        return cols


def _hash(term: str) -> int:
    """A 64-bit hash of the text itself. Not ``hash(term)``: CPython hashes a str's raw
    buffer, so '空' (U+7A7A, two bytes 7A 7A) and 'zz' (7A 7A) collide."""
    return hash(term.encode("utf-8", "surrogatepass"))


def _in_column_order(vocabulary: dict[str, int]) -> list[str]:
    terms = [""] * len(vocabulary)
    for term, col in vocabulary.items():
        terms[col] = term
    return terms


class _Views:
    """Fitted sparse vocabularies (char and word n-grams) with their idf.

    Inference does its own n-gram lookups (the same n-grams as scikit-learn's ``char``
    analyzer): building scipy matrices for one short message costs more than scoring it.
    """

    def __init__(self, char_ngrams: tuple[int, int]) -> None:
        self.char_ngrams = char_ngrams
        self.vocab_c = _Vocabulary([])
        self.vocab_w = _Vocabulary([])
        self.idf_c: Floats = np.zeros(0)
        self.idf_w: Floats = np.zeros(0)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Models saved before the compact vocabularies held them as dicts.
        for key in ("vocab_c", "vocab_w"):
            if isinstance(state.get(key), dict):
                state[key] = _Vocabulary(_in_column_order(state[key]))
        self.__dict__.update(state)

    def fit(
        self, anchored: Sequence[str], grams: Sequence[list[str]]
    ) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
        """Learn the vocabularies; return the training counts (chars, words)."""
        from sklearn.feature_extraction.text import CountVectorizer

        chars = CountVectorizer(
            analyzer="char", ngram_range=self.char_ngrams, lowercase=False, dtype=np.float64
        )
        words = CountVectorizer(analyzer=_passthrough, lowercase=False, dtype=np.float64)
        c = chars.fit_transform(anchored).tocsr()
        w = words.fit_transform(grams).tocsr()
        self.vocab_c = _Vocabulary(_in_column_order(chars.vocabulary_))
        self.vocab_w = _Vocabulary(_in_column_order(words.vocabulary_))
        self.idf_c, self.idf_w = _idf(c), _idf(w)
        return c, w

    def lookup(self, anchored: str, grams: list[str]) -> tuple[_Bag, _Bag]:
        lo, hi = self.char_ngrams
        n = len(anchored)
        chars = [anchored[i : i + size] for size in range(lo, hi + 1) for i in range(n - size + 1)]
        return _bag(self.vocab_c.columns(chars)), _bag(self.vocab_w.columns(grams))


_Bag = tuple[NDArray[np.int64], Floats]


def _bag(columns: NDArray[np.int64]) -> _Bag:
    idx, counts = np.unique(columns, return_counts=True)
    return idx, counts.astype(np.float64)


def _tfidf_bag(bag: _Bag, idf: Floats) -> Floats:
    idx, val = bag
    v = (1.0 + np.log(val)) * idf[idx] if len(idx) else val
    return v


@dataclass(slots=True)
class _Models:
    """The three fitted models of one ensemble, as plain weight matrices.

    ``joint_*``: multinomial LR over [tf-idf chars | tf-idf words | dense] (rows = features);
    ``dense_*``: LR over the dense view; ``nb_*``: NB-LR weights folded with the NB ratios,
    applied to binary n-gram indicators. Class columns follow the ensemble's classes.
    """

    views: _Views
    joint_c: NDArray[np.float32]
    joint_w: NDArray[np.float32]
    joint_d: Floats
    joint_b: Floats
    dense_w: Floats
    dense_b: Floats
    nb_c: NDArray[np.float32]
    nb_w: NDArray[np.float32]
    nb_b: Floats

    def proba(self, anchored: Sequence[str], grams: Sequence[list[str]], dense: Floats) -> Floats:
        n = len(anchored)
        joint = dense @ self.joint_d + self.joint_b
        nb = np.tile(self.nb_b, (n, 1))
        for i in range(n):
            bc, bw = self.views.lookup(anchored[i], grams[i])
            vc = _tfidf_bag(bc, self.views.idf_c)
            vw = _tfidf_bag(bw, self.views.idf_w)
            # chars and words are two blocks, each L2-normalised on its own
            nc = math.sqrt(float(vc @ vc)) or 1.0
            nw = math.sqrt(float(vw @ vw)) or 1.0
            if len(bc[0]):
                joint[i] += (vc / nc) @ self.joint_c[bc[0]]
                nb[i] += self.nb_c[bc[0]].sum(axis=0)
            if len(bw[0]):
                joint[i] += (vw / nw) @ self.joint_w[bw[0]]
                nb[i] += self.nb_w[bw[0]].sum(axis=0)
        p_joint = _softmax(joint)
        p_dense = _softmax(dense @ self.dense_w + self.dense_b)
        s = 1.0 / (1.0 + np.exp(-np.clip(nb, -50, 50)))
        p_nb = s / s.sum(axis=1, keepdims=True)
        return np.asarray((p_joint + p_dense + p_nb) / 3.0, dtype=np.float64)


def _lr_weights(model: Any, n_classes: int, n_features: int) -> tuple[Floats, Floats]:
    """(features × classes) weights and biases of a fitted LR, covering all classes."""
    coef = np.asarray(model.coef_, dtype=np.float64)
    bias = np.asarray(model.intercept_, dtype=np.float64)
    seen = np.asarray(model.classes_, dtype=np.int64)
    if coef.shape[0] == 1 and len(seen) == 2:
        # binary LR: p(second) = sigmoid(z) = softmax([0, z])
        coef = np.vstack([np.zeros(n_features), coef[0]])
        bias = np.array([0.0, bias[0]])
    w = np.full((n_features, n_classes), 0.0)
    b = np.full(n_classes, -1e4)  # classes a CV fold never saw get ~0 probability
    w[:, seen] = coef.T
    b[seen] = bias
    return w, b


def _fit_models(
    cfg: ClassifierConfig,
    anchored: Sequence[str],
    grams: Sequence[list[str]],
    dense: Floats,
    y: NDArray[np.int64],
    n_classes: int,
) -> _Models:
    """The three models of one ensemble (``_Models``) fitted on these rows: module level, so a
    worker process of ``_Parts`` runs it as this process does."""
    from sklearn.linear_model import LogisticRegression

    views = _Views(cfg.char_ngrams)
    cc, cw = views.fit(anchored, grams)
    fc, fw, fd = cc.shape[1], cw.shape[1], dense.shape[1]
    joint_x = sparse.hstack(
        [
            _sublinear_tfidf(cc, views.idf_c),
            _sublinear_tfidf(cw, views.idf_w),
            sparse.csr_matrix(dense),
        ]
    ).tocsr()
    joint = LogisticRegression(C=cfg.c_joint, max_iter=cfg.max_iter, class_weight="balanced").fit(
        joint_x, y
    )
    jw, jb = _lr_weights(joint, n_classes, fc + fw + fd)
    dense_m = LogisticRegression(C=cfg.c_dense, max_iter=cfg.max_iter, class_weight="balanced").fit(
        dense, y
    )
    dw, db = _lr_weights(dense_m, n_classes, fd)
    nb_x = sparse.hstack([_binary(cc), _binary(cw)]).tocsr()
    nb_all = np.zeros((fc + fw, n_classes), dtype=np.float32)
    nb_b = np.full(n_classes, -50.0)
    for k in range(n_classes):
        pos = y == k
        if not pos.any():
            continue
        p = 1.0 + np.asarray(nb_x[pos].sum(axis=0)).ravel()
        q = 1.0 + np.asarray(nb_x[~pos].sum(axis=0)).ravel()
        r = np.log((p / p.sum()) / (q / q.sum()))
        m = LogisticRegression(C=cfg.c_nb, max_iter=cfg.max_iter, class_weight="balanced").fit(
            nb_x.multiply(r).tocsr(), pos
        )
        nb_all[:, k] = (r * m.coef_[0]).astype(np.float32)
        nb_b[k] = float(m.intercept_[0])
    return _Models(
        views,
        joint_c=jw[:fc].astype(np.float32),
        joint_w=jw[fc : fc + fw].astype(np.float32),
        joint_d=jw[fc + fw :],
        joint_b=jb,
        dense_w=dw,
        dense_b=db,
        nb_c=np.ascontiguousarray(nb_all[:fc]),
        nb_w=np.ascontiguousarray(nb_all[fc:]),
        nb_b=nb_b,
    )


_Fold = tuple[NDArray[np.int64], NDArray[np.int64]]
_Training = tuple[
    ClassifierConfig, Sequence[str], Sequence[list[str]], Floats, NDArray[np.int64], int
]
"""What one training fits on: the config, the texts' two views, the dense features, the labels
and the number of classes."""


def _fold_proba(training: _Training, fold: _Fold) -> Floats:
    """The ensemble fitted on a fold's training rows, applied to its held-out rows."""
    cfg, anchored, grams, dense, y, n_classes = training
    tr, te = fold
    models = _fit_models(
        cfg, [anchored[i] for i in tr], [grams[i] for i in tr], dense[tr], y[tr], n_classes
    )
    return models.proba([anchored[i] for i in te], [grams[i] for i in te], dense[te])


def _out_of_fold(training: _Training, folds: list[_Fold]) -> Floats | None:
    """Every row's probabilities from the fold that held it out (None without folds)."""
    if not folds:
        return None
    oof = np.zeros((len(training[4]), training[5]))
    for fold in folds:
        oof[fold[1]] = _fold_proba(training, fold)
    return oof


def _temperature(oof: Floats | None, y: NDArray[np.int64]) -> tuple[float, float | None]:
    """The temperature fitted on out-of-fold probabilities, and their accuracy (1.0 and
    None without them)."""
    from scipy.optimize import minimize_scalar

    if oof is None:
        return 1.0, None
    logp = np.log(np.clip(oof, 1e-12, 1.0))

    def nll(log_t: float) -> float:
        p = _softmax(logp / math.exp(log_t))
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))))

    res = minimize_scalar(nll, bounds=(math.log(0.05), math.log(20.0)), method="bounded")
    acc = float(np.mean(oof.argmax(axis=1) == y))
    return float(math.exp(res.x)), acc


_held: _Training | None = None
"""In a ``_Parts`` worker process only: the training data, sent once when the worker starts."""


def _hold(training: _Training) -> None:
    global _held  # one worker process's copy of its training data
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)  # one BLAS thread per worker: the workers fill the cores
    _held = training


def _fit_part(fold: _Fold | None) -> _Models | Floats:
    """In a worker: the whole ensemble (``fold`` None) or one fold's held-out probabilities."""
    if _held is None:
        raise NluError("no training data in this worker process")
    if fold is None:
        return _fit_models(*_held)
    return _fold_proba(_held, fold)


class _Parts:
    """The ensemble and the calibration folds' ensembles fitted in ``jobs`` worker processes
    (spawned: nothing of the parent's threads or locks is inherited), each given the training
    data once. The fits are independent and each is the same as in one process."""

    def __init__(self, jobs: int, training: _Training) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self._n = len(training[4]), training[5]
        self._pool = ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_hold,
            initargs=(training,),
        )

    def __enter__(self) -> _Parts:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(cancel_futures=True)

    def fit(self, folds: list[_Fold]) -> tuple[_Models, Floats | None]:
        """The whole ensemble and the out-of-fold probabilities (None without folds)."""
        whole = self._pool.submit(_fit_part, None)  # the longest fit first
        parts = [self._pool.submit(_fit_part, fold) for fold in folds]
        models = whole.result()
        if not isinstance(models, _Models):
            raise NluError("a worker returned no ensemble")
        if not folds:
            return models, None
        oof = np.zeros(self._n)
        for fold, part in zip(folds, parts, strict=True):
            proba = part.result()
            if isinstance(proba, _Models):
                raise NluError("a worker returned an ensemble for a fold")
            oof[fold[1]] = proba
        return models, oof


class IntentClassifier:
    """Train with ``fit(texts, labels)``; ``predict_proba`` gives calibrated probabilities
    over ``classes``. The encoder is not pickled: pass it again with ``attach``."""

    def __init__(self, encoder: SentenceEncoder, config: ClassifierConfig | None = None) -> None:
        self.config = config or ClassifierConfig()
        self.encoder: SentenceEncoder | None = encoder
        self.encoder_name = encoder.name
        self.classes: tuple[str, ...] = ()
        self.temperature = 1.0
        self.report = TrainReport()
        self._models: _Models | None = None
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._tok: Any = None
        self._tok_lock = threading.Lock()
        self._word_cache: dict[str, NDArray[np.float32]] = {}
        self._pool: Any = None

    # -- pickling: runtime objects are rebuilt on load -----------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "encoder_name": self.encoder_name,
            "classes": self.classes,
            "temperature": self.temperature,
            "report": self.report,
            "models": self._models,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.config = state["config"]
        self.encoder_name = state["encoder_name"]
        self.classes = state["classes"]
        self.temperature = state["temperature"]
        self.report = state["report"]
        self._models = state["models"]
        self.encoder = None
        self._init_runtime()

    def share_words(self, other: IntentClassifier) -> None:
        """Use ``other``'s word-vector cache (same encoder: same vectors) instead of one of
        its own: the intent and crisis classifiers read the same messages' words."""
        if other.encoder_name != self.encoder_name:
            raise NluError("classifiers with different encoders cannot share word vectors")
        self._word_cache = other._word_cache

    def attach(self, encoder: SentenceEncoder) -> None:
        if encoder.name != self.encoder_name:
            raise NluError(
                f"model was trained with encoder {self.encoder_name!r}, not {encoder.name!r}"
            )
        self.encoder = encoder

    @property
    def fitted(self) -> bool:
        return self._models is not None

    # -- text views ------------------------------------------------------------------------
    def _limit(self) -> Any:
        if blas_pinned():
            return contextlib.nullcontext()  # the whole process runs one BLAS thread
        if self._pool is None:
            from threadpoolctl import ThreadpoolController

            self._pool = ThreadpoolController()
        return self._pool.limit(limits=1)

    def _tokenizer(self) -> Any:
        if self._tok is None:
            with self._tok_lock:
                if self._tok is None:
                    self._tok = shared_tokenizer()  # read only: cuts text
        return self._tok

    def _prepare(self, texts: Sequence[str]) -> tuple[list[str], list[list[str]], list[list[str]]]:
        """Normalised texts → (anchored char inputs, word n-gram lists, word tokens)."""
        tok = self._tokenizer()
        anchored: list[str] = []
        grams: list[list[str]] = []
        words: list[list[str]] = []
        for raw in texts:
            t = classifier_text(raw)
            anchored.append(f"^{t}$")
            ws = [w for w in tok.lcut(t) if w.strip()][:_MAX_WORDS]
            words.append(ws)
            seq = ["^", *ws, "$"]
            grams.append(seq + [f"{a}\x01{b}" for a, b in itertools.pairwise(seq)])
        return anchored, grams, words

    def _dense(self, anchored: Sequence[str], words: Sequence[list[str]]) -> Floats:
        enc = self.encoder
        if enc is None:
            raise NluError("no encoder attached to the classifier")
        sentences = [a[1:-1] for a in anchored]
        # a local view of the cache: another thread may clear the shared one meanwhile
        known: dict[str, NDArray[np.float32]] = {}
        missing: list[str] = []
        for w in sorted({w for ws in words for w in ws}):
            v = self._word_cache.get(w)
            if v is None:
                missing.append(w)
            else:
                known[w] = v
        vecs = enc.encode(sentences + missing)
        sent = vecs[: len(sentences)]
        if len(self._word_cache) + len(missing) > _WORD_CACHE_MAX:
            self._word_cache.clear()
        for w, v in zip(missing, vecs[len(sentences) :], strict=True):
            # a copy: a row of ``vecs`` would keep the whole batch (the sentences' rows
            # too) alive for as long as the word stays cached
            own = v.copy()
            known[w] = own
            self._word_cache[w] = own
        dim = sent.shape[1]
        out = np.zeros((len(sentences), 3 * dim), dtype=np.float64)
        out[:, :dim] = sent
        for i, ws in enumerate(words):
            m = sent[i : i + 1] if not ws else np.stack([known[w] for w in ws])
            mean = m.mean(axis=0)
            mx = m.max(axis=0)
            out[i, dim : 2 * dim] = mean / (np.linalg.norm(mean) or 1.0)
            out[i, 2 * dim :] = mx / (np.linalg.norm(mx) or 1.0)
        return out

    def fit(
        self, texts: Sequence[str], labels: Sequence[str], *, jobs: int = 1
    ) -> IntentClassifier:
        """Train on ``texts`` and their ``labels``. With ``jobs`` > 1 the ensemble and the
        calibration folds' ensembles are fitted in that many worker processes (``_Parts``): the
        same fits on the same data, so the same model, in less time on several cores."""
        if len(texts) != len(labels):
            raise NluError("texts and labels differ in length")
        classes = tuple(sorted(set(labels)))
        if len(classes) < 2:
            raise NluError("training needs at least two intents")
        started = time.perf_counter()
        timings: dict[str, float] = {}
        with self._limit():
            t0 = time.perf_counter()
            anchored, grams, words = self._prepare(texts)
            dense = self._dense(anchored, words)
            timings["features"] = time.perf_counter() - t0
            index = {c: i for i, c in enumerate(classes)}
            y = np.array([index[label] for label in labels], dtype=np.int64)
            n = len(classes)
            folds = self._folds(y, n)
            t0 = time.perf_counter()
            training: _Training = (self.config, anchored, grams, dense, y, n)
            if jobs > 1:
                with _Parts(jobs, training) as parts:
                    models, oof = parts.fit(folds)
            else:
                models = _fit_models(*training)
                oof = _out_of_fold(training, folds)
            self._models = models
            self.classes = classes
            timings["fit"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            self.temperature, oof_acc = _temperature(oof, y)
            timings["calibration"] = time.perf_counter() - t0
        self.report = TrainReport(
            n_examples=len(texts),
            n_intents=len(classes),
            seconds=time.perf_counter() - started,
            temperature=self.temperature,
            oof_accuracy=oof_acc,
            timings=timings,
        )
        return self

    def _folds(self, y: NDArray[np.int64], n_classes: int) -> list[_Fold]:
        """The calibration folds (train rows, held-out rows); none when a class has fewer
        examples than two folds need."""
        from sklearn.model_selection import StratifiedKFold

        counts = np.bincount(y, minlength=n_classes)
        folds = min(self.config.calibration_folds, int(counts.min()))
        if folds < 2:
            return []
        skf = StratifiedKFold(folds, shuffle=True, random_state=self.config.seed)
        return list(skf.split(np.zeros(len(y)), y))

    # -- inference -------------------------------------------------------------------------
    def predict_proba(self, texts: Sequence[str]) -> Floats:
        if self._models is None:
            raise NluError("the classifier is not trained")
        if not texts:
            return np.zeros((0, len(self.classes)))
        with self._limit():
            anchored, grams, words = self._prepare(texts)
            dense = self._dense(anchored, words)
            p = self._models.proba(anchored, grams, dense)
        return _softmax(np.log(np.clip(p, 1e-12, 1.0)) / self.temperature)

    def predict(self, texts: Sequence[str]) -> list[str]:
        p = self.predict_proba(texts)
        return [self.classes[i] for i in p.argmax(axis=1)]

    def rank(self, text: str) -> list[tuple[str, float]]:
        p = self.predict_proba([text])[0]
        order = np.argsort(-p)
        return [(self.classes[i], float(p[i])) for i in order]
