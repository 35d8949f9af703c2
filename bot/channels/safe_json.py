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

# Strings (their brackets do not nest), then every byte that is not a bracket; on bytes,
# where both run at C speed (a string search starts at a quote; translate deletes).
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_ONE_KIND = bytes.maketrans(b"{}", b"[]")
# A \uD800-\uDFFF escape: the only way a lone surrogate gets into a parsed string.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class JsonRejected(BadRequestError):
    """The body is not acceptable JSON; the message says why and is safe to show."""

    status = 400


def exceeds_depth(data: bytes, limit: int) -> bool:
    """Whether the JSON ``data`` nests arrays/objects deeper than ``limit`` (brackets inside
    strings do not count). A body whose brackets do not pair up is left to the parser, which
    refuses it."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False  # too few brackets to go deep
    # Only the depth matters here: one kind of bracket. An unterminated string's quote is
    # dropped with the other non-brackets.
    brackets = _STRING.sub(b"", data).translate(_ONE_KIND, _NOT_BRACKETS)
    too_deep = b"[" * (limit + 1)
    # Each round removes the innermost level (bytes.replace never overlaps its matches): a
    # body nested deeper than ``limit`` is not empty after ``limit`` rounds. All in C.
    for _ in range(limit):
        if too_deep in brackets:
            return True
        inner = brackets.replace(b"[]", b"")
        if len(inner) == len(brackets):
            return False  # empty, or unpaired brackets (the parser refuses them)
        brackets = inner
    return bool(brackets) and len(brackets.replace(b"[]", b"")) < len(brackets)


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
    data = raw if isinstance(raw, bytes) else text.encode("utf-8", "surrogatepass")
    if exceeds_depth(data, max_depth):
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
    if _SURROGATE_ESCAPE.search(text):
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
