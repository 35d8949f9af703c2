"""The benchmarks stay runnable: their stand-ins must keep up with the interfaces they stand in
for (a new abstract method on MessageLog once broke ``bench/ingest.py`` unnoticed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

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


def _throughput_bench() -> object:
    spec = importlib.util.spec_from_file_location("bench_throughput", BENCH / "throughput.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(900)
async def test_the_throughput_bench_drives_a_real_server(
    tmp_path: Path, shared_models: tuple[Path, Path]
) -> None:
    """A short run against one real ``linli serve`` on the embedded default: every kind of
    message is answered in Chinese and the figures are there (never judged as timings). The
    bench's model cache is the run's shared models folder: this tests the harness, and
    training inside it (≈ 9 min on a loaded machine) outlasted the harness's health wait."""
    (tmp_path / "cache" / "A").mkdir(parents=True)
    (tmp_path / "cache" / "A" / "models").symlink_to(shared_models[0], target_is_directory=True)
    shared_models[0].mkdir(parents=True, exist_ok=True)
    module: Any = _throughput_bench()
    result = await module.main(
        [
            "--seconds",
            "2",
            "--warmup",
            "0.5",
            "--inflight",
            "2",
            "--setups",
            "sqlite",
            "--cache",
            str(tmp_path / "cache"),
            "--json",
        ]
    )
    points = result["points"]
    assert [(p["setup"], p["kind"], p["inflight"]) for p in points] == [
        ("sqlite", "faq", 2),
        ("sqlite", "worded", 2),
        ("sqlite", "unknown", 2),
        ("sqlite", "repair", 2),
    ]
    for p in points:
        assert p["messages"] > 0, p
        assert p["errors"] == 0, p
        assert p["per_s"] > 0
        assert p["p99_ms"] >= p["p50_ms"] > 0
        assert p["cpu_ms_per_msg"] > 0  # read from the server process, not the client
        assert p["sql_xact_per_msg"] is None  # counted on PostgreSQL only
        assert p["sample"], p
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in reply) for reply in p["sample"])
    assert result["rss_mb_after"]["A/sqlite/worker0"] > 0


def test_the_throughput_bench_ratios_pair_the_same_points() -> None:
    module: Any = _throughput_bench()
    point = module.Point

    def make(source: str, rnd: int, messages: int, cpu: float, db: float, client: float) -> object:
        return point(
            source,
            rnd,
            "pg1",
            "faq",
            32,
            messages=messages,
            seconds=10.0,
            p50_ms=100.0,
            p99_ms=200.0,
            cpu_ms_per_msg=cpu,
            db_cpu_ms_per_msg=db,
            client_cpu_ms_per_msg=client,
        )

    rows = module.ratios(
        [
            make("A", 1, 400, 5.0, 1.0, 1.0),
            make("B", 1, 100, 20.0, 4.0, 2.0),
            make("A", 2, 600, 5.0, 1.0, 1.0),
            make("B", 2, 100, 20.0, 4.0, 2.0),
        ]
    )
    assert rows == [
        {
            "setup": "pg1",
            "kind": "faq",
            "inflight": 32,
            "A_per_s": 50.0,
            "B_per_s": 10.0,
            "A_over_B_per_s": 5.0,
            "A_over_B_cpu": 0.25,
            "A_over_B_machine_cpu": 0.27,  # (5 + 1 + 1) / (20 + 4 + 2): workers, database, client
            "A_over_B_p50": 1.0,
            "A_over_B_p99": 1.0,
        }
    ]


def test_the_out_of_fold_calibration_bench_reports_every_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    queries = tmp_path / "queries.jsonl"
    lines = [
        ("湿垃圾几点可以扔", "garbage-wet-times"),
        ("大件垃圾怎么扔", "garbage-bulky"),
        ("旧沙发不要了放哪里", "garbage-bulky"),
        ("楼道里堆满了杂物怎么办", "neighbours-corridor-clutter"),
        ("帮我订一张去北京的高铁票", None),
        ("今天星期几", None),
    ]
    queries.write_text(
        "\n".join(json.dumps({"text": t, "expected": e}, ensure_ascii=False) for t, e in lines),
        encoding="utf-8",
    )
    spec = importlib.util.spec_from_file_location(
        "bench_calibration_oof", BENCH / "calibration_oof.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = ["calibration_oof.py", "--queries", str(queries), "--folds", "2", "--splits", "2"]
    monkeypatch.setattr(sys, "argv", [*argv, "--json"])
    module.main()
    result = json.loads(capsys.readouterr().out)
    assert [s["split"] for s in result["splits"]] == [0, 1]
    for split in result["splits"]:
        assert split["n_expected"] == 4
        assert split["n_null"] == 2
        assert 0.0 <= split["answer_rate"] <= 1.0
        assert isinstance(split["wrong_answers"], list)
        assert isinstance(split["null_offered"], list)
    assert set(result["aggregate"]) == {
        "answer_rate",
        "answer_accuracy",
        "null_clarify_rate",
        "null_answer_rate",
    }
    # fitted on other questions than the shipped calibration's
    assert result["matches_shipped"] is False
