"""Messages per second through real ``linli serve`` processes, measured from outside.

A bounded asyncio client on loopback sends WeChat Official Account callbacks in safe mode
(AES, signed, one resident per in-flight slot, each resident waiting for its answer before
the next message) round-robin over the workers, for a fixed time per point. Points: FAQ
questions (``faq``: eight questions over and over; ``worded``: the same questions worded
differently every time, so that nothing comes from the per-worker caches), unknown questions
(no FAQ answers them) and repair-dialogue turns (a six-turn report), at several in-flight
levels, on three setups: ``pg1``/``pg2`` (one/two workers on PostgreSQL + Redis) and
``sqlite`` (one worker on the embedded default).

Per point: messages/s, p50/p99 latency, server CPU ms per message (utime + stime of the
server processes from /proc, so the client's own CPU is not counted, until the servers are
idle again, so late answers count where they belong), the same for the PostgreSQL backends
of the session's database (``db``), the Redis server (``redis``; shared with whatever else
uses it) and the load client itself (``client``: what it costs the machine the servers
share), SQL transactions per message
(PostgreSQL), replies that missed the
passive budget (answered ``success`` and sent later through the customer-service API, which a
WeChat stand-in on loopback receives), errors (non-200, timeouts, refused connections), and
the load average (the machine may be shared: compare only figures of one run).

``--against REF`` runs the same points on another git ref (a temporary ``git worktree``),
interleaved A, B, A, B (``--rounds``), and prints B/A ratios.

``--profile DIR`` samples every worker with ``py-spy`` (not a dependency: install it
yourself, e.g. ``.venv/bin/pip install py-spy``) during each timed point, without pausing it
(``--nonblocking``, per thread), writes the collapsed stacks to ``DIR`` and prints the top
functions by own and by cumulative share of the samples.

Run: ``.venv/bin/python bench/throughput.py [--seconds 60] [--inflight 8,32,128]
[--kinds faq,worded,unknown,repair] [--setups pg1,pg2,sqlite] [--against REF] [--profile DIR]
[--json]``
PostgreSQL: ``--postgres`` (an admin DSN; one database per session is created and dropped);
Redis: ``--redis`` (the database is flushed at the start of every session).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "support"))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import redis.asyncio as redis_async  # noqa: E402
from channel_helpers import MP_APPID, MP_KEY, MP_TOKEN, mp_xml, open_safe_reply  # noqa: E402
from faults.harness import (  # noqa: E402
    ACCOUNT,
    COMPOUNDS,
    PROBLEMS,
    StandIn,
    Worker,
    write_config,
)

from bot.channels.crypto import MessageCrypto, sha1_signature  # noqa: E402

KINDS = ("faq", "worded", "unknown", "repair")
SETUPS = ("pg1", "pg2", "sqlite")
FAQ_QUESTIONS = [
    "办居住证要什么材料",
    "大件垃圾怎么处理",
    "老年人可以申请什么补贴",
    "电动车可以在楼道里充电吗",
    "居委会几点上班",
    "养老金资格认证怎么弄",
    "居住证怎么办理",
    "居委会周末有人吗",
]
UNKNOWN_QUESTIONS = [
    "附近哪里可以学游泳",
    "小区门口那家面馆还开着吗",
    "哪里能买到二手钢琴",
    "明天会下雨吗",
    "附近有没有好一点的牙科诊所",
    "周末带孩子去哪里玩比较好",
    "哪里可以修手表",
    "推荐一本好看的小说",
]
OPENINGS = ["请问", "你好，", "麻烦问一下，", "打扰一下，", "", "想咨询下，"]
"""``worded``: FAQ questions as different residents word them, never twice the same text."""
CLIENT_TIMEOUT_S = 15.0
"""Longer than WeChat's 5 s: a slow answer is measured (and counted late), not retried."""


def repair_script(slot: int, episode: int) -> list[str]:
    """The six turns of one repair report (as in the fault suite's residents)."""
    return [
        "我要报修",
        PROBLEMS[(slot + episode) % len(PROBLEMS)],
        COMPOUNDS[(slot + episode) % len(COMPOUNDS)],
        f"{(slot + episode) % 30 + 1}号楼",
        f"{(slot + episode) % 20 + 1}0{episode % 4 + 1}室",
        "不用",
    ]


def turns(kind: str, slot: int) -> Iterator[str]:
    """What resident ``slot`` says, message after message, for ``kind``."""
    n = slot
    episode = 0
    while True:
        if kind == "faq":
            yield FAQ_QUESTIONS[n % len(FAQ_QUESTIONS)]
        elif kind == "worded":
            # each text new: nothing is answered from a memo or the answer cache
            opening = OPENINGS[n % len(OPENINGS)]
            yield f"{opening}{FAQ_QUESTIONS[n % len(FAQ_QUESTIONS)]}，我家是{slot + 1}号{n}室"
        elif kind == "unknown":
            yield UNKNOWN_QUESTIONS[n % len(UNKNOWN_QUESTIONS)]
        else:
            yield from repair_script(slot, episode)
            episode += 1
        n += 1


def cpu_ticks(pids: Sequence[int]) -> int:
    """utime + stime (clock ticks) of the processes, all their threads included."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total


async def drain(pids: Sequence[int], limit_s: float = 60.0) -> None:
    """Until the servers are idle: at most one clock tick of CPU in half a second."""
    deadline = time.monotonic() + limit_s
    last = cpu_ticks(pids)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = cpu_ticks(pids)
        if now - last <= 1:
            return
        last = now


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def pss_mb(pid: int) -> float:
    """Proportional set size: pages shared with other processes (the workers' memory-mapped
    encoder table, libraries) count shared."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Point:
    source: str
    round: int
    setup: str
    kind: str
    inflight: int
    messages: int = 0
    seconds: float = 0.0
    per_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    cpu_ms_per_msg: float = 0.0
    missed_budget: int = 0
    errors: int = 0
    load_avg: float = 0.0
    sql_xact_per_msg: float | None = None
    """PostgreSQL transactions (commits + rollbacks) per message, from pg_stat_database."""
    db_cpu_ms_per_msg: float | None = None
    """CPU of the session database's PostgreSQL backends per message (PostgreSQL)."""
    redis_cpu_ms_per_msg: float | None = None
    """CPU of the Redis server per message (PostgreSQL + Redis setups)."""
    client_cpu_ms_per_msg: float = 0.0
    """CPU of the load client (this process) per message."""
    sample: list[str] = field(default_factory=list)
    """A few decrypted passive replies (checked after the timed window)."""


@dataclass
class Source:
    label: str
    """``A`` (this tree) or ``B`` (``--against``)."""
    ref: str
    tree: Path


class Session:
    """One setup's servers running one source's code: a fresh database (PostgreSQL) or data
    folder (SQLite), the Redis database flushed, the WeChat stand-in, healthy workers."""

    def __init__(self, source: Source, setup: str, args: argparse.Namespace, workdir: Path):
        self.source = source
        self.setup = setup
        self.args = args
        self.dir = workdir / f"{source.label}-{setup}-{uuid.uuid4().hex[:6]}"
        self.dir.mkdir(parents=True)
        self.standin = StandIn()
        self.workers: list[Worker] = []
        self.database = f"linli_bench_tp_{uuid.uuid4().hex[:8]}"
        self.postgres = setup.startswith("pg")

    def _admin_dsn(self, database: str | None = None) -> str:
        base: str = self.args.postgres
        return base if database is None else base.rsplit("/", 1)[0] + f"/{database}"

    async def start(self) -> None:
        self.standin.start()
        config = write_config(self.dir / "linli.toml", self.standin)
        cache = Path(self.args.cache) / self.source.label
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
        base_env.update(
            LINLI_CONFIG=str(config),
            LINLI_MODELS_DIR=str(cache / "models"),
            LINLI_INDEX_DIR=str(cache / "index"),
            LINLI_LOG_JSON="true",
            LINLI_LOG_LEVEL="WARNING",
            PYTHONPATH=str(self.source.tree),
            OMP_NUM_THREADS="1",
            OPENBLAS_NUM_THREADS="1",
            MKL_NUM_THREADS="1",
        )
        if self.postgres:
            conn = await asyncpg.connect(self.args.postgres, timeout=10)
            try:
                await conn.execute(f'CREATE DATABASE "{self.database}"')
            finally:
                await conn.close()
            client = redis_async.Redis.from_url(self.args.redis)
            try:
                await client.flushdb()
            finally:
                await client.aclose()
            dsn = self._admin_dsn(self.database)
            base_env["LINLI_DATABASE_URL"] = dsn.replace("postgresql://", "postgresql+asyncpg://")
            base_env["LINLI_REDIS_URL"] = self.args.redis
        count = 2 if self.setup == "pg2" else 1
        for i in range(count):
            env = dict(base_env, LINLI_DATA_DIR=str(self.dir / f"data-{i}"))
            worker = Worker(str(i), env, self.dir / f"worker-{i}.log", self.source.tree)
            self.workers.append(worker)
            worker.start()
            # One at a time: the first migrates the database and trains/builds the models.
            await worker.wait_healthy(timeout_s=600)

    async def transactions(self) -> int | None:
        """Transactions so far in this session's database (PostgreSQL), after the servers'
        statistics reached the collector (they report at most once a second)."""
        if not self.postgres:
            return None
        await asyncio.sleep(1.2)
        conn = await asyncpg.connect(self.args.postgres, timeout=10)
        try:
            value = await conn.fetchval(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1",
                self.database,
            )
        finally:
            await conn.close()
        return int(value or 0)

    async def backend_pids(self) -> list[int]:
        """The PostgreSQL server processes serving this session's database, and Redis's."""
        if not self.postgres:
            return []
        conn = await asyncpg.connect(self.args.postgres, timeout=10)
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1", self.database
            )
        finally:
            await conn.close()
        return [int(r["pid"]) for r in rows]

    async def redis_pid(self) -> int | None:
        if not self.postgres:
            return None
        client = redis_async.Redis.from_url(self.args.redis)
        try:
            info = await client.info("server")
        finally:
            await client.aclose()
        return int(info["process_id"])

    @property
    def pids(self) -> list[int]:
        return [w.proc.pid for w in self.workers if w.proc is not None]

    async def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.standin.stop()
        if self.postgres:
            with contextlib.suppress(Exception):
                conn = await asyncpg.connect(self.args.postgres, timeout=10)
                try:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
                finally:
                    await conn.close()


class Client:
    """The bounded load client: ``inflight`` residents, each sending its next message once
    the previous one was answered."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.crypto = MessageCrypto(MP_TOKEN, MP_KEY, MP_APPID)
        self.msg_ids = iter(range(7_100_000_000_000_000_000 + time.time_ns() % 10**15, 2**63))

    def request(self, openid: str, text: str) -> tuple[dict[str, str], bytes]:
        now = str(int(time.time()))
        xml = mp_xml(
            "text",
            f"<Content><![CDATA[{text}]]></Content>",
            msg_id=str(next(self.msg_ids)),
            created=int(now),
            openid=openid,
        )
        encrypted = self.crypto.encrypt(xml)
        nonce = uuid.uuid4().hex[:10]
        query = {
            "signature": sha1_signature(MP_TOKEN, now, nonce),
            "timestamp": now,
            "nonce": nonce,
            "openid": openid,
            "encrypt_type": "aes",
            "msg_signature": self.crypto.signature(now, nonce, encrypted),
        }
        body = (
            "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
        return query, body.encode()

    async def run(self, session: Session, point: Point, seconds: float) -> None:
        tag = uuid.uuid4().hex[:6]
        urls = [f"{w.url}/wechat/mp/{ACCOUNT}" for w in session.workers]
        latencies: list[float] = []
        bodies: list[str] = []
        missed = errors = 0
        deadline = time.monotonic() + seconds

        async def resident(slot: int) -> None:
            nonlocal missed, errors
            openid = f"oTp{tag}{point.kind[0]}{slot:04d}"
            for n, text in enumerate(turns(point.kind, slot)):
                if time.monotonic() >= deadline:
                    return
                query, body = self.request(openid, text)
                t0 = time.perf_counter()
                try:
                    async with self.http.post(
                        urls[(slot + n) % len(urls)],
                        params=query,
                        data=body,
                        timeout=aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_S),
                    ) as resp:
                        raw = await resp.text()
                        status = resp.status
                except (TimeoutError, aiohttp.ClientError):
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                if status != 200:
                    errors += 1
                elif raw.strip() in {"", "success"}:
                    missed += 1
                elif len(bodies) < 8 and n < 6:
                    bodies.append(raw)

        xact0 = await session.transactions()
        backends0 = {pid: cpu_ticks([pid]) for pid in await session.backend_pids()}
        redis_pid = await session.redis_pid()
        redis0 = cpu_ticks([redis_pid]) if redis_pid else 0
        ticks0 = cpu_ticks(session.pids)
        client0 = time.process_time()
        started = time.monotonic()
        await asyncio.gather(*(resident(i) for i in range(point.inflight)))
        point.seconds = time.monotonic() - started
        client_s = time.process_time() - client0
        # Messages answered "success" are still being processed (their replies go out
        # through the customer-service API): their CPU belongs to this point, not the next.
        await drain(session.pids)
        ticks = cpu_ticks(session.pids) - ticks0
        redis_ticks = cpu_ticks([redis_pid]) - redis0 if redis_pid else 0
        # A backend that started during the point (the pool grew) counts from its start.
        backends = await session.backend_pids()
        db_ticks = sum(cpu_ticks([pid]) - backends0.get(pid, 0) for pid in backends)
        xact1 = await session.transactions()
        point.load_avg = os.getloadavg()[0]
        point.messages = len(latencies)
        point.missed_budget = missed
        point.errors = errors
        if latencies:
            latencies.sort()
            point.per_s = len(latencies) / point.seconds
            point.p50_ms = statistics.median(latencies) * 1000
            point.p99_ms = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
            per_msg = 1000 / os.sysconf("SC_CLK_TCK") / len(latencies)
            point.cpu_ms_per_msg = ticks * per_msg
            point.client_cpu_ms_per_msg = round(client_s * 1000 / len(latencies), 2)
            if session.postgres:
                point.db_cpu_ms_per_msg = round(db_ticks * per_msg, 2)
                point.redis_cpu_ms_per_msg = round(redis_ticks * per_msg, 2)
            if xact0 is not None and xact1 is not None:
                point.sql_xact_per_msg = round((xact1 - xact0) / len(latencies), 2)
        point.sample = [open_safe_reply(b).get("Content", "") for b in bodies]


class Profiler:
    """``py-spy record`` attached to every worker for one timed point (collapsed stacks)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.procs: list[subprocess.Popen[bytes]] = []
        self.files: list[Path] = []

    def start(self, session: Session, point: Point, seconds: float) -> None:
        if self.directory is None:
            return
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        for w in session.workers:
            if w.proc is None:
                continue
            out = self.directory / (
                f"{point.source}{point.round}-{point.setup}-{point.kind}-{point.inflight}"
                f"-w{w.name}.txt"
            )
            self.files.append(out)
            self.procs.append(
                subprocess.Popen(
                    [
                        exe,
                        *("record", "--nonblocking", "--threads", "--format", "raw"),
                        *("--rate", "200", "--duration", str(max(1, int(seconds)))),
                        *("--output", str(out), "--pid", str(w.proc.pid)),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

    def stop(self) -> None:
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.terminate()
        self.procs.clear()


_FRAME = re.compile(r"^(?P<name>.*) \((?P<path>[^():]*)(?::\d+)?\)$")
_PLUMBING = (
    "asyncio/",
    "<frozen runpy>",
    "bot/cli.py",
    "aiohttp/web.py",
    "threading.py",
    "concurrent/futures/",
)
"""Frames every sample of a thread passes through (the event loop, the entry point): left
out of the cumulative ranking, where they would only say "100%"."""


def _frame(raw: str) -> str:
    """``name (path:line)`` → ``name (path)``: one entry per function."""
    m = _FRAME.match(raw)
    return raw if m is None else f"{m['name']} ({m['path']})"


def profile_top(files: Sequence[Path], n: int = 15) -> dict[str, Any]:
    """The ``n`` functions with the largest own and cumulative shares of all samples in
    ``files`` (py-spy's collapsed format: ``frame;frame;… count``; a thread's root frame is
    ``thread (…)``, dropped), per function (lines merged); the cumulative ranking leaves the
    event loop's and the entry point's frames out."""
    own: dict[str, int] = {}
    cumulative: dict[str, int] = {}
    total = 0
    for path in files:
        with contextlib.suppress(OSError):
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                stack, _, count = line.rpartition(" ")
                if not stack or not count.isdigit():
                    continue
                frames = [
                    _frame(f)
                    for f in stack.split(";")
                    if not f.startswith(("thread (", "process "))
                ]
                if not frames:
                    continue
                k = int(count)
                total += k
                own[frames[-1]] = own.get(frames[-1], 0) + k
                for f in set(frames):
                    if not any(mark in f for mark in _PLUMBING):
                        cumulative[f] = cumulative.get(f, 0) + k
    share = 100 / (total or 1)

    def top(counts: dict[str, int]) -> list[tuple[str, float]]:
        best = sorted(counts.items(), key=lambda kv: -kv[1])[:n]
        return [(name, round(c * share, 1)) for name, c in best]

    return {"samples": total, "own": top(own), "cumulative": top(cumulative)}


@contextlib.contextmanager
def worktree(ref: str, workdir: Path) -> Iterator[Path]:
    """A temporary ``git worktree`` of ``ref`` (detached), removed afterwards."""
    path = workdir / "against"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), ref],
        check=True,
        capture_output=True,
    )
    try:
        yield path
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
            check=False,
            capture_output=True,
        )


def _row(p: Point) -> str:
    return (
        f"{p.source}{p.round:<2} {p.setup:<7}{p.kind:<8}{p.inflight:>4} "
        f"{p.per_s:>8.1f} {p.p50_ms:>8.0f} {p.p99_ms:>8.0f} {p.cpu_ms_per_msg:>7.2f} "
        f"{p.missed_budget:>6} {p.errors:>5} {p.messages:>7} {p.load_avg:>5.1f}"
        f" {'-' if p.sql_xact_per_msg is None else f'{p.sql_xact_per_msg:.1f}':>6}"
        f" {'-' if p.db_cpu_ms_per_msg is None else f'{p.db_cpu_ms_per_msg:.2f}':>6}"
        f" {'-' if p.redis_cpu_ms_per_msg is None else f'{p.redis_cpu_ms_per_msg:.2f}':>6}"
        f" {p.client_cpu_ms_per_msg:>6.2f}"
    )


HEADER = (
    "run setup  kind    infl    msg/s  p50(ms)  p99(ms) cpu(ms) missed  errs    msgs  load   xact"
    "     db  redis client"
)
"""``cpu``: the workers' CPU ms per message; ``db``, ``redis``, ``client``: the PostgreSQL
backends', the Redis server's and the load client's."""


def ratios(points: list[Point]) -> list[dict[str, Any]]:
    """B/A per (setup, kind, in flight), over all rounds: throughput and CPU by totals,
    latencies by the median of the rounds."""
    out: list[dict[str, Any]] = []
    keys = sorted({(p.setup, p.kind, p.inflight) for p in points}, key=str)
    for setup, kind, inflight in keys:
        by: dict[str, list[Point]] = {"A": [], "B": []}
        for p in points:
            if (p.setup, p.kind, p.inflight) == (setup, kind, inflight):
                by[p.source].append(p)
        if not by["A"] or not by["B"]:
            continue

        def total(ps: list[Point]) -> tuple[float, float, float, float, float]:
            n = sum(p.messages for p in ps) or 1
            secs = sum(p.seconds for p in ps) or 1.0
            cpu = sum(p.cpu_ms_per_msg * p.messages for p in ps) / n
            # Everything the machine spends on a message: workers, database, Redis, client.
            machine = (
                sum(
                    (
                        p.cpu_ms_per_msg
                        + (p.db_cpu_ms_per_msg or 0)
                        + (p.redis_cpu_ms_per_msg or 0)
                        + p.client_cpu_ms_per_msg
                    )
                    * p.messages
                    for p in ps
                )
                / n
            )
            return (
                n / secs,
                statistics.median(p.p99_ms for p in ps),
                cpu,
                statistics.median(p.p50_ms for p in ps),
                machine,
            )

        a, b = total(by["A"]), total(by["B"])
        out.append(
            {
                "setup": setup,
                "kind": kind,
                "inflight": inflight,
                "A_per_s": round(a[0], 1),
                "B_per_s": round(b[0], 1),
                "A_over_B_per_s": round(a[0] / b[0], 2) if b[0] else None,
                "A_over_B_cpu": round(a[2] / b[2], 2) if b[2] else None,
                "A_over_B_machine_cpu": round(a[4] / b[4], 2) if b[4] else None,
                "A_over_B_p50": round(a[3] / b[3], 2) if b[3] else None,
                "A_over_B_p99": round(a[1] / b[1], 2) if b[1] else None,
            }
        )
    return out


async def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per point (at most 60)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds per kind, untimed")
    parser.add_argument("--inflight", default="8,32,128")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--setups", default=",".join(SETUPS))
    parser.add_argument("--against", metavar="REF", help="also run this git ref, interleaved")
    parser.add_argument("--rounds", type=int, help="A,B repetitions (default 2 with --against)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("LINLI_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"),
        help="admin DSN: a database per session is created and dropped through it",
    )
    parser.add_argument(
        "--redis",
        default=os.environ.get("LINLI_BENCH_REDIS", "redis://127.0.0.1:6379/15"),
        help="a Redis database the bench may flush",
    )
    parser.add_argument(
        "--cache",
        default=str(ROOT / "var" / "bench-throughput"),
        help="trained models and FAQ indexes, per source, kept between runs",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="sample the workers with py-spy during each timed point; stacks go to DIR",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON result only")
    args = parser.parse_args(argv)
    profile_dir = Path(args.profile) if args.profile else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    profiler = Profiler(profile_dir)
    seconds = min(args.seconds, 60.0)
    inflights = [int(x) for x in args.inflight.split(",") if x]
    kinds = [k for k in args.kinds.split(",") if k]
    setups = [s for s in args.setups.split(",") if s]
    for k in kinds:
        if k not in KINDS:
            parser.error(f"unknown kind {k!r}")
    for s in setups:
        if s not in SETUPS:
            parser.error(f"unknown setup {s!r}")
    rounds = args.rounds or (2 if args.against else 1)
    say = (lambda *_: None) if args.json else (lambda line: print(line, flush=True))

    workdir = Path(tempfile.mkdtemp(prefix="linli-throughput-"))
    points: list[Point] = []
    memory: dict[str, float] = {}
    proportional: dict[str, float] = {}
    try:
        with contextlib.ExitStack() as stack:
            sources = [Source("A", "working tree", ROOT)]
            if args.against:
                tree = stack.enter_context(worktree(args.against, workdir))
                sources.append(Source("B", args.against, tree))
            say(
                f"A = working tree{f', B = {args.against}' if args.against else ''}; "
                f"{seconds:g} s per point; {os.cpu_count()} cores"
            )
            say(HEADER)
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as http:
                client = Client(http)
                for rnd in range(1, rounds + 1):
                    for setup in setups:
                        for source in sources:
                            session = Session(source, setup, args, workdir)
                            try:
                                await session.start()
                                for kind in kinds:
                                    warm = Point(source.label, rnd, setup, kind, 8)
                                    await client.run(session, warm, args.warmup)
                                    for inflight in inflights:
                                        p = Point(source.label, rnd, setup, kind, inflight)
                                        profiler.start(session, p, seconds)
                                        try:
                                            await client.run(session, p, seconds)
                                        finally:
                                            profiler.stop()
                                        points.append(p)
                                        say(_row(p))
                                for w in session.workers:
                                    key = f"{source.label}/{setup}/worker{w.name}"
                                    memory[key] = round(rss_mb(w.proc.pid), 1) if w.proc else 0
                                    proportional[key] = (
                                        round(pss_mb(w.proc.pid), 1) if w.proc else 0
                                    )
                            finally:
                                await session.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result: dict[str, Any] = {
        "seconds_per_point": seconds,
        "cores": os.cpu_count(),
        "points": [asdict(p) for p in points],
        "rss_mb_after": memory,
        "pss_mb_after": proportional,
    }
    if args.against:
        result["ratios"] = ratios(points)
    if profile_dir is not None:
        for label in sorted({p.source for p in points}):
            result.setdefault("profile", {})[label] = profile_top(
                [f for f in profiler.files if f.name.startswith(label)]
            )
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        say("resident memory after the points (MB): " + json.dumps(memory))
        say("proportional memory after the points (MB): " + json.dumps(proportional))
        if args.against:
            say(
                "A/B (A = working tree): msg/s, CPU per message (workers; all: with the "
                "database, Redis and the client), p50, p99"
            )
            for r in result["ratios"]:
                say(
                    f"  {r['setup']:<7}{r['kind']:<8}{r['inflight']:>4}  "
                    f"{r['A_per_s']:>7.1f} vs {r['B_per_s']:>7.1f} msg/s  ×{r['A_over_B_per_s']}"
                    f"  cpu ×{r['A_over_B_cpu']} (all ×{r['A_over_B_machine_cpu']})"
                    f"  p50 ×{r['A_over_B_p50']}"
                    f"  p99 ×{r['A_over_B_p99']}"
                )
        for label, prof in result.get("profile", {}).items():
            say(f"profile {label} ({prof['samples']} samples): own %, cumulative %")
            for (own_name, own_pct), (cum_name, cum_pct) in zip(
                prof["own"], prof["cumulative"], strict=False
            ):
                say(f"  {own_pct:5.1f} {own_name[:58]:<58} {cum_pct:5.1f} {cum_name[:58]}")
        shown: set[str] = set()
        for p in points:
            if p.sample and p.kind not in shown:
                shown.add(p.kind)
                say(f"a reply ({p.kind}): " + p.sample[0][:60].replace("\n", " "))
    return result


if __name__ == "__main__":
    asyncio.run(main())
