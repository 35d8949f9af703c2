"""Parsing untrusted JSON with its size and nesting bounded before the parser runs.

Every JSON body from outside (the WeCom AI bot's envelope and its decrypted message, the generic
webhook, ``/try/messages`` and the admin API) goes through :func:`loads`: a body larger than
``max_bytes`` or nested deeper than ``max_depth`` is refused before ``json`` sees it (the C
parser recurses once per level and answers a deep enough body with ``RecursionError``). The
text must be strict UTF-8 (``json`` would otherwise guess UTF-16/32 from the first bytes),
numbers must be finite (no ``NaN``/``Infinity``, no ``1e999``), no string may hold a lone UTF-16
surrogate (``"\\ud800"`` parses, but no database or encoder takes it) and no object may repeat a
key (two ``"encrypt"`` fields could make a checker and a reader see different values).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from bot.channels.errors import BadRequestError, BodyTooLarge

# Strings first (their brackets do not nest), then every bracket outside them.
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class JsonRejected(BadRequestError):
    """The body is not acceptable JSON; the message says why and is safe to show."""

    status = 400


def nesting_depth(text: str, limit: int) -> int:
    """The deepest array/object nesting of ``text`` (JSON), or ``limit + 1`` as soon as it
    goes deeper than ``limit`` (the scan stops there)."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRING.sub("", text)):
        if match[0] in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        else:
            depth -= 1
    return deepest


def loads(
    raw: bytes | str,
    *,
    max_bytes: int,
    max_depth: int,
    what: str = "body",
) -> Any:
    """The parsed JSON value of ``raw``; raises :class:`BodyTooLarge` (413) beyond
    ``max_bytes`` and :class:`JsonRejected` (400) for anything else that is not plain,
    bounded JSON."""
    size = len(raw.encode("utf-8", "surrogatepass")) if isinstance(raw, str) else len(raw)
    if size > max_bytes:
        raise BodyTooLarge(f"{what}: larger than {max_bytes} bytes")
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonRejected(f"{what}: not valid UTF-8") from None
    else:
        text = raw
    if text.startswith("\ufeff"):
        text = text[1:]
    if nesting_depth(text, max_depth) > max_depth:
        raise JsonRejected(f"{what}: JSON nested deeper than {max_depth} levels")
    try:
        value = json.loads(
            text,
            parse_constant=_no_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except JsonRejected as exc:
        raise JsonRejected(f"{what}: {exc}") from None
    except (ValueError, RecursionError):
        raise JsonRejected(f"{what}: malformed JSON") from None
    _check_strings(value, what)
    return value


def _no_constant(name: str) -> Any:
    raise JsonRejected(f"{name} is not a JSON number")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise JsonRejected("number out of range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JsonRejected(f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


def _check_strings(value: Any, what: str) -> None:
    """Refuse lone surrogates anywhere (keys and values); the depth is already bounded."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _encodable(item, what)
        elif isinstance(item, dict):
            for key, inner in item.items():
                _encodable(key, what)
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)


def _encodable(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JsonRejected(f"{what}: a string holds an unpaired UTF-16 surrogate") from None
