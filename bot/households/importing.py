"""Households from a CSV or XLSX file: one row per household, all or nothing, every problem
named per row in Chinese (``ImportRejected``). The file is read like the FAQ import reads it
(``bot.tables``).

Columns (Chinese or English headers; header row first):

    小区 compound | 楼号 building | 单元 unit | 门牌 room | 面积 floor_area | 标签 labels

``compound`` is the compound's id, name or alias in the registry; ``unit`` may be empty;
``floor_area`` (m², optional) is a positive number; ``labels`` lists 高龄、独居 … separated by
、，,| or line breaks. The same room twice in the file is an error on the second row."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.domain.registry import Committee
from bot.households import places
from bot.storage.households import HouseholdRecord
from bot.tables import Table, cell_text, read_table

COLUMNS = ("compound", "building", "unit", "room", "floor_area", "labels")
REQUIRED = ("compound", "building", "room")
HEADERS: Mapping[str, str] = {
    "小区": "compound",
    "小区名称": "compound",
    "楼号": "building",
    "幢": "building",
    "号楼": "building",
    "楼栋": "building",
    "单元": "unit",
    "门牌": "room",
    "门牌号": "room",
    "室": "room",
    "房号": "room",
    "面积": "floor_area",
    "建筑面积": "floor_area",
    "面积（m²）": "floor_area",
    "面积(m²)": "floor_area",
    "面积（平方米）": "floor_area",
    "标签": "labels",
}
LABELS = {c: c for c in COLUMNS} | {
    "compound": "小区",
    "building": "楼号",
    "unit": "单元",
    "room": "门牌",
    "floor_area": "面积",
    "labels": "标签",
}
SUFFIXES = frozenset({".csv", ".xlsx"})
MAX_ROWS = 20000
MAX_LABELS = 10
MAX_LABEL = 16
MAX_AREA = 10000.0
_LABEL_SPLIT = re.compile(r"[、，,|｜;；/\n\r]+")


class ImportRejected(ValueError):
    """The file was refused; ``errors`` are Chinese lines (``第 3 行：……``)."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


@dataclass(frozen=True, slots=True)
class _Row:
    number: int
    record: HouseholdRecord


def load_households(path: Path, committee: Committee) -> list[HouseholdRecord]:
    """Every household of the file, or ImportRejected naming every problem."""
    if path.suffix.lower() not in SUFFIXES:
        raise ImportRejected(["只能导入 .csv 或 .xlsx 文件。"])
    return households_from_table(read_table(path, sheet="households"), committee)


def households_from_table(table: Table, committee: Committee) -> list[HouseholdRecord]:
    errors = [_where(p.row) + p.chinese for p in table.problems]
    if not table.header:
        raise ImportRejected(errors or ["文件是空的。"])
    columns: list[str | None] = []
    for name in table.header:
        key = name.strip()
        canon = HEADERS.get(key, key.lower())
        if not key:
            columns.append(None)
        elif canon not in COLUMNS:
            errors.append(f"无法识别的列“{key}”（可用的列：小区、楼号、单元、门牌、面积、标签）")
            columns.append(None)
        elif canon in columns:
            errors.append(f"列“{key}”重复出现")
            columns.append(None)
        else:
            columns.append(canon)
    missing = [LABELS[c] for c in REQUIRED if c not in columns]
    if missing:
        errors.append("缺少必需的列：" + "、".join(missing))
        raise ImportRejected(errors)
    rows: list[_Row] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    for number, cells in table.rows:
        values = {
            col: cell_text(cells[i]) if i < len(cells) else ""
            for i, col in enumerate(columns)
            if col is not None
        }
        if not any(values.values()):
            continue  # a blank line
        problems: list[str] = []
        record = _record(values, committee, problems)
        if record is not None:
            place = (record.compound, record.building, record.unit, record.room)
            if place in seen:
                problems.append(f"与第 {seen[place]} 行是同一户（门牌重复）")
            else:
                seen[place] = number
        if problems:
            errors.append(_where(number) + "；".join(problems))
        elif record is not None:
            rows.append(_Row(number, record))
    if not rows and not errors:
        errors.append("文件中没有任何户。")
    if len(rows) > MAX_ROWS:
        errors.append(f"一次最多导入 {MAX_ROWS} 户，本文件有 {len(rows)} 户，请拆分后导入。")
    if errors:
        raise ImportRejected(errors)
    return [r.record for r in rows]


def _record(
    values: Mapping[str, str], committee: Committee, problems: list[str]
) -> HouseholdRecord | None:
    raw_compound = values.get("compound", "")
    compound = committee.compound(raw_compound) if raw_compound else None
    if not raw_compound:
        problems.append("小区不能为空")
    elif compound is None:
        problems.append(f"小区“{raw_compound}”不属于{committee.name}")
    building = places.building(values.get("building", ""))
    unit = places.unit(values.get("unit", ""))
    room = places.room(values.get("room", ""))
    if not building:
        problems.append("楼号不能为空")
    if not room:
        problems.append("门牌不能为空")
    for label, value in (("楼号", building), ("单元", unit), ("门牌", room)):
        if len(value) > places.MAX_PART:
            problems.append(f"{label}不能超过 {places.MAX_PART} 个字")
    area: float | None = None
    raw_area = values.get("floor_area", "").replace("㎡", "").replace("m²", "").strip()
    if raw_area:
        try:
            area = round(float(raw_area), 2)
        except ValueError:
            problems.append(f"面积“{values['floor_area']}”不是数字")
        else:
            if not 0 < area <= MAX_AREA:
                problems.append(f"面积应大于 0、不超过 {MAX_AREA:g} 平方米")
                area = None
    labels = tuple(dict.fromkeys(x.strip() for x in _LABEL_SPLIT.split(values.get("labels", ""))))
    labels = tuple(x for x in labels if x)
    if len(labels) > MAX_LABELS:
        problems.append(f"标签最多 {MAX_LABELS} 个")
    if any(len(x) > MAX_LABEL for x in labels):
        problems.append(f"每个标签不能超过 {MAX_LABEL} 个字")
    if problems or compound is None:
        return None
    return HouseholdRecord(compound.id, building, unit, room, area, labels)


def _where(row: int | None) -> str:
    return f"第 {row} 行：" if row is not None else ""
