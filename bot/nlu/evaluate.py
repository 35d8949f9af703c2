"""Evaluation: train on one Rasa NLU file, test on another (``linli nlu eval``), and
k-fold cross-validation of a training set. Figures follow the DESIGN's ``nlu eval`` JSON."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.nlu.classifier import ClassifierConfig, IntentClassifier
from bot.nlu.data import TrainingData, load_training_data
from bot.nlu.encoder import SentenceEncoder

_LATENCY_SAMPLE = 1000


def classification_report(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None
) -> dict[str, Any]:
    """accuracy, macro/weighted F1, per-intent precision/recall/F1/support, confusion."""
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

    names = list(labels) if labels is not None else sorted(set(gold) | set(predicted))
    p, r, f, s = precision_recall_fscore_support(gold, predicted, labels=names, zero_division=0)
    present = [n for n in names if n in set(gold)]
    return {
        "n_test": len(gold),
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(
            f1_score(gold, predicted, labels=present, average="macro", zero_division=0)
        ),
        "weighted_f1": float(
            f1_score(gold, predicted, labels=present, average="weighted", zero_division=0)
        ),
        "per_intent": {
            n: {
                "precision": round(float(p[i]), 4),
                "recall": round(float(r[i]), 4),
                "f1": round(float(f[i]), 4),
                "support": int(s[i]),
            }
            for i, n in enumerate(names)
        },
        "confusion": {
            "labels": names,
            "matrix": confusion_matrix(gold, predicted, labels=names).tolist(),
        },
    }


def latency_ms(clf: IntentClassifier, texts: Sequence[str]) -> dict[str, float]:
    """One message at a time, as the server sees them: p50/p99 in milliseconds."""
    sample = list(texts)[:_LATENCY_SAMPLE]
    clf.rank(sample[0] if sample else "你好")  # warm
    times = []
    for t in sample:
        start = time.perf_counter()
        clf.rank(t)
        times.append((time.perf_counter() - start) * 1000)
    if not times:
        return {"p50": 0.0, "p99": 0.0}
    return {
        "p50": round(float(np.percentile(times, 50)), 3),
        "p99": round(float(np.percentile(times, 99)), 3),
    }


def evaluate_files(
    train_path: Path | str,
    test_path: Path | str,
    *,
    encoder: SentenceEncoder,
    config: ClassifierConfig | None = None,
) -> dict[str, Any]:
    """Train on ``train_path``, predict ``test_path`` (both Rasa NLU YAML); report."""
    train_data = load_training_data(train_path)
    test_data = load_training_data(test_path)
    return evaluate_data(train_data, test_data, encoder=encoder, config=config)


def evaluate_data(
    train_data: TrainingData,
    test_data: TrainingData,
    *,
    encoder: SentenceEncoder,
    config: ClassifierConfig | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    clf = IntentClassifier(encoder, config).fit(train_data.texts(), train_data.labels())
    train_seconds = time.perf_counter() - started
    predicted = clf.predict(test_data.texts())
    gold = test_data.labels()
    labels = sorted(set(clf.classes) | set(gold))
    out = classification_report(gold, predicted, labels)
    out["n_train"] = len(train_data.examples)
    out["train_seconds"] = round(train_seconds, 3)
    out["latency_ms"] = latency_ms(clf, test_data.texts())
    out["temperature"] = round(clf.temperature, 4)
    out["errors"] = [
        {"text": t, "expected": g, "predicted": p}
        for t, g, p in zip(test_data.texts(), gold, predicted, strict=True)
        if g != p
    ]
    return out


def cross_validate(
    data: TrainingData,
    *,
    encoder: SentenceEncoder,
    folds: int = 5,
    config: ClassifierConfig | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Stratified k-fold cross-validation; the report pools all out-of-fold predictions."""
    from sklearn.model_selection import StratifiedKFold

    texts = data.texts()
    labels = np.array(data.labels())
    predicted = np.empty(len(texts), dtype=object)
    fold_acc = []
    seconds = []
    skf = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for tr, te in skf.split(np.zeros(len(texts)), labels):
        started = time.perf_counter()
        clf = IntentClassifier(encoder, config).fit(
            [texts[i] for i in tr], [str(x) for x in labels[tr]]
        )
        seconds.append(time.perf_counter() - started)
        pred = clf.predict([texts[i] for i in te])
        predicted[te] = pred
        fold_acc.append(float(np.mean(np.array(pred) == labels[te])))
    out = classification_report([str(x) for x in labels], [str(x) for x in predicted])
    out["folds"] = folds
    out["fold_accuracy"] = [round(a, 4) for a in fold_acc]
    out["train_seconds_per_fold"] = round(float(np.mean(seconds)), 3)
    out["errors"] = [
        {"text": t, "expected": str(g), "predicted": str(p)}
        for t, g, p in zip(texts, labels, predicted, strict=True)
        if g != p
    ]
    return out
