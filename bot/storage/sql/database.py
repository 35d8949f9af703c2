"""The relational store: one async engine (SQLite via aiosqlite, or PostgreSQL via asyncpg),
migrated with Alembic at start. Connection failures surface as ``StoreUnavailable``."""

from __future__ import annotations

import ast
import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.domain.errors import StoreUnavailable

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

POOL_CONNECTIONS = 20
"""PostgreSQL connections one serving process may hold (the budget per worker): N workers
need N × this plus the CLI's few below the server's ``max_connections`` (100 by default), or
PgBouncer in front. A unit of work is short, so more concurrent messages than connections
queue for at most ``pool_timeout`` instead of opening more."""
IDLE_PING_S = 10.0
"""A pooled connection idle longer than this is pinged at checkout (the database may have
restarted meanwhile); a busy pool is never pinged: a connection that died anyway fails its
unit of work with ``StoreUnavailable`` (the message is recovered) and the pool drops every
connection opened before the failure."""
RECYCLE_S = 1800


def is_unavailable(exc: BaseException) -> bool:
    """True for errors meaning "the database cannot be reached", not "the query is wrong"."""
    if isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class Database:
    def __init__(self, engine: AsyncEngine, *, pgbouncer: bool = False) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.pgbouncer = pgbouncer

    @property
    def single_statements(self) -> bool:
        """Whether ``statement`` may be used: PostgreSQL, straight to the server (behind
        PgBouncer in transaction pooling, a statement prepared outside a transaction may
        land on another server connection than its execution)."""
        return self.engine.dialect.name == "postgresql" and not self.pgbouncer

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @classmethod
    def connect(
        cls, url: str, *, pool_connections: int = POOL_CONNECTIONS, pgbouncer: bool = False
    ) -> Database:
        """Create the engine; nothing is opened until first use. ``pool_connections``: the
        PostgreSQL connections this process may hold (SQLite always has one). ``pgbouncer``:
        the URL points at PgBouncer in transaction pooling, where consecutive transactions of
        one client connection run on different server connections, so no prepared statement
        may outlive its transaction (asyncpg's statement caches are off and every statement
        gets a unique name)."""
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                # One connection: SQLite has one writer anyway, and several connections of one
                # process only fight over its lock ("database is locked" under load, messages
                # lost). Units of work queue here instead, in order, for at most pool_timeout.
                kwargs.update(pool_size=1, max_overflow=0, pool_timeout=30)
        else:
            kwargs.update(
                pool_size=max(1, pool_connections),
                max_overflow=0,
                pool_recycle=RECYCLE_S,
                pool_timeout=20,
                connect_args={"timeout": 5, "command_timeout": 10},
            )
            if pgbouncer:
                kwargs["connect_args"].update(
                    statement_cache_size=0,
                    prepared_statement_cache_size=0,
                    prepared_statement_name_func=_unique_statement_name,
                )
        # Errors must not carry SQL parameters (residents' texts and names) into logs.
        engine = create_async_engine(url, hide_parameters=True, **kwargs)
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(engine.sync_engine, "begin", _sqlite_begin)
        else:
            event.listen(engine.sync_engine.pool, "checkin", _idle_since)
            event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle(engine))
        return cls(engine, pgbouncer=pgbouncer)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work, committed on success; raises StoreUnavailable if the DB is down."""
        try:
            async with self.sessions.begin() as s:
                yield s
        except StoreUnavailable:
            raise
        except Exception as exc:
            if is_unavailable(exc):
                raise StoreUnavailable(f"database unavailable: {exc.__class__.__name__}") from exc
            raise

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """``session`` without the ORM: a transaction on one connection, committed on
        success, for the per-message hot path's Core statements (built once, with bound
        parameters, so their cache keys and compiled forms are reused)."""
        try:
            async with self.engine.begin() as conn:
                yield conn
        except StoreUnavailable:
            raise
        except Exception as exc:
            if is_unavailable(exc):
                raise StoreUnavailable(f"database unavailable: {exc.__class__.__name__}") from exc
            raise

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[Any]:
        """The driver's own connection (asyncpg), outside any transaction, for the hot path's
        few single statements (``single_statements`` only): each runs as its own implicit
        transaction in one round trip, where ``transaction`` costs a BEGIN and a COMMIT
        more, and without SQLAlchemy's execution layer. The connection is the pool's; one
        that failed as unreachable is dropped from the pool, and the failure raises
        ``StoreUnavailable``."""
        try:
            async with self.engine.connect() as conn:
                raw = await conn.get_raw_connection()
                try:
                    yield raw.driver_connection
                except BaseException as exc:
                    if _driver_unavailable(exc):
                        await conn.invalidate()
                    raise
        except StoreUnavailable:
            raise
        except Exception as exc:
            if is_unavailable(exc) or _driver_unavailable(exc):
                raise StoreUnavailable(f"database unavailable: {exc.__class__.__name__}") from exc
            raise

    async def ping(self) -> None:
        async with self.session() as s:
            await s.execute(text("SELECT 1"))

    async def migrate(self, attempts: int = 5) -> None:
        """Bring the schema to the newest Alembic revision (retried while the DB starts)."""
        for attempt in range(attempts):
            try:
                async with self.engine.begin() as conn:
                    await conn.run_sync(_upgrade)
                return
            except Exception as exc:
                if not is_unavailable(exc) or attempt == attempts - 1:
                    if is_unavailable(exc):
                        raise StoreUnavailable(f"database unavailable: {exc}") from exc
                    raise
                await asyncio.sleep(0.2 * 2**attempt)

    async def close(self) -> None:
        await self.engine.dispose()


def _driver_unavailable(exc: BaseException) -> bool:
    """``is_unavailable`` for asyncpg's own errors (raised by ``Database.statement``). A
    connection the server dropped between two statements may also answer the next with an
    ``InternalClientError`` ("cannot switch to state …; another operation is in progress"):
    it is as unusable, and is dropped the same way."""
    return isinstance(
        exc,
        OSError
        | TimeoutError
        | asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        | asyncpg.InternalClientError
        | asyncpg.exceptions.OperatorInterventionError,
    )


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    if _at_head(connection):
        # what Alembic would find, without importing it (and Mako, and Pygments: some
        # 8 MB a worker keeps for good): every worker but the one that migrates
        return
    from alembic import command

    command.upgrade(alembic_config(connection), "head")


def script_heads() -> frozenset[str] | None:
    """The head revisions of the migration scripts, read from their ``revision`` and
    ``down_revision`` lines as Alembic reads them; None when a script has branch labels or
    dependencies, or a line is not a plain literal (then only Alembic can tell)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        found: dict[str, Any] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target: ast.expr | None = node.target if isinstance(node, ast.AnnAssign) else None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
            value = getattr(node, "value", None)
            if isinstance(target, ast.Name) and value is not None:
                try:
                    found[target.id] = ast.literal_eval(value)
                except ValueError:
                    found[target.id] = ...
        revision, down = found.get("revision"), found.get("down_revision")
        if not isinstance(revision, str) or found.get("branch_labels") is not None:
            return None
        if found.get("depends_on") is not None:
            return None
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple) and all(isinstance(d, str) for d in down):
            parents.update(down)
        elif down is not None:
            return None
        revisions.add(revision)
    return frozenset(revisions - parents) or None


def _at_head(connection: Connection) -> bool:
    """Whether the database's ``alembic_version`` holds exactly the scripts' heads."""
    heads = script_heads()
    if heads is None or not inspect(connection).has_table("alembic_version"):
        return False
    current = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
    return frozenset(current) == heads


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"


def _idle_since(_dbapi_conn: Any, record: Any) -> None:
    if record is not None:
        record.info["idle_since"] = time.monotonic()


def _ping_if_idle(engine: AsyncEngine) -> Any:
    """A checkout hook that pings only connections idle longer than ``IDLE_PING_S`` (instead
    of ``pool_pre_ping``'s round trips on every checkout); a failed ping makes the pool open a
    fresh connection."""
    dialect = engine.dialect

    def checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_S:
            return
        try:
            alive = dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError("idle connection failed its ping") from exc
        if not alive:
            raise DisconnectionError("idle connection failed its ping")

    return checkout


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()
    # The driver's own implicit BEGIN is off; ``_sqlite_begin`` opens every transaction.
    dbapi_conn.isolation_level = None


def _sqlite_begin(conn: Connection) -> None:
    """Take the write lock at the start of a unit of work (BEGIN IMMEDIATE): a transaction that
    read first and then writes can otherwise fail at once with SQLITE_BUSY when another process
    (a CLI command beside the server) wrote in between; this way it waits (busy_timeout)."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")
