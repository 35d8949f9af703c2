"""How soon a restarted ``linli serve`` takes messages: seconds from ``exec`` to the first
HTTP answer on its port (listening: a message sent then is stored and acknowledged) and to
``/healthz`` 200 (models and FAQ indexes loaded), on the embedded stores with a models folder
loaded, not trained.

    .venv/bin/python bench/startup.py --models DIR [--runs 3] [--ref COMMIT] [--json]

``--ref`` runs the tree of another commit (``git archive``) with the same models (they must
match its ``intents/``), to compare. WeChat retries a callback for about 15 s: a worker that
is not listening for longer loses the messages sent to it meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "support"))

from faults.harness import export_commit, free_port  # noqa: E402


def one_start(source: Path, models: Path, workdir: Path) -> tuple[float, float]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update(
        {
            "LINLI_DATA_DIR": str(workdir / "data"),
            "LINLI_MODELS_DIR": str(models),
            "LINLI_INDEX_DIR": str(workdir / "index"),
            "LINLI_PORT": str(port),
            "OMP_NUM_THREADS": "1",
            "PYTHONPATH": str(source),
        }
    )
    url = f"http://127.0.0.1:{port}/healthz"
    started = time.monotonic()
    listening = None
    with subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve"],
        cwd=source,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as proc:
        try:
            while proc.poll() is None and time.monotonic() - started < 300:
                try:
                    with urllib.request.urlopen(url, timeout=2) as resp:
                        status = resp.status
                except urllib.error.HTTPError as exc:
                    status = exc.code
                except OSError:
                    time.sleep(0.02)
                    continue
                now = time.monotonic() - started
                listening = now if listening is None else listening
                if status == 200:
                    return listening, now
                time.sleep(0.02)
            raise SystemExit(f"linli serve never became ready (exit code {proc.poll()})")
        finally:
            proc.terminate()
            proc.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, required=True, help="a trained models folder")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ref", help="run this git commit's tree instead of the working tree")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="linli-startup-"))
    try:
        source = export_commit(args.ref, tmp / "source") if args.ref else ROOT
        # The first start migrates the database and builds the FAQ indexes: not counted.
        one_start(source, args.models.resolve(), tmp)
        runs = [one_start(source, args.models.resolve(), tmp) for _ in range(args.runs)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = {
        "ref": args.ref or "working tree",
        "runs": args.runs,
        "listening_s": round(statistics.median(r[0] for r in runs), 2),
        "ready_s": round(statistics.median(r[1] for r in runs), 2),
        "each": [[round(a, 2), round(b, 2)] for a, b in runs],
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
