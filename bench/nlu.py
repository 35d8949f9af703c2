"""NLU benchmark: prints the figures the NLU issue asks for.

1. SMP2017-ECDT intents, train → develop (weighted F1, training time, p50/p99 latency);
2. 5-fold cross-validation of Linli's own intents (intents/);
3. emergency recall on tests/data/nlu_emergencies_*.txt (rules alone, and rules + model);
4. out-of-scope: share of shared/eval/oos_dev.txt parsed as an action intent;
5. latency of a full ``NluService.parse`` (classifier + emergency layer + entities).

Usage: OMP_NUM_THREADS=1 .venv/bin/python bench/nlu.py [--json] [--skip-smp] [--skip-cv]
Evaluation data: SMP2017-ECDT (Zhang et al., arXiv:1709.10217), CLUE DataCLUE — research use.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import yaml
from threadpoolctl import threadpool_limits

from bot.domain import Registry
from bot.nlu import (
    ACTION_INTENTS,
    NluService,
    Usem3SentenceEncoder,
    load_training_data,
)
from bot.nlu.evaluate import cross_validate, evaluate_files

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
DATA = ROOT / "tests" / "data"


def _lines(path: Path) -> list[str]:
    return [x.strip() for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def smp(encoder: Usem3SentenceEncoder) -> dict[str, Any]:
    report = evaluate_files(
        SHARED / "eval" / "smp2017_train.yml",
        SHARED / "eval" / "smp2017_develop.yml",
        encoder=encoder,
    )
    report.pop("confusion")
    return report


def linli_cv(encoder: Usem3SentenceEncoder) -> dict[str, Any]:
    data = load_training_data(ROOT / "intents")
    report = cross_validate(data, encoder=encoder, folds=5)
    report.pop("confusion")
    return report


def emergency(service: NluService) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("nlu_emergencies_heldout.txt", "nlu_emergencies_dev.txt"):
        lines = _lines(DATA / name)
        rules = [t for t in lines if service.crisis.detect(t) is not None]
        full = [t for t in lines if service.parse(t).is_emergency]
        out[name] = {
            "n": len(lines),
            "recall_rules": round(len(rules) / len(lines), 4),
            "recall_rules_and_model": round(len(full) / len(lines), 4),
            "missed": [t for t in lines if t not in set(full)],
        }
    return out


def out_of_scope(service: NluService) -> dict[str, Any]:
    messages = _lines(SHARED / "eval" / "oos_dev.txt")
    intents: Counter[str] = Counter()
    action_examples: list[str] = []
    for m in messages:
        r = service.parse(m)
        intents[r.intent] += 1
        if r.is_action and len(action_examples) < 30:
            action_examples.append(f"{r.intent}: {m}")
    actions = sum(v for k, v in intents.items() if k in ACTION_INTENTS)
    return {
        "n": len(messages),
        "action_rate": round(actions / len(messages), 4),
        "by_intent": dict(intents.most_common()),
        "action_examples": action_examples,
    }


def parse_latency(service: NluService) -> dict[str, float]:
    sample = _lines(DATA / "nlu_emergencies_heldout.txt")
    sample += load_training_data(ROOT / "intents").texts()[::3]
    sample += _lines(SHARED / "eval" / "oos_dev.txt")[:300]
    service.parse(sample[0])
    times = []
    for t in sample:
        start = time.perf_counter()
        service.parse(t)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "n": len(times),
        "p50": round(float(np.percentile(times, 50)), 3),
        "p99": round(float(np.percentile(times, 99)), 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--skip-smp", action="store_true")
    ap.add_argument("--skip-cv", action="store_true")
    args = ap.parse_args()
    threadpool_limits(1)
    encoder = Usem3SentenceEncoder()
    results: dict[str, Any] = {}
    if not args.skip_smp:
        results["smp2017"] = smp(encoder)
    if not args.skip_cv:
        results["linli_cv"] = linli_cv(encoder)
    registry = Registry.from_mapping(
        yaml.safe_load((ROOT / "knowledge" / "registry.yaml").read_text(encoding="utf-8"))
    )
    with tempfile.TemporaryDirectory() as tmp:
        service = NluService(
            registry, Path(tmp) / "models", intents_dir=ROOT / "intents", encoder=encoder
        )
        started = time.perf_counter()
        service.start()
        results["linli_train_seconds"] = round(time.perf_counter() - started, 2)
        results["emergency"] = emergency(service)
        results["out_of_scope"] = out_of_scope(service)
        results["parse_latency_ms"] = parse_latency(service)
    if args.json:
        json.dump(results, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    _print(results)
    return 0


def _print(r: dict[str, Any]) -> None:
    if "smp2017" in r:
        s = r["smp2017"]
        print("SMP2017-ECDT train → develop")
        print(
            f"  n_test {s['n_test']}  accuracy {s['accuracy']:.4f}  macro F1 {s['macro_f1']:.4f}"
            f"  weighted F1 {s['weighted_f1']:.4f}"
        )
        print(
            f"  train {s['train_seconds']:.1f}s  latency p50 {s['latency_ms']['p50']:.2f} ms"
            f"  p99 {s['latency_ms']['p99']:.2f} ms"
        )
        print("  references: USE-m3 + char n-gram LR baseline 0.938; ST-UIC (published) 0.945;")
        print("              Rasa 3.6 DIET 0.894 (weighted F1)")
    if "linli_cv" in r:
        c = r["linli_cv"]
        print(f"\nLinli intents, {c['folds']}-fold cross-validation ({c['n_test']} examples)")
        print(
            f"  accuracy {c['accuracy']:.4f}  macro F1 {c['macro_f1']:.4f}  "
            f"weighted F1 {c['weighted_f1']:.4f}  folds {c['fold_accuracy']}"
        )
        print(f"  {'intent':<18}{'prec':>7}{'rec':>7}{'f1':>7}{'n':>5}")
        for name, m in c["per_intent"].items():
            print(
                f"  {name:<18}{m['precision']:>7.3f}{m['recall']:>7.3f}{m['f1']:>7.3f}"
                f"{m['support']:>5}"
            )
    print(f"\nLinli model trained in {r['linli_train_seconds']:.1f}s")
    for name, e in r["emergency"].items():
        print(
            f"emergency recall on {name} (n={e['n']}): rules {e['recall_rules']:.4f}, "
            f"rules + model {e['recall_rules_and_model']:.4f}; missed: {e['missed']}"
        )
    o = r["out_of_scope"]
    print(f"\nout-of-scope (oos_dev.txt, n={o['n']}): action rate {o['action_rate']:.4f}")
    print(f"  by intent: {o['by_intent']}")
    p = r["parse_latency_ms"]
    print(f"\nNluService.parse latency (n={p['n']}): p50 {p['p50']:.2f} ms, p99 {p['p99']:.2f} ms")


if __name__ == "__main__":
    sys.exit(main())
