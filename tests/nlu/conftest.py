"""NLU fixtures: the registry and one model trained from intents/ for the whole test run (in
the models directory the apps share; every test reuses it)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.domain import Registry
from bot.encoders import Encoder
from bot.nlu import NluService

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def registry() -> Registry:
    raw = yaml.safe_load((ROOT / "knowledge" / "registry.yaml").read_text(encoding="utf-8"))
    return Registry.from_mapping(raw)


@pytest.fixture(scope="session")
def nlu_models_dir(shared_models: tuple[Path, Path]) -> Path:
    """The models directory of the apps too: the model trained from intents/ is the same."""
    return shared_models[0]


@pytest.fixture(scope="session")
def nlu(registry: Registry, encoder: Encoder, nlu_models_dir: Path) -> NluService:
    service = NluService(registry, nlu_models_dir, intents_dir=ROOT / "intents", encoder=encoder)
    service.start()
    return service


@pytest.fixture(scope="session")
def small_nlu_yaml() -> str:
    """A tiny valid training file (three intents) for fast train/eval tests."""
    blocks = {
        "greet": ["你好", "侬好", "在吗", "哈喽", "早上好", "有人伐", "你好呀", "hi"],
        "report_repair": [
            "楼道灯坏了",
            "下水道堵了",
            "电梯坏了",
            "门禁刷不开",
            "屋顶漏雨",
            "路灯不亮",
            "水管漏水",
            "窗户玻璃碎了",
        ],
        "thank": ["谢谢", "多谢", "谢谢侬", "辛苦了", "感谢", "麻烦你了", "太感谢了", "谢了"],
    }
    lines = ['version: "3.1"', "nlu:"]
    for intent, examples in blocks.items():
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {e}" for e in examples]
    return "\n".join(lines) + "\n"
