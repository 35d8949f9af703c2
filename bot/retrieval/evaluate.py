"""Measure retrieval on labelled queries (``linli kb eval`` and ``bench/retrieval.py``).

Query files: JSONL lines ``{"text": …, "expected": "<id>" | ["<id>", …] | null,
"compound": "<id or name>"}`` (``compound`` optional: the LCQMC shape is
``{"text", "expected"}``), or YAML ``{"queries": [{text, expected, compound}, …]}``.

Metrics over the queries that expect an entry: ``top1`` (the best-ranked entry is an
expected one), ``recall_at_5``, ``mrr_at_10``; outcome rates: ``answer_rate`` and
``answer_accuracy`` (answered, and with an expected entry). Over the queries that expect
nothing (``expected: null``): ``no_answer_recall`` (share that got outcome ``none``),
``null_answer_rate`` (share that got an ``answer``: the failure that matters) and
``null_clarify_rate``; ``no_answer_precision`` is the share of ``none`` outcomes whose query
expected nothing. A ratio with an empty denominator is ``null``. ``latency_ms`` is the
wall time of ``RetrievalService.search`` (normalise, encode, rank, decide) on this process.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bot.domain.registry import Committee
from bot.retrieval.errors import CorpusError, RowError
from bot.retrieval.service import RetrievalService


@dataclass(frozen=True, slots=True)
class EvalQuery:
    text: str
    expected: tuple[str, ...] | None
    """Acceptable entry ids; ``None``: the query must get no answer."""
    compound: str | None = None


def _query(obj: object, source: str, row: int, unit: str) -> EvalQuery:
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        raise CorpusError([RowError(source, row, "expected an object with a 'text'", unit)])
    exp = obj.get("expected")
    expected: tuple[str, ...] | None
    if exp is None:
        expected = None
    elif isinstance(exp, str):
        expected = (exp,)
    elif isinstance(exp, list) and exp and all(isinstance(x, str) for x in exp):
        expected = tuple(exp)
    else:
        raise CorpusError([RowError(source, row, "'expected' must be an id, ids or null", unit)])
    compound = obj.get("compound")
    return EvalQuery(obj["text"], expected, str(compound) if compound else None)


def load_queries(path: Path) -> list[EvalQuery]:
    """Read a query file (JSONL or YAML); CorpusError on a malformed line."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in {".yml", ".yaml"}:
        data = yaml.safe_load(text)
        items = data.get("queries") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise CorpusError([RowError(path.name, None, "expected a 'queries' list")])
        return [_query(obj, path.name, i, "entry") for i, obj in enumerate(items, start=1)]
    out: list[EvalQuery] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(
                [RowError(path.name, lineno, f"not valid JSON ({exc.msg})", "line")]
            ) from exc
        out.append(_query(obj, path.name, lineno, "line"))
    return out


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def evaluate(
    service: RetrievalService,
    committee: str,
    queries: Sequence[EvalQuery],
    *,
    today: date | None = None,
    registry_committee: Committee | None = None,
) -> dict[str, Any]:
    """Run every query through ``service.search`` and compute the metrics above."""
    n_pos = top1 = r5 = answered_pos = answered_right = 0
    mrr = 0.0
    n_null = null_none = null_answer = null_clarify = 0
    none_total = none_correct = 0
    kinds: Counter[str] = Counter()
    latencies: list[float] = []
    misses: list[dict[str, Any]] = []
    for q in queries:
        compound = q.compound
        if compound and registry_committee is not None:
            comp = registry_committee.compound(compound)
            compound = comp.id if comp else compound
        outcome = service.search(committee, q.text, compound, today, limit=10)
        latencies.append(outcome.latency_ms)
        kinds[outcome.kind] += 1
        ranked = [h.entry.id for h in outcome.hits]
        if outcome.kind == "none":
            none_total += 1
            none_correct += q.expected is None
        if q.expected is None:
            n_null += 1
            null_none += outcome.kind == "none"
            null_answer += outcome.kind == "answer"
            null_clarify += outcome.kind == "clarify"
            continue
        n_pos += 1
        wanted = set(q.expected)
        rank = next((i for i, eid in enumerate(ranked, start=1) if eid in wanted), None)
        top1 += rank == 1
        r5 += rank is not None and rank <= 5
        mrr += 1.0 / rank if rank is not None else 0.0
        if outcome.kind == "answer":
            answered_pos += 1
            answered_right += rank == 1
        if rank != 1 and len(misses) < 200:
            misses.append(
                {
                    "text": q.text,
                    "expected": list(q.expected),
                    "compound": compound,
                    "got": ranked[:3],
                    "kind": outcome.kind,
                }
            )
    lat = np.asarray(latencies or [0.0])
    return {
        "n_queries": len(queries),
        "n_expected": n_pos,
        "n_null": n_null,
        "top1": _ratio(top1, n_pos),
        "recall_at_5": _ratio(r5, n_pos),
        "mrr_at_10": round(mrr / n_pos, 4) if n_pos else None,
        "answer_rate": _ratio(answered_pos, n_pos),
        "answer_accuracy": _ratio(answered_right, answered_pos),
        "no_answer_precision": _ratio(none_correct, none_total),
        "no_answer_recall": _ratio(null_none, n_null),
        "null_answer_rate": _ratio(null_answer, n_null),
        "null_clarify_rate": _ratio(null_clarify, n_null),
        "outcomes": dict(sorted(kinds.items())),
        "latency_ms": {
            "p50": round(float(np.percentile(lat, 50)), 3),
            "p99": round(float(np.percentile(lat, 99)), 3),
            "mean": round(float(lat.mean()), 3),
        },
        "misses": misses,
    }
