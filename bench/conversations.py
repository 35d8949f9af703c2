"""500 concurrent simulated residents each complete a repair dialogue against ``linli serve``
on PostgreSQL + Redis. Reports throughput, p50/p99 turn latency, and checks that every ticket
exists exactly once (each resident's last message is also sent twice, as WeChat retries).

Run: ``.venv/bin/python bench/conversations.py [--residents 500] [--port 8931]``
Needs the local PostgreSQL (a scratch database is created and dropped) and Redis (db 14).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import IO

import aiohttp
import asyncpg
import redis.asyncio as redis_async

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("LINLI_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("LINLI_BENCH_REDIS", "redis://127.0.0.1:6379/14")
TOKEN = "bench-token"
COMPOUNDS = ["燕宁苑", "普雄馨苑", "普陀一村", "西沙洪滨小区"]
RETRIES: list[int] = []
PROBLEMS = ["厨房水龙头坏了关不紧", "卫生间下水道堵了", "阳台晾衣架掉下来了", "家里门锁坏了打不开"]


async def resident(
    session: aiohttp.ClientSession, base: str, i: int, latencies: list[float]
) -> str | None:
    sender = f"bench-{i}"
    turns = [
        "我要报修",
        PROBLEMS[i % len(PROBLEMS)],
        COMPOUNDS[i % len(COMPOUNDS)],
        f"{i % 30 + 1}号楼",
        f"{i % 20 + 1}0{i % 4 + 1}室",
        "不用",
    ]
    number = None
    for n, text in enumerate(turns):
        body = {
            "message_id": f"{sender}-{n}",
            "chat": {"id": f"p-{sender}", "type": "private"},
            "sender": {"id": sender, "name": f"居民{i}"},
            "text": text,
            "mentioned": True,
        }
        repeats = 2 if n == len(turns) - 1 else 1  # the last one is retried, like WeChat does
        for _ in range(repeats):
            started = time.perf_counter()
            for attempt in range(4):  # a 503 is retried later, as WeChat does
                async with session.post(
                    f"{base}/api/v1/messages",
                    json=body,
                    headers={"Authorization": f"Bearer {TOKEN}"},
                ) as resp:
                    data = await resp.json()
                    if resp.status == 200:
                        break
                    if resp.status != 503 or attempt == 3:
                        raise RuntimeError(f"{sender} turn {n}: HTTP {resp.status} {data}")
                    RETRIES.append(1)
                await asyncio.sleep(1.0)
            latencies.append((time.perf_counter() - started) * 1000)
            if data.get("ticket"):
                number = data["ticket"]["number"]
    return number


async def wait_healthy(base: str, proc: subprocess.Popen[bytes], limit_s: float = 300) -> None:
    deadline = time.monotonic() + limit_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("linli serve exited during start")
            try:
                async with session.get(f"{base}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    raise RuntimeError("linli serve did not become healthy")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--residents", type=int, default=500)
    parser.add_argument("--port", type=int, default=8931)
    args = parser.parse_args()

    db_name = f"linli_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{db_name}"')
    await admin.close()
    r = redis_async.Redis.from_url(REDIS_URL)
    await r.flushdb()
    await r.aclose()
    base_dsn = PG_ADMIN.rsplit("/", 1)[0]
    env = {
        **os.environ,
        "LINLI_DATABASE_URL": f"{base_dsn.replace('postgresql://', 'postgresql+asyncpg://')}/{db_name}",
        "LINLI_REDIS_URL": REDIS_URL,
        "LINLI_DATA_DIR": str(ROOT / "var" / "bench"),
        "LINLI_CHANNELS__WEBHOOK__TOKENS": f'["{TOKEN}"]',
        "LINLI_LOG_LEVEL": "WARNING",
        "OMP_NUM_THREADS": "1",
    }
    base = f"http://127.0.0.1:{args.port}"
    log_path = ROOT / "var" / "bench-server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as server_log:
        return await _run(args, env, base, base_dsn, db_name, server_log)


async def _run(
    args: argparse.Namespace,
    env: dict[str, str],
    base: str,
    base_dsn: str,
    db_name: str,
    server_log: IO[bytes],
) -> int:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(args.port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=server_log,
    )
    try:
        await wait_healthy(base, proc)
        latencies: list[float] = []
        connector = aiohttp.TCPConnector(limit=200)
        async with aiohttp.ClientSession(connector=connector) as session:
            started = time.perf_counter()
            numbers = await asyncio.gather(
                *(resident(session, base, i, latencies) for i in range(args.residents))
            )
            elapsed = time.perf_counter() - started
        conn = await asyncpg.connect(f"{base_dsn}/{db_name}")
        rows = await conn.fetch(
            "SELECT reporter_sender_id, count(*) AS n FROM tickets GROUP BY reporter_sender_id"
        )
        total = await conn.fetchval("SELECT count(*) FROM tickets")
        await conn.close()
        per_resident = {row["reporter_sender_id"]: row["n"] for row in rows}
        exactly_once = (
            total == args.residents
            and all(per_resident.get(f"bench-{i}") == 1 for i in range(args.residents))
            and all(n is not None for n in numbers)
            and len(set(numbers)) == args.residents
        )
        latencies.sort()
        print(f"residents            {args.residents}")
        print(f"turns                {len(latencies)} (incl. {args.residents} retried messages)")
        print(f"wall time            {elapsed:.1f} s")
        print(f"throughput           {len(latencies) / elapsed:.0f} turns/s")
        print(f"turn latency p50     {statistics.median(latencies):.1f} ms")
        print(f"turn latency p99     {latencies[int(len(latencies) * 0.99) - 1]:.1f} ms")
        print(f"503 answers retried  {len(RETRIES)}")
        print(f"tickets in database  {total}")
        print(f"every ticket exactly once: {'yes' if exactly_once else 'NO'}")
        return 0 if exactly_once else 1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
