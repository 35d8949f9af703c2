"""``kb search`` and ``kb eval`` through ``register`` on a plain argparse parser."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from bot.retrieval.cli import register

from .conftest import KNOWLEDGE, SHARED_EVAL


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="linli")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_search_json_per_compound(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(
            [
                "kb",
                "search",
                "湿垃圾几点可以扔",
                "--compound",
                "一村",
                "--kb",
                str(KNOWLEDGE),
                "--json",
                "--today",
                "2026-11-25",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "answer"
    assert out["compound"] == "putuoyicun"
    assert out["choices"] == ["garbage-wet-times"]
    assert "早上6:30—9:00、傍晚17:30—19:30" in out["reply"]


def test_search_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(["kb", "search", "湿垃圾", "--compound", "东湖苑", "--kb", str(KNOWLEDGE)]) == 2
    assert "unknown compound '东湖苑'" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("id,question,answer\nx,问题,\n", encoding="utf-8")
    assert run(["kb", "search", "问题", "--kb", str(bad)]) == 1
    assert "bad.csv row 2: answer is empty" in capsys.readouterr().err


def test_eval_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        "\n".join(
            json.dumps(q, ensure_ascii=False)
            for q in [
                {"text": "物业费在哪里交", "expected": "property-fee-how-to-pay"},
                {
                    "text": "早上几点能倒湿垃圾",
                    "expected": "garbage-wet-times",
                    "compound": "燕宁苑",
                },
                {"text": "帮我订一张去北京的机票", "expected": None},
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    assert run(["kb", "eval", "--kb", str(KNOWLEDGE), "--queries", str(queries), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {
        "n_queries",
        "top1",
        "recall_at_5",
        "mrr_at_10",
        "no_answer_precision",
        "no_answer_recall",
        "latency_ms",
    } <= set(out)
    assert set(out["latency_ms"]) >= {"p50", "p99"}
    assert out["n_queries"] == 3
    assert out["top1"] == 1.0
    assert out["no_answer_recall"] == 1.0
    assert out["no_answer_precision"] == 1.0


def test_eval_accepts_the_lcqmc_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    kb, queries = SHARED_EVAL / "lcqmc_dev_kb.jsonl", SHARED_EVAL / "lcqmc_dev_queries.jsonl"
    if not kb.is_file():
        pytest.fail("shared/eval must be beside the repository (CI puts it there)")
    # a slice keeps the test fast; bench/retrieval.py runs the whole set
    small_kb = tmp_path / "kb.jsonl"
    small_kb.write_text(
        "".join(kb.read_text(encoding="utf-8").splitlines(True)[:300]), encoding="utf-8"
    )
    ids = {json.loads(line)["id"] for line in small_kb.read_text(encoding="utf-8").splitlines()}
    small_q = tmp_path / "q.jsonl"
    small_q.write_text(
        "".join(
            line
            for line in queries.read_text(encoding="utf-8").splitlines(True)
            if json.loads(line)["expected"] in ids
        ),
        encoding="utf-8",
    )
    assert run(["kb", "eval", "--kb", str(small_kb), "--queries", str(small_q), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_entries"] == 300
    assert out["n_queries"] > 50
    assert out["top1"] > 0.5
    assert out["recall_at_5"] > 0.8
