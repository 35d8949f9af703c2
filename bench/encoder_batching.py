"""Encoding concurrent messages one by one or together (``BatchingEncoder``).

``threads`` callers (a worker's executor threads, each reading one message) encode new texts
one at a time, all at once, for ``--seconds``; once through the encoder alone (each call in
its own thread, as without batching) and once through ``BatchingEncoder`` (one thread
encodes what is queued, in one call). Printed per level: texts/s, process CPU ms per text,
p50/p99 ms per call and, batched, the mean batch size. Real USE-m3, one BLAS thread.

    .venv/bin/python bench/encoder_batching.py [--threads 1,2,4,8,16,32] [--seconds 5]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.encoders import BatchingEncoder, Encoder, Usem3Encoder

QUESTIONS = [
    "办居住证要什么材料",
    "大件垃圾怎么处理",
    "老年人可以申请什么补贴",
    "电动车可以在楼道里充电吗",
    "居委会几点上班",
    "楼上漏水到我家了找谁",
]


def run(encoder: Encoder, threads: int, seconds: float) -> tuple[float, float, list[float]]:
    """Texts/s, CPU ms per text and the call latencies (ms) of ``threads`` callers."""
    counter = itertools.count()
    stop = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(threads)]

    def caller(k: int) -> None:
        while time.monotonic() < stop:
            n = next(counter)
            text = f"{QUESTIONS[n % len(QUESTIONS)]}，我家是{n}号"  # never the same text
            t = time.perf_counter()
            encoder.encode([text])
            latencies[k].append((time.perf_counter() - t) * 1000)

    cpu, wall = time.process_time(), time.perf_counter()
    pool = [threading.Thread(target=caller, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    done = [x for per in latencies for x in per]
    return len(done) / wall, cpu * 1000 / len(done), done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1,2,4,8,16,32")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--max-batch", type=int, default=32)
    args = parser.parse_args()
    model = Usem3Encoder(threads=1)
    model.encode(["预热"])
    head = f"{'threads':>7} {'way':<9} {'texts/s':>8} {'cpu ms':>7} {'p50 ms':>7} {'p99 ms':>7}"
    print(f"{head} batch")
    for threads in (int(x) for x in args.threads.split(",")):
        for way in ("alone", "batched"):
            batching = BatchingEncoder(model, args.max_batch) if way == "batched" else None
            per_s, cpu_ms, lat = run(batching or model, threads, args.seconds)
            lat.sort()
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            size = f"{batching.texts / batching.batches:.1f}" if batching else "-"
            print(
                f"{threads:>7} {way:<9} {per_s:>8.0f} {cpu_ms:>7.2f} "
                f"{statistics.median(lat):>7.2f} {p99:>7.2f} {size}"
            )


if __name__ == "__main__":
    main()
