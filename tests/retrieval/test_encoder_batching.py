"""Micro-batching: the texts of concurrent callers encoded together on one thread."""

from __future__ import annotations

import os
import pickle
import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from bot.encoders import BatchingEncoder, Encoder, MemoEncoder, Vectors

QUESTIONS = [f"请问大件垃圾怎么处理，我家是{n}号楼" for n in range(1, 9)]


class Gate:
    """The real encoder, holding its first call until released (so that other callers
    queue up behind it meanwhile), failing once when told to."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls: list[int] = []
        self.fail_next = False

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(len(texts))
        self.entered.set()
        assert self.release.wait(30)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("model failed")
        return self.inner.encode(texts)


def _until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _ask_at_once(batching: BatchingEncoder, gate: Gate, texts: list[str]) -> list[object]:
    """Each text asked from its own thread: the first holds the model until all the others
    are queued, then everything runs."""
    results: list[object] = [None] * len(texts)

    def ask(i: int) -> None:
        try:
            results[i] = batching.encode([texts[i]])
        except Exception as exc:  # the caller sees the batch's error
            results[i] = exc

    threads = [threading.Thread(target=ask, args=(0,))]
    threads[0].start()
    assert gate.entered.wait(10)
    for i in range(1, len(texts)):
        threads.append(threading.Thread(target=ask, args=(i,)))
        threads[-1].start()
    _until(lambda: batching.waiting() == len(texts) - 1)
    gate.release.set()
    for t in threads:
        t.join(10)
    return results


def test_concurrent_texts_are_encoded_together_with_the_vectors_they_get_alone(
    encoder: Encoder,
) -> None:
    gate = Gate(encoder)
    batching = BatchingEncoder(gate, max_batch=32)
    results = _ask_at_once(batching, gate, QUESTIONS)
    # the first call alone, then the seven that queued meanwhile in one batch
    assert gate.calls == [1, 7]
    assert (batching.batches, batching.texts) == (2, 8)
    alone = encoder.encode(QUESTIONS)
    for i, got in enumerate(results):
        assert isinstance(got, np.ndarray)
        assert got.shape == (1, encoder.dim)
        assert np.allclose(got[0], alone[i], atol=1e-6)
    # each caller owns its rows: writing one changes no other caller's
    first, second = results[1], results[2]
    assert isinstance(first, np.ndarray)
    assert isinstance(second, np.ndarray)
    before = second.copy()
    first[:] = 0.0
    assert np.array_equal(second, before)


def test_a_batch_is_never_larger_than_max_batch(encoder: Encoder) -> None:
    gate = Gate(encoder)
    batching = BatchingEncoder(gate, max_batch=3)
    _ask_at_once(batching, gate, QUESTIONS)
    assert gate.calls[0] == 1
    assert sum(gate.calls) == len(QUESTIONS)
    assert max(gate.calls) == 3


def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_works(
    encoder: Encoder,
) -> None:
    gate = Gate(encoder)
    gate.fail_next = True
    batching = BatchingEncoder(gate, max_batch=32)
    results = _ask_at_once(batching, gate, QUESTIONS[:3])
    assert isinstance(results[0], RuntimeError)  # the first batch failed
    assert all(isinstance(r, np.ndarray) for r in results[1:])  # the second did not
    again = batching.encode(["电梯坏了找谁"])
    assert np.allclose(again, encoder.encode(["电梯坏了找谁"]), atol=1e-6)


def test_a_big_call_is_encoded_in_the_callers_thread(encoder: Encoder) -> None:
    batching = BatchingEncoder(encoder, max_batch=4)
    texts = QUESTIONS[:5]
    assert np.allclose(batching.encode(texts), encoder.encode(texts), atol=1e-6)
    assert batching.encode([]).shape == (0, encoder.dim)
    assert batching.batches == 0  # the batching thread never ran
    with pytest.raises(ValueError, match="at least 2"):
        BatchingEncoder(encoder, max_batch=1)


def test_behind_the_memo_a_repeated_text_is_not_encoded_again(encoder: Encoder) -> None:
    batching = BatchingEncoder(encoder, max_batch=32)
    memo = MemoEncoder(batching)
    assert memo.name == encoder.name
    assert memo.dim == encoder.dim
    a = memo.encode(["湿垃圾几点可以扔"])
    b = memo.encode(["湿垃圾几点可以扔"])
    assert np.array_equal(a, b)
    assert (batching.batches, batching.texts) == (1, 1)


def test_a_forked_worker_encodes_with_its_own_thread(encoder: Encoder) -> None:
    """``linli serve`` may fork workers from a process that already encoded: the parent's
    batching thread does not exist in the child, which must start its own."""
    batching = BatchingEncoder(encoder, max_batch=32)
    batching.encode(["预热"])  # the parent's thread is running now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: encode, send the vector back, leave at once
        try:
            vec = batching.encode(["居委会几点上班"])
            os.write(write, pickle.dumps(vec))
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    vec = pickle.loads(data)  # our own child's bytes
    assert np.allclose(vec, encoder.encode(["居委会几点上班"]), atol=1e-6)
