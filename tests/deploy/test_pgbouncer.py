"""Many workers share PostgreSQL through PgBouncer in transaction pooling (``deploy/``): a real
PgBouncer (Debian's, installed by ``.ci/system-deps``) with only two server connections in
front of the test database. With ``db_pgbouncer`` on, the bot works through it under
concurrent residents; without it, asyncpg's cached prepared statements collide on the shared
server connections, which is why the setting exists."""

from __future__ import annotations

import asyncio
import configparser
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from conversation_helpers import HOOK, Resident, kinds
from sqlalchemy import text

from bot.app import build_app
from bot.encoders import Encoder
from bot.settings import Settings
from bot.storage.sql.database import Database

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PGBOUNCER = os.environ.get("LINLI_PGBOUNCER", "/usr/sbin/pgbouncer")
SERVER_CONNECTIONS = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def pgbouncer_port() -> Iterator[int]:
    """PgBouncer with ``deploy/pgbouncer.ini`` on a free port, two server connections per
    database, trusting the local ``postgres`` user like the test server does."""
    port = _free_port()
    folder = Path(tempfile.mkdtemp(prefix="linli-pgbouncer-"))
    folder.chmod(0o755)  # PgBouncer drops root privileges to the postgres user
    (folder / "users.txt").write_text('"postgres" ""\n', encoding="utf-8")
    # The shipped settings, pointed at the test server with its trust authentication.
    config = configparser.ConfigParser(interpolation=None)
    config.read(DEPLOY / "pgbouncer.ini", encoding="utf-8")
    assert config["pgbouncer"]["pool_mode"] == "transaction"
    config["databases"] = {"*": "host=127.0.0.1 port=5432"}
    config["pgbouncer"].update(
        listen_addr="127.0.0.1",
        listen_port=str(port),
        auth_type="trust",
        auth_file=str(folder / "users.txt"),
        default_pool_size=str(SERVER_CONNECTIONS),
        reserve_pool_size="0",
    )
    ini = folder / "pgbouncer.ini"
    with ini.open("w", encoding="utf-8") as out:
        config.write(out)
    for path in folder.iterdir():
        path.chmod(0o644)
    command = [PGBOUNCER, str(ini)]
    if os.getuid() == 0:
        command[1:1] = ["-u", "postgres"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise RuntimeError(f"PgBouncer did not start: {err}") from None
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def through_pgbouncer(pg_database: str, pgbouncer_port: int) -> str:
    """The test database's URL, reached through PgBouncer."""
    head, name = pg_database.rsplit("/", 1)
    host = head.rsplit("@", 1)[0]
    return f"{host}@127.0.0.1:{pgbouncer_port}/{name}"


async def _server_connections(pg_database: str) -> int:
    """Server connections to the test database other than this check's own."""
    conn = await asyncpg.connect(pg_database.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return count
    finally:
        await conn.close()


async def _busy(db: Database, n: int) -> list[BaseException | None]:
    """``n`` concurrent units of work, each running a few different statements."""

    async def one(i: int) -> None:
        async with db.session() as s:
            await s.execute(text("SELECT :i + 1"), {"i": i})
            await s.execute(text("SELECT count(*) FROM alembic_version"))
            await s.execute(text("SELECT :t || 'x'"), {"t": str(i)})

    results = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
    return [r if isinstance(r, BaseException) else None for r in results]


async def test_statements_survive_shared_server_connections(through_pgbouncer: str) -> None:
    plain = Database.connect(through_pgbouncer, pool_connections=20)
    bounced = Database.connect(through_pgbouncer, pool_connections=20, pgbouncer=True)
    try:
        await bounced.migrate()
        for _ in range(3):  # statements are reused from the second round on
            errors = [e for e in await _busy(bounced, 60) if e is not None]
            assert errors == []
        # The reason for the setting: statements cached per client connection are missing
        # or already taken on the server connection PgBouncer hands out next time.
        collisions = []
        for _ in range(3):
            collisions += [e for e in await _busy(plain, 60) if e is not None]
        assert collisions, "expected prepared-statement errors without db_pgbouncer"
        assert all("prepared statement" in str(e) for e in collisions)
    finally:
        await plain.close()
        await bounced.close()


@pytest.fixture
async def bot(
    settings_factory: Callable[..., Settings],
    encoder: Encoder,
    through_pgbouncer: str,
    redis_url: str,
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """A bot worker on PostgreSQL (through PgBouncer) + Redis, its pool (20 client
    connections) larger than PgBouncer's two server connections."""
    config: dict[str, Any] = {
        "database_url": through_pgbouncer,
        "db_pgbouncer": True,
        "redis_url": redis_url,
        "reply_budget_s": 30.0,
        "handoff_around_the_clock": True,
        "channels": {"webhook": {"tokens": [HOOK], "committee": "puxiong"}},
    }
    app = await build_app(settings_factory(**config), encoder=encoder)
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def test_every_resident_is_answered_through_pgbouncer(
    bot: TestClient[web.Request, web.Application], pg_database: str
) -> None:
    questions = ["湿垃圾几点扔", "大件垃圾怎么扔", "敬老卡怎么办", "电瓶车能在楼道充电吗"]
    residents = [Resident(bot, sender=f"r{i}", name=f"居民{i}") for i in range(40)]
    replies = await asyncio.gather(
        *(r.say(questions[i % len(questions)]) for i, r in enumerate(residents))
    )
    assert all(data["replies"] for data in replies)
    assert not any("error" in k for data in replies for k in kinds(data))
    # A ticket goes through the same connections (a longer unit of work with row locks).
    ticket = await Resident(bot, sender="t1").say("我要报修，普陀一村3号楼楼道灯坏了")
    assert ticket["replies"]
    conn = await asyncpg.connect(pg_database.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        senders = [r.sender for r in residents] + ["t1"]
        inbound = await conn.fetchval(
            "SELECT count(*) FROM messages WHERE direction = 'in' AND sender_id = ANY($1)",
            senders,
        )
    finally:
        await conn.close()
    assert inbound == 41
    # PgBouncer, not the 20 pooled client connections, decides what the server holds.
    assert await _server_connections(pg_database) <= SERVER_CONNECTIONS
