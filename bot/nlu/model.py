"""Training and versioned model files.

A model is a directory ``<models_dir>/nlu-<YYYYmmddTHHMMSS>-<hash8>/`` holding
``model.pkl`` (the fitted classifier, without its encoder) and ``manifest.json`` (what it
was trained on: data fingerprint, encoder, feature version, library versions, the pickle's
SHA-256, training figures). ``load_latest`` returns the newest model that matches the
current data, encoder and code, or None so the caller trains a new one. Processes that start
on one models directory train a missing model once: ``training_lock`` serialises the
training, and the ones that waited load what the first one saved.

The pickle is only ever read from the models directory this package wrote, and only after
its SHA-256 matches the manifest.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import logging
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bot.nlu.classifier import FEATURE_VERSION, ClassifierConfig, IntentClassifier
from bot.nlu.data import TrainingData, load_training_data
from bot.nlu.encoder import SentenceEncoder
from bot.nlu.errors import ModelError

log = logging.getLogger(__name__)

MODEL_FORMAT = 1
SKLEARN_VERSION = importlib.metadata.version("scikit-learn")
"""The scikit-learn that trains the models (part of their hashes), read from the installed
distribution: a process that only loads saved models never imports scikit-learn (it holds
some 60 MB per worker, with pandas-free SciPy and joblib behind it)."""
_PREFIX = "nlu-"
_KEEP = 3


@dataclass(slots=True)
class TrainedModel:
    classifier: IntentClassifier
    manifest: dict[str, Any]
    path: Path | None = None

    @property
    def data_hash(self) -> str:
        return str(self.manifest["data_hash"])


def data_hash(data: TrainingData, encoder_name: str, config: ClassifierConfig | None = None) -> str:
    """What a saved model must match: the data, the encoder, the features and the config."""
    cfg = config or ClassifierConfig()
    h = hashlib.sha256()
    h.update(data.fingerprint().encode())
    h.update(f"|{encoder_name}|{FEATURE_VERSION}|{cfg!r}|{SKLEARN_VERSION}".encode())
    return h.hexdigest()


def train(
    data: TrainingData | Path | str | Iterable[Path | str],
    *,
    encoder: SentenceEncoder,
    config: ClassifierConfig | None = None,
    out_dir: Path | None = None,
    jobs: int = 1,
) -> TrainedModel:
    """Train a classifier on Rasa NLU data (files, directories or loaded data).

    With ``out_dir`` the model is also saved there (see ``save_model``); ``jobs``: worker
    processes for the fits (``IntentClassifier.fit``).
    """
    if not isinstance(data, TrainingData):
        data = load_training_data(data)
    cfg = config or ClassifierConfig()
    clf = IntentClassifier(encoder, cfg).fit(data.texts(), data.labels(), jobs=jobs)
    manifest: dict[str, Any] = {
        "format": MODEL_FORMAT,
        "feature_version": FEATURE_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_hash": data_hash(data, encoder.name, cfg),
        "data_files": [str(p) for p in data.files],
        "encoder": encoder.name,
        "intents": list(clf.classes),
        "n_examples": len(data.examples),
        "train_seconds": round(clf.report.seconds, 3),
        "temperature": clf.temperature,
        "oof_accuracy": clf.report.oof_accuracy,
        "sklearn": SKLEARN_VERSION,
        "numpy": np.__version__,
    }
    model = TrainedModel(clf, manifest)
    if out_dir is not None:
        save_model(model, out_dir)
    return model


@contextlib.contextmanager
def training_lock(models_dir: Path, name: str) -> Iterator[None]:
    """Hold an exclusive lock on ``<models_dir>/.<name>.lock`` (an advisory ``flock``, released
    when the holder exits, even by a crash). Whoever trains a model a directory lacks holds it,
    and looks for a saved model again once it has it: another worker may have trained one
    meanwhile."""
    models_dir.mkdir(parents=True, exist_ok=True)
    with open(models_dir / f".{name}.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def save_model(model: TrainedModel, models_dir: Path) -> Path:
    """Write the model atomically as a new versioned directory; prune old ones."""
    models_dir.mkdir(parents=True, exist_ok=True)
    blob = pickle.dumps(model.classifier, protocol=pickle.HIGHEST_PROTOCOL)
    manifest = dict(model.manifest)
    manifest["model_sha256"] = hashlib.sha256(blob).hexdigest()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    name = f"{_PREFIX}{stamp}-{manifest['data_hash'][:8]}"
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=models_dir))
    try:
        (tmp / "model.pkl").write_bytes(blob)
        (tmp / "manifest.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        final = models_dir / name
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    model.manifest = manifest
    model.path = final
    _prune(models_dir)
    return final


def _prune(models_dir: Path) -> None:
    dirs = sorted(_model_dirs(models_dir), reverse=True)
    for old in dirs[_KEEP:]:
        shutil.rmtree(old, ignore_errors=True)


def _model_dirs(models_dir: Path) -> list[Path]:
    if not models_dir.is_dir():
        return []
    return [p for p in models_dir.iterdir() if p.is_dir() and p.name.startswith(_PREFIX)]


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable manifest: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path}: manifest is not an object")
    return data


def load_model(path: Path, encoder: SentenceEncoder | None = None) -> TrainedModel:
    """Load one model directory; raises ModelError if it is corrupt or incompatible."""
    manifest = read_manifest(path)
    if manifest.get("format") != MODEL_FORMAT or manifest.get("feature_version") != FEATURE_VERSION:
        raise ModelError(f"{path}: made by another version of the code")
    if manifest.get("sklearn") != SKLEARN_VERSION:
        raise ModelError(f"{path}: made with scikit-learn {manifest.get('sklearn')}")
    try:
        blob = (path / "model.pkl").read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: {exc}") from exc
    if hashlib.sha256(blob).hexdigest() != manifest.get("model_sha256"):
        raise ModelError(f"{path}: model.pkl does not match its manifest")
    try:
        clf = pickle.loads(blob)  # noqa: S301 - our own file, checksum verified above
    except Exception as exc:
        raise ModelError(f"{path}: cannot unpickle: {exc}") from exc
    if not isinstance(clf, IntentClassifier):
        raise ModelError(f"{path}: not an intent classifier")
    if encoder is not None:
        clf.attach(encoder)
    return TrainedModel(clf, manifest, path)


def has_saved(models_dir: Path, *, data_hash: str, encoder_name: str) -> bool:
    """Whether ``models_dir`` holds a model for this data hash and encoder, by the manifests
    alone (``load_latest`` then checks and loads it)."""
    for path in _model_dirs(models_dir):
        try:
            manifest = read_manifest(path)
        except ModelError:
            continue
        if manifest.get("data_hash") == data_hash and manifest.get("encoder") == encoder_name:
            return True
    return False


def load_latest(
    models_dir: Path,
    *,
    data_hash: str | None = None,
    encoder: SentenceEncoder | None = None,
) -> TrainedModel | None:
    """The newest usable model in ``models_dir``: same data hash (when given), same encoder
    (when given), same code. None when there is none, so the caller trains one."""
    for path in sorted(_model_dirs(models_dir), reverse=True):
        try:
            manifest = read_manifest(path)
        except ModelError as exc:
            log.warning("skipping model: %s", exc)
            continue
        if data_hash is not None and manifest.get("data_hash") != data_hash:
            continue
        if encoder is not None and manifest.get("encoder") != encoder.name:
            continue
        try:
            return load_model(path, encoder)
        except ModelError as exc:
            log.warning("skipping model: %s", exc)
    return None
