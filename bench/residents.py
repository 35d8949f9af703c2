"""Residents' questions through the whole app: every line of a ``kb eval`` query file (by
default the public ``resident_dev.jsonl``) sent by a new resident through the generic webhook
of a real app (the NLU, crisis rules, routes, retrieval and its calibration, SQLite and the
in-process state), and what the resident got back sorted by outcome.

A line labelled with a compound (``"compound": "普雄馨苑"``) is asked in that compound's group
chat with "@邻里"; any other line in a private chat. A private-chat answer that first asks which
compound the resident lives in is answered with "1" and the answer that follows is judged.

Outcomes of an answerable question (``expected`` an FAQ id or a list of them):
- ``right``: the expected entry answered outright;
- ``menu_hit`` / ``menu_miss``: "did you mean", with / without an expected entry among the
  choices;
- ``wrong``: another entry answered outright;
- ``fallback``: "not found" (the general fallback);
- ``ticket``: a ticket dialogue started (or a ticket opened) instead of the answer;
- ``emergency``: the emergency or crisis step answered;
- ``handoff``: handed to a caseworker;
- ``other``: another route answered (a notice, a letter, small talk …).
An unanswerable question (``expected`` null) is ``right`` when no entry was answered outright,
``referred`` when a referral entry (tag 转介: "not handled here, go to …") answered it, ``menu``
when it got "did you mean", ``wrong`` when another entry was answered.

A line may hold ``"turns"``: what one resident says in a row (the last is judged), e.g. the
question, then the reply to a "did you mean". ``bench/residents_probe.jsonl`` holds such
lines and other questions written for this project (typos, Shanghainese, emoji; not
independent: a regression set, not a measure).

Usage: OMP_NUM_THREADS=1 .venv/bin/python bench/residents.py [--queries FILE] [--json]
       [--set answerable] [--show wrong,menu_hit,...] [--text "a question" ...]
NLU models are trained once into ``var/bench-residents/models`` and reused while the intents
do not change. Cite the data's source (README of ../shared/eval) with any figure quoted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from aiohttp.test_utils import TestClient, TestServer
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import appkeys  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.encoders import Usem3Encoder  # noqa: E402
from bot.retrieval.corpus import load_corpus  # noqa: E402
from bot.settings import load_settings  # noqa: E402

QUERIES = ROOT.parent / "shared" / "eval" / "resident_dev.jsonl"
MODELS = ROOT / "var" / "bench-residents"
HOOK = "bench-hook"
COMMITTEE = "puxiong"
QUESTION = re.compile(r"^(?:您问的还是“[^”]*”这件事，再给您完整说一遍：\n)?【(.+?)】", re.M)
CHOICE_LINE = re.compile(r"^\d+\. (.+)$", re.M)


def _expected(row: dict[str, Any]) -> set[str]:
    exp = row.get("expected")
    if exp is None:
        return set()
    return {exp} if isinstance(exp, str) else set(exp)


class Bench:
    def __init__(
        self, client: TestClient[Any, Any], by_question: dict[str, str], referrals: set[str]
    ) -> None:
        self.client = client
        self.by_question = by_question
        self.referrals = referrals
        self.why = False
        self.compounds = self._compounds()
        self.n = 0

    def _compounds(self) -> dict[str, str]:
        """Compound name or alias → its first group chat id."""
        import yaml

        reg = yaml.safe_load((ROOT / "knowledge" / "registry.yaml").read_text(encoding="utf-8"))
        out: dict[str, str] = {}
        for committee in reg["committees"]:
            for c in committee.get("compounds", []):
                chats = c.get("group_chats") or []
                if chats:
                    for name in [c["name"], *c.get("aliases", [])]:
                        out[name] = chats[0]
        return out

    async def say(self, sender: str, chat: str, group: bool, text: str) -> list[dict[str, Any]]:
        self.n += 1
        body = {
            "message_id": f"{sender}-{self.n}",
            "chat": {"id": chat, "type": "group" if group else "private"},
            "sender": {"id": sender, "name": "王阿姨"},
            "text": text,
            "mentioned": True,
        }
        resp = await self.client.post(
            "/api/v1/messages", json=body, headers={"Authorization": f"Bearer {HOOK}"}
        )
        if resp.status != 200:
            raise RuntimeError(f"{resp.status}: {await resp.text()}")
        data = await resp.json()
        replies: list[dict[str, Any]] = data["replies"]
        return replies

    async def ask(self, i: int, row: dict[str, Any], turns: list[str]) -> dict[str, Any]:
        """One resident asks ``turns`` (the question, then any follow-ups) and the last
        reply is judged against ``row``."""
        started = time.perf_counter()
        sender = f"res-{i}-{time.monotonic_ns()}"
        compound = row.get("compound")
        group_chat = self.compounds.get(compound) if compound else None
        chat = f"{group_chat}" if group_chat else f"p-{sender}"
        replies: list[dict[str, Any]] = []
        for text in turns:
            replies = await self.say(sender, chat, group_chat is not None, text)
        asked_compound = False
        if replies and replies[0]["kind"] == "slot" and "住在哪个小区" in replies[0]["text"]:
            asked_compound = True
            replies = await self.say(sender, chat, group_chat is not None, "1")
        ms = round((time.perf_counter() - started) * 1000)
        out = {**self.judge(row, replies), "asked_compound": asked_compound, "ms": ms}
        if self.why:
            out["why"] = self.explain(turns[-1])
        return out

    def explain(self, text: str) -> dict[str, Any]:
        """The NLU's reading and the FAQ search of ``text`` alone (no compound): why a
        line got what it got."""
        app = self.client.app
        parse = app[appkeys.NLU].parse(text, committee=COMMITTEE)
        outcome = app[appkeys.RETRIEVAL].search(COMMITTEE, text)
        return {
            "intent": f"{parse.intent} {parse.confidence:.2f}",
            "search": outcome.kind,
            "hits": [f"{h.entry.id} {h.score:.3f}" for h in outcome.hits[:3]],
        }

    def judge(self, row: dict[str, Any], replies: list[dict[str, Any]]) -> dict[str, Any]:
        expected = _expected(row)
        kinds = [r["kind"] for r in replies]
        text = "\n".join(r["text"] for r in replies)
        answered = [
            self.by_question.get(m.group(1), "?")
            for r in replies
            if r["kind"] == "faq"
            for m in [QUESTION.search(r["text"])]
            if m is not None
        ]
        choices = (
            [self.by_question.get(q, "?") for q in CHOICE_LINE.findall(text)]
            if "clarify" in kinds
            else []
        )
        if answered:
            got = answered[0]
            if got in expected:
                outcome = "right"
            elif not expected and got in self.referrals:
                outcome = "referred"
            else:
                outcome = "wrong"
        elif "clarify" in kinds:
            got = None
            if expected:
                outcome = "menu_hit" if expected & set(choices) else "menu_miss"
            else:
                outcome = "menu"
        elif "fallback" in kinds or not kinds:
            got = None
            outcome = "fallback" if expected else "right"
        else:
            got = None
            route = (
                "emergency"
                if {"emergency", "crisis"} & set(kinds)
                else "ticket"
                if {"slot", "ticket"} & set(kinds)
                else "handoff"
                if {"handoff", "human"} & set(kinds)
                else "other"
            )
            outcome = route if expected else "right"
        return {
            "text": row["text"],
            "set": row.get("set"),
            "expected": sorted(expected),
            "outcome": outcome,
            "answered": got,
            "choices": choices,
            "kinds": kinds,
            "reply": text[:600],
        }


async def run(
    rows: list[dict[str, Any]], conversations: list[list[str]], why: bool = False
) -> list[dict[str, Any]]:
    MODELS.mkdir(parents=True, exist_ok=True)
    encoder = Usem3Encoder()
    encoder.encode(["预热"])
    corpus = load_corpus([ROOT / "knowledge"])
    by_question = {e.question: e.id for e in corpus}
    referrals = {e.id for e in corpus if "转介" in e.tags}
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            None,
            data_dir=Path(tmp) / "var",
            models_dir=MODELS / "models",
            index_dir=MODELS / "index",
            knowledge_dir=ROOT / "knowledge",
            intents_dir=ROOT / "intents",
            log_json=False,
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'linli.db'}",
            redis_url="",
            reply_budget_s=60.0,
            channels={"webhook": {"tokens": [HOOK], "committee": COMMITTEE}},
        )
        app = await build_app(settings, encoder=encoder)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        try:
            bench = Bench(client, by_question, referrals)
            bench.why = why
            return [await bench.ask(i, row, conversations[i]) for i, row in enumerate(rows)]
        finally:
            await client.close()


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("answerable", "in_domain_unanswered", "out_of_scope"):
        part = [r for r in results if r["set"] == name]
        if part:
            out[name] = {"n": len(part), **Counter(r["outcome"] for r in part)}
    unlabelled = [r for r in results if r["set"] not in out]
    if unlabelled:
        out["other"] = {"n": len(unlabelled), **Counter(r["outcome"] for r in unlabelled)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--queries", type=Path, default=QUERIES)
    ap.add_argument("--set", help="only lines of this set (answerable, out_of_scope …)")
    ap.add_argument("--json", action="store_true", help="every line's outcome as JSON")
    ap.add_argument(
        "--show",
        default="wrong,menu_hit,menu_miss,menu,fallback,ticket,emergency,handoff,other",
        help="outcomes whose lines are listed (comma-separated; 'all')",
    )
    ap.add_argument(
        "--text",
        action="append",
        help="ask these instead (unlabelled); 'a || b' asks a then b as one resident",
    )
    ap.add_argument(
        "--why", action="store_true", help="with each line: the intent read and the FAQ ranking"
    )
    args = ap.parse_args()
    if args.text:
        rows = [{"text": t, "expected": None, "set": None} for t in args.text]
        conversations = [[p.strip() for p in t.split("||")] for t in args.text]
    else:
        rows = [json.loads(line) for line in args.queries.read_text("utf-8").splitlines() if line]
        if args.set:
            rows = [r for r in rows if r.get("set") == args.set]
        conversations = [list(r.get("turns") or [r["text"]]) for r in rows]
    started = time.perf_counter()
    with threadpool_limits(1):
        results = asyncio.run(run(rows, conversations, args.why))
    seconds = round(time.perf_counter() - started, 1)
    if args.json:
        print(
            json.dumps(
                {"summary": summary(results), "seconds": seconds, "lines": results},
                ensure_ascii=False,
                indent=1,
            )
        )
        return
    show = set(args.show.split(","))
    for r in results:
        if args.text or "all" in show or r["outcome"] in show:
            exp = ",".join(r["expected"]) or "-"
            print(
                f"{r['outcome']:9} {r['text']}  [expected {exp}; got {r['answered'] or r['kinds']}"
                f"{'; choices ' + ','.join(r['choices']) if r['choices'] else ''}]"
            )
            if args.text:
                print("    " + r["reply"].replace("\n", "\n    "))
            if "why" in r:
                why = r["why"]
                print(
                    f"    intent {why['intent']}; search {why['search']}: {', '.join(why['hits'])}"
                )
    for name, counts in summary(results).items():
        print(name, json.dumps(counts, ensure_ascii=False))
    print(f"{seconds} s")


if __name__ == "__main__":
    main()
