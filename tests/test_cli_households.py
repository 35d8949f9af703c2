"""``linli households import --committee ID FILE``: CSV and XLSX, all or nothing, every bad
row named in Chinese."""

from __future__ import annotations

import asyncio
from pathlib import Path

import openpyxl
import pytest

from bot.cli import main
from bot.storage.sql import Database, SqlHouseholdStore

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("LINLI_DATA_DIR", str(tmp_path / "var"))
    return tmp_path


def stored(tmp_path: Path) -> list[tuple[str, str, str, float | None, tuple[str, ...]]]:
    async def load() -> list[tuple[str, str, str, float | None, tuple[str, ...]]]:
        db = Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'var' / 'linli.db'}")
        try:
            await db.migrate()
            found = await SqlHouseholdStore(db).households("puxiong")
            return [(h.compound, h.building, h.room, h.floor_area, h.labels) for h in found]
        finally:
            await db.close()

    return asyncio.run(load())


def test_a_csv_in_chinese_headers_is_imported(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = env / "户.csv"
    path.write_text(
        "小区,楼号,单元,门牌,面积,标签\n普雄馨苑,20,,1201,58.5,独居、高龄\n馨苑,20号楼,,802室,,\n",
        encoding="gbk",
    )
    assert main(["households", "import", "--committee", "puxiong", str(path)]) == 0
    assert "新增 2 户" in capsys.readouterr().out
    assert stored(env) == [
        ("puxiongxinyuan", "20号楼", "802室", None, ()),
        ("puxiongxinyuan", "20号楼", "1201室", 58.5, ("独居", "高龄")),
    ]
    # Again: nothing new, and labels are only ever added by an import.
    assert main(["households", "import", "--committee", "puxiong", str(path)]) == 0
    assert "未变 2 户" in capsys.readouterr().out


def test_a_bad_row_in_an_xlsx_imports_nothing(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["小区", "楼号", "门牌", "面积"])
    ws.append(["普雄馨苑", 20, 1201, 58.5])
    ws.append(["不存在小区", 3, 101, None])
    ws.append(["普雄馨苑", 20, 1202, "很大"])
    ws.append(["普雄馨苑", "20号楼", "1201室", None])
    path = env / "households.xlsx"
    wb.save(path)
    assert main(["households", "import", "--committee", "puxiong", str(path)]) == 1
    err = capsys.readouterr().err
    assert "没有导入任何内容" in err
    assert "第 3 行：小区“不存在小区”不属于普雄路居委会" in err
    assert "第 4 行：面积“很大”不是数字" in err
    assert "第 5 行：与第 2 行是同一户（门牌重复）" in err
    assert stored(env) == []


def test_a_missing_column_and_an_unknown_committee_are_named(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = env / "h.csv"
    path.write_text("小区,门牌\n普雄馨苑,1201\n", encoding="utf-8")
    assert main(["households", "import", "--committee", "puxiong", str(path)]) == 1
    assert "缺少必需的列：楼号" in capsys.readouterr().err
    assert main(["households", "import", "--committee", "nowhere", str(path)]) == 2
    assert "没有这个居委会" in capsys.readouterr().err
