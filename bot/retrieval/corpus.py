"""FAQ corpus import and export: YAML, JSONL/JSON, CSV and XLSX. All or nothing.

``load_corpus`` reads every file, validates every row, and either returns the entries or
raises ``CorpusError`` whose ``errors`` lists every problem (``garbage.csv row 17: answer is
empty``); nothing is returned half-validated, so a caller never applies part of a file.

Formats
-------
YAML (``knowledge/faq/<topic>.yml``, the corpus kept in the repository): a mapping with
``topic`` (default: the file name), optional ``updated`` (default date for its entries) and
``entries``, a list of entry mappings with the ``FaqEntry.to_dict()`` keys; a bare list of
entries is accepted too. Errors cite the line where the entry starts.

JSONL: one ``FaqEntry.to_dict()`` object a line; the LCQMC evaluation shape
``{"id", "question", "alternates", "answer"}`` is a valid subset. ``.json``: a list of them.

CSV and XLSX, one flat table (what admins keep in Excel/WPS). Header row first; columns

    id | compound | topic | question | alternates | answer | materials | tags | compounds |
    valid_from | valid_until | source | updated

(Chinese headers are accepted too: 编号, 小区, 主题, 问题, 相似问法, 答案, 材料, 标签, 适用小区,
生效日期, 失效日期, 来源/文号, 更新日期). Only ``id``, ``question`` and ``answer`` are required.

- One *main row* per FAQ, with ``compound`` empty.
- A per-compound answer is an extra *variant row*: the same ``id``, the compound (id, name or
  alias from the registry) in ``compound``, and only ``answer`` and ``materials`` filled.
- List cells (``alternates``, ``materials``, ``tags``, ``compounds``) hold one item a line
  (Alt+Enter in Excel); a cell without a line break may separate items with ``|`` instead.
  Export writes one item a line.
- Dates are ``YYYY-MM-DD`` (``YYYY/MM/DD`` and real spreadsheet dates are accepted).
- CSV may be UTF-8 (with or without BOM) or GBK/GB18030 (what Excel on Chinese Windows
  saves); export writes UTF-8 with a BOM so Excel opens it correctly. Comma, semicolon or tab
  delimited. XLSX reads the sheet named ``faq`` or else the first sheet; merged cells are
  rejected (every cell must hold its own value). Row numbers are spreadsheet rows (header = 1).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml

from bot.domain.faq import FaqEntry, FaqFormatError, FaqVariant
from bot.domain.registry import Committee, Compound, Registry
from bot.retrieval.errors import CorpusError, RowError
from bot.tables import Table, cell_text, read_table

SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""PyYAML's safe loader on libyaml (its wheels ship it; the pure-Python one reads the corpus
ten times slower, and every start reads it): same documents, same line marks."""

Format = Literal["yaml", "jsonl", "csv", "xlsx"]
FORMATS: tuple[Format, ...] = ("yaml", "jsonl", "csv", "xlsx")

COLUMNS: tuple[str, ...] = (
    "id",
    "compound",
    "topic",
    "question",
    "alternates",
    "answer",
    "materials",
    "tags",
    "compounds",
    "valid_from",
    "valid_until",
    "source",
    "updated",
)
LIST_COLUMNS = frozenset({"alternates", "materials", "tags", "compounds"})
DATE_COLUMNS = frozenset({"valid_from", "valid_until", "updated"})
REQUIRED_COLUMNS = ("id", "question", "answer")
HEADER_ALIASES: Mapping[str, str] = {
    "编号": "id",
    "小区": "compound",
    "主题": "topic",
    "问题": "question",
    "相似问法": "alternates",
    "答案": "answer",
    "材料": "materials",
    "需携带材料": "materials",
    "标签": "tags",
    "适用小区": "compounds",
    "生效日期": "valid_from",
    "失效日期": "valid_until",
    "来源": "source",
    "文号": "source",
    "来源/文号": "source",
    "更新日期": "updated",
}
CORPUS_SUFFIXES = frozenset({".yml", ".yaml", ".jsonl", ".json", ".csv", ".xlsx"})
SKIP_FILES = frozenset({"registry.yaml", "registry.yml"})


@dataclass(slots=True)
class _Raw:
    """One entry as read, before validation."""

    source: str
    row: int
    unit: str
    data: dict[str, Any]
    variant_rows: dict[str, int] = field(default_factory=dict)
    """For tables: the row of each variant (keyed as written), so errors cite that row."""


# --------------------------------------------------------------------------------------
# loading


def load_corpus(
    paths: Sequence[Path],
    registry: Registry | None = None,
    committee: str | None = None,
) -> list[FaqEntry]:
    """Read and validate every file under ``paths``; all entries or ``CorpusError``.

    A directory contributes its corpus files (and those of its ``faq/`` folder, so
    ``knowledge/`` works); ``registry.yaml`` is skipped. Compounds are checked against the
    registry (against ``committee``'s compounds when given) and stored by id, whether a file
    names them by id, name or alias. Ids must be unique across all files.
    """
    errors: list[RowError] = []
    raws: list[_Raw] = []
    files = _expand(paths, errors)
    for path in files:
        raws.extend(_read_file(path, errors))
    scope = _CompoundScope(registry, committee, errors)
    entries = _validate(raws, scope, errors)
    if not errors and not entries:
        errors.append(RowError(", ".join(str(p) for p in paths), None, "no FAQ entries found"))
    if errors:
        raise CorpusError(errors)
    return entries


def corpus_files(directory: Path) -> list[Path]:
    """The corpus files of a directory: its own and those of its ``faq/`` folder."""
    found: list[Path] = []
    for folder in (directory, directory / "faq"):
        if folder.is_dir():
            found.extend(
                p
                for p in sorted(folder.iterdir())
                if p.is_file()
                and p.suffix.lower() in CORPUS_SUFFIXES
                and p.name not in SKIP_FILES
                and not p.name.startswith((".", "~$"))
            )
    return found


def _expand(paths: Sequence[Path], errors: list[RowError]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = corpus_files(path)
            if not found:
                errors.append(RowError(str(path), None, "no corpus files in this folder"))
            files.extend(found)
        elif path.is_file():
            if path.suffix.lower() not in CORPUS_SUFFIXES:
                errors.append(
                    RowError(
                        path.name,
                        None,
                        f"unsupported file type {path.suffix or '(none)'!r} "
                        "(use .yml, .jsonl, .json, .csv or .xlsx)",
                    )
                )
            else:
                files.append(path)
        else:
            errors.append(RowError(str(path), None, "file not found"))
    return files


def _read_file(path: Path, errors: list[RowError]) -> list[_Raw]:
    suffix = path.suffix.lower()
    try:
        if suffix in {".yml", ".yaml"}:
            return _read_yaml(path, errors)
        if suffix == ".jsonl":
            return _read_jsonl(path, errors)
        if suffix == ".json":
            return _read_json(path, errors)
        if suffix == ".csv":
            return _read_csv(path, errors)
        return _read_xlsx(path, errors)
    except OSError as exc:
        errors.append(RowError(path.name, None, f"cannot read file: {exc.strerror or exc}"))
        return []


def _read_yaml(path: Path, errors: list[RowError]) -> list[_Raw]:
    src = path.name
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        errors.append(RowError(src, None, "file is not UTF-8 text"))
        return []
    try:
        data = yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 - a safe loader
        node = yaml.compose(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        errors.append(RowError(src, line, f"invalid YAML: {problem}", "line"))
        return []
    defaults: dict[str, Any] = {"topic": path.stem}
    items: object
    seq_node: yaml.Node | None = node
    if isinstance(data, Mapping):
        items = data.get("entries")
        if data.get("topic"):
            defaults["topic"] = data["topic"]
        if data.get("updated"):
            defaults["updated"] = data["updated"]
        seq_node = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if getattr(key_node, "value", None) == "entries":
                    seq_node = value_node
        if items is None:
            errors.append(RowError(src, None, "no 'entries' list in this file"))
            return []
    else:
        items = data
    if not isinstance(items, list):
        errors.append(RowError(src, None, "expected a list of entries"))
        return []
    lines = (
        [n.start_mark.line + 1 for n in seq_node.value]
        if isinstance(seq_node, yaml.SequenceNode) and len(seq_node.value) == len(items)
        else list(range(1, len(items) + 1))
    )
    out: list[_Raw] = []
    for line, item in zip(lines, items, strict=True):
        if not isinstance(item, Mapping):
            errors.append(RowError(src, line, "entry is not a mapping", "line"))
            continue
        merged = {**defaults, **{str(k): v for k, v in item.items()}}
        out.append(_Raw(src, line, "line", merged))
    return out


def _read_jsonl(path: Path, errors: list[RowError]) -> list[_Raw]:
    src = path.name
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        errors.append(RowError(src, None, "file is not UTF-8 text"))
        return []
    out: list[_Raw] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(RowError(src, lineno, f"not valid JSON ({exc.msg})", "line"))
            continue
        if not isinstance(obj, dict):
            errors.append(RowError(src, lineno, "not a JSON object", "line"))
            continue
        obj.setdefault("topic", path.stem)
        out.append(_Raw(src, lineno, "line", obj))
    return out


def _read_json(path: Path, errors: list[RowError]) -> list[_Raw]:
    src = path.name
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        errors.append(RowError(src, None, f"not valid JSON ({exc})"))
        return []
    if isinstance(data, Mapping) and isinstance(data.get("entries"), list):
        data = data["entries"]
    if not isinstance(data, list):
        errors.append(RowError(src, None, "expected a list of entries"))
        return []
    out: list[_Raw] = []
    for i, obj in enumerate(data, start=1):
        if not isinstance(obj, dict):
            errors.append(RowError(src, i, "not a JSON object", "entry"))
            continue
        obj.setdefault("topic", path.stem)
        out.append(_Raw(src, i, "entry", obj))
    return out


def _read_csv(path: Path, errors: list[RowError]) -> list[_Raw]:
    return _from_read_table(path, read_table(path, sheet="faq"), errors)


def _read_xlsx(path: Path, errors: list[RowError]) -> list[_Raw]:
    return _from_read_table(path, read_table(path, sheet="faq"), errors)


def _from_read_table(path: Path, table: Table, errors: list[RowError]) -> list[_Raw]:
    src = path.name
    errors.extend(RowError(src, p.row, p.message) for p in table.problems)
    if not table.header and table.problems:
        return []
    return _from_table(src, table.header, table.rows, path.stem, errors)


def _split_list(cell: str) -> list[str]:
    if not cell:
        return []
    if "\n" in cell or "\r" in cell:
        parts = cell.splitlines()
    else:
        parts = cell.replace("｜", "|").split("|")
    return [p.strip() for p in parts if p.strip()]


def _from_table(
    src: str,
    header: list[str],
    rows: list[tuple[int, list[object]]],
    default_topic: str,
    errors: list[RowError],
) -> list[_Raw]:
    columns: list[str | None] = []
    problems: list[str] = []
    for name in header:
        key = name.strip()
        canon = HEADER_ALIASES.get(key, key.lower())
        if not key:
            columns.append(None)
        elif canon in COLUMNS:
            if canon in columns:
                problems.append(f"column {key!r} appears twice")
            columns.append(canon)
        else:
            problems.append(f"unknown column {key!r}")
            columns.append(None)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        problems.append("missing column(s): " + ", ".join(missing))
    if problems:
        errors.extend(RowError(src, 1, p) for p in problems)
        return []

    mains: dict[str, _Raw] = {}
    out: list[_Raw] = []
    variants: list[tuple[int, dict[str, str]]] = []
    for rowno, cells in rows:
        record: dict[str, object] = {}
        for col, value in zip(columns, cells, strict=False):
            if col is not None:
                record[col] = value
        texts = {k: cell_text(v) for k, v in record.items()}
        if not any(texts.values()):
            continue
        if texts.get("compound"):
            variants.append((rowno, texts))
            continue
        data: dict[str, Any] = {"topic": default_topic}
        for key, value in record.items():
            if key == "compound":
                continue
            if key in LIST_COLUMNS:
                data[key] = _split_list(texts[key])
            elif key in DATE_COLUMNS and isinstance(value, date):
                data[key] = value
            elif texts[key] or key != "topic":
                data[key] = texts[key]
        raw = _Raw(src, rowno, "row", data)
        entry_id = texts.get("id", "")
        if entry_id and entry_id in mains:
            errors.append(
                RowError(
                    src, rowno, f"duplicate id {entry_id!r} (already at row {mains[entry_id].row})"
                )
            )
            continue
        if entry_id:
            mains[entry_id] = raw
        out.append(raw)

    for rowno, texts in variants:
        entry_id, compound = texts.get("id", ""), texts["compound"]
        extra = [
            k
            for k in COLUMNS
            if k not in {"id", "compound", "answer", "materials"} and texts.get(k)
        ]
        if not entry_id:
            errors.append(RowError(src, rowno, "id is empty"))
            continue
        if extra:
            errors.append(
                RowError(
                    src,
                    rowno,
                    f"a variant row (compound {compound!r}) may only fill answer and "
                    f"materials, not {', '.join(extra)}",
                )
            )
            continue
        main = mains.get(entry_id)
        if main is None:
            errors.append(
                RowError(
                    src,
                    rowno,
                    f"variant for id {entry_id!r} has no main row (a row with compound empty)",
                )
            )
            continue
        if not texts.get("answer"):
            errors.append(RowError(src, rowno, "answer is empty"))
            continue
        bucket = main.data.setdefault("variants", {})
        if compound in bucket:
            errors.append(
                RowError(
                    src,
                    rowno,
                    f"duplicate variant for compound {compound!r} of id {entry_id!r} "
                    f"(already at row {main.variant_rows[compound]})",
                )
            )
            continue
        bucket[compound] = {
            "answer": texts["answer"],
            "materials": _split_list(texts.get("materials", "")),
        }
        main.variant_rows[compound] = rowno
    return out


# --------------------------------------------------------------------------------------
# validation


class _CompoundScope:
    """Resolves compound ids, names and aliases against the registry."""

    def __init__(
        self, registry: Registry | None, committee: str | None, errors: list[RowError]
    ) -> None:
        self.active = registry is not None
        self._compounds: list[Compound] = []
        if registry is None:
            return
        committees: Iterable[Committee] = registry.committees
        if committee is not None:
            if not registry.has_committee(committee):
                errors.append(RowError("", None, f"unknown committee {committee!r}"))
                committees = ()
            else:
                committees = (registry.committee(committee),)
        for c in committees:
            self._compounds.extend(c.compounds)

    def resolve(self, key: str) -> str | None:
        if not self.active:
            return key
        for comp in self._compounds:
            if key == comp.id or key in comp.names:
                return comp.id
        return None

    def known(self) -> str:
        return ", ".join(f"{c.id} ({c.name})" for c in self._compounds) or "none"


def _validate(raws: list[_Raw], scope: _CompoundScope, errors: list[RowError]) -> list[FaqEntry]:
    entries: list[FaqEntry] = []
    seen: dict[str, _Raw] = {}
    for raw in raws:
        try:
            entry = FaqEntry.from_dict(raw.data)
        except FaqFormatError as exc:
            errors.append(RowError(raw.source, raw.row, str(exc), raw.unit))
            continue
        first = seen.get(entry.id)
        if first is not None:
            where = (
                f"{first.unit} {first.row}"
                if first.source == raw.source
                else f"{first.source} {first.unit} {first.row}"
            )
            errors.append(
                RowError(
                    raw.source, raw.row, f"duplicate id {entry.id!r} (already at {where})", raw.unit
                )
            )
            continue
        seen[entry.id] = raw
        resolved = _resolve_compounds(entry, raw, scope, errors)
        if resolved is not None:
            entries.append(resolved)
    return entries


def _resolve_compounds(
    entry: FaqEntry, raw: _Raw, scope: _CompoundScope, errors: list[RowError]
) -> FaqEntry | None:
    ok = True
    compounds: list[str] = []
    for key in entry.compounds:
        cid = scope.resolve(key)
        if cid is None:
            errors.append(
                RowError(
                    raw.source,
                    raw.row,
                    f"unknown compound {key!r} (known: {scope.known()})",
                    raw.unit,
                )
            )
            ok = False
        elif cid not in compounds:
            compounds.append(cid)
    variants: dict[str, FaqVariant] = {}
    for key, variant in entry.variants.items():
        row = raw.variant_rows.get(key, raw.row)
        cid = scope.resolve(key)
        if cid is None:
            errors.append(
                RowError(
                    raw.source,
                    row,
                    f"unknown compound {key!r} in variants (known: {scope.known()})",
                    raw.unit,
                )
            )
            ok = False
            continue
        if cid in variants:
            errors.append(RowError(raw.source, row, f"two variants for compound {cid!r}", raw.unit))
            ok = False
            continue
        if compounds and cid not in compounds:
            errors.append(
                RowError(
                    raw.source,
                    row,
                    f"variant for compound {cid!r}, but the entry applies only to "
                    f"{', '.join(compounds)}",
                    raw.unit,
                )
            )
            ok = False
            continue
        variants[cid] = variant
    if not ok:
        return None
    return dataclasses.replace(entry, compounds=tuple(compounds), variants=variants)


# --------------------------------------------------------------------------------------
# export


def infer_format(path: Path) -> Format:
    """The format a path's suffix names; a path without a suffix is a YAML folder."""
    suffix = path.suffix.lower()
    if suffix in {".yml", ".yaml", ""}:
        return "yaml"
    if suffix in {".jsonl", ".csv", ".xlsx"}:
        return suffix[1:]  # type: ignore[return-value]
    raise ValueError(f"cannot tell the export format of {path.name!r}")


def export_corpus(entries: Sequence[FaqEntry], path: Path, fmt: Format | None = None) -> list[Path]:
    """Write ``entries`` in ``fmt`` (default: from the suffix); returns the files written.

    YAML to a path with a ``.yml``/``.yaml`` suffix writes one file; to any other path it
    writes a folder with one ``<topic>.yml`` file per topic (the repository layout). Every
    file is written to a temporary name and renamed into place.
    """
    fmt = fmt or infer_format(path)
    if fmt == "yaml":
        if path.suffix.lower() in {".yml", ".yaml"}:
            _atomic_write(path, _yaml_document(entries, topic=None))
            return [path]
        path.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        by_topic: dict[str, list[FaqEntry]] = {}
        for e in entries:
            by_topic.setdefault(e.topic, []).append(e)
        for topic, group in by_topic.items():
            target = path / f"{_safe_name(topic)}.yml"
            _atomic_write(target, _yaml_document(group, topic=topic))
            written.append(target)
        return written
    if fmt == "jsonl":
        text = "".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in entries)
        _atomic_write(path, text.encode())
        return [path]
    if fmt == "csv":
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows(_table_rows(entries))
        _atomic_write(path, buf.getvalue().encode("utf-8-sig"))
        return [path]
    if fmt == "xlsx":
        _write_xlsx(entries, path)
        return [path]
    raise ValueError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")


def _safe_name(topic: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_" else "_" for c in topic)
    return cleaned or "general"


def _table_rows(entries: Sequence[FaqEntry]) -> list[list[str]]:
    rows: list[list[str]] = []
    for e in entries:
        d = e.to_dict()
        rows.append(
            [
                e.id,
                "",
                e.topic,
                e.question,
                "\n".join(e.alternates),
                e.answer,
                "\n".join(e.materials),
                "\n".join(e.tags),
                "\n".join(e.compounds),
                d["valid_from"] or "",
                d["valid_until"] or "",
                e.source,
                d["updated"] or "",
            ]
        )
        for cid, v in sorted(e.variants.items()):
            row = [""] * len(COLUMNS)
            row[0], row[1] = e.id, cid
            row[COLUMNS.index("answer")] = v.answer
            row[COLUMNS.index("materials")] = "\n".join(v.materials)
            rows.append(row)
    return rows


def _write_xlsx(entries: Sequence[FaqEntry], path: Path) -> None:
    import openpyxl
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "faq"
    ws.append(list(COLUMNS))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    for row in _table_rows(entries):
        ws.append(row)
    for r in ws.iter_rows(min_row=2):
        for cell in r:
            cell.alignment = wrap
            cell.number_format = "@"
    widths = {"question": 30, "alternates": 40, "answer": 60, "materials": 30}
    for i, name in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = widths.get(name, 14)
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    _atomic_write(path, buf.getvalue())


class _Dumper(yaml.SafeDumper):
    """Readable YAML: block style, multi-line text as literal blocks, no key sorting."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def _entry_yaml(e: FaqEntry, with_topic: bool) -> dict[str, Any]:
    d = e.to_dict()
    out: dict[str, Any] = {"id": d["id"]}
    if with_topic:
        out["topic"] = d["topic"]
    for key in ("question", "alternates", "answer", "materials", "tags", "compounds", "variants"):
        if d[key] or key in {"question", "answer"}:
            out[key] = d[key]
    for key, day in (("valid_from", e.valid_from), ("valid_until", e.valid_until)):
        if day is not None:
            out[key] = day
    if e.source:
        out["source"] = e.source
    if e.updated is not None:
        out["updated"] = e.updated
    return out


def _yaml_document(entries: Sequence[FaqEntry], topic: str | None) -> bytes:
    doc: dict[str, Any] = {}
    if topic is not None:
        doc["topic"] = topic
    doc["entries"] = [_entry_yaml(e, with_topic=topic is None) for e in entries]
    text = yaml.dump(doc, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)
    return text.encode()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
