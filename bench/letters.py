"""Citizens' letters benchmark: are long complaints, suggestions and petitions heard?

Sends every message of ``../shared/eval/citizen_messages.csv`` (real letters to a government
message board, 2020 TipDM Cup problem C; subject + detail as one message) through the real
application (generic webhook, embedded stores) as a private message from a new resident, and
prints per first-level category the routes the first reply took, then:

- ``fallback_rate``: replies that are the generic "抱歉，这个问题我暂时没能找到答案" menu;
- ``false_emergency_rate``: letters answered as an emergency or crisis (none of them is one);
- ``destination_rate``: replies that name where the matter goes (a ticket, a caseworker,
  12345 / 随申办, the 社区事务受理服务中心).

Evaluation data only: nothing here is trained or tuned on individual lines.

    .venv/bin/python bench/letters.py [--csv FILE] [--limit N] [--json] [--show N]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp.test_utils import TestClient, TestServer
from threadpoolctl import threadpool_limits

from bot.app import build_app
from bot.dialogue.letters import read_letter
from bot.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
CSV = ROOT.parent / "shared" / "eval" / "citizen_messages.csv"  # ../shared beside the checkout
GENERIC = "抱歉，这个问题我暂时没能找到答案"
EMERGENCY_KINDS = {"emergency", "crisis"}
DESTINATIONS = ("工单", "社工", "12345", "随申办", "受理服务中心", "工作人员", "转交")


def load(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        {
            "id": r["留言编号"],
            "category": r["一级分类"],
            "text": f"{r['留言主题'].strip()}\n{r['留言详情'].strip()}",
        }
        for r in rows
    ]


async def run(letters: list[dict[str, str]], workdir: Path) -> list[dict[str, Any]]:
    settings = load_settings(
        None,
        data_dir=workdir,
        knowledge_dir=ROOT / "knowledge",
        intents_dir=ROOT / "intents",
        log_json=False,
        log_level="ERROR",
        channels={"webhook": {"tokens": ["bench"], "committee": "puxiong"}},
    )
    app = await build_app(settings)
    client = TestClient(TestServer(app))
    await client.start_server()
    out: list[dict[str, Any]] = []
    try:
        for i, item in enumerate(letters):
            payload = {
                "message_id": f"letter-{item['id']}-{i}",
                "chat": {"id": f"p-letter-{i}", "type": "private"},
                "sender": {"id": f"citizen-{i}", "name": "居民"},
                "text": item["text"],
            }
            resp = await client.post(
                "/api/v1/messages", json=payload, headers={"Authorization": "Bearer bench"}
            )
            data = await resp.json()
            replies = data.get("replies", [])
            text = "\n".join(str(r.get("text", "")) for r in replies)
            kinds = [str(r.get("kind")) for r in replies]
            letter = read_letter(item["text"])
            out.append(
                {
                    **item,
                    "kinds": kinds,
                    "route": next((k for k in kinds if k != "notice"), "none"),
                    "reply": text,
                    "fallback": GENERIC in text,
                    "emergency": bool(EMERGENCY_KINDS & set(kinds)),
                    "destination": any(d in text for d in DESTINATIONS),
                    "goes_to": _goes_to(kinds, text),
                    "topic": letter.topic.key if letter is not None else "-",
                }
            )
    finally:
        await client.close()
    return out


def _goes_to(kinds: list[str], text: str) -> str:
    """Where the reply says the matter goes (the first that applies)."""
    if EMERGENCY_KINDS & set(kinds):
        return "emergency"
    if "12345" in text:
        return "12345"
    if "工单" in text:
        return "committee ticket"
    if "社工" in text or "工作人员" in text:
        return "caseworker"
    return "nowhere"


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    per_cat: dict[str, Counter[str]] = defaultdict(Counter)
    goes: dict[str, Counter[str]] = defaultdict(Counter)
    topics: dict[str, Counter[str]] = defaultdict(Counter)
    for r in results:
        per_cat[r["category"]][r["route"]] += 1
        goes[r["category"]][r["goes_to"]] += 1
        topics[r["category"]][r["topic"]] += 1
    n = len(results) or 1
    return {
        "n": len(results),
        "routes_per_category": {c: dict(v.most_common()) for c, v in sorted(per_cat.items())},
        "routes": dict(Counter(r["route"] for r in results).most_common()),
        "goes_to_per_category": {c: dict(v.most_common()) for c, v in sorted(goes.items())},
        "topic_read_per_category": {c: dict(v.most_common()) for c, v in sorted(topics.items())},
        "fallback_rate": round(sum(r["fallback"] for r in results) / n, 3),
        "false_emergency_rate": round(sum(r["emergency"] for r in results) / n, 3),
        "destination_rate": round(sum(r["destination"] for r in results) / n, 3),
        "fallback_ids": [r["id"] for r in results if r["fallback"]],
        "emergency_ids": [r["id"] for r in results if r["emergency"]],
        "no_destination_ids": [r["id"] for r in results if not r["destination"]],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", type=Path, default=CSV)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--show", type=int, default=0, help="print N sample replies")
    args = ap.parse_args()
    letters = load(args.csv)
    if args.limit:
        letters = letters[: args.limit]
    with threadpool_limits(1), tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(run(letters, Path(tmp)))
    result = summary(results)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    print(f"{result['n']} letters (private messages)")
    for cat, routes in result["routes_per_category"].items():
        print(f"  {cat:<10} " + ", ".join(f"{k} {v}" for k, v in routes.items()))
    print(f"routes overall: {result['routes']}")
    print("where the reply says it goes, per category:")
    for cat, goes in result["goes_to_per_category"].items():
        print(f"  {cat:<10} " + ", ".join(f"{k} {v}" for k, v in goes.items()))
    print("topic Linli read, per category:")
    for cat, topics in result["topic_read_per_category"].items():
        print(f"  {cat:<10} " + ", ".join(f"{k} {v}" for k, v in topics.items()))
    print(f"generic fallback rate {result['fallback_rate']:.3f} (target <= 0.10)")
    print(f"false emergency rate  {result['false_emergency_rate']:.3f} (target <= 0.01)")
    print(f"names where it goes   {result['destination_rate']:.3f} (target 1.00)")
    for r in results[: args.show]:
        print(f"\n--- {r['id']} [{r['category']}] {r['text'][:60]!r}\n{r['reply']}")


if __name__ == "__main__":
    main()
