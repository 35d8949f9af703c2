"""Crisis generalisation: how well does the detector find a writer's crises when the crisis
classifier never saw that writer? (leave one writer out)

Each independent writer of the crisis set (``tests/data/crisis/*_tuneN.jsonl``) also wrote
classifier examples (``intents/crisis_examples*.yml``, one file per writer). For every writer,
the crisis classifier is trained WITHOUT that writer's file and scored on that writer's tune
set; the hidden sets are written by other people, so this is the honest proxy for them.

Printed per writer: recall on urgent and false alarms on look-alikes for
- ``rules``: ``intents/crisis.yml`` alone (tuned on every tune set, so optimistic here);
- ``classifier``: the left-out classifier alone, at the service threshold (or at ``AGREE`` with
  the vetting model at ``AGREE_NOW``), behind the calm gate (passed when both models are
  sure: ``SURE``, ``SURE_NOW``);
- ``unvetted``: both, combined as the service combined them before round 11;
- ``detector``: both and the vetting model (``CrisisVetter``, trained without that writer's
  examples and contrast files), combined exactly as the service combines them
  (``crisis_decision``): a crisis the vetting model may judge (``vettable``) is taken back
  below ``VETO``, and a crisis only the rules found when the classifier is below ``DOUBT``
  and the vetting model below ``DOUBT_NOW`` (in ``DOUBT_MIN_CHARS`` or more), or (no
  self-harm and no sign of it, in ``DOUBT_CALM_MIN_CHARS`` or more) the classifier below
  ``DOUBT_CALM``.

Then a threshold sweep of the combined detector over all writers (micro-averaged), with the
false alarms of the full classifier (every writer) on ordinary text: ``shared/eval``
out-of-scope lines and resident questions, citizens' letters (detection only; the real
route is measured by ``bench/letters.py``), and everyday messages kept apart from the
classifier's examples (``tests/data/everyday_*_heldout.jsonl``: repair reports; complaints,
answers to the bot's questions and chatter).

    .venv/bin/python bench/crisis_generalisation.py [--json] [--writers first,second]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from threadpoolctl import threadpool_limits

from bot.dialogue.mentions import Mentions
from bot.encoders import Usem3Encoder
from bot.nlu.crisis import CrisisRules
from bot.nlu.crisis_model import (
    AGREE,
    AGREE_NOW,
    DOUBT,
    DOUBT_CALM,
    DOUBT_CALM_MAX_CHARS,
    DOUBT_CALM_MIN_CHARS,
    DOUBT_MIN_CHARS,
    DOUBT_NOW,
    SELF_HARM_SURE,
    SURE,
    SURE_NOW,
    VETO,
    CrisisModel,
    CrisisVetter,
    crisis_decision,
    load_or_train,
    load_or_train_vetter,
    rules_only_reading,
    vettable,
)
from bot.nlu.data import load_training_data
from bot.nlu.encoder import Vectors
from bot.nlu.service import Thresholds
from bot.nlu.types import EmergencyCategory
from bot.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "crisis"
INTENTS = ROOT / "intents"
EVAL = ROOT.parent / "shared" / "eval"  # ../shared beside the checkout

# (writer, tune split, the writer's classifier examples). The first writer's examples file was
# written apart from its tune set (none of its rows is in it); it is left out all the same,
# since one person's phrasing runs through both.
WRITERS = (
    ("first", "tune", "crisis_examples.yml"),
    ("second", "tune2", "crisis_examples_second_writer.yml"),
    ("third", "tune3", "crisis_examples_third_writer.yml"),
    ("fourth", "tune4", "crisis_examples_fourth_writer.yml"),
    ("fifth", "tune5", "crisis_examples_fifth_writer.yml"),
    # The sixth to twelfth writers' tune sets are copied into their examples files as they are.
    ("sixth", "tune6", "crisis_examples_sixth_writer.yml"),
    ("seventh", "tune7", "crisis_examples_seventh_writer.yml"),
    ("eighth", "tune8", "crisis_examples_eighth_writer.yml"),
    ("ninth", "tune9", "crisis_examples_ninth_writer.yml"),
    ("tenth", "tune10", "crisis_examples_tenth_writer.yml"),
    # Neither the eleventh nor the twelfth writer's examples are in intents/ (each raised the
    # full classifier's alarms on ordinary text); their rows score those writers against the
    # classifier as it is.
    ("eleventh", "tune11", "crisis_examples_eleventh_writer.yml"),
    # (twelfth: out-of-scope lines at 0.7 rose 25 → 26 of 5,069; eleventh: 25 → 29.)
    ("twelfth", "tune12", "crisis_examples_twelfth_writer.yml"),
    # The thirteenth and fourteenth writers' sets were kept fresh until round 12; copied as they
    # are (ordinary text at 0.7 with them: out-of-scope 27 of 5,069, resident questions 3 of
    # 166, letters 0 of 247; without: 27, 4, 0).
    ("thirteenth", "tune13", "crisis_examples_thirteenth_writer.yml"),
    ("fourteenth", "tune14", "crisis_examples_fourteenth_writer.yml"),
    # The fifteenth writer's set was kept fresh and scored once in round 12, then copied in.
    ("fifteenth", "tune15", "crisis_examples_fifteenth_writer.yml"),
    # The sixteenth to twenty-second writers' sets were kept fresh and scored until round 13,
    # then copied in.
    ("sixteenth", "tune16", "crisis_examples_sixteenth_writer.yml"),
    ("seventeenth", "tune17", "crisis_examples_seventeenth_writer.yml"),
    ("eighteenth", "tune18", "crisis_examples_eighteenth_writer.yml"),
    ("nineteenth", "tune19", "crisis_examples_nineteenth_writer.yml"),
    ("twentieth", "tune20", "crisis_examples_twentieth_writer.yml"),
    ("twenty_first", "tune21", "crisis_examples_twenty_first_writer.yml"),
    ("twenty_second", "tune22", "crisis_examples_twenty_second_writer.yml"),
    # The twenty-third to twenty-eighth writers' sets were kept fresh and scored in rounds 13
    # and 14, then copied in.
    ("twenty_third", "tune23", "crisis_examples_twenty_third_writer.yml"),
    ("twenty_fourth", "tune24", "crisis_examples_twenty_fourth_writer.yml"),
    ("twenty_fifth", "tune25", "crisis_examples_twenty_fifth_writer.yml"),
    ("twenty_sixth", "tune26", "crisis_examples_twenty_sixth_writer.yml"),
    ("twenty_seventh", "tune27", "crisis_examples_twenty_seventh_writer.yml"),
    ("twenty_eighth", "tune28", "crisis_examples_twenty_eighth_writer.yml"),
    # The twenty-ninth to thirty-first writers' sets were kept fresh and scored in round 15,
    # then copied in.
    ("twenty_ninth", "tune29", "crisis_examples_twenty_ninth_writer.yml"),
    ("thirtieth", "tune30", "crisis_examples_thirtieth_writer.yml"),
    ("thirty_first", "tune31", "crisis_examples_thirty_first_writer.yml"),
    # The thirty-second to thirty-fourth writers' sets were kept fresh and scored in round 16,
    # then copied in.
    ("thirty_second", "tune32", "crisis_examples_thirty_second_writer.yml"),
    ("thirty_third", "tune33", "crisis_examples_thirty_third_writer.yml"),
    ("thirty_fourth", "tune34", "crisis_examples_thirty_fourth_writer.yml"),
    # The thirty-fifth to thirty-seventh writers' sets were kept fresh and scored in round 17,
    # then copied in.
    ("thirty_fifth", "tune35", "crisis_examples_thirty_fifth_writer.yml"),
    ("thirty_sixth", "tune36", "crisis_examples_thirty_sixth_writer.yml"),
    ("thirty_seventh", "tune37", "crisis_examples_thirty_seventh_writer.yml"),
    # The thirty-eighth to fortieth writers' sets were kept fresh and scored in round 18, then
    # copied in.
    ("thirty_eighth", "tune38", "crisis_examples_thirty_eighth_writer.yml"),
    ("thirty_ninth", "tune39", "crisis_examples_thirty_ninth_writer.yml"),
    ("fortieth", "tune40", "crisis_examples_fortieth_writer.yml"),
    # The forty-first to forty-third writers' sets were kept fresh and scored in round 19, then
    # copied in.
    ("forty_first", "tune41", "crisis_examples_forty_first_writer.yml"),
    ("forty_second", "tune42", "crisis_examples_forty_second_writer.yml"),
    ("forty_third", "tune43", "crisis_examples_forty_third_writer.yml"),
    # The forty-fourth to forty-sixth writers' sets were kept fresh and scored once in round 20,
    # then copied in.
    ("forty_fourth", "tune44", "crisis_examples_forty_fourth_writer.yml"),
    ("forty_fifth", "tune45", "crisis_examples_forty_fifth_writer.yml"),
    ("forty_sixth", "tune46", "crisis_examples_forty_sixth_writer.yml"),
    # The forty-seventh to forty-ninth writers' sets were kept fresh and scored once in round 20,
    # then copied in in round 22.
    ("forty_seventh", "tune47", "crisis_examples_forty_seventh_writer.yml"),
    ("forty_eighth", "tune48", "crisis_examples_forty_eighth_writer.yml"),
    ("forty_ninth", "tune49", "crisis_examples_forty_ninth_writer.yml"),
    # The fiftieth to fifty-second writers' sets were kept fresh and scored in rounds 21–22, then
    # copied in in round 23.
    ("fiftieth", "tune50", "crisis_examples_fiftieth_writer.yml"),
    ("fifty_first", "tune51", "crisis_examples_fifty_first_writer.yml"),
    ("fifty_second", "tune52", "crisis_examples_fifty_second_writer.yml"),
    # The fifty-third to fifty-fifth writers' sets were kept fresh and scored in rounds 22–23,
    # then copied in in round 24.
    ("fifty_third", "tune53", "crisis_examples_fifty_third_writer.yml"),
    ("fifty_fourth", "tune54", "crisis_examples_fifty_fourth_writer.yml"),
    ("fifty_fifth", "tune55", "crisis_examples_fifty_fifth_writer.yml"),
    # The fifty-sixth to fifty-eighth writers' sets were kept fresh and scored in rounds 23–24,
    # then copied in in round 25.
    ("fifty_sixth", "tune56", "crisis_examples_fifty_sixth_writer.yml"),
    ("fifty_seventh", "tune57", "crisis_examples_fifty_seventh_writer.yml"),
    ("fifty_eighth", "tune58", "crisis_examples_fifty_eighth_writer.yml"),
)
SWEEP = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


class CachedEncoder:
    """USE-m3 with an unbounded memo: every fold encodes the same texts and words."""

    def __init__(self) -> None:
        self.inner = Usem3Encoder()
        self.memo: dict[str, Vectors] = {}

    @property
    def name(self) -> str:
        return self.inner.name

    def encode(self, texts: Sequence[str]) -> Vectors:
        missing = list(dict.fromkeys(t for t in texts if t not in self.memo))
        if missing:
            for t, v in zip(missing, self.inner.encode(missing), strict=True):
                self.memo[t] = v
        return np.stack([self.memo[t] for t in texts]) if texts else np.zeros((0, 512), "f4")


@dataclass(slots=True)
class Scored:
    """One message: whether the rules fired, the classifier's p(urgent), the calm gate; the
    vetting model's p(danger now), whether it may judge the crisis found, and whether that
    crisis reads as self-harm or carries a sign of it; the classifier's p(self-harm), whether
    the rules named self-harm, the classifier's p(urgent) on the whole message (and on it from
    a clause telling the danger as now: ``rules_only_reading``) and its length (what a doubt
    of a crisis only the rules found reads), whether the writer denies any
    intent to die (``CrisisRules.denies_self_harm``), and whether the message is nothing but
    courtesy (``CrisisRules.courtesy_only``)."""

    rules: bool
    p: float
    calm: bool
    p_now: float = 1.0
    vettable: bool = False
    self_harm: bool = False
    p_self_harm: float = 0.0
    rules_self_harm: bool = False
    p_whole: float = 1.0
    chars: int = 0
    denied: bool = False
    courtesy: bool = False

    def classifier(self, threshold: float) -> bool:
        """The classifier alone (or at ``AGREE`` with the vetting model at ``AGREE_NOW``),
        behind the calm gate, which both models sure (``SURE``, ``SURE_NOW``) pass
        (``_decide``)."""
        if self.courtesy:
            return False  # nothing but courtesy: never the classifier's crisis
        sure = self.p_self_harm >= SELF_HARM_SURE and not self.denied
        both_sure = self.p >= SURE and self.p_now >= SURE_NOW
        agreed = AGREE <= self.p < threshold and self.p_now >= AGREE_NOW
        return (self.p >= threshold or agreed) and (not self.calm or sure or both_sure)

    def found(self, threshold: float) -> bool:
        """Rules and classifier alone (before the vetting model)."""
        return self.rules or self.classifier(threshold)

    def detected(self, threshold: float, veto: float = VETO) -> bool:
        read = self.rules and self.chars >= DOUBT_MIN_CHARS
        doubted = read and self.p_whole < DOUBT and self.p_now < DOUBT_NOW
        within = DOUBT_CALM_MIN_CHARS <= self.chars <= DOUBT_CALM_MAX_CHARS
        calm = self.rules and within and self.p_whole < DOUBT_CALM and not self.self_harm
        vetoed = self.vettable and self.p_now < veto
        return self.found(threshold) and not (vetoed or doubted or calm)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text("utf-8").splitlines() if x.strip()]


def score(
    texts: Sequence[str],
    rules: CrisisRules,
    model: CrisisModel,
    mentions: Mentions,
    vetter: CrisisVetter | None = None,
) -> list[Scored]:
    out: list[Scored] = []
    for text in texts:
        clean, _ = mentions.strip(text)
        # threshold 0: the crisis the classifier would name at any threshold (whether it is
        # one is decided by ``Scored.found`` at the threshold wanted).
        d = crisis_decision(
            rules, model, clean[:500], scan=clean, threshold=0.0, always_score=True, vetter=vetter
        )
        hit = d.hit or d.vetoed
        guess = model.guess(clean[:500])  # remembered: the reading crisis_decision made
        out.append(
            Scored(
                d.rules_hit is not None,
                d.p_urgent,
                d.calm,
                1.0 if d.p_now is None else d.p_now,
                hit is not None and vettable(hit, clean),
                hit is not None
                and (EmergencyCategory.SELF_HARM in hit.categories or hit.self_harm_cue),
                guess.p_self_harm,
                d.rules_hit is not None and EmergencyCategory.SELF_HARM in d.rules_hit.categories,
                rules_only_reading(model, clean[:500], clean, d.rules_hit),
                len(clean.strip()),
                rules.denies_self_harm(clean),
                rules.courtesy_only(clean),
            )
        )
    return out


def ordinary() -> dict[str, list[str]]:
    sets: dict[str, list[str]] = {}
    oos = EVAL / "oos_dev.txt"
    if oos.exists():
        sets["oos_dev"] = [x for x in oos.read_text("utf-8").splitlines() if x.strip()]
    res = EVAL / "resident_dev.jsonl"
    if res.exists():
        sets["resident_dev"] = [r["text"] for r in _jsonl(res)]
    # everyday messages kept apart from the classifier's examples: repair reports (round 14),
    # complaints, answers to the bot's questions and chatter (round 15)
    for path in sorted((ROOT / "tests" / "data").glob("everyday_*_heldout.jsonl")):
        name = path.stem.removeprefix("everyday_").removesuffix("_heldout")
        sets[name] = [r["text"] for r in _jsonl(path)]
    letters = EVAL / "citizen_messages.csv"
    if letters.exists():
        with letters.open(encoding="utf-8-sig", newline="") as f:
            sets["letters"] = [
                f"{r['留言主题'].strip()}\n{r['留言详情'].strip()}" for r in csv.DictReader(f)
            ]
    return sets


def rate(items: Sequence[Scored], threshold: float, what: str = "detector") -> float:
    if not items:
        return 0.0
    if what == "rules":
        hits = sum(s.rules for s in items)
    elif what == "classifier":
        hits = sum(s.classifier(threshold) for s in items)
    elif what == "unvetted":
        hits = sum(s.found(threshold) for s in items)
    else:
        hits = sum(s.detected(threshold) for s in items)
    return hits / len(items)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--writers", default="", help="comma-separated subset of writers")
    ap.add_argument("--no-ordinary", action="store_true", help="skip ordinary-text alarms")
    ap.add_argument(
        "--dump", type=Path, help="write every message's scores (JSON lines) to this file"
    )
    args = ap.parse_args()
    wanted = {w for w in args.writers.split(",") if w}
    threshold = Thresholds().emergency
    encoder = CachedEncoder()
    settings = load_settings(None, data_dir=Path(tempfile.gettempdir()))
    mentions = Mentions(settings.bot_names)
    rules = CrisisRules.load(INTENTS)
    data = load_training_data(INTENTS)
    result: dict[str, Any] = {"threshold": threshold, "veto": VETO, "writers": {}}
    pooled_u: list[Scored] = []
    pooled_l: list[Scored] = []
    dump: list[dict[str, Any]] = []
    started = time.perf_counter()
    with threadpool_limits(1), tempfile.TemporaryDirectory() as tmp:
        for writer, split, examples in WRITERS:
            if wanted and writer not in wanted:
                continue
            urgent_path, look_path = (
                DATA / f"urgent_{split}.jsonl",
                DATA / f"lookalike_{split}.jsonl",
            )
            if not urgent_path.exists() or not look_path.exists():
                continue
            fold = Path(tmp) / writer
            fold.mkdir()
            for f in INTENTS.glob("*.yml"):
                if f.name not in (examples, f"crisis_contrast_{writer}_writer.yml"):
                    shutil.copy(f, fold / f.name)
            model = load_or_train(Path(tmp) / "models", fold, data, rules, encoder, save=False)
            assert model is not None
            vetter = load_or_train_vetter(Path(tmp) / "models", fold, encoder, save=False)
            urgent, look = _jsonl(urgent_path), _jsonl(look_path)
            su = score([u["text"] for u in urgent], rules, model, mentions, vetter)
            sl = score([x["text"] for x in look], rules, model, mentions, vetter)
            pooled_u += su
            pooled_l += sl
            for items, scores in ((urgent, su), (look, sl)):
                dump += [
                    {"writer": writer, **i, **asdict(s)} for i, s in zip(items, scores, strict=True)
                ]
            per_cat: dict[str, Counter[str]] = {}
            for item, s in zip(urgent, su, strict=True):
                c = per_cat.setdefault(item["category"], Counter())
                c["n"] += 1
                c["found"] += s.detected(threshold)
            per_kind: dict[str, Counter[str]] = {}
            for item, s in zip(look, sl, strict=True):
                c = per_kind.setdefault(item["kind"], Counter())
                c["n"] += 1
                c["alarms"] += s.detected(threshold)
            result["writers"][writer] = {
                "split": split,
                "left_out": examples,
                "n_urgent": len(urgent),
                "n_lookalike": len(look),
                **{
                    what: {
                        "recall": round(rate(su, threshold, what), 4),
                        "false_alarms": round(rate(sl, threshold, what), 4),
                    }
                    for what in ("rules", "classifier", "unvetted", "detector")
                },
                "vetoed": {
                    "urgent": sum(s.found(threshold) and not s.detected(threshold) for s in su),
                    "lookalike": sum(s.found(threshold) and not s.detected(threshold) for s in sl),
                },
                "self_harm": {
                    "n": sum(u["category"] == "self_harm" for u in urgent),
                    "answered_as_self_harm": sum(
                        u["category"] == "self_harm" and s.detected(threshold) and s.self_harm
                        for u, s in zip(urgent, su, strict=True)
                    ),
                    "found": sum(
                        u["category"] == "self_harm" and s.detected(threshold)
                        for u, s in zip(urgent, su, strict=True)
                    ),
                },
                "recall_per_category": {
                    k: f"{c['found']}/{c['n']}" for k, c in sorted(per_cat.items())
                },
                "alarms_per_kind": {
                    k: f"{c['alarms']}/{c['n']}" for k, c in sorted(per_kind.items()) if c["alarms"]
                },
                "missed": [
                    u["id"] for u, s in zip(urgent, su, strict=True) if not s.detected(threshold)
                ],
                "alarms": [x["id"] for x, s in zip(look, sl, strict=True) if s.detected(threshold)],
            }
        ordinary_scores: dict[str, list[Scored]] = {}
        if not args.no_ordinary:
            full = load_or_train(Path(tmp) / "models", INTENTS, data, rules, encoder, save=False)
            assert full is not None
            full_vetter = load_or_train_vetter(Path(tmp) / "models", INTENTS, encoder, save=False)
            for name, texts in ordinary().items():
                ordinary_scores[name] = score(texts, rules, full, mentions, full_vetter)
                dump += [
                    {"writer": name, "id": f"{name}-{i}", **asdict(s)}
                    for i, s in enumerate(ordinary_scores[name])
                ]
    if args.dump:
        args.dump.write_text(
            "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in dump), "utf-8"
        )
    result["sweep"] = [
        {
            "threshold": th,
            "recall": round(rate(pooled_u, th), 4),
            "false_alarms": round(rate(pooled_l, th), 4),
            "unvetted_recall": round(rate(pooled_u, th, "unvetted"), 4),
            "unvetted_false_alarms": round(rate(pooled_l, th, "unvetted"), 4),
            **{
                name: f"{sum(s.detected(th) for s in sc)}/{len(sc)}"
                for name, sc in ordinary_scores.items()
            },
            **{
                f"{name}_unvetted": f"{sum(s.found(th) for s in sc)}/{len(sc)}"
                for name, sc in ordinary_scores.items()
            },
        }
        for th in SWEEP
    ]
    result["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    print(f"leave one writer out (service threshold {threshold}, veto below {VETO}):")
    for writer, r in result["writers"].items():
        print(
            f"  {writer:7} ({r['split']}: {r['n_urgent']} urgent, {r['n_lookalike']} look-alikes)"
        )
        for what in ("rules", "classifier", "unvetted", "detector"):
            print(
                f"    {what:10} recall {r[what]['recall']:.3f}  "
                f"false alarms {r[what]['false_alarms']:.3f}"
            )
        print(f"    per category: {r['recall_per_category']}")
        print(f"    alarms per kind: {r['alarms_per_kind']}")
        print(f"    vetoed: {r['vetoed']}  self-harm: {r['self_harm']}")
    print(
        "sweep (detector, all writers pooled, unvetted in brackets; "
        "ordinary text: full classifier and vetting model):"
    )
    for row in result["sweep"]:
        extra = "  ".join(f"{k} {v}" for k, v in row.items() if "/" in str(v))
        print(
            f"  {row['threshold']:.2f}: recall {row['recall']:.3f}  "
            f"false alarms {row['false_alarms']:.3f}  (recall {row['unvetted_recall']:.3f}, "
            f"false alarms {row['unvetted_false_alarms']:.3f})  {extra}"
        )
    print(f"({result['seconds']} s)")


if __name__ == "__main__":
    main()
