"""Fault-injection harness shared by ``tests/faults/`` and ``bench/faults.py``.

Everything runs on loopback and is started here, never on the shared servers:

- a throwaway PostgreSQL cluster (``initdb`` as the ``postgres`` OS user) and its own
  ``redis-server``, so the scenarios may stop, restart and flush them;
- a stand-in for the WeChat API (access token, customer-service ``message/custom/send``, the
  WeCom group robot used for staff alerts) in its own thread, logging every active message;
- two real ``linli serve`` processes on those stores, with a WeChat Official Account in safe
  mode whose API base is the stand-in;
- a bounded load client: residents sending encrypted safe-mode callbacks round-robin over both
  workers, with WeChat's retry behaviour (no answer within 5 s, a 5xx or a refused connection
  is retried up to three times with the same MsgId, to either worker; attempts start at least
  5 s apart).

Counting is per inbound message, from the scenario's database (SQL), the stand-in's log and
the HTTP responses: processed, lost, duplicated replies, duplicated effects (outbound rows,
tickets, staff alerts), apologies and the time to recover. See ``count``.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
import asyncpg
import redis.asyncio as redis_async
from aiohttp import web
from channel_helpers import MP_APPID, MP_KEY, MP_TOKEN, mp_xml, open_safe_reply, safe_request

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "faults"
COMMITTEE = "puxiong"
ROBOT_KEY = "fault-staff-robot"
APOLOGY_MARK = "抱歉，系统刚才出了点问题"
CALLBACK_TIMEOUT_S = 5.0
"""WeChat drops a callback that has not answered within 5 s and retries."""
RETRIES = 3
MARKER = re.compile(r"编号([a-z]{5})")

FAQS = [
    "湿垃圾几点可以扔",
    "办居住证要什么材料",
    "大件垃圾怎么处理",
    "老年人可以申请什么补贴",
    "电动车可以在楼道里充电吗",
    "居委会几点上班",
    "养老金资格认证怎么弄",
]
PROBLEMS = ["厨房水龙头坏了关不紧", "卫生间下水道堵了", "阳台晾衣架掉下来了", "家里门锁坏了"]
COMPOUNDS = ["燕宁苑", "普雄馨苑", "普陀一村", "西沙洪滨小区"]
EMERGENCIES = [
    "{c}{b}号楼电梯困人了，有人被关在里面",
    "{c}{b}号楼楼道里有很大的煤气味",
    "{c}{b}号楼有人晕倒了，叫不醒",
]
STATUS = "我报的修怎么样了"


class HarnessError(RuntimeError):
    """The harness itself could not run (a binary missing, a server that did not start)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def export_commit(ref: str, into: Path) -> Path:
    """The tree of git commit ``ref`` of this repository, written to ``into`` (``git
    archive``): workers run from it to compare with an older commit."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _wait_port(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise HarnessError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


def letters(n: int, width: int = 5) -> str:
    """``n`` in base 26 with letters only (markers must not look like numbers to the NLU)."""
    out = []
    for _ in range(width):
        n, r = divmod(n, 26)
        out.append(chr(ord("a") + r))
    return "".join(reversed(out))


# --- servers ----------------------------------------------------------------------------------
def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise HarnessError("redis-server is not installed: the fault suite needs it")
    return found


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found and shutil.which("initdb"):
        found = [str(shutil.which("initdb"))]
    if not found:
        raise HarnessError("PostgreSQL's initdb is not installed: the fault suite needs it")
    return Path(found[-1]).parent


class RedisServer:
    """A private ``redis-server`` without persistence: a restart loses every key."""

    def __init__(self, workdir: Path) -> None:
        self.binary = redis_binary()
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._log = (self.dir / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        _wait_port(self.port, 10)

    def kill(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(10)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        self.kill()
        self.start()


class PostgresCluster:
    """A throwaway PostgreSQL cluster owned by the ``postgres`` OS user (trust auth)."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="linli-faults-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.running = False
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, check=check, timeout=120)

    def init(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "postgres.log"),
            "-w",
            "start",
        )
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
        self.running = False

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    async def create_database(self, name: str) -> str:
        conn = await asyncpg.connect(self.dsn(), timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.dsn(name)

    def close(self) -> None:
        """Stop the cluster whatever state it is in and delete its files."""
        if self.data.exists():
            self._run(
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "stop",
                check=False,
            )
            pid_file = self.data / "postmaster.pid"
            if pid_file.exists():
                with contextlib.suppress(ValueError, OSError):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        self.running = False
        shutil.rmtree(self.root, ignore_errors=True)


# --- the WeChat API stand-in ----------------------------------------------------------------
@dataclass(frozen=True)
class Push:
    at: float
    to: str
    text: str


class StandIn:
    """api.weixin.qq.com and qyapi.weixin.qq.com on loopback, in a thread of its own so a busy
    load client never delays its answers. Logs every customer-service message (``pushes``)
    and staff-robot post (``alerts``)."""

    def __init__(self, robot_delay_s: float = 0.0) -> None:
        self.port = free_port()
        self.robot_delay_s = robot_delay_s
        """The group robot answers this late (it has the message already: a slow network)."""
        self.pushes: list[Push] = []
        self.alerts: list[Push] = []
        self.unexpected: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _app(self) -> web.Application:
        async def token(request: web.Request) -> web.Response:
            return web.json_response({"access_token": "FAULT-TOKEN", "expires_in": 7200})

        async def custom_send(request: web.Request) -> web.Response:
            body = await request.json()
            self.pushes.append(Push(time.monotonic(), body["touser"], body["text"]["content"]))
            return web.json_response({"errcode": 0, "errmsg": "ok"})

        async def robot(request: web.Request) -> web.Response:
            body = await request.json()
            content = body.get("text", body.get("markdown", {})).get("content", "")
            self.alerts.append(Push(time.monotonic(), request.query.get("key", ""), content))
            if self.robot_delay_s:
                await asyncio.sleep(self.robot_delay_s)
            return web.json_response({"errcode": 0, "errmsg": "ok"})

        async def other(request: web.Request) -> web.Response:
            self.unexpected.append(request.path)
            return web.json_response({"errcode": 0, "errmsg": "ok"})

        app = web.Application()
        app.router.add_get("/cgi-bin/token", token)
        app.router.add_post("/cgi-bin/message/custom/send", custom_send)
        app.router.add_post("/cgi-bin/webhook/send", robot)
        app.router.add_route("*", "/{tail:.*}", other)
        return app

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            runner = web.AppRunner(self._app(), access_log=None)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="wechat stand-in", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise HarnessError("the WeChat stand-in did not start")

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = None
        self._thread = None


# --- the bot's workers --------------------------------------------------------------------------
def write_config(path: Path, standin: StandIn) -> Path:
    path.write_text(
        f"""\
reply_budget_s = 4.0
handoff_wait_s = 86400
handoff_after_fallbacks = 1000
group_robot_per_minute = 100000
outbound_backoff_s = 0.2
wechat_api_base = "{standin.url}"
wecom_api_base = "{standin.url}"

[channels.wechat_mp.{ACCOUNT}]
token = "{MP_TOKEN}"
encoding_aes_key = "{MP_KEY}"
app_id = "{MP_APPID}"
app_secret = "fault-suite-secret"
committee = "{COMMITTEE}"

[committees.{COMMITTEE}]
staff_robot_key = "{ROBOT_KEY}"
""",
        encoding="utf-8",
    )
    return path


class Worker:
    """One ``linli serve`` process."""

    def __init__(self, name: str, env: dict[str, str], log_path: Path, source: Path) -> None:
        self.name = name
        self.source = source
        self.port = free_port()
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        # ``python -m bot.cli`` is ``linli``; run from ``source`` it uses that tree's code.
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=self.source,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    async def wait_healthy(self, timeout_s: float = 240.0) -> None:
        deadline = time.monotonic() + timeout_s
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc is None or self.proc.poll() is not None:
                    raise HarnessError(
                        f"worker {self.name} exited at start; the end of its log:\n"
                        + self.log_tail()
                    )
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(
                        f"{self.url}/healthz", timeout=aiohttp.ClientTimeout(total=2)
                    ) as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.25)
        raise HarnessError(f"worker {self.name} not healthy after {timeout_s} s")

    async def first_health(self, timeout_s: float = 60.0) -> tuple[int, dict[str, Any]]:
        """The first ``/healthz`` answer once the worker listens (status and body), polled
        every 50 ms."""
        deadline = time.monotonic() + timeout_s
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc is None or self.proc.poll() is not None:
                    raise HarnessError(f"worker {self.name} exited:\n" + self.log_tail())
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(
                        f"{self.url}/healthz", timeout=aiohttp.ClientTimeout(total=2)
                    ) as resp:
                        return resp.status, await resp.json()
                await asyncio.sleep(0.05)
        raise HarnessError(f"worker {self.name} not listening after {timeout_s} s")

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def kill9(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._close_log()

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(40)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(10)
            self.proc = None
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class Stack:
    """One scenario's stores, stand-in and two workers."""

    workdir: Path
    postgres: PostgresCluster
    database: str
    redis: RedisServer
    standin: StandIn
    workers: list[Worker]

    @property
    def dsn(self) -> str:
        return self.postgres.dsn(self.database)

    async def flush_redis(self) -> None:
        client = redis_async.Redis.from_url(self.redis.url)
        try:
            await client.flushall()
        finally:
            await client.aclose()


class FaultEnv:
    """The session-wide part: the PostgreSQL cluster and the shared NLU models and indexes
    (trained and built by the first worker, loaded by every later one)."""

    def __init__(
        self, workdir: Path, source: Path = ROOT, models: tuple[Path, Path] | None = None
    ) -> None:
        """``models``: the models and index directories to share with others (the test run's,
        trained once for every app of the run); by default the workers' own under
        ``workdir``."""
        self.workdir = workdir
        self.source = source
        """The tree whose ``bot`` package, knowledge and intents the workers run."""
        redis_binary()  # fail early and clearly when a binary is missing
        self.postgres = PostgresCluster()
        self.models, self.index = models or (workdir / "models", workdir / "index")
        self._stacks = 0

    def start(self) -> None:
        self.postgres.init()
        self.postgres.start()

    def close(self) -> None:
        self.postgres.close()

    def worker_env(
        self, stack_dir: Path, name: str, redis_url: str, dsn: str, config: Path
    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
        env.update(
            {
                "LINLI_CONFIG": str(config),
                "LINLI_DATABASE_URL": dsn.replace("postgresql://", "postgresql+asyncpg://"),
                "LINLI_REDIS_URL": redis_url,
                "LINLI_DATA_DIR": str(stack_dir / f"data-{name}"),
                "LINLI_MODELS_DIR": str(self.models),
                "LINLI_INDEX_DIR": str(self.index),
                "LINLI_LOG_JSON": "true",
                "LINLI_LOG_LEVEL": "INFO",
                "PYTHONPATH": str(self.source),
                "OMP_NUM_THREADS": "1",
                "OPENBLAS_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1",
            }
        )
        return env

    @contextlib.asynccontextmanager
    async def stack(self, name: str, robot_delay_s: float = 0.0) -> Any:
        """Fresh database, Redis, stand-in and two healthy workers; all stopped on exit,
        whatever happened inside."""
        self._stacks += 1
        stack_dir = self.workdir / f"{self._stacks:02d}-{name}"
        stack_dir.mkdir(parents=True, exist_ok=True)
        database = f"faults_{name}_{uuid.uuid4().hex[:6]}"
        redis = RedisServer(stack_dir / "redis")
        standin = StandIn(robot_delay_s)
        workers: list[Worker] = []
        try:
            if not self.postgres.running:
                self.postgres.start()
            await self.postgres.create_database(database)
            redis.start()
            standin.start()
            config = write_config(stack_dir / "linli.toml", standin)
            for label in ("a", "b"):
                env = self.worker_env(
                    stack_dir, label, redis.url, self.postgres.dsn(database), config
                )
                worker = Worker(label, env, stack_dir / f"worker-{label}.log", self.source)
                workers.append(worker)
                worker.start()
                # One at a time: the first migrates the database and builds the models.
                await worker.wait_healthy()
            yield Stack(stack_dir, self.postgres, database, redis, standin, workers)
        finally:
            for worker in workers:
                worker.stop()
            standin.stop()
            redis.kill()
            if not self.postgres.running:
                self.postgres.start()


# --- the load client ------------------------------------------------------------------------------
@dataclass
class Attempt:
    worker: str
    started: float
    ended: float
    status: int | str
    """HTTP status, ``timeout`` or ``refused``/``error``."""


@dataclass
class Sent:
    """One inbound message (one MsgId) and everything the client saw of it."""

    msg_id: str
    resident: str
    text: str
    kind: str
    phase: str
    first_sent: float
    attempts: list[Attempt] = field(default_factory=list)
    acked_at: float | None = None
    passive: str | None = None
    """The decrypted passive reply of the acknowledging attempt (None: ``success``/empty)."""
    replays: list[Attempt] = field(default_factory=list)
    replay_passive: list[str] = field(default_factory=list)

    @property
    def acked(self) -> bool:
        return self.acked_at is not None


class LoadClient:
    def __init__(
        self, stack: Stack, scenario_no: int, *, seed: int = 11, lost_responses: float = 0.0
    ) -> None:
        self.stack = stack
        self.lost_responses = lost_responses
        """Share of answers dropped on their way back (the client then retries like WeChat)."""
        self._net = random.Random(seed)
        self.retry_due = 0
        """Processed messages whose answer was lost and whose retry is still to come."""
        self.sent: list[Sent] = []
        self._scenario = scenario_no
        self._counter = 0
        self._seed = seed
        self._session: aiohttp.ClientSession | None = None
        self._episode = 0
        self._milestones: dict[int, asyncio.Event] = {}
        self.inflight: Counter[str] = Counter()
        """Callbacks waiting for an answer, per worker."""
        self.t0 = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self.t0

    async def __aenter__(self) -> LoadClient:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, force_close=True)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    def resident_id(self, i: int) -> str:
        return f"oFault{self._scenario:02d}r{i:03d}{'x' * 13}"[:28]

    def new_msg_id(self) -> str:
        self._counter += 1
        return str(6_900_000_000_000_000_000 + self._scenario * 10_000_000 + self._counter)

    async def _attempt(self, worker: Any, openid: str, xml: str) -> tuple[Attempt, str | None]:
        assert self._session is not None
        nonce = str(random.randrange(10**8, 10**9))
        query, body = safe_request(xml, nonce=nonce)
        query["openid"] = openid
        started = self.now()
        status: int | str
        text: str | None = None
        self.inflight[worker.name] += 1
        try:
            async with self._session.post(
                f"{worker.url}/wechat/mp/{ACCOUNT}",
                params=query,
                data=body.encode(),
                timeout=aiohttp.ClientTimeout(total=CALLBACK_TIMEOUT_S),
            ) as resp:
                raw = await resp.text()
                status = resp.status
                if status == 200:
                    text = raw
        except TimeoutError:
            status = "timeout"
        except aiohttp.ClientConnectorError:
            status = "refused"
        except aiohttp.ClientError:
            status = "error"
        finally:
            self.inflight[worker.name] -= 1
        return Attempt(worker.name, started, self.now(), status), text

    async def deliver(self, sent: Sent, first_worker: int, *, replay: bool = False) -> None:
        """Send one callback with WeChat's retries until a worker answers 200."""
        created = int(time.time())
        content = f"<Content><![CDATA[{sent.text}]]></Content>"
        xml = mp_xml("text", content, msg_id=sent.msg_id, created=created, openid=sent.resident)
        workers = self.stack.workers
        for n in range(RETRIES + 1):
            worker = workers[(first_worker + n) % len(workers)]
            attempt, body = await self._attempt(worker, sent.resident, xml)
            (sent.replays if replay else sent.attempts).append(attempt)
            if (
                body is not None
                and not replay
                and n < RETRIES
                and self._net.random() < self.lost_responses
            ):
                # The answer got lost on its way back: WeChat saw no answer within 5 s and
                # retries, so the message must not be processed (or answered) twice.
                attempt.status = "answer lost"
                body = None
                self.retry_due += 1
            if body is not None:
                reply = _open_reply(body)
                if replay:
                    if reply:
                        sent.replay_passive.append(reply)
                else:
                    sent.acked_at = attempt.ended
                    sent.passive = reply
                return
            if n < RETRIES:
                # WeChat retries at once after a timeout; a fast failure waits out the 5 s.
                await asyncio.sleep(max(0.0, attempt.started + CALLBACK_TIMEOUT_S - self.now()))
                if attempt.status == "answer lost":
                    self.retry_due -= 1

    def reached(self, n: int) -> asyncio.Event:
        """Set once ``n`` messages were sent."""
        event = self._milestones.setdefault(n, asyncio.Event())
        if len(self.sent) >= n:
            event.set()
        return event

    async def say(self, openid: str, text: str, kind: str, first_worker: int, phase: str) -> Sent:
        sent = Sent(self.new_msg_id(), openid, text, kind, phase, self.now())
        self.sent.append(sent)
        for n, event in self._milestones.items():
            if len(self.sent) >= n:
                event.set()
        await self.deliver(sent, first_worker)
        if sent.acked and sent.passive is None:
            # Acknowledged with "success": a resident waits a little for the late reply.
            await self._wait_push(openid, sent.acked_at or 0.0, 6.0)
        return sent

    async def _wait_push(self, openid: str, after: float, limit_s: float) -> None:
        deadline = self.now() + limit_s
        while self.now() < deadline:
            if any(p.to == openid and p.at - self.t0 >= after for p in self.stack.standin.pushes):
                return
            await asyncio.sleep(0.1)

    def script(self, i: int, rng: random.Random) -> list[tuple[str, str]]:
        """One episode of resident ``i``: FAQ questions, a repair report over several turns,
        a status query, and now and then an emergency."""
        self._episode += 1
        marker = letters(self._scenario * 100_000 + self._episode)
        compound = COMPOUNDS[(i + self._episode) % len(COMPOUNDS)]
        kind = rng.random()
        if kind < 0.07:
            text = EMERGENCIES[self._episode % len(EMERGENCIES)].format(
                c=compound, b=rng.randint(1, 30)
            )
            return [(f"{text}（编号{marker}）", "emergency")]
        if kind < 0.45:
            return [
                ("我要报修", "repair"),
                (f"{PROBLEMS[i % len(PROBLEMS)]}（编号{marker}）", "repair"),
                (compound, "repair"),
                (f"{rng.randint(1, 30)}号楼", "repair"),
                (f"{rng.randint(1, 20)}0{rng.randint(1, 4)}室", "repair"),
                ("不用", "repair"),
            ]
        if kind < 0.55:
            return [(STATUS, "status")]
        return [(rng.choice(FAQS), "faq") for _ in range(rng.randint(1, 3))]

    async def resident(self, i: int, stop: Callable[[], bool], phase: str = "load") -> None:
        rng = random.Random(self._seed * 1000 + self._scenario * 100 + i)
        openid = self.resident_id(i)
        turn = i
        while not stop():
            for text, kind in self.script(i, rng):
                if stop():
                    return
                await self.say(openid, text, kind, turn % 2, phase)
                turn += 1
                await asyncio.sleep(rng.uniform(0.3, 1.2))

    async def run(self, residents: int, stop: Callable[[], bool]) -> None:
        """Residents talk until ``stop()`` is true (checked before every message)."""
        await asyncio.gather(*(self.resident(i, stop) for i in range(residents)))

    async def replay(self, residents: int, probes: int) -> None:
        """Every acknowledged MsgId again (same content, same resident, in order), while
        ``probes`` new residents ask FAQ questions to see that new messages are served
        normally meanwhile."""
        by_resident: dict[str, list[Sent]] = defaultdict(list)
        for s in self.sent:
            if s.acked and s.phase == "load":
                by_resident[s.resident].append(s)
        done = asyncio.Event()

        async def one(i: int) -> None:
            for n, s in enumerate(by_resident.get(self.resident_id(i), [])):
                await self.deliver(s, (i + n) % 2, replay=True)

        async def probe(i: int) -> None:
            rng = random.Random(i)
            openid = self.resident_id(i)
            n = 0
            while not done.is_set() or n < 8:
                await self.say(openid, rng.choice(FAQS), "faq", (i + n) % 2, "after")
                n += 1
                await asyncio.sleep(rng.uniform(0.3, 1.2))

        probing = [asyncio.create_task(probe(residents + i)) for i in range(probes)]
        try:
            await asyncio.gather(*(one(i) for i in range(residents)))
        finally:
            done.set()
            await asyncio.gather(*probing)


def _open_reply(body: str) -> str | None:
    stripped = body.strip()
    if stripped in {"", "success"}:
        return None
    return open_safe_reply(stripped).get("Content", "")


# --- counting -----------------------------------------------------------------------------------
@dataclass
class Report:
    name: str
    messages: int = 0
    acked: int = 0
    rejected: int = 0
    """Never acknowledged (every attempt failed): WeChat gave up and told the resident."""
    processed: int = 0
    lost: int = 0
    lost_ids: list[str] = field(default_factory=list)
    duplicated_replies: int = 0
    duplicated_turns: int = 0
    duplicated_tickets: int = 0
    duplicated_alerts: int = 0
    undelivered: int = 0
    """Processed with a reply that never reached the resident."""
    missed_alerts: int = 0
    retried: int = 0
    """Messages that needed more than one callback (the fault or a lost answer showed)."""
    answered_late: int = 0
    """Acknowledged with ``success``, answered through the customer-service API."""
    replayed: int = 0
    apologies: int = 0
    recovered_s: float | None = None
    fault_start: float | None = None
    fault_end: float | None = None
    load_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def duplicated(self) -> int:
        return (
            self.duplicated_replies
            + self.duplicated_turns
            + self.duplicated_tickets
            + self.duplicated_alerts
        )

    @property
    def anomalies(self) -> bool:
        return bool(
            self.lost
            or self.duplicated
            or self.apologies
            or self.undelivered
            or self.missed_alerts
            or self.recovered_s is None
        )

    def summary(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "apologies": self.apologies,
            "recovered_s": None if self.recovered_s is None else round(self.recovered_s, 1),
            "detail": {
                "acked": self.acked,
                "rejected": self.rejected,
                "processed": self.processed,
                "duplicated_replies": self.duplicated_replies,
                "duplicated_turns": self.duplicated_turns,
                "duplicated_tickets": self.duplicated_tickets,
                "duplicated_alerts": self.duplicated_alerts,
                "undelivered": self.undelivered,
                "missed_alerts": self.missed_alerts,
                "retried": self.retried,
                "answered_late": self.answered_late,
                "replayed": self.replayed,
                "load_s": round(self.load_s, 1),
                "fault_s": None
                if self.fault_start is None
                else [round(self.fault_start, 1), round(self.fault_end or 0.0, 1)],
                "lost_ids": self.lost_ids[:50],
                "notes": self.notes,
            },
        }


SILENT = {"", "none", "human"}


async def _fetch(dsn: str) -> tuple[list[Any], list[Any], list[Any]]:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        inbound = await conn.fetch(
            "SELECT external_id, sender_id, outcome FROM messages "
            "WHERE direction = 'in' AND channel = 'wechat_mp' AND account = $1",
            ACCOUNT,
        )
        outbound = await conn.fetch(
            "SELECT id, chat_id, created_at, text, kind, delivery FROM messages "
            "WHERE direction = 'out' AND channel = 'wechat_mp' AND account = $1 ORDER BY id",
            ACCOUNT,
        )
        tickets = await conn.fetch(
            "SELECT number, reporter_sender_id, description, source_key, category, created_at "
            "FROM tickets ORDER BY id"
        )
    finally:
        await conn.close()
    return list(inbound), list(outbound), list(tickets)


async def unsettled(stack: Stack, client: LoadClient) -> int:
    """Acknowledged messages without an outcome yet, and late replies still pending (their
    sender is at it, or died and recovery will send them); 0: everything was processed and
    every late reply's send has come back."""
    inbound, outbound, _ = await _fetch(stack.dsn)
    outcome = {r["external_id"]: r["outcome"] for r in inbound}
    pending = sum(1 for r in outbound if r["delivery"] == "pending")
    return pending + sum(1 for s in client.sent if s.acked and not outcome.get(s.msg_id))


async def settle(stack: Stack, client: LoadClient, grace_s: float) -> None:
    """Wait until every acknowledged message has an outcome and no late reply is pending (or
    ``grace_s`` ran out), then a little longer for alerts to arrive."""
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            if await unsettled(stack, client) == 0:
                break
        except (OSError, asyncpg.PostgresError):
            pass
        await asyncio.sleep(1.0)
    await asyncio.sleep(3.0)


async def count(stack: Stack, client: LoadClient, report: Report, *, window: int = 8) -> Report:
    """Fill ``report`` from the database, the stand-in's log and the client's observations."""
    inbound, outbound, tickets = await _fetch(stack.dsn)
    sent = client.sent
    ids = {s.msg_id for s in sent}
    residents = {s.resident for s in sent}
    outcome = {r["external_id"]: r["outcome"] for r in inbound if r["external_id"] in ids}
    report.messages = len(sent)
    report.acked = sum(1 for s in sent if s.acked)
    report.rejected = report.messages - report.acked
    report.retried = sum(1 for s in sent if len(s.attempts) > 1)
    report.answered_late = sum(1 for s in sent if s.acked and s.passive is None)
    report.replayed = sum(1 for s in sent if s.replays)
    report.processed = sum(1 for s in sent if outcome.get(s.msg_id))
    lost = [s.msg_id for s in sent if s.acked and not outcome.get(s.msg_id)]
    report.lost, report.lost_ids = len(lost), lost

    # Replies recorded per processing: record_outbound writes all replies of one message with
    # one timestamp, so one (resident, created_at) group is one processing.
    groups: dict[tuple[str, Any], list[str]] = defaultdict(list)
    for row in outbound:
        if row["chat_id"] in residents and row["kind"] != "notice":
            groups[(row["chat_id"], row["created_at"])].append(row["text"])
    group_count: Counter[str] = Counter(chat for chat, _ in groups)
    answered: Counter[str] = Counter(
        s.resident for s in sent if outcome.get(s.msg_id, "") not in SILENT
    )
    report.duplicated_turns = sum(max(0, group_count[r] - answered[r]) for r in residents)

    # Deliveries: the acknowledging passive reply of each message plus every active message
    # (news Linli starts itself, ``notice`` rows, are not answers to a message).
    delivered: Counter[str] = Counter(s.resident for s in sent if s.passive)
    notices = {row["text"] for row in outbound if row["kind"] == "notice"}
    pushes = [p for p in stack.standin.pushes if p.to in residents and p.text not in notices]
    delivered.update(p.to for p in pushes)
    report.duplicated_replies = sum(max(0, delivered[r] - answered[r]) for r in residents)
    report.undelivered = sum(max(0, answered[r] - delivered[r]) for r in residents)

    apology_groups = sum(1 for texts in groups.values() if any(APOLOGY_MARK in t for t in texts))
    apology_seen = sum(1 for s in sent if s.passive and APOLOGY_MARK in s.passive) + sum(
        1 for p in pushes if APOLOGY_MARK in p.text
    )
    report.apologies = max(apology_groups, apology_seen)

    mine = [t for t in tickets if t["reporter_sender_id"] in residents]
    # Each report (repair problem, emergency) carries a marker of its own: one ticket each.
    # Only the description's first line counts: a handoff ticket quotes the conversation.
    by_description = Counter(
        (t["reporter_sender_id"], m)
        for t in mine
        for m in set(MARKER.findall(t["description"].split("\n", 1)[0]))
    )
    by_source = Counter(t["source_key"] for t in mine if t["source_key"])
    report.duplicated_tickets = sum(n - 1 for n in by_description.values() if n > 1) + sum(
        n - 1 for n in by_source.values() if n > 1
    )
    alert_markers = Counter(m for a in stack.standin.alerts for m in MARKER.findall(a.text))
    report.duplicated_alerts = sum(n - 1 for n in alert_markers.values() if n > 1)
    emergencies = {
        m
        for s in sent
        if s.kind == "emergency" and outcome.get(s.msg_id) in {"emergency", "crisis"}
        for m in MARKER.findall(s.text)
    }
    report.missed_alerts = len(emergencies - set(alert_markers))
    report.recovered_s = _recovery(client, report, outcome, window)

    suspects = {s.resident for s in sent if s.msg_id in set(lost)}
    suspects |= {r for r in residents if group_count[r] > answered[r]}
    suspects |= {r for r in residents if delivered[r] != answered[r]}
    suspects |= {r for (r, _), n in by_description.items() if n > 1}
    suspects |= {t["reporter_sender_id"] for t in mine if by_source[t["source_key"]] > 1}
    doubled = {m for m, n in alert_markers.items() if n > 1}
    suspects |= {s.resident for s in sent if doubled & set(MARKER.findall(s.text))}
    if suspects:
        path = await _evidence(stack, client, sorted(suspects))
        report.notes.append(f"the conversations behind every anomaly: {path.name}")
    return report


async def _evidence(stack: Stack, client: LoadClient, residents: list[str]) -> Path:
    """Everything about the residents behind an anomaly, as JSON (kept with the logs)."""
    conn = await asyncpg.connect(stack.dsn, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT * FROM messages WHERE chat_id = ANY($1::text[]) ORDER BY id", residents
        )
        tickets = await conn.fetch(
            "SELECT * FROM tickets WHERE reporter_sender_id = ANY($1::text[]) ORDER BY id",
            residents,
        )
    finally:
        await conn.close()
    out: dict[str, Any] = {}
    for r in residents:
        markers = {m for s in client.sent if s.resident == r for m in MARKER.findall(s.text)}
        out[r] = {
            "sent": [
                {
                    "msg_id": s.msg_id,
                    "text": s.text,
                    "first_sent": round(s.first_sent, 3),
                    "attempts": [vars(a) for a in s.attempts],
                    "acked_at": s.acked_at,
                    "passive": s.passive,
                    "replays": [vars(a) for a in s.replays],
                    "replay_passive": s.replay_passive,
                }
                for s in client.sent
                if s.resident == r
            ],
            "pushes": [
                {"at": round(p.at - client.t0, 3), "text": p.text}
                for p in stack.standin.pushes
                if p.to == r
            ],
            "rows": [
                {k: str(v) for k, v in dict(row).items()} for row in rows if row["chat_id"] == r
            ],
            "tickets": [
                {k: str(v) for k, v in dict(t).items()}
                for t in tickets
                if t["reporter_sender_id"] == r
            ],
            "staff_alerts": [
                {"at": round(a.at - client.t0, 3), "text": a.text}
                for a in stack.standin.alerts
                if markers & set(MARKER.findall(a.text))
            ],
        }
    path = stack.workdir / "evidence.json"
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def _normal(s: Sent, outcome: dict[str, str]) -> bool:
    """Served as usual: answered by the first attempt within WeChat's 5 s (the answer may then
    be lost on the network, that is no fault of the bot), processed, no apology."""
    if not s.attempts or s.attempts[0].status not in {200, "answer lost"}:
        return False
    if not outcome.get(s.msg_id):
        return False
    return not (s.passive and APOLOGY_MARK in s.passive)


def _recovery(
    client: LoadClient, report: Report, outcome: dict[str, str], window: int
) -> float | None:
    """Seconds from the fault's end to the first message after which every message (by first
    send time) was served normally; None if fewer than ``window`` messages followed the last
    one that was not (the system had not recovered when the load ended)."""
    if report.fault_end is None:
        return None
    after = sorted(
        (s for s in client.sent if s.first_sent >= report.fault_end and s.phase != "replay"),
        key=lambda s: s.first_sent,
    )
    bad = [n for n, s in enumerate(after) if not _normal(s, outcome)]
    start = bad[-1] + 1 if bad else 0
    if len(after) - start < window:
        return None
    return max(0.0, after[start].first_sent - report.fault_end) if bad else 0.0


# --- scenarios ------------------------------------------------------------------------------------
@dataclass
class Plan:
    """How long a scenario's load runs: until ``messages`` were sent and ``after_fault_s``
    passed since the fault ended, but never longer than ``max_s``. The fault starts after
    ``fault_at_s`` or once ``fault_at_messages`` were sent, whichever comes first."""

    residents: int = 20
    messages: int = 300
    max_s: float = 60.0
    fault_at_s: float = 12.0
    fault_at_messages: int = 120
    after_fault_s: float = 15.0
    grace_s: float = 25.0
    kill_down_s: float = 3.0
    pg_down_s: float = 15.0
    probes_during_replay: int = 3
    lost_responses: float = 0.05
    robot_delay_s: float = 0.0
    """How late the staff-group robot answers (it has the alert at once)."""
    """Share of answers lost on the way back to WeChat (so it retries a processed message)."""


SCENARIOS = ("kill9", "redis_restart", "postgres_outage", "replay_after_flush")


async def _busy(client: LoadClient, ready: Callable[[], bool], limit_s: float) -> None:
    """Wait (up to ``limit_s``) until ``ready()``, so the fault hits messages mid-way."""
    deadline = client.now() + limit_s
    while client.now() < deadline:
        if ready():
            return
        await asyncio.sleep(0.02)


async def _kill9(stack: Stack, client: LoadClient, plan: Plan, report: Report) -> None:
    victim = stack.workers[1]
    await _busy(client, lambda: client.inflight[victim.name] >= 3, 10.0)
    report.fault_start = client.now()
    victim.kill9()
    await asyncio.sleep(plan.kill_down_s)
    victim.start()
    await victim.wait_healthy()
    report.fault_end = client.now()


async def _redis_restart(stack: Stack, client: LoadClient, plan: Plan, report: Report) -> None:
    # Callbacks in flight, and answered ones whose answer was lost: WeChat's retries of those
    # reach a Redis that has forgotten them.
    await _busy(client, lambda: client.retry_due >= 2 and sum(client.inflight.values()) >= 3, 15.0)
    report.fault_start = client.now()
    await asyncio.to_thread(stack.redis.restart)
    report.fault_end = client.now()


async def _postgres_outage(stack: Stack, client: LoadClient, plan: Plan, report: Report) -> None:
    await _busy(client, lambda: sum(client.inflight.values()) >= 4, 10.0)
    report.fault_start = client.now()
    await asyncio.to_thread(stack.postgres.stop, "fast")
    await asyncio.sleep(plan.pg_down_s)
    await asyncio.to_thread(stack.postgres.start)
    report.fault_end = client.now()


FAULTS: dict[str, Callable[[Stack, LoadClient, Plan, Report], Awaitable[None]]] = {
    "kill9": _kill9,
    "redis_restart": _redis_restart,
    "postgres_outage": _postgres_outage,
}


async def run_scenario(env: FaultEnv, name: str, plan: Plan, scenario_no: int) -> Report:
    """Run one scenario on a fresh stack and count. Everything started is stopped on return."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}")
    report = Report(name)
    async with (
        env.stack(name, plan.robot_delay_s) as stack,
        LoadClient(stack, scenario_no, lost_responses=plan.lost_responses) as client,
    ):

        def stop() -> bool:
            if client.now() >= plan.max_s:
                return True
            if len(client.sent) < plan.messages:
                return False
            if name == "replay_after_flush":
                return True
            return report.fault_end is not None and client.now() >= (
                report.fault_end + plan.after_fault_s
            )

        if name == "replay_after_flush":
            await client.run(plan.residents, stop)
            await settle(stack, client, plan.grace_s)
            report.fault_start = client.now()
            await stack.flush_redis()
            report.fault_end = client.now()
            await client.replay(plan.residents, plan.probes_during_replay)
        else:
            load = asyncio.create_task(client.run(plan.residents, stop))
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        client.reached(plan.fault_at_messages).wait(), plan.fault_at_s
                    )
                await FAULTS[name](stack, client, plan, report)
            finally:
                await load
        report.load_s = client.now()
        await settle(stack, client, plan.grace_s)
        await count(stack, client, report)
        if stack.standin.unexpected:
            report.notes.append(f"unexpected API calls: {sorted(set(stack.standin.unexpected))}")
        if report.anomalies:
            kept = ROOT / "var" / "faults" / f"{time.strftime('%Y%m%dT%H%M%S')}-{name}"
            shutil.copytree(stack.workdir, kept, ignore=shutil.ignore_patterns("data-*", "redis"))
            report.notes.append(f"logs and evidence kept in {kept}")
    return report
