"""One ``linli serve`` per SQLite file: a second real process on the same data directory
refuses to start with a clear message, and the lock goes with its holder (even kill -9);
``--workers N`` is refused on SQLite and runs N processes on one port on PostgreSQL + Redis."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.storage.sql.guard import DatabaseInUse, hold_sqlite_file, sqlite_path

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("LINLI_TEST_REDIS", "redis://127.0.0.1:6379/15")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _serve(data_dir: Path, log: Path, models: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update(
        LINLI_DATA_DIR=str(data_dir),
        # the run's shared models: a server killed with -9 leaves no training child behind
        LINLI_MODELS_DIR=str(models),
        LINLI_KNOWLEDGE_DIR=str(ROOT / "knowledge"),
        LINLI_INTENTS_DIR=str(ROOT / "intents"),
        LINLI_PORT=str(_free_port()),
        LINLI_LOG_JSON="false",
        OMP_NUM_THREADS="1",
    )
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_for(path: Path, text: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in path.read_text(encoding="utf-8", errors="replace"):
            return
        assert proc.poll() is None, path.read_text(encoding="utf-8", errors="replace")
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not seen in {path}")


def test_a_second_server_on_the_same_sqlite_file_refuses_to_start(
    tmp_path: Path, shared_models: tuple[Path, Path]
) -> None:
    data = tmp_path / "var"
    first = _serve(data, tmp_path / "first.log", shared_models[0])
    try:
        _wait_for(tmp_path / "first.log", "Linli is starting", first, 60)
        second = _serve(data, tmp_path / "second.log", shared_models[0])
        assert second.wait(60) == 3
        said = (tmp_path / "second.log").read_text(encoding="utf-8")
        assert "already serving from the SQLite database" in said
        assert "PostgreSQL and Redis" in said
        assert "Linli is starting" not in said
        assert first.poll() is None  # the first one is untouched
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    # kill -9 released the lock with the process: the file can be served again.
    guard = hold_sqlite_file(f"sqlite+aiosqlite:///{data / 'linli.db'}")
    assert guard is not None
    guard.close()


def test_the_lock_is_per_file_and_only_for_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    held = hold_sqlite_file(url)
    assert held is not None
    try:
        # flock locks belong to the open file: a second open in this process is refused too.
        with pytest.raises(DatabaseInUse, match="PostgreSQL"):
            hold_sqlite_file(url)
        other = hold_sqlite_file(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
        assert other is not None
        other.close()
    finally:
        held.close()
    assert hold_sqlite_file("postgresql+asyncpg://u@127.0.0.1/x") is None
    assert sqlite_path("sqlite+aiosqlite:///:memory:") is None


def test_several_workers_are_refused_on_the_embedded_sqlite_database(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update(LINLI_DATA_DIR=str(tmp_path / "var"), LINLI_LOG_JSON="false")
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--workers", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 2
    said = done.stderr.decode()
    assert "需要 PostgreSQL 和 Redis" in said
    assert "needs PostgreSQL and Redis" in said
    assert b"Linli is starting" not in done.stdout
    assert not (tmp_path / "var" / "linli.db").exists()  # refused before opening anything


@pytest.mark.timeout(900)
def test_two_workers_share_one_port_and_stop_together(
    tmp_path: Path, pg_database: str, shared_models: tuple[Path, Path]
) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update(
        LINLI_DATA_DIR=str(tmp_path / "var"),
        LINLI_DATABASE_URL=pg_database,
        LINLI_REDIS_URL=REDIS_URL,
        LINLI_MODELS_DIR=str(shared_models[0]),
        LINLI_INDEX_DIR=str(shared_models[1]),
        LINLI_PORT=str(port),
        LINLI_LOG_JSON="false",
        OMP_NUM_THREADS="1",
    )
    log = tmp_path / "workers.log"
    with log.open("wb") as out:
        parent = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--workers", "2"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(log, "Linli: 2 workers", parent, 600)
        children = [
            int(pid)
            for pid in Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split()
        ]
        assert len(children) == 2
        # Both listen on the one port (SO_REUSEPORT) once the second is up.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and _listeners(port) < 2:
            assert parent.poll() is None, log.read_text(encoding="utf-8", errors="replace")
            time.sleep(0.5)
        assert _listeners(port) == 2
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(120) == 0, log.read_text(encoding="utf-8", errors="replace")
        for pid in children:
            assert not Path(f"/proc/{pid}").exists() or "Z" in _state(pid)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(30)


def _listeners(port: int) -> int:
    """Sockets listening on 127.0.0.1:``port`` (from /proc/net/tcp)."""
    wanted = f"0100007F:{port:04X}"
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if row.split()[1] == wanted and row.split()[3] == "0A")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
