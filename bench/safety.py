"""Crisis benchmark: does Linli recognise every urgent message, stay calm on look-alikes,
answer self-harm with the hotlines, and alert staff fast?

Reads the labelled crisis set in ``tests/data/crisis/`` (written apart from the rules; the
``holdout`` half is never looked at while tuning ``intents/crisis.yml``) and prints:

- recall per urgent category (recognised as a crisis at all) and category accuracy;
- false alarms per look-alike kind, and the crises the vetting model took back;
- end to end through the real application (generic webhook, embedded stores, a local HTTP
  server standing in for the WeCom group robot): every self-harm message must get a
  ``crisis`` reply with 12356 and 962525 and a staff alert; for every urgent message, the
  time from receipt to the staff alert arriving at the robot (p50/p99); an urgent message
  missed but answered with a check-in ("is someone in danger now?") is answered "是", and
  whether that raised the alert is counted apart (it is not recall).

    .venv/bin/python bench/safety.py [--split holdout|tune|tune2|…|tuneN|freshN|all] [--json]
        [--models DIR] [--pairs]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from threadpoolctl import threadpool_limits

from bot.app import build_app
from bot.dialogue.mentions import Mentions
from bot.nlu import NluService
from bot.nlu.types import EmergencyCategory
from bot.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "crisis"
HOTLINES = ("12356", "962525")
TUNE_SPLITS = tuple(
    sorted(
        (p.stem.removeprefix("urgent_") for p in DATA.glob("urgent_tune*.jsonl")),
        key=lambda s: int(s.removeprefix("tune") or 1),
    )
)
"""One tune set per independent writer (``*_tune.jsonl``, ``*_tune2.jsonl`` …), from the file
names, in the writers' order."""
FRESH_SPLITS = tuple(
    sorted(
        (p.stem.removeprefix("urgent_") for p in DATA.glob("urgent_fresh*.jsonl")),
        key=lambda s: int(s.removeprefix("fresh")),
    )
)
"""Writers' sets kept fresh (``*_freshN.jsonl``): scored, never read while tuning, so their
results carry counts only, never the ids of what was missed."""


def load(split: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    halves = (*TUNE_SPLITS, "holdout") if split == "all" else (split,)
    urgent: list[dict[str, Any]] = []
    look: list[dict[str, Any]] = []
    for half in halves:
        for target, name in ((urgent, "urgent"), (look, "lookalike")):
            path = DATA / f"{name}_{half}.jsonl"
            target.extend(json.loads(x) for x in path.read_text("utf-8").splitlines() if x)
    return urgent, look


def detection(
    nlu: NluService, urgent: list[dict[str, Any]], look: list[dict[str, Any]], names: list[str]
) -> dict[str, Any]:
    mentions = Mentions(names)

    vetoed: Counter[str] = Counter()

    def crisis(text: str, half: str) -> Any:
        clean, _ = mentions.strip(text)
        parse = nlu.parse(clean[:500], scan=clean)
        vetoed[half] += nlu.crisis_decision(clean[:500], scan=clean).vetoed is not None
        return parse.emergency if parse.is_emergency else None

    per_cat: dict[str, Counter[str]] = defaultdict(Counter)
    missed: list[dict[str, Any]] = []
    for item in urgent:
        hit = crisis(item["text"], "urgent")
        c = per_cat[item["category"]]
        c["n"] += 1
        if hit is None:
            missed.append(item)
            continue
        c["found"] += 1
        if item["category"] in {x.value for x in hit.categories}:
            c["category_ok"] += 1
    per_kind: dict[str, Counter[str]] = defaultdict(Counter)
    alarms: list[dict[str, Any]] = []
    for item in look:
        k = per_kind[item["kind"]]
        k["n"] += 1
        if crisis(item["text"], "lookalike") is not None:
            k["alarms"] += 1
            alarms.append(item)
    found = sum(c["found"] for c in per_cat.values())
    return {
        "urgent": {
            "n": len(urgent),
            "recall": round(found / max(len(urgent), 1), 4),
            "per_category": {
                cat: {
                    "n": c["n"],
                    "recall": round(c["found"] / c["n"], 4),
                    "category_accuracy": round(c["category_ok"] / c["n"], 4),
                }
                for cat, c in sorted(per_cat.items())
            },
            "missed": [m["id"] for m in missed],
        },
        "lookalike": {
            "n": len(look),
            "false_alarm_rate": round(len(alarms) / max(len(look), 1), 4),
            "per_kind": {
                kind: {"n": k["n"], "false_alarms": k["alarms"]}
                for kind, k in sorted(per_kind.items())
            },
            "alarms": [a["id"] for a in alarms],
        },
        # crises the vetting model took back (urgent: lost by it; look-alikes: alarms saved)
        "vetoed": {"urgent": vetoed["urgent"], "lookalike": vetoed["lookalike"]},
    }


def pairs(nlu: NluService, names: list[str]) -> dict[str, Any]:
    """Detection on the contrast pairs in ``pairs/`` (a self-harm message and a calm one of
    the same surface): self-harm missed or answered as another danger, calm ones alarmed."""
    mentions = Mentions(names)
    out: dict[str, Any] = {}
    for path in sorted((DATA / "pairs").glob("*.jsonl")):
        c: Counter[str] = Counter()
        for line in path.read_text("utf-8").splitlines():
            row = json.loads(line)
            clean, _ = mentions.strip(row["text"])
            parse = nlu.parse(clean[:500], scan=clean)
            hit = parse.emergency if parse.is_emergency else None
            c[row["label"]] += 1
            if row["label"] == "calm":
                c["calm_alarmed"] += hit is not None
            elif hit is None:
                c["self_harm_missed"] += 1
            elif EmergencyCategory.SELF_HARM not in hit.categories:
                c["self_harm_as_another_danger"] += 1
        out[path.stem] = dict(c)
    return out


async def end_to_end(
    urgent: list[dict[str, Any]],
    workdir: Path,
    models: Path,
    calm: dict[str, list[str]] | None = None,
    check_in: float | None = None,
) -> dict[str, Any]:
    """``urgent`` through the app (see the module's docstring); then each text of ``calm``
    (look-alikes, ordinary messages) as a new resident's private message: how many raised an
    alarm (an ``emergency`` or ``crisis`` reply) and how many got a check-in. ``check_in``:
    the check-in's floor (``LINLI_CRISIS_CHECK_IN``; None: the default)."""
    arrivals: list[tuple[float, str]] = []

    async def robot(request: web.Request) -> web.Response:
        body = await request.json()
        arrivals.append((time.perf_counter(), str(body.get("text", {}).get("content", ""))))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    robot_app = web.Application()
    robot_app.router.add_post("/cgi-bin/webhook/send", robot)
    robot_server = TestServer(robot_app)
    await robot_server.start_server()
    floor = {} if check_in is None else {"crisis_check_in": check_in}
    settings = load_settings(
        None,
        **floor,
        data_dir=workdir,
        models_dir=models,
        knowledge_dir=ROOT / "knowledge",
        intents_dir=ROOT / "intents",
        log_json=False,
        log_level="WARNING",
        wecom_api_base=str(robot_server.make_url("")).rstrip("/"),
        # One staff group receives a burst of alerts here; WeCom's 20/min limit would queue
        # them, which measures the limit, not Linli.
        group_robot_per_minute=100_000,
        channels={"webhook": {"tokens": ["bench"], "committee": "puxiong"}},
        committees={
            "puxiong": {
                "staff_robot_key": "bench-robot",
                "duty_phone": "000",
                # Nobody acknowledges here: a run longer than the default 5 minutes would count
                # the escalation's re-sends of the first alerts as later messages' alerts.
                "rota": {"ack_timeout_s": 86_400},
            }
        },
    )
    app = await build_app(settings)
    client = TestClient(TestServer(app))
    await client.start_server()
    latencies: list[float] = []
    self_harm = Counter[str]()
    not_alerted: list[str] = []
    checked_in: list[str] = []
    alerted_after_yes: list[str] = []
    try:
        for i, item in enumerate(urgent):
            group = item.get("chat") == "group"
            payload = {
                "message_id": f"safety-{item['id']}",
                "chat": {"id": "g-putuoyicun" if group else f"p-{i}", "type": item["chat"]},
                "sender": {"id": f"resident-{i}", "name": "居民"},
                "text": item["text"],
                "mentioned": False if group else None,
            }
            before = len(arrivals)
            sent = time.perf_counter()
            resp = await client.post(
                "/api/v1/messages", json=payload, headers={"Authorization": "Bearer bench"}
            )
            data = await resp.json()
            deadline = time.monotonic() + 5
            while len(arrivals) == before and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            alerted = len(arrivals) > before
            if alerted:
                latencies.append((arrivals[before][0] - sent) * 1000)
            else:
                not_alerted.append(item["id"])
            kinds = {r["kind"] for r in data.get("replies", [])}
            confirmed = False
            if not alerted and "check_in" in kinds:
                # missed, but asked whether someone is in danger: the resident answers "是"
                checked_in.append(item["id"])
                yes = {**payload, "message_id": f"safety-{item['id']}-yes", "text": "是"}
                await client.post(
                    "/api/v1/messages", json=yes, headers={"Authorization": "Bearer bench"}
                )
                deadline = time.monotonic() + 5
                while len(arrivals) == before and time.monotonic() < deadline:
                    await asyncio.sleep(0.005)
                confirmed = len(arrivals) > before
                if confirmed:
                    alerted_after_yes.append(item["id"])
            if item["category"] == "self_harm":
                texts = "\n".join(r["text"] for r in data.get("replies", []))
                self_harm["n"] += 1
                self_harm["crisis_reply"] += "crisis" in kinds
                self_harm["hotlines"] += all(h in texts for h in HOTLINES)
                self_harm["alerted"] += alerted
                self_harm["check_in"] += "check_in" in kinds
                self_harm["alerted_after_yes"] += confirmed
        calm_replies = {
            name: await _calm_replies(client, name, texts) for name, texts in (calm or {}).items()
        }
    finally:
        await client.close()
        await robot_server.close()
    lat = sorted(latencies)
    return {
        "self_harm": dict(self_harm),
        "alert_latency_ms": {
            "n": len(lat),
            "p50": round(statistics.median(lat), 1) if lat else None,
            "p99": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1) if lat else None,
            "max": round(lat[-1], 1) if lat else None,
        },
        "not_alerted": not_alerted,
        # missed messages that got the check-in, and those alerted once the resident said "是"
        "check_in": {"asked": checked_in, "alerted_after_yes": alerted_after_yes},
        "calm_replies": calm_replies,
    }


async def _calm_replies(
    client: TestClient[web.Request, web.Application], name: str, texts: list[str]
) -> dict[str, int]:
    """Each text as a new resident's private message: the replies' kinds counted."""
    c: Counter[str] = Counter()
    for i, text in enumerate(texts):
        payload = {
            "message_id": f"calm-{name}-{i}",
            "chat": {"id": f"c-{name}-{i}", "type": "private"},
            "sender": {"id": f"calm-{name}-{i}", "name": "居民"},
            "text": text,
        }
        resp = await client.post(
            "/api/v1/messages", json=payload, headers={"Authorization": "Bearer bench"}
        )
        kinds = {r["kind"] for r in (await resp.json()).get("replies", [])}
        c["n"] += 1
        c["alarm"] += bool(kinds & {"emergency", "crisis"})
        c["check_in"] += "check_in" in kinds
    return dict(c)


def counts_only(result: dict[str, Any]) -> dict[str, Any]:
    """The result with every list of ids replaced by its length (for a fresh writer's set)."""
    out: dict[str, Any] = {}
    for key, value in result.items():
        if isinstance(value, dict):
            out[key] = counts_only(value)
        elif isinstance(value, list):
            out[key] = len(value)
        else:
            out[key] = value
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--split",
        choices=["holdout", *TUNE_SPLITS, *FRESH_SPLITS, "all"],
        default="holdout",
    )
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-e2e", action="store_true", help="detection only")
    ap.add_argument("--pairs", action="store_true", help="only the contrast pairs in pairs/")
    ap.add_argument(
        "--ordinary",
        action="store_true",
        help="end to end, also every everyday set never trained on "
        "(bench/crisis_generalisation.py's): alarms and check-ins",
    )
    ap.add_argument(
        "--check-in",
        type=float,
        metavar="P",
        help="the check-in's floor on the crisis classifier's reading (default: the setting's)",
    )
    ap.add_argument(
        "--models",
        type=Path,
        help="a models folder to load (trained there when it does not match intents/; "
        "default: a temporary one, trained for this run)",
    )
    args = ap.parse_args()
    urgent, look = load(args.split)
    with threadpool_limits(1), tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(None, data_dir=Path(tmp), intents_dir=ROOT / "intents")
        models = args.models or Path(tmp) / "models"
        nlu = NluService(None, models, intents_dir=ROOT / "intents")
        nlu.start()
        if args.pairs:
            print(json.dumps(pairs(nlu, settings.bot_names), ensure_ascii=False, indent=2))
            return
        floor = settings.crisis_check_in if args.check_in is None else args.check_in
        result: dict[str, Any] = {"split": args.split, "check_in_floor": floor}
        result.update(detection(nlu, urgent, look, settings.bot_names))
        if not args.no_e2e:
            calm = {"lookalike": [item["text"] for item in look]}
            if args.ordinary:
                from bench.crisis_generalisation import ordinary

                calm.update(ordinary())
            result.update(
                asyncio.run(end_to_end(urgent, Path(tmp) / "e2e", models, calm, args.check_in))
            )
    if args.split in FRESH_SPLITS:
        result = counts_only(result)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    u, lk = result["urgent"], result["lookalike"]
    print(f"split {args.split}: urgent recall {u['recall']:.3f} of {u['n']}")
    for cat, c in u["per_category"].items():
        print(
            f"  {cat:14} n={c['n']:3}  recall {c['recall']:.3f}  "
            f"category {c['category_accuracy']:.3f}"
        )
    print(f"look-alikes: false alarms {lk['false_alarm_rate']:.3f} of {lk['n']}")
    print(f"taken back by the vetting model: {result['vetoed']}")
    for kind, k in lk["per_kind"].items():
        print(f"  {kind:16} n={k['n']:3}  false alarms {k['false_alarms']}")
    if "alert_latency_ms" in result:
        sh, lat = result["self_harm"], result["alert_latency_ms"]
        print(
            f"self-harm: {sh.get('crisis_reply', 0)}/{sh.get('n', 0)} crisis replies, "
            f"{sh.get('hotlines', 0)} with 12356+962525, {sh.get('alerted', 0)} staff alerts"
        )
        print(
            f"receipt → staff alert: p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms "
            f"(n={lat['n']}; not alerted: {len(urgent) - lat['n']})"
        )
        asked, yes = result["check_in"]["asked"], result["check_in"]["alerted_after_yes"]
        print(
            f"not alerted but asked whether someone is in danger: {_count(asked)}, "
            f"alerted once they said 是: {_count(yes)}"
        )
        for name, c in result["calm_replies"].items():
            print(
                f"  {name:16} n={c.get('n', 0):5}  alarms {c.get('alarm', 0)}  "
                f"check-ins {c.get('check_in', 0)}"
            )


def _count(value: list[str] | int) -> int:
    return value if isinstance(value, int) else len(value)


if __name__ == "__main__":
    main()
