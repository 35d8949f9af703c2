"""One ``linli serve`` per SQLite file: a second real process on the same data directory
refuses to start with a clear message, and the lock goes with its holder (even kill -9)."""

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _serve(data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update(
        LINLI_DATA_DIR=str(data_dir),
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


def test_a_second_server_on_the_same_sqlite_file_refuses_to_start(tmp_path: Path) -> None:
    data = tmp_path / "var"
    first = _serve(data, tmp_path / "first.log")
    try:
        _wait_for(tmp_path / "first.log", "Linli is starting", first, 60)
        second = _serve(data, tmp_path / "second.log")
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
