"""Fault scenarios against two real ``linli serve`` workers on their own PostgreSQL and Redis:
``kill9`` (kill -9 one worker mid-load, restart it), ``redis_restart`` (all keys lost
mid-load), ``postgres_outage`` (database stopped for 15 s mid-load) and
``replay_after_flush`` (FLUSHALL, then every answered MsgId again). Counts per inbound message
from the database, the WeChat stand-in's log and the HTTP responses (see
``tests/faults/harness.py``, shared with the fault tests).

Run: ``.venv/bin/python bench/faults.py [--json] [--messages 520] [--scenario kill9 …]
[--ref COMMIT] [--models DIR]``
Needs ``redis-server`` and PostgreSQL's ``initdb``/``pg_ctl`` (run as the ``postgres`` user
when started as root); never touches the shared servers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "support"))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from faults.harness import SCENARIOS, FaultEnv, Plan, export_commit, run_scenario  # noqa: E402


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the JSON result only")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS)
    parser.add_argument("--messages", type=int, default=520, help="messages per scenario")
    parser.add_argument("--residents", type=int, default=20)
    parser.add_argument("--max-seconds", type=float, default=150.0, help="load limit")
    parser.add_argument("--keep", action="store_true", help="keep the logs directory")
    parser.add_argument(
        "--robot-delay", type=float, default=0.0, help="seconds the staff robot takes to answer"
    )
    parser.add_argument(
        "--ref", help="run the workers on this git commit (exported), not the working tree"
    )
    parser.add_argument(
        "--models",
        type=Path,
        help="a models folder the workers share (e.g. one tests/pretrain.py filled); by "
        "default the first worker trains its own",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="linli-faults-"))
    source = export_commit(args.ref, workdir / "source") if args.ref else ROOT
    env = FaultEnv(workdir, source, (args.models, workdir / "index") if args.models else None)
    results: dict[str, dict[str, object]] = {}
    try:
        env.start()
        for n, name in enumerate(args.scenario or SCENARIOS, start=1):
            plan = Plan(
                residents=args.residents,
                messages=args.messages,
                max_s=args.max_seconds,
                fault_at_s=20.0,
                fault_at_messages=args.messages * 2 // 5,
                after_fault_s=20.0,
                grace_s=40.0,
                robot_delay_s=args.robot_delay,
            )
            report = await run_scenario(env, name, plan, n)
            results[name] = report.summary()
            if not args.json:
                print(f"{name}: {json.dumps(report.summary(), ensure_ascii=False)}", flush=True)
    finally:
        env.close()
        if args.keep:
            print(f"logs kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps({"scenarios": results}, ensure_ascii=False, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
