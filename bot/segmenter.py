"""jieba word segmentation shared by the NLU and retrieval: the general dictionary is read once
per process; a reader that adds no words shares it (``shared_tokenizer``), one that adds words
gets its own layer over it (``new_tokenizer``) so the others never see them.

jieba keeps its dictionary as a Python dict of every word and every prefix of a word
(498,113 keys, some 53 MB per process). Here it is a compact table with the same lookups
(``Frequencies``): the words and their prefixes in a MARISA trie, their frequencies in an
array, 3.2 MB together, kept as two files in a folder of the host (``share_dictionary``: the
models folder) that every process memory-maps, so the workers of a host share one copy in
the page cache; without a folder, or when it fails, the table is built in memory (a few
seconds). Segmentation is
jieba's own, word for word: the tokenizer only finds a sentence's candidate words through
the trie and keeps their frequencies for the route (``get_DAG``, ``calc``); everything else
(HMM for unknown words, ``add_word``, ``cut_for_search``) reads the table through ``in``,
``[]`` and ``get``, which answer as jieba's dict would (true of jieba 0.42). When even the
table cannot be built, jieba's own dict is used, as before."""

from __future__ import annotations

import hashlib
import logging
import mmap
import os
import struct
import threading
from array import array
from collections.abc import Iterable, Iterator
from math import log
from pathlib import Path
from typing import Any

from bot.heap import release_free_memory

log_ = logging.getLogger(__name__)

_lock = threading.Lock()
_base: Any = None
_folder: Path | None = None

DICT_FORMAT = 1
"""Version of the files' layout (part of their names)."""
TRIE_FILE = "jieba-dict-{digest}.marisa"
FREQ_FILE = "jieba-dict-{digest}.freq"
"""The frequency file: ``_HEADER`` (magic, total of all frequencies, number of keys), then
one unsigned 32-bit frequency per key, in the trie's key order."""
_MAGIC = b"LINLIJB1"
_HEADER = struct.Struct("=8sQQ")


def share_dictionary(folder: Path | None) -> None:
    """Keep jieba's compact dictionary in ``folder`` (written once per host and dictionary,
    atomically; every process memory-maps it). Takes effect at the first load of the
    process: call it before anything segments."""
    global _folder
    with _lock:
        _folder = folder


def _loaded() -> Any:
    global _base
    with _lock:
        if _base is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            freq = compact_table(_folder)
            if freq is None:
                tok = jieba.Tokenizer()
                tok.initialize()
            else:
                tok = _tokenizer_class()()
                tok.FREQ, tok.total = freq, freq.total
                tok.initialized = True
            _base = tok
        return _base


def shared_tokenizer() -> Any:
    """The process's ``jieba.Tokenizer`` of the general dictionary, for readers that only cut
    text (never ``add_word`` to it)."""
    return _loaded()


def new_tokenizer(words: Iterable[tuple[str, int]] = ()) -> Any:
    """A ready ``jieba.Tokenizer`` of the general dictionary plus ``words`` (word, frequency)."""
    import jieba

    base = _loaded()
    if isinstance(base.FREQ, Frequencies):
        tok = _tokenizer_class()()
        tok.FREQ, tok.total = base.FREQ.layer(), base.total
    else:
        tok = jieba.Tokenizer()
        with base.lock:
            tok.FREQ, tok.total = _Layer(base.FREQ), base.total
    tok.initialized = True
    for word, freq in words:
        tok.add_word(word, freq=freq)
    return tok


class Frequencies:
    """jieba's frequency table (word → frequency, every prefix of a word → 0, nothing else)
    answering ``in``, ``[]`` and ``get`` as that dict would: the dictionary's words and their
    prefixes in a trie, their frequencies in an array, plus this table's own entries (words
    added to one tokenizer, with their prefixes) over them. ``total``: the sum of the dictionary's
    frequencies, as jieba counts it (a word listed twice counts twice)."""

    __slots__ = ("_freqs", "_own", "_trie", "total")

    def __init__(self, trie: Any, freqs: Any, total: int) -> None:
        self._trie = trie
        self._freqs = freqs
        self._own: dict[str, int] = {}
        self.total = total

    def layer(self) -> Frequencies:
        """A table over the same dictionary with no entries of its own."""
        return Frequencies(self._trie, self._freqs, self.total)

    def __contains__(self, key: object) -> bool:
        return key in self._own or (isinstance(key, str) and key in self._trie)

    def __getitem__(self, key: str) -> int:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return int(value)

    def get(self, key: str, default: Any = None) -> Any:
        own = self._own.get(key)
        if own is not None:
            return own
        i = self._trie.get(key) if isinstance(key, str) else None
        if i is None:
            return default
        return self._freqs[i]

    def __setitem__(self, key: str, value: int) -> None:
        self._own[key] = value

    def dag(self, sentence: str) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
        """jieba's ``get_DAG`` of ``sentence`` (position → ends of the words starting there
        with a frequency above 0, or the position alone), found as jieba finds them (growing
        each fragment while it is a word or a word's prefix), and those words' frequencies
        (0 for a position alone)."""
        ends_at: dict[int, list[int]] = {}
        freqs_at: dict[int, list[int]] = {}
        lookup = self._trie.get
        freqs = self._freqs
        own = self._own
        n = len(sentence)
        for k in range(n):
            ends: list[int] = []
            weights: list[int] = []
            i = k
            frag = sentence[k]
            while i < n:
                if own and frag in own:
                    f = own[frag]
                else:
                    j = lookup(frag)
                    if j is None:
                        break
                    f = freqs[j]
                if f:
                    ends.append(i)
                    weights.append(f)
                i += 1
                frag = sentence[k : i + 1]
            if not ends:
                ends.append(k)
                weights.append(0)
            ends_at[k] = ends
            freqs_at[k] = weights
        return ends_at, freqs_at


class _DAG(dict[int, list[int]]):
    """``get_DAG``'s answer, carrying the words' frequencies for ``calc``."""

    __slots__ = ("weights",)

    def __init__(self, ends: dict[int, list[int]], weights: dict[int, list[int]]) -> None:
        super().__init__(ends)
        self.weights = weights


_cls: Any = None


def _tokenizer_class() -> Any:
    """A ``jieba.Tokenizer`` whose ``get_DAG`` reads a ``Frequencies`` table's trie directly
    (one look-up per fragment, where jieba's makes two) and hands the frequencies it read to
    ``calc``, which need not look them up again; the route is jieba's, from the same numbers."""
    global _cls
    if _cls is None:
        import jieba

        class CompactTokenizer(jieba.Tokenizer):  # type: ignore[misc]
            def get_DAG(self, sentence: str) -> dict[int, list[int]]:
                self.check_initialized()
                if not isinstance(self.FREQ, Frequencies):
                    return dict(super().get_DAG(sentence))
                return _DAG(*self.FREQ.dag(sentence))

            def calc(self, sentence: str, DAG: dict[int, list[int]], route: dict[int, Any]) -> None:
                weights = getattr(DAG, "weights", None)
                if weights is None:
                    super().calc(sentence, DAG, route)
                    return
                n = len(sentence)
                route[n] = (0, 0)
                logtotal = log(self.total)
                for idx in range(n - 1, -1, -1):
                    ends = DAG[idx]
                    if len(ends) == 1:  # the max of one candidate, as jieba computes it
                        x = ends[0]
                        route[idx] = (log(weights[idx][0] or 1) - logtotal + route[x + 1][0], x)
                    else:
                        route[idx] = max(
                            (log(f or 1) - logtotal + route[x + 1][0], x)
                            for x, f in zip(ends, weights[idx], strict=True)
                        )

        _cls = CompactTokenizer
    return _cls


def _dictionary_file() -> Path:
    import jieba

    return Path(jieba.__file__).with_name(jieba.DEFAULT_DICT_NAME)


def _entries(source: Path) -> Iterator[tuple[str, int]]:
    """(word, frequency) per line of a jieba dictionary, parsed as jieba parses it."""
    with source.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.strip().decode("utf-8")
                word, freq = line.split(" ")[:2]
                yield word, int(freq)
            except ValueError as exc:
                raise ValueError(f"{source}: invalid entry at line {lineno}: {raw!r}") from exc


def _keys(source: Path) -> Iterator[str]:
    """Every word of ``source`` and every prefix of a word: the keys of jieba's table."""
    for word, _ in _entries(source):
        for size in range(1, len(word) + 1):
            yield word[:size]


def build(source: Path) -> tuple[Any, array[int], int]:
    """jieba's table of ``source`` as a trie of its keys (each word and each prefix of a
    word) and their frequencies in key order (a prefix that is no word: 0; the last listing
    of a word wins, as in jieba), and the total of all listed frequencies. Streams the file:
    the keys are never all Python strings at once."""
    import marisa_trie

    trie = marisa_trie.Trie(_keys(source))
    freqs = array("I", bytes(4 * len(trie)))
    total = 0
    for word, freq in _entries(source):
        freqs[trie[word]] = freq
        total += freq
    return trie, freqs, total


def compact_table(folder: Path | None) -> Frequencies | None:
    """The compact table: memory-mapped from ``folder`` (written there first when missing or
    unreadable), built in memory without a folder or when the folder fails; None (jieba's
    own dict) when even that fails."""
    try:
        source = _dictionary_file()
        if folder is not None:
            shared = _mapped(folder, source)
            if shared is not None:
                return shared
        table = Frequencies(*build(source))
        release_free_memory()
        return table
    except Exception as exc:  # any failure: jieba reads its dictionary as usual
        log_.warning("jieba's compact dictionary not built: %s", exc)
        return None


def _mapped(folder: Path, source: Path) -> Frequencies | None:
    import marisa_trie

    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    name = f"{DICT_FORMAT}-{digest}"
    trie_path = folder / TRIE_FILE.format(digest=name)
    freq_path = folder / FREQ_FILE.format(digest=name)
    for attempt in (1, 2):
        if attempt == 2 or not trie_path.exists():
            try:
                _write(source, trie_path, freq_path)
            except OSError as exc:
                log_.warning("jieba's compact dictionary not saved in %s: %s", folder, exc)
                return None
        try:
            with freq_path.open("rb") as f:
                raw = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            magic, total, count = _HEADER.unpack_from(raw)
            freqs = memoryview(raw)[_HEADER.size :].cast("I")
            trie = marisa_trie.Trie()
            trie.mmap(str(trie_path))
            if magic != _MAGIC or len(freqs) != count or len(trie) != count:
                raise ValueError("files of different dictionaries")
            return Frequencies(trie, freqs, total)
        except Exception as exc:  # a damaged or partial file: written again, once
            log_.warning("jieba's compact dictionary in %s unreadable: %s", folder, exc)
    return None


def _write(source: Path, trie_path: Path, freq_path: Path) -> None:
    """Both files, each atomically; the trie last (its presence means both are there)."""
    trie, freqs, total = build(source)
    release_free_memory()
    trie_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = freq_path.with_name(f".{freq_path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        f.write(_HEADER.pack(_MAGIC, total, len(freqs)))
        f.write(freqs.tobytes())
    os.replace(tmp, freq_path)
    tmp = trie_path.with_name(f".{trie_path.name}.{os.getpid()}.tmp")
    trie.save(str(tmp))
    os.replace(tmp, trie_path)


class _Layer(dict[str, int]):
    """A frequency table over jieba's own dict (when the compact one fails): its own entries
    (the words added, and their prefixes) over the shared general table, which it never
    changes; reads as one table."""

    __slots__ = ("base",)

    def __init__(self, base: dict[str, int]) -> None:
        super().__init__()
        self.base = base

    def __missing__(self, key: str) -> int:
        return self.base[key]

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.base

    def get(self, key: str, default: Any = None) -> Any:
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        return self.base.get(key, default)
