"""``linli kb import|export`` against the database the bot answers from."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main
from bot.storage.sql import Database, SqlFaqStore

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("LINLI_DATA_DIR", str(tmp_path / "var"))
    return tmp_path


def stored(tmp_path: Path) -> list[str]:
    async def load() -> list[str]:
        db = Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'var' / 'linli.db'}")
        try:
            return [e["id"] for e in await SqlFaqStore(db).load("puxiong")]
        finally:
            await db.close()

    return asyncio.run(load())


def test_import_then_export_round_trips(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "import", "knowledge/faq/garbage.yml"]) == 0
    assert "new" in capsys.readouterr().out
    ids = stored(env)
    assert ids
    out = env / "garbage.csv"
    assert main(["kb", "export", "--out", str(out)]) == 0
    assert main(["kb", "import", str(out)]) == 0
    assert f"0 new, 0 changed, {len(ids)} unchanged" in capsys.readouterr().out


def test_a_bad_row_imports_nothing(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = env / "bad.csv"
    bad.write_text(
        "id,question,answer\nok1,居住证怎么办,去社区事务受理服务中心\nx2,,答案\n", encoding="utf-8"
    )
    assert main(["kb", "import", str(bad)]) == 1
    assert "row 3: question is empty" in capsys.readouterr().err
    assert main(["kb", "export", "--out", str(env / "none.yml")]) == 1
