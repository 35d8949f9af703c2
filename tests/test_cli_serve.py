"""``linli serve`` (what ``make run`` runs) tells a newcomer where everything is: the /try page,
the caseworkers' console and how to create its first account, on the port they picked."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START = "import sys\nfrom bot.cli import main\nsys.exit(main(sys.argv[1:]))"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_prints_the_console_and_how_to_make_the_first_account(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "LINLI_DATA_DIR": str(tmp_path / "var"),
        "LINLI_PORT": str(port),  # how the README says to pick another port
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT),
    }
    lines: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-c", START, "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line.rstrip())
                if line.startswith("Health:"):
                    break
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    out = "\n".join(lines)
    base = f"http://127.0.0.1:{port}"
    assert f"{base}/try" in out, out
    assert f"Caseworkers' console: {base}/console/" in out, out
    assert ".venv/bin/linli user add admin --role admin --committee puxiong" in out, out


def serve_until_it_exits(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run ``linli serve`` with ``settings`` (``LINLI_*`` variables) until it exits by itself."""
    env = {
        **os.environ,
        "LINLI_DATA_DIR": str(tmp_path / "var"),
        "LINLI_PORT": str(free_port()),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT),
        **settings,
    }
    return subprocess.run(
        [sys.executable, "-c", START, "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_with_its_store_down_says_so_plainly_and_exits(tmp_path: Path) -> None:
    """Redis (or PostgreSQL) unreachable at start: one line naming the store, a non-zero
    exit, no traceback."""
    # nothing listens on that Redis port
    done = serve_until_it_exits(tmp_path, LINLI_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert done.returncode == 4, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "linli: refusing to start: redis unavailable" in done.stderr


def test_serve_exits_with_an_error_when_its_models_cannot_load(tmp_path: Path) -> None:
    """``linli serve`` listens while its models load; when they cannot load (a broken
    ``crisis.yml`` here) it must not keep taking messages it will never answer: it stops,
    says why and exits 1, so its supervisor sees the failure."""
    intents = tmp_path / "intents"
    intents.mkdir()
    for path in (ROOT / "intents").glob("*.yml"):
        (intents / path.name).write_bytes(path.read_bytes())
    (intents / "crisis.yml").write_text("categories: [unclosed\n", encoding="utf-8")
    done = serve_until_it_exits(tmp_path, LINLI_INTENTS_DIR=str(intents))
    assert done.returncode == 1, done.stderr[-2000:]
    assert "the models could not be loaded" in done.stderr, done.stderr[-2000:]
