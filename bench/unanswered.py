"""Unanswered-questions clustering benchmark: time to cluster N messages (0 … 5,000) with the
real encoder, cold (every text encoded) and warm (vectors cached, as on a page reload), and
the worst case for the neighbour lists (every message a paraphrase of a few questions).

Usage: OMP_NUM_THREADS=1 .venv/bin/python bench/unanswered.py [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from threadpoolctl import threadpool_limits

from bot.encoders import Usem3Encoder
from bot.insights import UnansweredQuestions
from bot.storage.messages import InboundRecord
from bot.storage.sql import Database, SqlMessageLog

T0 = datetime(2026, 11, 1, tzinfo=UTC)
TOPICS = list("水电煤气停车垃圾电梯物业证明养老医保快递噪音宠物维修租房绿化门禁消防")
PARAPHRASES = [
    "小区里能养鸡吗",
    "可以在小区养鸡吗",
    "楼下养鸡允许吗",
    "楼下能烧烤吗",
    "小区里可以烧烤吗",
    "电动车可以进电梯吗",
    "电瓶车能推进电梯吗",
]


def records(texts: list[str]) -> list[InboundRecord]:
    return [
        InboundRecord(i + 1, f"k{i % 300}", t, "fallback", T0 + timedelta(minutes=i), None)
        for i, t in enumerate(texts)
    ]


def varied(n: int, seed: int = 7) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(TOPICS, size=6)) + "怎么办" for _ in range(n)]


def dense(n: int) -> list[str]:
    """Few questions, many wordings: large neighbour lists."""
    tails = "呢啊吧呀"
    return [f"{PARAPHRASES[i % len(PARAPHRASES)]}{tails[i % 4] * (i % 5)}{i}" for i in range(n)]


async def main(as_json: bool) -> None:
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        db = Database.connect(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await db.migrate()
        encoder = Usem3Encoder()
        encoder.encode(["预热"])
        for name, make in (("varied", varied), ("dense", dense)):
            for n in (0, 1, 500, 2000, 5000):
                service = UnansweredQuestions(SqlMessageLog(db), encoder)
                data = records(make(n))
                started = time.perf_counter()
                clusters = service.cluster_records(data)
                cold = time.perf_counter() - started
                started = time.perf_counter()
                service.cluster_records(data)
                warm = time.perf_counter() - started
                row = {
                    "data": name,
                    "messages": n,
                    "clusters": len(clusters),
                    "largest": max((c.size for c in clusters), default=0),
                    "cold_s": round(cold, 3),
                    "warm_s": round(warm, 3),
                }
                results.append(row)
                if not as_json:
                    print(
                        f"{name:7s} n={n:5d} clusters={row['clusters']:5d} "
                        f"largest={row['largest']:5d} cold={cold:7.3f}s warm={warm:7.3f}s"
                    )
        await db.close()
    if as_json:
        print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    asyncio.run(main(parser.parse_args().json))
