"""The benchmarks stay runnable: their stand-ins must keep up with the interfaces they stand in
for (a new abstract method on MessageLog once broke ``bench/ingest.py`` unnoticed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


async def test_the_intake_bench_log_implements_the_message_log() -> None:
    spec = importlib.util.spec_from_file_location("bench_ingest", BENCH / "ingest.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    log = module.ListLog()  # TypeError if an abstract method is missing
    assert await log.recent_inbound("puxiong") == []
