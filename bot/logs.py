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


_ROOM = re.compile(
    r"(?<![0-9A-Za-z])(\d{1,3})(\s*(?:号楼|号|幢|栋|弄)\s*)(?:(\d{1,2})(\s*单元\s*))?(\d{3,4})(?!\d)"
    r"|(?<![0-9A-Za-z])(\d{3,4})(\s*(?:室|房间?))"
)
"""A flat: building and room (5号楼302, 12栋1单元1201, 302室)."""
_NAMED = re.compile(
    r"我[是叫]|我姓|姓[\u4e00-\u9fff]|名字|本人|[\u4e00-\u9fff](?:先生|女士|阿姨|叔叔|老师|师傅|奶奶|爷爷|老伯)"
)
"""Words that name a person next to a flat (我是张三, 王阿姨, 李先生)."""
_HEALTH = re.compile(
    r"(?:我|我家|家里|我妈|我爸|老伴|老公|老婆|孩子|儿子|女儿|婆婆|公公|老人)[^。！？!?\n]{0,10}"
    r"(?:得了|患了?|确诊|查出|有|是)[^。！？!?\n]{0,8}"
    r"(?:癌|肿瘤|糖尿病|高血压|心脏病|抑郁|精神病|精神分裂|艾滋|HIV|乙肝|肝炎|结核|残疾|中风|偏瘫|"
    r"阿尔茨海默|老年痴呆|尿毒症|透析|化疗)",
    re.IGNORECASE,
)
"""Someone's health: a condition said of oneself or one's family (我妈查出糖尿病)."""

PersonalKind = str
"""``phone``, ``id``, ``card``, ``room`` (a flat with a person's name) or ``health``."""


def personal_data(text: str) -> list[PersonalKind]:
    """Which personal data ``text`` holds (a group chat must not echo it), in a fixed order:
    a phone number (mobile or landline), an ID or bank card number, a flat named with a
    person, someone's health condition. The numbers are the ones ``mask`` hides."""
    kinds: list[PersonalKind] = []
    if _PHONE.search(text) or _LANDLINE.search(text):
        kinds.append("phone")
    if _ID.search(text):
        kinds.append("id")
    if _CARD.search(_ID.sub("", text)):
        kinds.append("card")
    if _ROOM.search(text) and _NAMED.search(text):
        kinds.append("room")
    if _HEALTH.search(text):
        kinds.append("health")
    return kinds


def mask_personal(text: str) -> str:
    """``mask`` plus the room number of a flat named with a person (我是5号楼***的张三):
    what a group chat message is stored as in the conversation log. Health words stay: they
    are what the caseworker needs to read, and the group never sees them echoed."""
    masked = mask(text)
    return _ROOM.sub(_mask_room, masked) if _NAMED.search(masked) else masked


def _mask_room(m: re.Match[str]) -> str:
    if m[6] is not None:
        return "***" + m[7]
    unit = f"{m[3]}{m[4]}" if m[3] is not None else ""
    return f"{m[1]}{m[2]}{unit}***"


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
