"""The benchmarks stay runnable: their stand-ins must keep up with the interfaces they stand in
for (a new abstract method on MessageLog once broke ``bench/ingest.py`` unnoticed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


async def test_the_intake_bench_log_implements_the_message_log() -> None:
    spec = importlib.util.spec_from_file_location("bench_ingest", BENCH / "ingest.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    log = module.ListLog()  # TypeError if an abstract method is missing
    assert await log.recent_inbound("puxiong") == []


async def test_the_intake_bench_runs_every_channel_case(capsys: pytest.CaptureFixture[str]) -> None:
    """A short run through the real channels (a changed channel constructor once broke it)."""
    spec = importlib.util.spec_from_file_location("bench_ingest_run", BENCH / "ingest.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    await module.main(20)
    out = capsys.readouterr().out
    for case in ("wechat_mp safe mode", "wechat_mp plain mode", "wecom_bot JSON"):
        assert case in out
    assert out.count("(n=20)") == 3
