"""The Chinese texts of the FAQ editor: field, state and action labels, who made a change,
and the translation of the importer's and ``FaqEntry.from_dict``'s English messages
(admins read Chinese)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.retrieval import RowError

FIELD_LABELS: Mapping[str, str] = {
    "id": "编号",
    "compound": "小区",
    "topic": "主题",
    "question": "问题",
    "alternates": "相似问法",
    "answer": "答案",
    "materials": "材料",
    "tags": "标签",
    "compounds": "适用小区",
    "valid_from": "生效日期",
    "valid_until": "失效日期",
    "source": "来源/文号",
    "updated": "更新日期",
    "variants": "小区答案",
}

STATE_LABELS: Mapping[str, str] = {"active": "有效", "expired": "已过期", "upcoming": "未生效"}
ACTION_LABELS: Mapping[str, str] = {
    "create": "新建",
    "update": "修改",
    "delete": "删除",
    "revert": "恢复版本",
}


def actor_text(display_name: str, name: str) -> str:
    """Who a revision names: ``王芳（wangfang）`` (the login alone without a display name)."""
    return f"{display_name}（{name}）" if display_name and display_name != name else name


# --- Chinese messages for the importer's and the domain's errors --------------------------------
_Q = r"['\"](.*?)['\"]"
_TRANSLATIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p + r"$", re.S), t)
    for p, t in (
        (r"entry is not a mapping", "条目格式不正确"),
        (r"id is empty", "编号不能为空"),
        (
            rf"id {_Q} is invalid.*",
            "编号“{0}”无效（只能使用英文字母、数字、“.”“_”“-”，最多 80 个字符）",
        ),
        (r"question is empty", "问题不能为空"),
        (r"answer is empty", "答案不能为空"),
        (r"valid_from (\S+) is after valid_until (\S+)", "生效日期 {0} 晚于失效日期 {1}"),
        (rf"(\w+) {_Q} is not a date.*", "{0}“{1}”不是有效日期（请用 YYYY-MM-DD）"),
        (r"(\w+) must be text", "{0}必须是文字"),
        (r"(\w+) must be a list of texts", "{0}必须是一组文字"),
        (r"variants must map.*", "小区答案格式不正确"),
        (r"variants: compound id is empty", "小区答案缺少小区"),
        (r"variants\.(.+?) must be .*", "小区“{0}”的答案格式不正确"),
        (r"variants\.(.+?): answer is empty", "小区“{0}”的答案不能为空"),
        (r"no FAQ entries found", "文件中没有常见问题条目"),
        (r"unsupported file type.*", "不支持的文件类型（请上传 .csv 或 .xlsx 文件）"),
        (r"cannot read file.*", "无法读取文件"),
        (r"file not found", "找不到文件"),
        (r"file is neither UTF-8 nor GBK text", "文件编码无法识别（请用 UTF-8 或 GBK 保存）"),
        (r"file is not UTF-8 text", "文件不是 UTF-8 文本"),
        (r"not valid CSV.*", "不是有效的 CSV 文件"),
        (r"the file is empty", "文件是空的"),
        (r"not a valid XLSX workbook.*", "不是有效的 XLSX 工作簿"),
        (
            r"merged cells (\S+) are not supported.*",
            "不支持合并单元格 {0}：请取消合并，并在每个单元格里填写内容",
        ),
        (r"the sheet is empty", "工作表是空的"),
        (rf"column {_Q} appears twice", "列“{0}”重复出现"),
        (rf"unknown column {_Q}", "无法识别的列“{0}”"),
        (r"missing column\(s\): (.*)", "缺少必需的列：{0}"),
        (
            rf"duplicate id {_Q} \(already at (?:.*?\s)?(?:row|line|entry) (\d+)\)",
            "编号“{0}”重复（第 {1} 行已有）",
        ),
        (
            rf"a variant row \(compound {_Q}\) may only fill answer and materials, not (.*)",
            "小区答案行（小区“{0}”）只能填写答案和材料，不能填写：{1}",
        ),
        (
            rf"variant for id {_Q} has no main row.*",
            "编号“{0}”的小区答案行没有对应的主行（小区一栏为空的那一行）",
        ),
        (
            rf"duplicate variant for compound {_Q} of id {_Q} \(already at row (\d+)\)",
            "编号“{1}”的小区“{0}”答案重复（第 {2} 行已有）",
        ),
        (
            rf"unknown compound {_Q} in variants \(known: (.*)\)",
            "小区答案中的小区“{0}”不属于本居委会（本居委会的小区：{1}）",
        ),
        (
            rf"unknown compound {_Q} \(known: (.*)\)",
            "小区“{0}”不属于本居委会（本居委会的小区：{1}）",
        ),
        (rf"two variants for compound {_Q}", "小区“{0}”有两条答案"),
        (
            rf"variant for compound {_Q}, but the entry applies only to (.*)",
            "填写了小区“{0}”的答案，但该条目只适用于：{1}",
        ),
        (rf"unknown committee {_Q}", "未知的居委会“{0}”"),
    )
)
_LIST_FIELDS = ("missing column(s)", "may only fill")


def chinese_error(message: str) -> str:
    """The Chinese text of one importer/domain error message (the English one, if none
    fits, after a Chinese lead-in)."""
    for pattern, template in _TRANSLATIONS:
        m = pattern.match(message)
        if m:
            groups = [
                _label_list(g) if any(f in message for f in _LIST_FIELDS) else g for g in m.groups()
            ]
            groups = [FIELD_LABELS.get(g, g) for g in groups]
            return template.format(*groups)
    return f"格式不正确：{message}"


def _label_list(text: str) -> str:
    parts = [p.strip() for p in text.split(",")]
    if all(p in FIELD_LABELS for p in parts):
        return "、".join(FIELD_LABELS[p] for p in parts)
    return text


def row_error_text(error: RowError) -> str:
    """``faq.csv 第 3 行：问题不能为空``."""
    where = error.source
    if error.row is not None:
        where = f"{where} 第 {error.row} 行".strip()
    message = chinese_error(error.message)
    return f"{where}：{message}" if where else message
