"""Import and export: four formats round-trip; bad input gives one precise error per row and
nothing is returned."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import zipfile
from pathlib import Path

import openpyxl
import pytest

from bot.domain.faq import FaqEntry
from bot.domain.registry import Registry
from bot.retrieval.corpus import COLUMNS, export_corpus, load_corpus
from bot.retrieval.errors import CorpusError

from .conftest import COMMITTEE, SHARED_EVAL


def errors_of(paths: list[Path], registry: Registry | None) -> list[str]:
    with pytest.raises(CorpusError) as info:
        load_corpus(paths, registry, COMMITTEE if registry else None)
    return [str(e) for e in info.value.errors]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


HEADER = [
    "id",
    "compound",
    "question",
    "alternates",
    "answer",
    "materials",
    "compounds",
    "valid_from",
    "valid_until",
]


def good_row(i: int, **cells: str) -> list[str]:
    base = {
        "id": f"faq-{i}",
        "compound": "",
        "question": f"问题{i}？",
        "alternates": f"说法{i}甲|说法{i}乙",
        "answer": f"回答{i}。",
        "materials": "身份证",
        "compounds": "",
        "valid_from": "",
        "valid_until": "",
    }
    base.update(cells)
    return [base[c] for c in HEADER]


# -- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["corpus.yml", "yaml-folder", "corpus.jsonl", "corpus.csv", "corpus.xlsx"]
)
def test_sample_corpus_round_trips(
    tmp_path: Path, sample_entries: list[FaqEntry], registry: Registry, target: str
) -> None:
    path = tmp_path / target
    written = export_corpus(sample_entries, path)
    assert all(p.is_file() for p in written)
    if target == "yaml-folder":
        assert {p.name for p in written} == {f"{e.topic}.yml" for e in sample_entries}
    loaded = load_corpus([path], registry, COMMITTEE)
    assert [e.to_dict() for e in loaded] == [e.to_dict() for e in sample_entries]


def test_csv_layout_is_flat_with_variant_rows(
    tmp_path: Path, sample_entries: list[FaqEntry]
) -> None:
    wet = next(e for e in sample_entries if e.id == "garbage-wet-times")
    path = tmp_path / "wet.csv"
    export_corpus([wet], path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert [r["compound"] for r in rows] == [
        "",
        "putuoyicun",
        "puxiongxinyuan",
        "xishahongbin",
        "yanningyuan",
    ]
    assert rows[0]["alternates"].split("\n")[0] == "湿垃圾什么时候倒"
    assert rows[1]["question"] == ""
    assert rows[1]["answer"].startswith("普陀一村湿垃圾")
    assert list(rows[0]) == list(COLUMNS)


def test_lcqmc_jsonl_loads() -> None:
    path = SHARED_EVAL / "lcqmc_dev_kb.jsonl"
    if not path.is_file():
        pytest.fail("shared/eval must be beside the repository (CI puts it there)")
    entries = load_corpus([path])
    assert len(entries) > 5000
    assert entries[0].id == "lcqmc-dev-00000"
    assert entries[0].answer


def test_names_and_aliases_become_compound_ids(tmp_path: Path, registry: Registry) -> None:
    path = write_csv(
        tmp_path / "f.csv",
        [
            HEADER,
            good_row(1, compounds="燕宁苑|一村"),
            good_row(
                1, compound="馨苑", question="", alternates="", materials="", answer="馨苑的回答。"
            ),
        ],
    )
    with pytest.raises(CorpusError):  # the variant is for a compound outside the entry's scope
        load_corpus([path], registry, COMMITTEE)
    path = write_csv(
        tmp_path / "f.csv",
        [
            HEADER,
            good_row(1, compounds="燕宁苑|一村"),
            good_row(
                1, compound="一村", question="", alternates="", materials="", answer="一村的回答。"
            ),
        ],
    )
    (e,) = load_corpus([path], registry, COMMITTEE)
    assert e.compounds == ("yanningyuan", "putuoyicun")
    assert e.variants["putuoyicun"].answer == "一村的回答。"
    assert e.alternates == ("说法1甲", "说法1乙")
    assert e.materials == ("身份证",)


def test_chinese_headers_and_gbk(tmp_path: Path, registry: Registry) -> None:
    rows = [
        ["编号", "问题", "相似问法", "答案", "需携带材料", "失效日期"],
        ["a1", "居住证怎么办？", "居住证咋办\n办居住证", "到受理中心办理。", "身份证", ""],
    ]
    gbk = load_corpus([write_csv(tmp_path / "gbk.csv", rows, "gbk")], registry, COMMITTEE)
    bom = load_corpus([write_csv(tmp_path / "bom.csv", rows, "utf-8-sig")], registry, COMMITTEE)
    assert [dataclasses.replace(e, topic="") for e in gbk] == [
        dataclasses.replace(e, topic="") for e in bom
    ]
    assert gbk[0].alternates == ("居住证咋办", "办居住证")
    assert gbk[0].topic == "gbk"


# -- bad input -------------------------------------------------------------------------------


def test_missing_answer_on_row_17(tmp_path: Path, registry: Registry) -> None:
    rows = [HEADER] + [good_row(i) for i in range(2, 17)] + [good_row(17, answer="")]
    assert errors_of([write_csv(tmp_path / "faq.csv", rows)], registry) == [
        "faq.csv row 17: answer is empty"
    ]


def test_every_bad_row_is_reported_and_nothing_loads(tmp_path: Path, registry: Registry) -> None:
    rows = [
        HEADER,
        good_row(2),
        good_row(3, id=""),
        good_row(2, question="另一个问题？"),
        good_row(5, compounds="东湖苑"),
        good_row(6, valid_until="2022-13-01"),
        good_row(7, valid_from="2023-02-01", valid_until="2023-01-01"),
        good_row(8, id="bad id"),
        good_row(99, compound="燕宁苑", question="", alternates="", materials=""),
        good_row(2, compound="燕宁苑", question="问题？", alternates="", materials=""),
    ]
    good = write_csv(tmp_path / "good.csv", [HEADER, good_row(50)])
    assert errors_of([good, write_csv(tmp_path / "faq.csv", rows)], registry) == [
        "faq.csv row 4: duplicate id 'faq-2' (already at row 2)",
        "faq.csv row 9: variant for id 'faq-99' has no main row (a row with compound empty)",
        "faq.csv row 10: a variant row (compound '燕宁苑') may only fill answer and materials, "
        "not question",
        "faq.csv row 3: id is empty",
        "faq.csv row 5: unknown compound '东湖苑' (known: yanningyuan (燕宁苑), puxiongxinyuan "
        "(普雄馨苑), putuoyicun (普陀一村), xishahongbin (西沙洪滨小区))",
        "faq.csv row 6: valid_until '2022-13-01' is not a date (YYYY-MM-DD)",
        "faq.csv row 7: valid_from 2023-02-01 is after valid_until 2023-01-01",
        "faq.csv row 8: id 'bad id' is invalid (use letters, digits, '.', '_' or '-', "
        "at most 80 characters)",
    ]


def test_duplicate_ids_across_files(tmp_path: Path, registry: Registry) -> None:
    a = write_csv(tmp_path / "a.csv", [HEADER, good_row(1)])
    b = tmp_path / "b.jsonl"
    b.write_text(
        json.dumps({"id": "faq-1", "question": "别的？", "answer": "答。"}) + "\n", encoding="utf-8"
    )
    assert errors_of([a, b], registry) == [
        "b.jsonl line 1: duplicate id 'faq-1' (already at a.csv row 2)"
    ]


def test_xlsx_merged_cells(tmp_path: Path, registry: Registry) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADER)
    for i in range(2, 6):
        ws.append(good_row(i))
    ws.merge_cells("E3:E4")
    path = tmp_path / "faq.xlsx"
    wb.save(path)
    assert errors_of([path], registry) == [
        "faq.xlsx row 3: merged cells E3:E4 are not supported: unmerge them and fill every cell"
    ]


def test_a_cut_short_or_bloated_workbook_is_refused_cleanly(
    tmp_path: Path, registry: Registry
) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(HEADER)
    ws.append(good_row(2))
    whole = tmp_path / "whole.xlsx"
    wb.save(whole)
    cut = tmp_path / "cut.xlsx"
    with zipfile.ZipFile(whole) as src, zipfile.ZipFile(cut, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("sheet1.xml"):
                data = data[: len(data) // 2]  # a sheet cut off mid-XML
            dst.writestr(item, data)
    [cut_error] = errors_of([cut], registry)
    assert cut_error.startswith("cut.xlsx not a valid XLSX workbook (")

    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(whole) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr("xl/padding.bin", b"\0" * (65 * 1024 * 1024))
    assert errors_of([bomb], registry) == ["bomb.xlsx the workbook is too large once unpacked"]


def test_xlsx_real_dates_and_numbers(tmp_path: Path, registry: Registry) -> None:
    from datetime import datetime

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["id", "question", "answer", "valid_until"])
    ws.append([101, "问题？", "回答。", datetime(2022, 12, 31)])
    path = tmp_path / "num.xlsx"
    wb.save(path)
    (e,) = load_corpus([path], registry, COMMITTEE)
    assert e.id == "101"
    assert str(e.valid_until) == "2022-12-31"


def test_yaml_errors_cite_lines(tmp_path: Path, registry: Registry) -> None:
    path = tmp_path / "garbage.yml"
    path.write_text(
        "topic: garbage\nentries:\n  - id: a\n    question: 问？\n    answer: 答。\n"
        "  - id: b\n    question: 问二？\n    answer: ''\n",
        encoding="utf-8",
    )
    assert errors_of([path], registry) == ["garbage.yml line 6: answer is empty"]
    path.write_text("entries:\n  - id: [unclosed\n", encoding="utf-8")
    (message,) = errors_of([path], registry)
    assert message.startswith("garbage.yml line 3: invalid YAML")


def test_jsonl_errors_and_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "kb.jsonl"
    path.write_text(
        '{"id": "a", "question": "q", "answer": "x"}\n{"id": "b",\n[1]\n', encoding="utf-8"
    )
    assert errors_of([path], None) == [
        "kb.jsonl line 2: not valid JSON (Expecting property name enclosed in double quotes)",
        "kb.jsonl line 3: not a JSON object",
    ]
    binary = tmp_path / "x.csv"
    binary.write_bytes(b"id,question,answer\r\n\xff\xfe\xfa,\x81\x30,\xfe\n")
    assert errors_of([binary], None) == ["x.csv file is neither UTF-8 nor GBK text"]
    unknown = write_csv(tmp_path / "cols.csv", [["id", "question", "answr"], ["a", "q", "x"]])
    assert errors_of([unknown], None) == [
        "cols.csv row 1: unknown column 'answr'",
        "cols.csv row 1: missing column(s): answer",
    ]
    assert errors_of([tmp_path / "missing.csv"], None) == [
        f"{tmp_path / 'missing.csv'} file not found"
    ]
