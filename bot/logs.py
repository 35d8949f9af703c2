"""Structured (JSON) logging that never writes a full phone, ID or bank card number, and
never an exception's message: exception messages carry what the code was working on (a
resident's text, a name, SQL parameters), so logged exceptions show their type, an errno or
SQL state, and the traceback's frames only."""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

_SEP = r"[ \u3000-]?"
"""One optional separator inside a number: a space, an ideographic space or a dash."""
_ID = re.compile(
    rf"(?<![0-9A-Za-z])(\d{{6}})({_SEP})(\d{{4}})({_SEP})(\d{{4}})({_SEP})(\d{{3}}[\dXx])"
    r"(?![0-9A-Za-z])"
)
"""Resident ID numbers: 18 characters (the last may be the check letter X), written plain or
in groups (310104 1990 0101 123X)."""
_CARD = re.compile(rf"(?<![\d*])(?<!\d[ \u3000-])\d(?:{_SEP}\d){{15,18}}(?!{_SEP}\d)")
"""Bank card numbers: 16 to 19 digits, plain or in groups (6222 0212 3456 7890 123)."""
_PHONE = re.compile(
    rf"(?<!\d)((?:(?:\+|00)?86{_SEP})?)(1[3-9]\d)({_SEP})(\d{{4}})({_SEP})(\d{{4}})(?!\d)"
)
"""Mobile numbers, with separators (138-0013-8000, 138 0013 8000) and +86/0086/86 prefixes."""
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}-?)(\d{4})(\d{3,4})(?!\d)")

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def mask(text: str) -> str:
    """Mask ID numbers (310101********123X), bank card numbers (6222 **** **** ***0 123 keeps
    the first and last four digits), mobile numbers (138****8000, +86 138-****-8000) and
    landlines (021-****5678) in ``text``; separators are kept."""
    text = _ID.sub(lambda m: f"{m[1]}{m[2]}****{m[4]}****{m[6]}{m[7]}", text)
    text = _CARD.sub(_mask_card, text)
    text = _PHONE.sub(lambda m: f"{m[1]}{m[2]}{m[3]}****{m[5]}{m[6]}", text)
    return _LANDLINE.sub(lambda m: f"{m[1]}****{m[3]}", text)


def _mask_card(m: re.Match[str]) -> str:
    number = m[0]
    positions = [i for i, c in enumerate(number) if c.isdigit()]
    hidden = set(positions[4:-4])
    return "".join("*" if i in hidden else c for i, c in enumerate(number))


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def describe_exception(exc: BaseException) -> str:
    """What a log may say about ``exc``: its type, plus an errno or SQL state when it has one;
    never its message or arguments."""
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    if name.startswith("builtins."):
        name = type(exc).__qualname__
    details: list[str] = []
    if isinstance(exc, OSError) and exc.errno is not None:
        details.append(f"errno {exc.errno} ({exc.strerror})")
    orig = getattr(exc, "orig", None)  # a SQLAlchemy DBAPIError wraps the driver's error
    for err in (exc, orig, getattr(orig, "__cause__", None)):
        state = getattr(err, "sqlstate", None) or getattr(err, "pgcode", None)
        if isinstance(state, str) and state:
            details.append(f"sqlstate {state}")
            break
    if orig is not None and isinstance(orig, BaseException):
        details.append(f"driver {type(orig).__qualname__}")
    return f"{name} [{'; '.join(details)}]" if details else name


_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"


def format_exception(exc_info: ExcInfo | tuple[None, None, None]) -> str:
    """A traceback (frames and exception types, causes and contexts included) without any
    exception message."""
    current = exc_info[1]
    newest_first: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        older: BaseException | None = None
        link = ""
        if current.__cause__ is not None:
            older, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            older, link = current.__context__, _CONTEXT
        newest_first.append((current, link))
        current = older
    parts: list[str] = []
    # Oldest first, like Python; ``link`` relates an exception to the older one before it.
    for item, link in reversed(newest_first):
        if link:
            parts.append(f"\n{link}\n\n")
        if item.__traceback__ is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_tb(item.__traceback__))
        parts.append(describe_exception(item) + "\n")
    return "".join(parts).rstrip("\n")


def _masked(value: Any) -> Any:
    if isinstance(value, BaseException):
        return describe_exception(value)
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return mask(str(value))


def _message(record: logging.LogRecord) -> str:
    """The record's message with exception arguments reduced to their description."""
    args = record.args
    if isinstance(args, tuple) and any(isinstance(a, BaseException) for a in args):
        safe = tuple(describe_exception(a) if isinstance(a, BaseException) else a for a in args)
        record = logging.makeLogRecord({**vars(record), "args": safe})
    elif isinstance(args, dict) and any(isinstance(a, BaseException) for a in args.values()):
        safe_map = {
            k: describe_exception(a) if isinstance(a, BaseException) else a for k, a in args.items()
        }
        record = logging.makeLogRecord({**vars(record), "args": safe_map})
    return mask(record.getMessage())


class JsonFormatter(logging.Formatter):
    def formatException(self, ei: Any) -> str:
        return format_exception(ei)

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _message(record),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = _masked(value)
        if record.exc_info:
            data["exc"] = mask(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def formatException(self, ei: Any) -> str:
        return format_exception(ei)

    def formatMessage(self, record: logging.LogRecord) -> str:
        safe = logging.makeLogRecord(vars(record))
        safe.message = _message(record)
        return super().formatMessage(safe)

    def format(self, record: logging.LogRecord) -> str:
        extra = {
            k: _masked(v)
            for k, v in vars(record).items()
            if k not in _STANDARD and not k.startswith("_")
        }
        # Never reuse a traceback another formatter rendered (with messages) on this record.
        saved = record.exc_text
        record.exc_text = format_exception(record.exc_info) if record.exc_info else None
        try:
            base = mask(super().format(record))
        finally:
            record.exc_text = saved
        return f"{base} {json.dumps(extra, ensure_ascii=False, default=str)}" if extra else base


CHATTY = ("faiss", "bm25s")
"""Third-party loggers whose INFO and DEBUG lines are start-up noise (faiss probing CPU
features, bm25s building an index): not news to an operator, shown only when debugging."""


class QuietLibraries(logging.Filter):
    """Drops the chatty libraries' records below WARNING. A handler filter, because bm25s
    sets its own logger to DEBUG when it is imported (after logging is configured)."""

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        chatty = any(name == c or name.startswith(c + ".") for c in CHATTY)
        return not chatty or record.levelno >= logging.WARNING


def configure(level: str = "INFO", as_json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    text_format = "%(asctime)s %(levelname)s %(name)s %(message)s"
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter(text_format))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("jieba", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if root.getEffectiveLevel() > logging.DEBUG:
        handler.addFilter(QuietLibraries())
