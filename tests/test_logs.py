"""Logs never hold a full phone, ID or bank card number, nor an exception's message (which may
carry a resident's text, a name or SQL parameters)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy.exc import DBAPIError

from bot.logs import JsonFormatter, TextFormatter, mask, mask_personal, personal_data
from bot.storage.sql import Database
from bot.storage.sql.models import MessageRow

SECRET_TEXT = "王阿姨说她家水管爆了"


@pytest.mark.parametrize(
    ("raw", "hidden", "kept"),
    [
        ("13800138000", "0013", "138****8000"),
        ("电话138-0013-8000", "0013", "138-****-8000"),
        ("电话 138 0013 8000 谢谢", "0013", "138 **** 8000"),
        ("+8613900001111", "0000", "+86139****1111"),
        ("+86 139 0000 1111", "0000", "+86 139 **** 1111"),
        ("0086-13900001111", "0000", "0086-139****1111"),
        ("身份证310104199001011234", "19900101", "310104********1234"),
        ("身份证 310104 1990 0101 1234", "1990 0101", "310104 **** **** 1234"),
        ("31010419900101123X", "19900101", "310104********123X"),
        ("310104 1990 0101 123x", "1990 0101", "310104 **** **** 123x"),
        ("卡号6222021234567890", "02123456", "6222********7890"),
        ("卡号 6222 0212 3456 7890 123", "0212 3456", "6222 **** **** ***0 123"),
        ("6222-0212-3456-7890-12", "0212-3456", "6222-****-****-**90-12"),
        ("6217000010012345678", "00001001", "6217***********5678"),
        ("座机021-62345678", "6234", "021-****5678"),
    ],
)
def test_mask_hides_the_middle_of_every_number(raw: str, hidden: str, kept: str) -> None:
    masked = mask(raw)
    assert hidden not in masked
    assert kept in masked


@pytest.mark.parametrize(
    "text", ["工单 PX-20260101-0001", "2026-01-01 10:00", "5号楼302室", "共12户", "邮编200062"]
)
def test_mask_leaves_other_numbers_alone(text: str) -> None:
    assert mask(text) == text


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, io.StringIO]]:
    """A logger writing through both formatters."""
    logger = logging.getLogger("test.logs.scrub")
    as_json, as_text = io.StringIO(), io.StringIO()
    handlers = [logging.StreamHandler(as_json), logging.StreamHandler(as_text)]
    handlers[0].setFormatter(JsonFormatter())
    handlers[1].setFormatter(TextFormatter("%(levelname)s %(name)s %(message)s"))
    for h in handlers:
        logger.addHandler(h)
    logger.propagate = False
    yield logger, as_json, as_text
    for h in handlers:
        logger.removeHandler(h)
    logger.propagate = True


def _written(*streams: io.StringIO) -> str:
    return "\n".join(s.getvalue() for s in streams)


def test_exception_messages_never_reach_the_log(
    captured: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    logger, as_json, as_text = captured
    try:
        try:
            raise KeyError(f"{SECRET_TEXT} 13800138000")
        except KeyError as inner:
            raise ValueError(f"could not handle {SECRET_TEXT}") from inner
    except ValueError as exc:
        logger.exception("pipeline failed")
        logger.warning("failed: %s", exc)
        logger.error("failed", extra={"error": exc})
    out = _written(as_json, as_text)
    assert SECRET_TEXT not in out
    assert "13800138000" not in out
    assert "ValueError" in out
    assert "KeyError" in out  # the cause is there, by type
    assert "direct cause" in out
    assert "test_exception_messages_never_reach_the_log" in out  # the frames are there
    json_lines = [json.loads(line) for line in as_json.getvalue().splitlines()]
    assert json_lines[0]["exc"].startswith("Traceback")


def test_a_traceback_another_formatter_rendered_is_not_reused(
    captured: tuple[logging.Logger, io.StringIO, io.StringIO],
) -> None:
    _, _, as_text = captured
    try:
        raise RuntimeError(SECRET_TEXT)
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, None)
        record.exc_info = sys.exc_info()
    record.exc_text = logging.Formatter().formatException(record.exc_info)  # type: ignore[arg-type]
    assert SECRET_TEXT in record.exc_text
    line = TextFormatter("%(message)s").format(record)
    assert SECRET_TEXT not in line
    assert "RuntimeError" in line
    assert as_text.getvalue() == ""


async def test_sql_errors_carry_no_parameters_on_postgresql(
    pg_database: str, captured: tuple[logging.Logger, io.StringIO, io.StringIO]
) -> None:
    """A real failing INSERT (a name longer than its column): neither the exception's text nor
    the log line holds the resident's text or name."""
    logger, as_json, as_text = captured
    db = Database.connect(pg_database)
    try:
        await db.migrate()
        with pytest.raises(DBAPIError) as caught:
            async with db.session() as s:
                s.add(
                    MessageRow(
                        committee="puxiong",
                        conversation_key="k",
                        channel="webhook",
                        account="default",
                        chat_id="c",
                        chat_type="private",
                        sender_id="u",
                        sender_name="王" * 300,
                        direction="in",
                        text=SECRET_TEXT,
                    )
                )
        assert SECRET_TEXT not in str(caught.value)
        assert "王" * 50 not in str(caught.value)
        try:
            raise caught.value
        except DBAPIError:
            logger.exception("store failed")
    finally:
        await db.close()
    out = _written(as_json, as_text)
    assert SECRET_TEXT not in out
    assert "王" * 50 not in out
    assert "sqlstate 22001" in out  # string_data_right_truncation: the kind of error stays


CHATTER_SCRIPT = """
import sys
from bot import logs
logs.configure(sys.argv[1], as_json=False)
import bm25s
import faiss
bm25s.BM25().index([["垃圾", "分类"], ["电梯", "维修"]], show_progress=False)
faiss.IndexFlatIP(4)
"""


@pytest.mark.parametrize(("level", "shown"), [("INFO", False), ("DEBUG", True)])
def test_library_start_up_chatter_is_shown_only_when_debugging(level: str, shown: bool) -> None:
    """faiss's CPU-feature probing and bm25s's index building log at INFO/DEBUG: a newcomer
    running at INFO must not read them as problems; at DEBUG they are there."""
    run = subprocess.run(
        [sys.executable, "-c", CHATTER_SCRIPT, level],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    lines = [line for line in run.stderr.splitlines() if " faiss" in line or " bm25s" in line]
    assert bool(lines) is shown, run.stderr


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("有事打我电话13812345678", ["phone"]),
        ("我的身份证号310104199001011234", ["id"]),
        ("我是5号楼302室的张三", ["room"]),
        ("12栋1单元1201李先生家门口", ["room"]),
        ("我妈上个月查出糖尿病了", ["health"]),
        ("医保住院怎么报销", []),
        ("5号楼302楼上漏水", []),
        ("湿垃圾几点扔", []),
    ],
)
def test_personal_data_names_what_a_group_must_not_see(text: str, kinds: list[str]) -> None:
    assert personal_data(text) == kinds


def test_a_group_message_is_stored_with_numbers_and_a_named_flat_masked() -> None:
    assert mask_personal("我是5号楼302室的张三，电话13812345678") == (
        "我是5号楼***室的张三，电话138****5678"
    )
    assert mask_personal("5号楼302楼上漏水") == "5号楼302楼上漏水"  # no one named


def test_no_log_call_overwrites_a_log_record_attribute() -> None:
    """``extra={"created": …}`` (or ``message``, ``name`` …) raises KeyError inside the
    logging call — only when that level is enabled, so it passes quiet tests and breaks the
    message in production. Every ``extra`` dict of the package is checked."""
    import ast
    from pathlib import Path

    reserved = set(logging.LogRecord("n", 0, "p", 0, "m", None, None).__dict__)
    reserved |= {"message", "asctime"}
    clashes = []
    for path in sorted((Path(__file__).resolve().parent.parent / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            for kw in node.keywords:
                if kw.arg == "extra" and isinstance(kw.value, ast.Dict):
                    clashes += [
                        f"{path.name}:{node.lineno} {key.value}"
                        for key in kw.value.keys
                        if isinstance(key, ast.Constant) and key.value in reserved
                    ]
    assert clashes == []
