"""One serving process per SQLite file.

SQLite with the in-process state store is the embedded single-worker setup: two processes on
the same file would each claim every message (their dedup state is not shared) and answer it
twice. ``linli serve`` therefore holds an exclusive OS lock on ``<database>.lock`` for its
whole life; a second one on the same file is refused before it serves anything.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from bot.domain.errors import LinliError


class DatabaseInUse(LinliError):
    """Another process is serving from the same SQLite file."""


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None: not SQLite, or in memory)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1] if "///" in url else ""
    if not path or path == ":memory:" or path.startswith("file::memory:"):
        return None
    return Path(path.split("?", 1)[0])


def hold_sqlite_file(url: str) -> IO[str] | None:
    """Lock the SQLite file of ``url`` for this process; keep the returned file open for as
    long as the process serves (the lock goes with it, also when the process is killed).
    Returns None for other databases; raises DatabaseInUse when another process holds it."""
    path = sqlite_path(url)
    if path is None:
        return None
    lock_path = path.parent / (path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the process life
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip()
        handle.close()
        raise DatabaseInUse(
            f"another linli process (pid {holder or 'unknown'}) is already serving from the "
            f"SQLite database {path}. SQLite supports one worker only; to run several workers, "
            "use PostgreSQL and Redis (LINLI_DATABASE_URL=postgresql+asyncpg://… and "
            "LINLI_REDIS_URL=redis://…)."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
