"""Shared fixtures: the two store back-ends (embedded; PostgreSQL + Redis) and settings.

The PostgreSQL and Redis tests talk to the real local servers and fail (never skip) when
they are down: CI must run them."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as redis_async
from aiohttp import web_app
from threadpoolctl import threadpool_limits

from bot.encoders import Encoder, Usem3Encoder
from bot.settings import Settings, load_settings
from bot.storage.sql.models import Base

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
PG_ADMIN = os.environ.get("LINLI_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
"""``gw0``, ``gw1``, … in a pytest-xdist worker (``make pytest`` runs two), else empty."""


def _redis_url(base: str, worker: str) -> str:
    """The Redis database of this process: ``base`` itself, or under pytest-xdist the one
    ``base``'s number minus the worker's (``gw0`` → 15, ``gw1`` → 14 by default): the tests
    flush their database, so parallel workers must not share one."""
    if not worker:
        return base
    head, _, number = base.rpartition("/")
    db = int(number) - int(worker.removeprefix("gw"))
    if db < 0:
        raise pytest.UsageError(f"no Redis database left for worker {worker} below {base}")
    return f"{head}/{db}"


REDIS_BASE = os.environ.get("LINLI_TEST_REDIS", "redis://127.0.0.1:6379/15")
REDIS_URL = _redis_url(REDIS_BASE, XDIST_WORKER)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make pytest``) the fault suite runs on one worker (its servers
    and load are the module's; ``--dist loadgroup``) and first: its scenarios wait much of
    their minute, and the other worker gets through the rest meanwhile."""
    if not XDIST_WORKER:
        return
    faults = [item for item in items if item.nodeid.startswith("tests/faults/")]
    for item in faults:
        item.add_marker(pytest.mark.xdist_group("faults"))
    items[:] = faults + [item for item in items if item not in faults]


@pytest.fixture(autouse=True)
def _release_apps() -> Iterator[None]:
    """aiohttp caches built middleware chains per application in a module-level LRU cache,
    which keeps every test's application (models and indexes included) alive; drop it."""
    yield
    web_app._cached_build_middleware.cache_clear()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; dropped at the end."""
    name = f"linli_test_{uuid.uuid4().hex[:10]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _clean_postgres(url: str) -> None:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        exists = await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
        if exists:
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    client = redis_async.Redis.from_url(REDIS_URL)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture
def spare_redis_url() -> str:
    """A Redis database on the same server that no test worker uses (the workers take the
    base's number and those below it): for a test that needs a second database, which must
    not be a neighbouring worker's (its subscribers would hear what the test publishes)."""
    head, _, number = REDIS_BASE.rpartition("/")
    return f"{head}/{(int(number) + 1) % 16}"


@pytest.fixture(params=["embedded", "services"])
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, pg_database: str
) -> AsyncIterator[dict[str, str]]:
    """Store settings for one back-end: SQLite + in-process, or PostgreSQL + Redis."""
    if request.param == "embedded":
        yield {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'linli.db'}", "redis_url": ""}
        return
    await _clean_postgres(pg_database)
    client = redis_async.Redis.from_url(REDIS_URL)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    yield {"database_url": pg_database, "redis_url": REDIS_URL}


@pytest.fixture(scope="session")
def shared_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """NLU models and FAQ indexes shared by every app of the test run (trained/built once;
    each app still loads them through the real code path). Under pytest-xdist the workers
    share the run's directory: the first to need a model trains it while the others wait
    (``bot.nlu.model.training_lock``), then they load it. ``make pytest`` trains the NLU
    models before the run (``tests/pretrain.py``) and names their folder in
    ``LINLI_TEST_MODELS``: training then counts against no test's timeout."""
    pretrained = os.environ.get("LINLI_TEST_MODELS", "")
    if XDIST_WORKER:  # basetemp is <run>/popen-gwN: its parent is the run's, shared
        root = tmp_path_factory.getbasetemp().parent / "shared-models"
        root.mkdir(exist_ok=True)
    else:
        root = tmp_path_factory.mktemp("shared-models")
    return (Path(pretrained) if pretrained else root / "models"), root / "index"


@pytest.fixture
def settings_factory(tmp_path: Path, shared_models: tuple[Path, Path]) -> object:
    def make(**overrides: object) -> Settings:
        base: dict[str, object] = {
            "data_dir": tmp_path / "var",
            "models_dir": shared_models[0],
            "index_dir": shared_models[1],
            "knowledge_dir": ROOT / "knowledge",
            "intents_dir": ROOT / "intents",
            "log_json": False,
        }
        base.update(overrides)
        return load_settings(None, **base)

    return make


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread() -> Iterator[None]:
    """Two cores here: oversubscribed BLAS threads made an encoder 100x slower."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    """The real USE-m3 encoder, loaded once for every test directory that needs it."""
    enc = Usem3Encoder()
    enc.encode(["预热"])
    return enc
