"""Start-up time and memory per worker of real ``linli serve`` processes, measured from outside.

For each setup (``pg1``/``pg2``: one/two workers on PostgreSQL + Redis, ``sqlite``: one on the
embedded default; the servers are those of ``bench/throughput.py``), per worker:

- the seconds from ``exec`` to a healthy ``/healthz`` (workers start one after the other, as
  there: the first migrates and trains or loads the models);
- RSS, PSS and USS (private pages) from ``/proc/<pid>/smaps_rollup`` once healthy, and again
  after FAQ questions at ``--inflight`` for ``--seconds`` (at least ``--messages`` messages:
  the load runs on until that many were answered). PSS counts a page shared by n processes
  as 1/n: the workers' memory-mapped files (the encoder's table, the FAQ index) and the
  libraries' code count shared; USS is what stopping the worker would free.

``--fresh``: the models and FAQ index folders start empty (the first worker trains and
builds them); by default they are kept between runs in ``--cache`` (a warm start).

Run: ``.venv/bin/python bench/memory.py [--setups pg1,pg2] [--fresh] [--messages 10000]
[--rounds 1] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
from throughput import ROOT, Client, Point, Session, Source


def smaps_mb(pid: int) -> dict[str, float]:
    """RSS, PSS and USS (private clean + dirty) of ``pid`` in MB (zeros when it is gone)."""
    fields: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                fields[parts[0][:-1]] = int(parts[1])
    uss = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return {
        "rss": round(fields.get("Rss", 0) / 1024, 1),
        "pss": round(fields.get("Pss", 0) / 1024, 1),
        "uss": round(uss / 1024, 1),
    }


async def measure(
    setup: str, args: argparse.Namespace, workdir: Path, client: Client
) -> dict[str, Any]:
    session = Session(Source("A", "working tree", ROOT), setup, args, workdir)
    startup: list[float] = []
    result: dict[str, Any] = {"setup": setup}
    try:
        await _start_timed(session, startup)
        result["startup_s"] = [round(s, 2) for s in startup]
        result["at_start"] = [smaps_mb(pid) for pid in session.pids]
        answered = 0
        elapsed = 0.0
        while answered < args.messages:
            p = Point("A", 1, setup, "faq", args.inflight)
            await client.run(session, p, args.seconds)
            answered += p.messages
            elapsed += p.seconds
            result.setdefault("errors", 0)
            result["errors"] += p.errors
            result.setdefault("missed_budget", 0)
            result["missed_budget"] += p.missed_budget
        result["messages"] = answered
        result["per_s"] = round(answered / elapsed, 1) if elapsed else 0.0
        result["after"] = [smaps_mb(pid) for pid in session.pids]
    finally:
        await session.stop()
    return result


async def _start_timed(session: Session, startup: list[float]) -> None:
    """``Session.start`` with each worker's time from exec to healthy recorded."""
    from faults.harness import Worker

    real_start = Worker.start
    real_wait = Worker.wait_healthy
    began: dict[int, float] = {}

    def start(self: Worker) -> None:
        began[id(self)] = time.monotonic()
        real_start(self)

    async def wait_healthy(self: Worker, timeout_s: float = 240.0) -> None:
        await real_wait(self, timeout_s)
        startup.append(time.monotonic() - began[id(self)])

    Worker.start = start  # type: ignore[method-assign]
    Worker.wait_healthy = wait_healthy  # type: ignore[method-assign]
    try:
        await session.start()
    finally:
        Worker.start = real_start  # type: ignore[method-assign]
        Worker.wait_healthy = real_wait  # type: ignore[method-assign]


async def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--setups", default="pg1,pg2")
    parser.add_argument("--messages", type=int, default=10_000, help="at least, per setup")
    parser.add_argument("--inflight", type=int, default=128)
    parser.add_argument("--seconds", type=float, default=60.0, help="per load round")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--fresh", action="store_true", help="empty models and index folders")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("LINLI_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument(
        "--redis", default=os.environ.get("LINLI_BENCH_REDIS", "redis://127.0.0.1:6379/15")
    )
    parser.add_argument("--cache", default=str(ROOT / "var" / "bench-throughput"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    setups = [s for s in args.setups.split(",") if s]
    workdir = Path(tempfile.mkdtemp(prefix="linli-memory-"))
    results: list[dict[str, Any]] = []
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            client = Client(http)
            for rnd in range(1, args.rounds + 1):
                for setup in setups:
                    if args.fresh:
                        args.cache = str(workdir / f"cache-{setup}-{rnd}")
                    r = await measure(setup, args, workdir, client)
                    r["round"] = rnd
                    r["fresh"] = args.fresh
                    results.append(r)
                    if not args.json:
                        print(json.dumps(r), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(results))
    return results


if __name__ == "__main__":
    asyncio.run(main())
