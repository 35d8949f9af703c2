"""``linli nlu …``: parse a message, evaluate on Rasa NLU files, train a model.

``register(sub)`` adds the ``nlu`` command to the ``linli`` parser; handlers return exit
codes (0 ok, 1 failure, 2 bad input such as malformed training data).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from bot.domain import Registry
from bot.domain.errors import RegistryError
from bot.nlu.encoder import Usem3SentenceEncoder
from bot.nlu.errors import NluError, TrainingDataError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    nlu = sub.add_parser("nlu", help="intent classification and entity extraction")
    nsub = nlu.add_subparsers(dest="nlu_command", required=True)

    parse = nsub.add_parser("parse", help="parse one message (Rasa /model/parse JSON)")
    parse.add_argument("text")
    parse.add_argument("--json", action="store_true", help="print JSON")
    parse.add_argument("--data", type=Path, help="training data dir (default: intents_dir)")
    parse.add_argument("--models", type=Path, help="models dir (default: <data_dir>/models)")
    parse.add_argument("--committee", help="restrict compound names to this committee")
    parse.set_defaults(handler=cmd_parse)

    ev = nsub.add_parser("eval", help="train on one Rasa NLU file, test on another")
    ev.add_argument("--train", type=Path, required=True)
    ev.add_argument("--test", type=Path, required=True)
    ev.add_argument("--json", action="store_true", help="print JSON")
    ev.set_defaults(handler=cmd_eval)

    tr = nsub.add_parser("train", help="train and save a versioned model")
    tr.add_argument("--data", type=Path, help="training data dir or file (default: intents_dir)")
    tr.add_argument("--out", type=Path, help="models dir (default: <data_dir>/models)")
    tr.add_argument("--json", action="store_true", help="print the manifest as JSON")
    tr.set_defaults(handler=cmd_train)


def _settings(args: argparse.Namespace) -> Any:
    from bot.settings import load_settings

    return load_settings(getattr(args, "config", None))


def _registry(knowledge_dir: Path) -> Registry | None:
    path = knowledge_dir / "registry.yaml"
    if not path.is_file():
        print(
            f"linli nlu: no registry at {path}; compounds will not be recognised", file=sys.stderr
        )
        return None
    return Registry.from_mapping(yaml.safe_load(path.read_text(encoding="utf-8")))


def _fail(exc: Exception, code: int) -> int:
    print(f"linli nlu: {exc}", file=sys.stderr)
    return code


def cmd_parse(args: argparse.Namespace) -> int:
    from bot.nlu.service import NluService

    try:
        settings = _settings(args)
        service = NluService(
            _registry(settings.knowledge_dir),
            args.models or settings.data_dir / "models",
            intents_dir=args.data or settings.intents_dir,
        )
        service.start()
        result = service.parse(args.text, committee=args.committee)
    except TrainingDataError as exc:
        return _fail(exc, 2)
    except (NluError, RegistryError, OSError) as exc:
        return _fail(exc, 1)
    if args.json:
        print(json.dumps(result.to_rasa_json(), ensure_ascii=False, indent=2))
        return 0
    print(f"intent: {result.intent} ({result.confidence:.3f})")
    if result.emergency is not None:
        e = result.emergency
        print(f"emergency: {e.category.value} ({e.source}{': ' + e.matched if e.matched else ''})")
    for s in result.ranking[:5]:
        print(f"  {s.name:<18} {s.confidence:.3f}")
    for ent in result.entities:
        print(f"entity: {ent.entity} = {ent.value}  [{ent.start}:{ent.end}] {ent.text!r}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.nlu.evaluate import evaluate_files

    try:
        report = evaluate_files(args.train, args.test, encoder=Usem3SentenceEncoder())
    except TrainingDataError as exc:
        return _fail(exc, 2)
    except NluError as exc:
        return _fail(exc, 1)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    print(_format_eval(report))
    return 0


def _format_eval(r: dict[str, Any]) -> str:
    lines = [
        f"train {r['n_train']} examples in {r['train_seconds']:.1f}s; test {r['n_test']}",
        f"accuracy {r['accuracy']:.4f}  macro F1 {r['macro_f1']:.4f}  "
        f"weighted F1 {r['weighted_f1']:.4f}",
        f"latency p50 {r['latency_ms']['p50']:.2f} ms  p99 {r['latency_ms']['p99']:.2f} ms",
        "",
        f"{'intent':<20}{'prec':>7}{'rec':>7}{'f1':>7}{'n':>6}",
    ]
    for name, m in r["per_intent"].items():
        lines.append(
            f"{name:<20}{m['precision']:>7.3f}{m['recall']:>7.3f}{m['f1']:>7.3f}{m['support']:>6}"
        )
    labels = r["confusion"]["labels"]
    lines += ["", "confusion (rows = expected, columns = predicted, by index):"]
    lines.append("     " + "".join(f"{i:>4}" for i in range(len(labels))))
    for i, row in enumerate(r["confusion"]["matrix"]):
        lines.append(f"{i:>3}  " + "".join(f"{v or '.':>4}" for v in row) + f"  {labels[i]}")
    if r.get("errors"):
        lines += ["", "some errors:"]
        lines += [f"  {e['expected']} → {e['predicted']}: {e['text']}" for e in r["errors"][:20]]
    return "\n".join(lines)


def cmd_train(args: argparse.Namespace) -> int:
    from bot.nlu.model import save_model, train

    try:
        settings = _settings(args)
        data = args.data or settings.intents_dir
        out = args.out or settings.data_dir / "models"
        model = train(data, encoder=Usem3SentenceEncoder())
        path = save_model(model, out)
    except TrainingDataError as exc:
        return _fail(exc, 2)
    except (NluError, OSError) as exc:
        return _fail(exc, 1)
    if args.json:
        print(json.dumps({"path": str(path), **model.manifest}, ensure_ascii=False, indent=2))
    else:
        m = model.manifest
        print(
            f"saved {path}\n{m['n_examples']} examples, {len(m['intents'])} intents, "
            f"{m['train_seconds']:.1f}s, out-of-fold accuracy {m['oof_accuracy']}"
        )
    return 0
