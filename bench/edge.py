"""What the edge's checks cost, and how fast hostile bodies are refused.

1. **The safe JSON loader** (``bot.channels.safe_json.loads``) against plain ``json.loads`` on
   a resident's message, a 250 KB body (the channel limit) of many small objects, a body of
   50 000 strings, and hostile bodies nested 100 000 levels (plain and with an empty sibling
   at each level). Target: a message costs microseconds; a hostile body at the size limit is
   refused in a few milliseconds (never the parser's recursion).
2. **PII masking** (``bot.logs.mask``) on a log line with a phone, an ID and a card number.

Run: ``.venv/bin/python bench/edge.py [--json]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.channels.safe_json import loads
from bot.logs import mask


def per_call_us(work: Callable[[], object], repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        # The hostile bodies are refused: that is the measured path.
        with contextlib.suppress(Exception):
            work()
    return (time.perf_counter() - started) / repeat * 1e6


def bodies() -> dict[str, bytes]:
    message = {
        "message_id": "m1",
        "chat": {"id": "g-putuoyicun", "type": "group"},
        "sender": {"id": "u1", "name": "王阿姨"},
        "text": "请问居住证怎么办理？" * 5,
    }
    many = {"items": [{"a": "长" * 20, "b": [1, 2, 3]} for _ in range(3000)]}
    return {
        "message": json.dumps(message, ensure_ascii=False).encode(),
        "250KB_objects": json.dumps(many, ensure_ascii=False).encode(),
        "50k_strings": b'["' + b'", "'.join([b"a"] * 50_000) + b'"]',
        "nested_100k": b"[" * 100_000 + b"]" * 100_000,
        "nested_siblings": b"[[]" * 60_000 + b"]" * 60_000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for name, raw in bodies().items():
        repeat = 2000 if len(raw) < 10_000 else 30
        results[name] = {
            "bytes": len(raw),
            "safe_loads_us": round(
                per_call_us(lambda r=raw: loads(r, max_bytes=10**7, max_depth=32), repeat), 1
            ),
            "json_loads_us": round(per_call_us(lambda r=raw: json.loads(r), repeat), 1),
        }
    line = "王阿姨 138-0013-8000，身份证 310104 1990 0101 123X，卡号 6222 0212 3456 7890 123"
    results["mask_log_line"] = {
        "bytes": len(line.encode()),
        "mask_us": per_call_us(lambda: mask(line), 5000),
    }
    if args.json:
        print(json.dumps(results))
    else:
        for name, figures in results.items():
            print(name, ", ".join(f"{k}={v:g}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
