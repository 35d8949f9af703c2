"""The SQL stores on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from bot.domain import Chat, ChatType, IncomingMessage, Reply, ReplyKind, Sender, StoreUnavailable
from bot.storage.sql import Database, SqlFaqStore, SqlMessageLog
from bot.storage.sql import database as database_module

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def db(backend: dict[str, str]) -> AsyncIterator[Database]:
    database = Database.connect(backend["database_url"])
    await database.migrate()
    await database.migrate()  # idempotent: a second start changes nothing
    yield database
    await database.close()


def _msg(mid: str, text: str = "湿垃圾几点扔") -> IncomingMessage:
    return IncomingMessage(
        message_id=mid,
        channel="webhook",
        account="default",
        committee="puxiong",
        chat=Chat("g-putuoyicun", ChatType.GROUP),
        sender=Sender("u1", "王阿姨"),
        text=text,
    )


async def test_the_conversation_log_keeps_both_sides_in_order(db: Database) -> None:
    log = SqlMessageLog(db)
    first, second = _msg("m1"), _msg("m2", "谢谢 🙏")
    assert await log.record_inbound(first)
    await log.record_outbound(first, [Reply("早上7:00-9:00", ReplyKind.FAQ)], "passive")
    assert await log.record_inbound(second)
    history = await log.conversation(first.conversation_key)
    assert [(m.direction, m.text) for m in history] == [
        ("in", "湿垃圾几点扔"),
        ("out", "早上7:00-9:00"),
        ("in", "谢谢 🙏"),
    ]


async def test_a_retried_message_is_stored_once(db: Database) -> None:
    log = SqlMessageLog(db)
    assert await log.record_inbound(_msg("same"))
    assert not await log.record_inbound(_msg("same"))
    assert len(await log.conversation(_msg("same").conversation_key)) == 1


async def test_faq_changes_are_audited_and_all_or_nothing(db: Database) -> None:
    store = SqlFaqStore(db)
    summary = await store.upsert_many("puxiong", [{"id": "a", "answer": "1"}], "admin")
    assert (summary.created, summary.updated) == (1, 0)
    again = await store.upsert_many(
        "puxiong", [{"id": "a", "answer": "2"}, {"id": "b", "answer": "x"}], "admin"
    )
    assert (again.created, again.updated) == (1, 1)
    with pytest.raises(ValueError, match="duplicate"):
        await store.upsert_many("puxiong", [{"id": "c"}, {"id": "c"}], "admin")
    assert [e["id"] for e in await store.load("puxiong")] == ["a", "b"]
    assert await store.load("other") == []
    assert await store.delete("puxiong", "a", "admin")
    assert not await store.delete("puxiong", "a", "admin")
    assert [e["id"] for e in await store.load("puxiong")] == ["b"]
    history = await store.history("puxiong", "a")
    assert [r.action for r in history] == ["create", "update", "delete"]
    assert history[1].before == {"id": "a", "answer": "1"}
    assert history[1].after == {"id": "a", "answer": "2"}


async def test_a_database_that_is_down_is_reported_as_unavailable() -> None:
    db = Database.connect("postgresql+asyncpg://postgres@127.0.0.1:1/test")
    try:
        with pytest.raises(StoreUnavailable):
            await db.ping()
        with pytest.raises(StoreUnavailable):
            await SqlMessageLog(db).record_inbound(_msg("m"))
    finally:
        await db.close()


async def test_sqlite_runs_in_wal_mode_with_normal_sync_on_one_connection(tmp_path: Path) -> None:
    database = Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}")
    try:
        async with database.session() as s:
            mode = (await s.execute(text("PRAGMA journal_mode"))).scalar()
            sync = (await s.execute(text("PRAGMA synchronous"))).scalar()
        assert mode == "wal"
        assert sync == 1  # NORMAL: durable in WAL mode except for the last commits on power loss
        assert database.engine.pool.size() == 1  # type: ignore[attr-defined]
    finally:
        await database.close()


async def _backend_pid(database: Database) -> int:
    async with database.session() as s:
        return int((await s.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(database_url: str, pid: int) -> None:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


async def test_the_postgresql_pool_holds_its_budget_and_pings_only_idle_connections(
    pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database.connect(pg_database, pool_connections=3)
    pool: Any = database.engine.pool
    assert pool.size() == 3
    assert pool._max_overflow == 0
    assert not pool._pre_ping
    try:
        # A connection used moments ago is not pinged: if the server dropped it meanwhile,
        # one unit of work fails as "unavailable" and the pool starts afresh for the next.
        monkeypatch.setattr(database_module, "IDLE_PING_S", 3600.0)
        pid = await _backend_pid(database)
        await _terminate(pg_database, pid)
        with pytest.raises(StoreUnavailable):
            await _backend_pid(database)
        assert await _backend_pid(database) != pid

        # A connection idle past IDLE_PING_S is pinged at checkout and replaced if dead,
        # so the unit of work never sees it.
        monkeypatch.setattr(database_module, "IDLE_PING_S", 0.0)
        pid = await _backend_pid(database)
        await _terminate(pg_database, pid)
        assert await _backend_pid(database) != pid
    finally:
        await database.close()


async def test_the_hot_path_statements_recover_from_a_dropped_or_cancelled_connection(
    pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The per-message statements on PostgreSQL (``Database.statement``): a connection the
    server dropped fails one message as "unavailable" (retried by the platform), and one
    whose statement was cancelled midway is not handed to the next message."""
    database = Database.connect(pg_database, pool_connections=1)
    await database.migrate()
    log = SqlMessageLog(database)
    run = uuid.uuid4().hex[:8]

    def private(mid: str) -> IncomingMessage:
        return IncomingMessage(
            f"{run}-{mid}",
            "wechat_mp",
            "demo",
            "puxiong",
            Chat(f"o-{run}", ChatType.PRIVATE),
            Sender(f"o-{run}"),
            "居委会几点上班",
        )

    async def stalled() -> None:
        async with database.statement() as conn:
            await conn.fetchval("SELECT pg_sleep(30)")

    try:
        assert database.single_statements
        monkeypatch.setattr(database_module, "IDLE_PING_S", 3600.0)
        await _terminate(pg_database, await _backend_pid(database))
        with pytest.raises(StoreUnavailable):
            await log.claim_inbound(private("m1"), fence=5, lease_s=5)
        assert (await log.claim_inbound(private("m1"), fence=6, lease_s=5)).held

        task = asyncio.create_task(stalled())
        await asyncio.sleep(0.5)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        claimed = await asyncio.wait_for(
            log.claim_inbound(private("m2"), fence=7, lease_s=5), timeout=10
        )
        assert claimed.held
    finally:
        await database.close()


def test_the_scripts_heads_are_alembics() -> None:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(database_module.alembic_config()).get_heads()
    assert database_module.script_heads() == frozenset(heads)


async def test_a_database_at_head_is_left_without_importing_alembic(tmp_path: Path) -> None:
    """Every worker migrates at start; only one behind the scripts needs Alembic (and Mako,
    Pygments: memory a worker would keep). One a revision behind is upgraded."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'head.db'}"
    database = Database.connect(url)
    try:
        await database.migrate()
        async with database.session() as s:
            versions = (await s.execute(text("SELECT version_num FROM alembic_version"))).all()
        assert frozenset(v for (v,) in versions) == database_module.script_heads()
    finally:
        await database.close()
    script = (
        "import asyncio, sys\n"
        "from bot.storage.sql import Database\n"
        "async def main():\n"
        f"    db = Database.connect({url!r})\n"
        "    await db.migrate()\n"
        "    await db.close()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )

    async def run() -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE, cwd=ROOT
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 0
        return out.decode().strip()

    assert await run() == "[]"
    # one revision behind (the newest script undone): upgraded, through Alembic
    from alembic import command
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'head.db'}")
    try:
        with engine.begin() as conn:
            command.downgrade(database_module.alembic_config(conn), "-1")
        with engine.connect() as conn:
            behind = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        assert frozenset(behind) != database_module.script_heads()
        assert "alembic.command" in await run()
        with engine.connect() as conn:
            now = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        assert frozenset(now) == database_module.script_heads()
    finally:
        engine.dispose()
