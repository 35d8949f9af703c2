"""Train the NLU models a test run shares before pytest starts: ``make pytest`` runs this,
then points the run at the folder (``LINLI_TEST_MODELS``; ``tests/conftest.py``).

Training the intent, crisis and vetting models takes minutes on one core (about 340 s here
with twenty-odd crisis writers' examples); inside the first test that needs them it would
count against that test's timeout. Trained here once, outside any test, every app of the run
still loads them through the real code path, and a folder whose models match ``intents/``
(the data hash) is reused as it is.

    .venv/bin/python tests/pretrain.py var/test/models
"""

from __future__ import annotations

import sys
from pathlib import Path

from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.encoders import Usem3Encoder  # noqa: E402
from bot.nlu import NluService  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: tests/pretrain.py MODELS_DIR", file=sys.stderr)
        return 2
    folder = Path(argv[0])
    folder.mkdir(parents=True, exist_ok=True)
    with threadpool_limits(1):
        NluService(None, folder, intents_dir=ROOT / "intents", encoder=Usem3Encoder()).start()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
