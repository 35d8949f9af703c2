"""Every problem the importer reports in a bad spreadsheet reaches admins in Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.domain.registry import Registry
from bot.faqs.texts import row_error_text
from bot.retrieval import CorpusError, load_corpus

ROOT = Path(__file__).resolve().parent.parent


def registry() -> Registry:
    return Registry.from_mapping(
        yaml.safe_load((ROOT / "knowledge/registry.yaml").read_text(encoding="utf-8"))
    )


@pytest.mark.parametrize(
    ("csv", "expected"),
    [
        ("id,question,answer,colour\n", "无法识别的列“colour”"),
        ("id,question\n", "缺少必需的列：答案"),
        ("id,question,answer\nbad id,问,答\n", "第 2 行：编号“bad id”无效"),
        ("id,question,answer\na,问,\n", "第 2 行：答案不能为空"),
        ("id,question,answer,valid_from\na,问,答,明天\n", "生效日期“明天”不是有效日期"),
        (
            "id,question,answer,valid_from,valid_until\na,问,答,2026-05-01,2026-04-01\n",
            "生效日期 2026-05-01 晚于失效日期 2026-04-01",
        ),
        ("id,question,answer\na,问,答\na,问2,答2\n", "第 3 行：编号“a”重复（第 2 行已有）"),
        ("id,compound,question,answer\nb,燕宁苑,,答\n", "编号“b”的小区答案行没有对应的主行"),
        (
            "id,compound,question,answer\na,,问,答\na,燕宁苑,问,答\n",
            "小区答案行（小区“燕宁苑”）只能填写答案和材料，不能填写：问题",
        ),
        (
            "id,compound,question,answer\na,,问,答\na,火星,,答\n",
            "小区答案中的小区“火星”不属于本居委会",
        ),
        ("id,question,answer,compounds\na,问,答,火星\n", "小区“火星”不属于本居委会"),
        (
            "id,compound,question,answer,compounds\na,,问,答,普陀一村\na,燕宁苑,,答\n",
            "填写了小区“yanningyuan”的答案，但该条目只适用于：putuoyicun",
        ),
    ],
)
def test_row_errors_are_chinese(tmp_path: Path, csv: str, expected: str) -> None:
    path = tmp_path / "faq.csv"
    path.write_text(csv, encoding="utf-8")
    with pytest.raises(CorpusError) as caught:
        load_corpus([path], registry(), "puxiong")
    texts = [row_error_text(e) for e in caught.value.errors]
    assert any(expected in t for t in texts), texts
    assert not any("格式不正确：" in t for t in texts), texts
