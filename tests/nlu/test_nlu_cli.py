"""``linli nlu parse|eval|train`` through a tiny argparse wrapper around ``register``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from bot.nlu import NluService
from bot.nlu.cli import register
from bot.nlu.model import read_manifest

ROOT = Path(__file__).resolve().parents[2]


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="linli")
    parser.add_argument("--config")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def _config(tmp_path: Path, data_dir: Path) -> str:
    path = tmp_path / "linli.toml"
    path.write_text(
        f'data_dir = "{data_dir.as_posix()}"\n'
        f'intents_dir = "{(ROOT / "intents").as_posix()}"\n'
        f'knowledge_dir = "{(ROOT / "knowledge").as_posix()}"\n',
        encoding="utf-8",
    )
    return str(path)


def test_parse_json_uses_the_saved_model(
    nlu: NluService, nlu_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, nlu_models_dir.parent)
    assert run(["--config", config, "nlu", "parse", "燕宁苑4幢电梯关人了", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["text"] == "燕宁苑4幢电梯关人了"
    assert out["intent"]["name"] == "report_emergency"
    assert out["emergency"]["category"] == "lift"
    assert {(e["entity"], e["value"]) for e in out["entities"]} == {
        ("compound", "yanningyuan"),
        ("building", "4号楼"),
    }
    assert len(out["intent_ranking"]) == 15
    # no new model was trained (the intent model and the crisis model, one each)
    assert len([p for p in nlu_models_dir.iterdir() if p.name.startswith("nlu-")]) == 1
    assert len(list((nlu_models_dir / "crisis").iterdir())) == 1


def test_parse_human_output(
    nlu: NluService, nlu_models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, nlu_models_dir.parent)
    assert run(["--config", config, "nlu", "parse", "转人工"]) == 0
    assert capsys.readouterr().out.startswith("intent: request_human")


def test_eval_json(tmp_path: Path, small_nlu_yaml: str, capsys: pytest.CaptureFixture[str]) -> None:
    train = tmp_path / "train.yml"
    train.write_text(small_nlu_yaml, encoding="utf-8")
    test = tmp_path / "test.yml"
    test.write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - 你好啊\n    - 早\n'
        "- intent: thank\n  examples: |\n    - 谢谢你\n    - 多谢侬\n"
        "- intent: report_repair\n  examples: |\n    - 楼道灯不亮\n",
        encoding="utf-8",
    )
    assert run(["nlu", "eval", "--train", str(train), "--test", str(test), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("n_test", "accuracy", "macro_f1", "weighted_f1", "per_intent", "train_seconds"):
        assert key in report
    assert report["n_test"] == 5
    assert set(report["latency_ms"]) == {"p50", "p99"}
    assert set(report["per_intent"]) == {"greet", "thank", "report_repair"}
    assert report["confusion"]["labels"] == ["greet", "report_repair", "thank"]
    matrix = report["confusion"]["matrix"]
    assert sum(map(sum, matrix)) == 5
    assert report["accuracy"] == pytest.approx(sum(matrix[i][i] for i in range(3)) / 5)
    assert run(["nlu", "eval", "--train", str(train), "--test", str(test)]) == 0
    assert "weighted F1" in capsys.readouterr().out


def test_train_writes_a_versioned_model(
    tmp_path: Path, small_nlu_yaml: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "intents"
    data.mkdir()
    (data / "nlu.yml").write_text(small_nlu_yaml, encoding="utf-8")
    out = tmp_path / "models"
    config = _config(tmp_path, tmp_path / "var")
    assert run(["--config", config, "nlu", "train", "--data", str(data), "--out", str(out)]) == 0
    assert "saved" in capsys.readouterr().out
    (model_dir,) = out.iterdir()
    assert model_dir.name.startswith("nlu-")
    manifest = read_manifest(model_dir)
    assert manifest["intents"] == ["greet", "report_repair", "thank"]
    assert manifest["n_examples"] == 24
    assert (model_dir / "model.pkl").stat().st_size > 0


def test_bad_training_data_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text('version: "3.1"\nnlu:\n- intnet: greet\n  examples: |\n    - 你好\n')
    assert run(["nlu", "eval", "--train", str(bad), "--test", str(bad), "--json"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3:" in err
    assert "intnet" in err
    assert run(["nlu", "train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err
