"""A consultation's result for the 议事会 and the notice board: the same ``Report`` becomes
an XLSX workbook (openpyxl) and the console's printable page. An open ballot lists every
eligible household with its vote; a secret ballot only the counts."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from bot.consultations import texts
from bot.consultations.rules import Outcome, Rule, percent
from bot.consultations.service import Consultations, HouseholdLine
from bot.storage.consultations import Consultation

VIA_LABELS = {"chat": "聊天", "page": "投票页面"}


@dataclass(frozen=True, slots=True)
class OptionRow:
    option: str
    households: int
    area: float
    share_households: str
    share_area: str


@dataclass(frozen=True, slots=True)
class HouseholdRow:
    address: str
    floor_area: str
    """For reading: "58.5", or 未登记."""
    choice: str
    via: str
    at: str
    area: float | None = None
    """The floor area as a number, for the workbook (a spreadsheet sums numbers, not text)."""


@dataclass(frozen=True, slots=True)
class Report:
    consultation: Consultation
    scope: str
    rule_label: str
    final: bool
    """Closed: the stored result; open: the live tally so far."""
    outcome: Outcome
    options: list[OptionRow]
    households: list[HouseholdRow]
    """Empty for a secret ballot."""
    generated_at: str

    @property
    def headline(self) -> str:
        state = "最终结果" if self.final else "当前统计（尚未截止）"
        verdict = "通过" if self.outcome.passed else "未通过"
        return f"{state}：按“{self.rule_label}”计算，{verdict}"


def build_report(
    c: Consultation, scope: str, outcome: Outcome, lines: list[HouseholdLine], now: datetime
) -> Report:
    t = outcome.tally
    options = [
        OptionRow(
            o,
            t.counts[i],
            float(t.areas[i]),
            percent(Fraction(t.counts[i], t.voted) if t.voted else Fraction(0)),
            percent(t.areas[i] / t.voted_area if t.voted_area else Fraction(0)),
        )
        for i, o in enumerate(c.options)
    ]
    households = []
    if not c.secret:
        for line in lines:
            v = line.vote
            households.append(
                HouseholdRow(
                    line.address,
                    "未登记" if line.floor_area is None else f"{line.floor_area:g}",
                    "未投票" if v is None else c.options[v.choice],
                    "" if v is None else VIA_LABELS.get(v.via, v.via),
                    "" if v is None else texts.full_when(v.changed_at),
                    line.floor_area,
                )
            )
    return Report(
        c,
        scope,
        Rule(c.rule).label,
        c.result is not None,
        outcome,
        options,
        households,
        texts.full_when(now),
    )


async def report(service: Consultations, committee: str, cid: int) -> Report:
    """The consultation's report now (the final result once closed)."""
    c = await service.get(committee, cid)
    outcome = await service.tally(committee, cid)
    lines = await service.lines(committee, cid)
    return build_report(c, service.scope(c), outcome, lines, service.now())


def to_xlsx(report: Report) -> bytes:
    import openpyxl
    from openpyxl.styles import Alignment, Font

    c, t = report.consultation, report.outcome.tally
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "结果"
    bold = Font(bold=True)
    rows: list[list[object]] = [
        ["征询意见结果"],
        ["标题", c.title],
        ["范围", report.scope],
        ["时间", f"{texts.full_when(c.opens_at)} 至 {texts.full_when(c.closes_at)}"],
        ["投票方式", "不记名" if c.secret else "记名"],
        ["表决规则", report.rule_label],
        ["结论", report.headline],
        ["应参与户数", t.eligible],
        ["应参与面积（㎡）", float(t.eligible_area)],
        ["未登记面积户数", t.missing_area],
        ["实际参与户数", t.voted],
        ["实际参与面积（㎡）", float(t.voted_area)],
        [],
        ["条件", "达到", "需要", "是否符合", "说明"],
    ]
    for check in report.outcome.checks:
        need = ("超过" if check.strict else "达到") + percent(check.needed)
        rows.append(
            [
                check.name,
                percent(check.reached),
                need,
                "符合" if check.met else "不符合",
                check.note,
            ]
        )
    rows += [[], ["选项", "户数", "面积（㎡）", "占参与户数", "占参与面积"]]
    for o in report.options:
        rows.append([o.option, o.households, o.area, o.share_households, o.share_area])
    rows += [[], ["生成时间", report.generated_at]]
    for row in rows:
        ws.append(row)
    ws["A1"].font = Font(bold=True, size=14)
    for cell in ws["A"]:
        cell.font = bold
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 48
    for col in "CDE":
        ws.column_dimensions[col].width = 16
    for row_cells in ws.iter_rows():
        for cell in row_cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    if not c.secret:
        detail = wb.create_sheet("各户投票")
        detail.append(["门牌", "面积（㎡）", "选择", "方式", "投票时间"])
        for h in report.households:
            area = h.floor_area if h.area is None else h.area
            detail.append([h.address, area, h.choice, h.via, h.at])
        for cell in detail[1]:
            cell.font = bold
        detail.column_dimensions["A"].width = 28
        detail.column_dimensions["E"].width = 22
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
