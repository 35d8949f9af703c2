"""Reading one flat table (CSV or XLSX) the way admins keep it in Excel/WPS: shared by every
import (the FAQ corpus, households), so each reads files the same way and names the same
file-level problems.

CSV may be UTF-8 (with or without BOM) or GBK/GB18030 (what Excel on Chinese Windows saves),
comma, semicolon or tab delimited. XLSX reads the named sheet or else the first one; merged
cells are refused (every cell must hold its own value) and a workbook that unpacks to more
than ``MAX_XLSX_UNPACKED`` is refused before it is parsed. Row numbers are spreadsheet rows
(header = 1)."""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

MAX_XLSX_UNPACKED = 64 * 1024 * 1024
"""A workbook larger than this once unzipped is refused (a zip bomb must not exhaust memory)."""


@dataclass(frozen=True, slots=True)
class TableProblem:
    """A problem of the file (``row`` None) or of one row: ``message`` in English (logs,
    the FAQ importer's messages), ``chinese`` for the admin."""

    row: int | None
    message: str
    chinese: str


@dataclass(slots=True)
class Table:
    header: list[str]
    rows: list[tuple[int, list[object]]]
    """(spreadsheet row number, cells) after the header."""
    problems: list[TableProblem] = field(default_factory=list)


def read_table(path: Path, *, sheet: str) -> Table:
    """The header and rows of ``path`` (``.csv`` or ``.xlsx``); problems that make the file
    unreadable leave the table empty."""
    if path.suffix.lower() == ".xlsx":
        return _read_xlsx(path, sheet)
    return _read_csv(path)


def decode_table_text(raw: bytes) -> str | None:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _failed(message: str, chinese: str, row: int | None = None) -> Table:
    return Table([], [], [TableProblem(row, message, chinese)])


def _read_csv(path: Path) -> Table:
    text = decode_table_text(path.read_bytes())
    if text is None:
        return _failed(
            "file is neither UTF-8 nor GBK text", "文件编码无法识别（请用 UTF-8 或 GBK 保存）"
        )
    first_line = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in first_line:
        if "\t" in first_line:
            delimiter = "\t"
        elif ";" in first_line:
            delimiter = ";"
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        return _failed(f"not valid CSV ({exc})", "不是有效的 CSV 文件")
    if not records:
        return _failed("the file is empty", "文件是空的")
    rows: list[tuple[int, list[object]]] = [
        (i, list(cells)) for i, cells in enumerate(records[1:], start=2)
    ]
    return Table([str(c) for c in records[0]], rows)


def _read_xlsx(path: Path, sheet: str) -> Table:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_XLSX_UNPACKED:
            return _failed("the workbook is too large once unpacked", "工作簿解压后过大")
        # Our own handle: openpyxl leaves its file open when the workbook is broken.
        with path.open("rb") as handle, warnings.catch_warnings():
            # WPS/Excel files often carry styles openpyxl warns about; they do not matter here
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(handle, data_only=True)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        InvalidFileException,
        KeyError,
        ValueError,
        TypeError,
        SyntaxError,  # a cut-short sheet: xml.etree.ElementTree.ParseError
        OSError,
        EOFError,
    ) as exc:
        return _failed(f"not a valid XLSX workbook ({exc})", "不是有效的 XLSX 工作簿")
    problems: list[TableProblem] = []
    try:
        ws = wb[sheet] if sheet in wb.sheetnames else wb.worksheets[0]
        merged_rows: set[int] = set()
        for rng in sorted(ws.merged_cells.ranges, key=lambda r: (r.min_row, r.min_col)):
            problems.append(
                TableProblem(
                    rng.min_row,
                    f"merged cells {rng.coord} are not supported: unmerge them and fill every cell",
                    f"不支持合并单元格 {rng.coord}：请取消合并，并在每个单元格里填写内容",
                )
            )
            merged_rows.update(range(rng.min_row, rng.max_row + 1))
        all_rows = list(ws.iter_rows(values_only=True))
    finally:
        wb.close()
    if not all_rows:
        return _failed("the sheet is empty", "工作表是空的")
    if 1 in merged_rows:
        return Table([], [], problems)
    header = ["" if c is None else str(c) for c in all_rows[0]]
    rows: list[tuple[int, list[object]]] = [
        (i, list(cells)) for i, cells in enumerate(all_rows[1:], start=2) if i not in merged_rows
    ]
    return Table(header, rows, problems)


def cell_text(value: object) -> str:
    """A cell as text: whole numbers without ``.0``, dates as ``YYYY-MM-DD``, trimmed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()
