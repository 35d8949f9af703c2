"""Train the NLU models a test run shares before pytest starts: ``make pytest`` runs this,
then points the run at the folder (``LINLI_TEST_MODELS``; ``tests/conftest.py``).

Training the intent, crisis and vetting models takes many minutes on one core; inside the
first test that needs them it would count against that test's timeout. Trained here once,
outside any test, every app of the run still loads them through the real code path, and a
folder whose models match ``intents/`` (the data hash) is reused as it is.

The vetting model trains in a second process while this one trains the intent and crisis
models, each fitting its ensemble and calibration folds in two worker processes
(``IntentClassifier.fit(jobs=2)``: each fit as one process does it; each process keeps BLAS to
one thread). Both go through the service's own ``training_lock``: whichever reaches a model
first trains it, the other waits and loads it. (The vetting model's features come from its own
encoder, not one that has just encoded the crisis model's texts, so it may differ from a
one-process training's in the last bits; both are trained from the same data.) On two cores
this took about 0.7 of the time of one process (round 27: 1,691 s).

    .venv/bin/python tests/pretrain.py var/test/models
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.encoders import Usem3Encoder  # noqa: E402
from bot.nlu import NluService  # noqa: E402
from bot.nlu.crisis_model import load_or_train_vetter  # noqa: E402

JOBS = 2
"""Worker processes for each model's fits (the machine has two cores)."""


def _train_vetter(folder: Path) -> None:
    with threadpool_limits(1):
        load_or_train_vetter(folder, ROOT / "intents", Usem3Encoder(), jobs=JOBS)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: tests/pretrain.py MODELS_DIR", file=sys.stderr)
        return 2
    folder = Path(argv[0])
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    vetter = multiprocessing.get_context("spawn").Process(target=_train_vetter, args=(folder,))
    vetter.start()
    with threadpool_limits(1):
        NluService(
            None, folder, intents_dir=ROOT / "intents", encoder=Usem3Encoder(), train_jobs=JOBS
        ).start()
    vetter.join()
    if vetter.exitcode != 0:
        print(f"the vetting model's process failed (exit code {vetter.exitcode})", file=sys.stderr)
        return 1
    print(f"NLU models ready in {folder} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
