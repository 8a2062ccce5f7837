"""Write the locked Excel template (and, later, any workbook we send) fresh from the spec.

Everything placed here comes from ``layout`` (where) and ``spec``/``rules`` (what): labels and
merges, input cells with data validation, total formulas and live ✓/✗ checks compiled from the
rule declarations, one defined name per datapoint, and a hidden metadata sheet. Every formula is
written with its correct cached value, computed in Python by the same rules, so the file shows
right in suites that do not recalculate on load (LibreOffice keeps xlsxwriter's cached values).
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import quote_sheetname, xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from . import __version__, layout, rules
from .files import atomic_write, lock_workbook_structure
from .layout import Place, TableLayout, WorkbookLayout
from .roster import Unit, file_name
from .spec import Spec

FONT = "宋体"
COLORS = {
    "input": "#FFF2CC",
    "total": "#E7E6E6",
    "header": "#DDEBF7",
    "stub": "#F2F2F2",
    "error_fill": "#FFC7CE",
    "error_font": "#9C0006",
    "warning_fill": "#FFEB9C",
    "warning_font": "#9C5700",
    "pass_font": "#006100",
}
META_KEYS = (
    "format_id",
    "format_version",
    "format_revision",
    "spec_hash",
    "unit",
    "code",
    "kind",
    "year",
    "lang",
    "tool",
    "tool_version",
)

TEXT = {
    "zh": {
        "template_title": "{unit}{year}年政府信息公开工作年度报告 填报模板",
        "format_line": "报告格式：{name}（{basis}），模板版本 {version}-{revision}，校验码 {hash}",
        "unit_line": "填报单位：{unit}　　报告年度：{year}年",
        "table_note": "黄色单元格为填报项，灰色为自动合计（已锁定）；右侧和下方的 ✓/✗ 为实时校验。",
        "check_row": "{code} {name}",
        "status_label": "校验状态",
        "status_ok": "全部通过",
        "status_bad": "有 {e} 项错误、{w} 项警告，请查看“校验结果”",
        "legend": ["图例", "填报项", "自动合计", "✓ 通过", "✗ 未通过"],
        "steps": [
            "本模板由政府信息公开工作主管部门统一下发，单位名称和报告年度已预填并锁定，请勿修改。",
            "只需填写黄色单元格；灰色单元格为公式自动合计，已锁定。",
            "表二、表三、表四按《中华人民共和国政府信息公开工作年度报告格式》设置。"
            "数字一律填阿拉伯数字，无则填0；不要填“/”“无”“-”，也不要带单位（如“12件”）。",
            "表二“行政事业性收费”的单位为万元，可带小数；其余均为件数（整数）。",
            "各表右侧和下方的 ✓/✗ 为实时校验：红色 ✗ 为错误，必须改正；橙色 ✗ 为警告，请核实。"
            "全部校验项见“校验结果”工作表。",
            "在“文字部分”填写总体情况、存在的主要问题及改进情况、其他需要报告的事项；"
            "第六部分须写明信息处理费的收取情况。文字中的数字须与表格一致。",
            "请勿增删行列、改动标签或整表复制粘贴到新文件，否则无法汇总。"
            "可用 Excel、WPS 或 LibreOffice 填写，保存为 .xlsx 格式报送。",
            "报送前请确认本页“校验状态”显示“全部通过”，并在“基本信息”中填写填报人和联系电话。",
        ],
        "info_title": "基本信息",
        "narrative_title": "文字部分",
        "narrative_note": "在黄色单元格内填写，单元格内换行按 Alt+Enter（WPS 同）。",
        "narrative_cols": ["项目", "内容", "字数", "状态"],
        "narrative_missing": "未填写",
        "narrative_optional": "选填",
        "checks_title": "校验结果",
        "checks_summary": ["未通过的错误", "未通过的警告", "结论"],
        "checks_cols": ["代码", "级别", "规则", "检查项", "位置", "状态"],
        "text_hint_title": "填写说明",
        "number_hint_title": "填写说明",
        "number_error_title": "输入有误",
        "date_hint": "请填写日期，如 2025-01-15。",
        "date_error": "请填写有效日期。",
        "footer": "&C第 &P 页 共 &N 页",
    },
    "en": {
        "template_title": "{unit} {year} government information disclosure annual report: form",
        "format_line": "Format: {name} ({basis}), template version {version}-{revision}, checksum {hash}",
        "unit_line": "Unit: {unit}    Report year: {year}",
        "table_note": "Fill the yellow cells; grey cells are totals (locked). ✓/✗ at the right and below are live checks.",
        "check_row": "{code} {name}",
        "status_label": "Check status",
        "status_ok": "All checks pass",
        "status_bad": "{e} errors and {w} warnings: see the 校验结果 sheet",
        "legend": ["Legend", "to fill", "computed total", "✓ passes", "✗ fails"],
        "steps": [
            "This form comes from the disclosure office; unit name and year are prefilled and locked.",
            "Fill only the yellow cells; grey cells are formulas and locked.",
            "Tables 二, 三 and 四 follow the national format. Enter plain numbers, 0 for none; "
            "do not type “/”, “无”, “-” or units such as “12件”.",
            "行政事业性收费 in table 二 is in 万元 and may have decimals; all else are whole counts.",
            "The ✓/✗ cells beside and below each table are live checks: a red ✗ is an error to fix, "
            "an orange ✗ a warning to verify. The 校验结果 sheet lists them all.",
            "Write the narrative on the 文字部分 sheet; section 六 must state the 信息处理费 position. "
            "Figures in the text must agree with the tables.",
            "Do not insert or delete rows or columns, change labels, or paste the tables into a new "
            "file. Excel, WPS and LibreOffice all work; save as .xlsx.",
            "Before returning the file, make sure the check status on this sheet says all checks "
            "pass, and fill in the contact on 基本信息.",
        ],
        "info_title": "Basic information",
        "narrative_title": "Narrative",
        "narrative_note": "Write in the yellow cells; Alt+Enter starts a new line inside a cell.",
        "narrative_cols": ["Item", "Text", "Chars", "Status"],
        "narrative_missing": "empty",
        "narrative_optional": "optional",
        "checks_title": "Checks",
        "checks_summary": ["Errors failing", "Warnings failing", "Result"],
        "checks_cols": ["Code", "Severity", "Rule", "What", "Where", "Status"],
        "text_hint_title": "How to fill",
        "number_hint_title": "How to fill",
        "number_error_title": "Invalid entry",
        "date_hint": "Enter a date, e.g. 2025-01-15.",
        "date_error": "Enter a valid date.",
        "footer": "&CPage &P of &N",
    },
}
SEVERITY_TEXT = {
    "zh": {"error": "错误", "warning": "警告", "note": "提示"},
    "en": {"error": "error", "warning": "warning", "note": "note"},
}
FEEDBACK_SHEET = {"zh": "问题清单", "en": "问题清单 Findings"}
FEEDBACK_TEXT = {
    "zh": {
        "title": "{unit}{year}年度报告 校验问题清单",
        "intro": "以下是对本单位报送文件的校验结果。标色的单元格有问题，鼠标移到单元格上可看批注。"
        "请在本工作簿中直接修改后保存并重新报送；“校验结果”工作表显示“全部通过”即可。",
        "columns": ["序号", "级别", "代码", "位置", "问题及修改方法"],
        "none": "没有发现问题。",
    },
    "en": {
        "title": "{unit} {year} annual report: findings",
        "intro": "The check of your returned file. Coloured cells have problems; hover for the comment. "
        "Correct them in this workbook, save and return it; the 校验结果 sheet should say all pass.",
        "columns": ["No.", "Severity", "Code", "Where", "Problem and how to fix it"],
        "none": "No problems found.",
    },
}


@dataclass(frozen=True)
class FeedbackRow:
    severity: str
    code: str
    key: str | None  # the datapoint or field the finding is at (a link target), if any
    where: str
    message: str


@dataclass(frozen=True)
class Feedback:
    """What a feedback workbook shows: marked cells (key -> (severity, comment)) and all rows."""

    marks: dict[str, tuple[str, str]]
    rows: list[FeedbackRow]


@functools.lru_cache(maxsize=8192)
def _prepared(formula: str, expand_future: bool) -> str:
    return Worksheet._prepare_formula(_PLAIN, formula, expand_future)


class _CachedFormulas(Worksheet):
    """A worksheet that remembers prepared formulas across workbooks.

    xlsxwriter runs some thirty regular expressions over every formula to add ``_xlfn.``
    prefixes; our formulas are the same for every unit of a roster, so preparing each once per
    process roughly halves the time to write a template (see benchmarks/).
    """

    def _prepare_formula(self, formula, expand_future_functions=False):
        return _prepared(formula, bool(expand_future_functions or self.use_future_functions))


_PLAIN = Worksheet()


@dataclass(frozen=True)
class _Formulas:
    """Everything in a template that depends on the spec alone, compiled once per spec."""

    totals: dict[str, str]  # computed datapoint id -> =SUM(...)
    checks: dict[str, str]  # rule instance key -> =IF(...,"✓","✗")
    names: dict[str, str]  # defined name -> ='Sheet'!$A$1


_FORMULAS: dict[str, _Formulas] = {}


def _formulas(spec: Spec) -> _Formulas:
    if spec.hash not in _FORMULAS:
        lay = layout.build(spec)
        totals = {}
        for target, sources in spec.totals:
            sheet = lay.place(target).sheet
            totals[target] = "=" + rules.excel_sum(
                sources, 0, lambda ids, s=sheet: lay.refs(ids, s)
            )
        checks = {}
        for _, inst in spec.instances():
            sheet = lay.place(f"check.{inst.key}").sheet
            kind_ref = lay.place("info.kind").ref(sheet, absolute=True)
            checks[inst.key] = rules.excel_check(
                inst, lambda ids, s=sheet: lay.refs(ids, s), spec.kinds, kind_ref
            )
        names = {defined_name(k): "=" + p.ref(absolute=True) for k, p in lay.places.items()}
        _FORMULAS[spec.hash] = _Formulas(totals, checks, names)
    return _FORMULAS[spec.hash]


def defined_name(key: str) -> str:
    """The workbook name of a datapoint, field or check: ``t3.new.natural`` -> ``dp_t3_new_natural``."""
    safe = key.replace(".", "_").replace("[", "_").replace("]", "").replace(",", "_")
    if key.startswith("info."):
        return "info_" + safe[5:]
    if key.startswith("check."):
        return "chk_" + safe[6:]
    if "." in key and key.split(".")[0].startswith("s"):
        return "txt_" + safe
    return "dp_" + safe


def creation_time(year: int) -> datetime:
    """Pinned document date, so the same inputs give the same bytes: the January the reports
    for ``year`` are collected."""
    return datetime(year + 1, 1, 1)


class _Writer:
    def __init__(
        self,
        spec: Spec,
        unit: Unit,
        year: int,
        lang: str,
        password: str,
        values: Mapping[str, Any] | None,
        texts: Mapping[str, str] | None,
        info: Mapping[str, Any] | None,
        feedback: Feedback | None = None,
    ):
        self.spec = spec
        self.feedback = feedback
        self._marked: dict[tuple[int, str], Any] = {}
        self.layout: WorkbookLayout = layout.build(spec)
        self.formulas = _formulas(spec)
        self.unit, self.year, self.lang, self.password = unit, year, lang, password
        self.t = TEXT[lang]
        self.values = spec.compute(values or {})
        self.texts = dict(texts or {})
        self.info = {
            "unit": unit.name,
            "code": unit.code,
            "kind": unit.kind,
            "year": year,
            **(info or {}),
        }
        self.passes = {
            inst.key: rules.holds(inst, self.values, spec.kinds, unit.kind or None)
            for _, inst in spec.instances()
        }
        # Cached results of the summary formulas (checks sheet, instructions sheet).
        self.failing = {"error": 0, "warning": 0}
        for rule, inst in spec.instances():
            if not self.passes[inst.key]:
                self.failing[rule.severity.value] += 1
        if any(self.failing.values()):
            self.status = self.t["status_bad"].format(
                e=self.failing["error"], w=self.failing["warning"]
            )
        else:
            self.status = self.t["status_ok"]
        self.buffer = io.BytesIO()
        self.wb = xlsxwriter.Workbook(
            self.buffer,
            {
                "in_memory": True,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
            },
        )
        self.f = self._formats()

    # -- formats -------------------------------------------------------------------------

    def _fmt(self, **props: Any):
        props = {"font_name": FONT, "font_size": 11, "valign": "vcenter", **props}
        fmt = self.wb.add_format(props)
        self._props[id(fmt)] = props
        return fmt

    def _marked_format(self, key: str, base: Any) -> Any:
        """``base``, or a coloured copy when feedback marks the cell ``key``."""
        if self.feedback is None or key not in self.feedback.marks:
            return base
        severity, _ = self.feedback.marks[key]
        k = (id(base), severity)
        if k not in self._marked:
            fill = COLORS["error_fill" if severity == "error" else "warning_fill"]
            self._marked[k] = self.wb.add_format({**self._props[id(base)], "bg_color": fill})
        return self._marked[k]

    def _comment(self, ws, key: str, place: Place) -> None:
        if self.feedback is not None and key in self.feedback.marks:
            text = self.feedback.marks[key][1]
            options = {"author": "wbtools", "x_scale": 3, "y_scale": 2}
            ws.write_comment(place.row, place.col, text[:32000], options)

    def _formats(self) -> dict[str, Any]:
        self._props: dict[int, dict] = {}
        border = {"border": 1, "text_wrap": True}
        return {
            "title": self._fmt(bold=True, font_size=16, align="center"),
            "subtitle": self._fmt(align="left"),
            "note": self._fmt(font_size=9, italic=True, font_color="#595959", text_wrap=True),
            "caption": self._fmt(bold=True, align="left", bg_color=COLORS["header"], **border),
            "header": self._fmt(bold=True, align="center", bg_color=COLORS["header"], **border),
            "corner": self._fmt(align="center", font_size=10, bg_color=COLORS["header"], **border),
            "stub": self._fmt(align="left", bg_color=COLORS["stub"], **border),
            "input": self._fmt(align="center", locked=False, bg_color=COLORS["input"], **border),
            "total": self._fmt(align="center", bold=True, bg_color=COLORS["total"], **border),
            "check": self._fmt(align="center", font_size=12, border=1),
            "check_head": self._fmt(align="center", font_size=9, text_wrap=True, border=1),
            "check_label": self._fmt(align="left", font_size=9, text_wrap=True, border=1),
            "label": self._fmt(bold=True, align="left", bg_color=COLORS["stub"], **border),
            "value": self._fmt(align="left", bg_color=COLORS["total"], **border),
            "text_input": self._fmt(
                align="left", valign="top", locked=False, bg_color=COLORS["input"], **border
            ),
            "date_input": self._fmt(
                align="left",
                locked=False,
                bg_color=COLORS["input"],
                num_format="yyyy-mm-dd",
                **border,
            ),
            "phone_input": self._fmt(
                align="left", locked=False, bg_color=COLORS["input"], num_format="@", **border
            ),
            "section": self._fmt(bold=True, font_size=12, align="left", bottom=1),
            "plain": self._fmt(text_wrap=True),
            "small": self._fmt(align="center", font_size=9, border=1),
            "link": self._fmt(font_color="blue", underline=1, font_size=10, border=1),
            "legend_input": self._fmt(align="center", bg_color=COLORS["input"], border=1),
            "legend_total": self._fmt(align="center", bg_color=COLORS["total"], border=1),
            "error_cf": self.wb.add_format(
                {"bg_color": COLORS["error_fill"], "font_color": COLORS["error_font"]}
            ),
            "warning_cf": self.wb.add_format(
                {"bg_color": COLORS["warning_fill"], "font_color": COLORS["warning_font"]}
            ),
            "pass_cf": self.wb.add_format({"font_color": COLORS["pass_font"]}),
        }

    # -- the workbook ----------------------------------------------------------------------

    def write(self) -> bytes:
        spec, unit = self.spec, self.unit
        self.wb.set_properties(
            {
                "title": spec.title.format(unit=unit.name, year=self.year),
                "subject": f"{spec.name} {spec.version}",
                "author": "wbtools",
                "company": unit.name,
                "comments": f"wbtools {__version__}; {spec.format_id} {spec.version}",
                "created": creation_time(self.year),
            }
        )

        def sheet(name: str):
            return self.wb.add_worksheet(name, worksheet_class=_CachedFormulas)

        instructions = sheet(layout.INSTRUCTIONS_SHEET)
        info_ws = sheet(layout.INFO_SHEET)
        table_ws = {t.id: sheet(t.sheet) for t in spec.tables}
        narrative_ws = sheet(layout.NARRATIVE_SHEET)
        checks_ws = sheet(layout.CHECKS_SHEET)
        meta_ws = sheet(layout.META_SHEET)
        feedback_ws = sheet(FEEDBACK_SHEET[self.lang]) if self.feedback is not None else None

        self._info_sheet(info_ws)
        for tid, ws in table_ws.items():
            self._table_sheet(ws, self.layout.tables[tid])
        self._narrative_sheet(narrative_ws)
        summary = self._checks_sheet(checks_ws)
        self._instructions_sheet(instructions, summary)
        self._meta_sheet(meta_ws)
        if feedback_ws is not None:
            self._feedback_sheet(feedback_ws)
        self._names()
        for ws in (instructions, info_ws, narrative_ws, checks_ws):
            ws.set_paper(9)  # A4, one page wide: the unit prints and signs what it returns
            ws.fit_to_pages(1, 0)
            ws.set_footer(self.t["footer"])
        for ws in self.wb.worksheets():
            self._protect(ws)
        (feedback_ws or instructions).activate()
        self.wb.close()
        return lock_workbook_structure(self.buffer.getvalue(), self.password)

    def _protect(self, ws) -> None:
        # Row heights and column widths stay adjustable: long narrative needs taller rows.
        ws.protect(self.password, {"format_rows": True, "format_columns": True})

    def _names(self) -> None:
        for name, ref in self.formulas.names.items():
            self.wb.define_name(name, ref)

    # -- sheets ----------------------------------------------------------------------------

    def _title_rows(self, ws, width: int, title: str) -> None:
        ws.merge_range(layout.TITLE_ROW, 0, layout.TITLE_ROW, width - 1, title, self.f["title"])
        ws.set_row(layout.TITLE_ROW, 28)
        line = self.t["unit_line"].format(unit=self.unit.name, year=self.year)
        ws.merge_range(layout.UNIT_ROW, 0, layout.UNIT_ROW, width - 1, line, self.f["subtitle"])

    def _table_sheet(self, ws, tl: TableLayout) -> None:
        table = tl.table
        self._title_rows(ws, tl.width, table.heading)
        ws.merge_range(
            layout.NOTE_ROW, 0, layout.NOTE_ROW, tl.width - 1, self.t["table_note"], self.f["note"]
        )
        for i, width in enumerate(tl.col_widths):
            ws.set_column(i, i, width)
        for row, height in tl.row_heights.items():
            ws.set_row(row, height)
        for label in tl.labels:
            fmt = self.f[label.role]
            if label.merged:
                ws.merge_range(
                    label.row, label.col, label.last_row, label.last_col, label.text, fmt
                )
            else:
                ws.write_string(label.row, label.col, label.text, fmt)
        self._data_cells(ws, tl)
        self._check_cells(ws, tl)
        ws.set_paper(9)  # A4
        if table.landscape:
            ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.center_horizontally()
        ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
        ws.print_area(0, 0, tl.bottom, tl.width - 1)
        ws.repeat_rows(*tl.header_rows)
        ws.set_footer(self.t["footer"])
        ws.freeze_panes(tl.header_rows[1] + 1, 0)

    def _data_cells(self, ws, tl: TableLayout) -> None:
        spec = self.spec
        by_type: dict[str, list[Place]] = {}
        for dp_id, place in tl.cells.items():
            dp = spec.datapoints[dp_id]
            fmt = self._marked_format(dp_id, self.f["total" if dp.computed else "input"])
            self._comment(ws, dp_id, place)
            if place.last_col is not None:
                ws.merge_range(place.row, place.col, place.row, place.last_col, None, fmt)
            if dp.computed:
                formula = self.formulas.totals[dp_id]
                ws.write_formula(place.row, place.col, formula, fmt, self.values[dp_id])
            else:
                self._write_value(ws, place, self.values.get(dp_id), fmt)
                by_type.setdefault(dp.type, []).append(place)
        for type_id, places in by_type.items():
            vtype = spec.types[type_id]
            options = {
                "validate": "decimal" if vtype.kind == "decimal" else "integer",
                **(
                    {"criteria": "between", "minimum": -(10**9), "maximum": 10**9}
                    if vtype.kind == "signed"
                    else {"criteria": ">=", "value": 0}
                ),
                "ignore_blank": True,
                "input_title": self.t["number_hint_title"],
                "input_message": vtype.hint.get(self.lang)[:255],
                "error_title": self.t["number_error_title"],
                "error_message": vtype.error.get(self.lang)[:255],
            }
            rects = _rectangles(places)
            for r1, c1, r2, c2 in rects:
                ws.data_validation(r1, c1, r2, c2, options)
            # One rule over every range: its relative reference is to the first range's
            # top-left cell, and Excel and LibreOffice shift it for every other cell.
            r1, c1 = rects[0][:2]
            predicate = rules.excel_type_predicate(xl_rowcol_to_cell(r1, c1), vtype.kind)
            ws.conditional_format(
                *rects[0],
                {
                    "type": "formula",
                    "criteria": f"=NOT(IFERROR({predicate},FALSE))",
                    "format": self.f["error_cf"],
                    "multi_range": _multi_range(rects),
                },
            )

    def _write_value(self, ws, place: Place, value: Any, fmt) -> None:
        if value is None or value == "":
            ws.write_blank(place.row, place.col, None, fmt)
        elif isinstance(value, bool) or not isinstance(value, int | float):
            ws.write_string(place.row, place.col, str(value), fmt)
        else:
            ws.write_number(place.row, place.col, value, fmt)

    def _check_cells(self, ws, tl: TableLayout) -> None:
        spec = self.spec
        for code, col in tl.check_cols.items():
            rule = spec.rule(code)
            text = self.t["check_row"].format(code=code, name=rule.name.get(self.lang))
            first, last = tl.header_rows
            if last > first:
                ws.merge_range(first, col, last, col, text, self.f["check_head"])
            else:
                ws.write_string(first, col, text, self.f["check_head"])
            ws.set_column(col, col, layout.CHECK_COL_WIDTH)
        stub = tl.table.blocks[0].stub_width
        for code, row in tl.check_rows.items():
            rule = spec.rule(code)
            text = self.t["check_row"].format(code=code, name=rule.name.get(self.lang))
            if stub > 1:
                ws.merge_range(row, 0, row, stub - 1, text, self.f["check_label"])
            elif stub == 1:
                ws.write_string(row, 0, text, self.f["check_label"])
            else:
                ws.write_string(row, tl.width, text, self.f["check_label"])
        by_severity: dict[str, list[Place]] = {}
        for rule in spec.rules:
            for inst in rule.instances:
                place = tl.checks.get(inst.key)
                if place is None:
                    continue
                formula = self.formulas.checks[inst.key]
                shown = rules.PASS if self.passes[inst.key] else rules.FAIL
                ws.write_formula(place.row, place.col, formula, self.f["check"], shown)
                by_severity.setdefault(rule.severity.value, []).append(place)
        self._check_formats(ws, by_severity)

    def _check_formats(self, ws, by_severity: dict[str, list[Place]]) -> None:
        """Red (error) or orange (warning) for ✗, green for ✓: one rule per colour per sheet."""
        everything: list[Place] = []
        for severity, places in by_severity.items():
            fmt = self.f["error_cf" if severity == "error" else "warning_cf"]
            self._cell_format(ws, places, rules.FAIL, fmt)
            everything += places
        if everything:
            self._cell_format(ws, everything, rules.PASS, self.f["pass_cf"])

    def _cell_format(self, ws, places: list[Place], value: str, fmt) -> None:
        rects = _rectangles(places)
        ws.conditional_format(
            *rects[0],
            {
                "type": "cell",
                "criteria": "==",
                "value": f'"{value}"',
                "format": fmt,
                "multi_range": _multi_range(rects),
            },
        )

    def _info_sheet(self, ws) -> None:
        t = self.t
        ws.set_column(0, 0, 16)
        ws.set_column(1, 1, 44)
        ws.merge_range(0, 0, 0, 1, t["info_title"], self.f["title"])
        for field in self.spec.info:
            place = self.layout.place(f"info.{field.id}")
            label = field.label if self.lang == "zh" else f"{field.label} {field.label_en}"
            ws.write_string(place.row, 0, label, self.f["label"])
            value = self.info.get(field.id)
            if field.prefilled:
                self._write_value(ws, place, value, self.f["value"])
            elif field.type == "date":
                fmt = self.f["date_input"]
                if isinstance(value, date):
                    ws.write_datetime(place.row, place.col, value, fmt)
                else:
                    self._write_value(ws, place, value, fmt)
                ws.data_validation(
                    place.row,
                    place.col,
                    place.row,
                    place.col,
                    {
                        "validate": "date",
                        "criteria": "between",
                        "minimum": date(self.year, 1, 1),
                        "maximum": date(self.year + 2, 12, 31),
                        "input_title": t["text_hint_title"],
                        "input_message": t["date_hint"],
                        "error_message": t["date_error"],
                    },
                )
            else:
                base = self.f["phone_input" if field.id == "phone" else "text_input"]
                fmt = self._marked_format(f"info.{field.id}", base)
                self._comment(ws, f"info.{field.id}", place)
                self._write_value(ws, place, value if value is None else str(value), fmt)

    def _narrative_sheet(self, ws) -> None:
        t = self.t
        ws.set_column(0, 0, 22)
        ws.set_column(1, 1, layout.NARRATIVE_TEXT_WIDTH)
        ws.set_column(2, 3, 8)
        ws.merge_range(0, 0, 0, 3, t["narrative_title"], self.f["title"])
        ws.merge_range(1, 0, 1, 1, t["narrative_note"], self.f["note"])
        ws.write_string(1, 2, t["narrative_cols"][2], self.f["small"])
        ws.write_string(1, 3, t["narrative_cols"][3], self.f["small"])
        for section in self.spec.sections:
            if not section.fields:
                continue
            first = self.layout.place(section.fields[0].id)
            ws.merge_range(first.row - 1, 0, first.row - 1, 3, section.heading, self.f["section"])
            ws.set_row(first.row - 1, 22)
            for field in section.fields:
                place = self.layout.place(field.id)
                text = self.texts.get(field.id, "")
                ws.write_string(place.row, 0, field.label, self.f["label"])
                fmt = self._marked_format(field.id, self.f["text_input"])
                self._comment(ws, field.id, place)
                if text:
                    ws.write_string(place.row, 1, text, fmt)
                else:
                    ws.write_blank(place.row, 1, None, fmt)
                ws.set_row(place.row, 150 if field.required else 60)
                cell = place.a1
                ws.write_formula(place.row, 2, f"=LEN({cell})", self.f["small"], len(text))
                if field.required:
                    missing = t["narrative_missing"]
                    shown = rules.PASS if text.strip() else missing
                    formula = f'=IF(LEN(TRIM({cell}))=0,"{missing}","{rules.PASS}")'
                    ws.write_formula(place.row, 3, formula, self.f["small"], shown)
                    ws.conditional_format(
                        place.row,
                        3,
                        place.row,
                        3,
                        {
                            "type": "cell",
                            "criteria": "==",
                            "value": f'"{missing}"',
                            "format": self.f["warning_cf"],
                        },
                    )
                else:
                    ws.write_string(place.row, 3, t["narrative_optional"], self.f["small"])
                hint = field.hint.get(self.lang)
                if hint:
                    ws.data_validation(
                        place.row,
                        1,
                        place.row,
                        1,
                        {
                            "validate": "any",
                            "input_title": t["text_hint_title"],
                            "input_message": hint[:255],
                        },
                    )

    def _checks_sheet(self, ws) -> dict[str, str]:
        """The list of every live check; returns the addresses of the summary cells."""
        t, spec = self.t, self.spec
        ws.set_column(0, 1, 7)
        ws.set_column(2, 2, 16)
        ws.set_column(3, 3, 40)
        ws.set_column(4, 4, 24)
        ws.set_column(5, 5, 7)
        ws.merge_range(0, 0, 0, 5, t["checks_title"], self.f["title"])
        header_row, first = 6, 7
        rows = [(rule, inst) for rule, inst in spec.instances()]
        last = first + len(rows) - 1
        sev_col = f"$B${first + 1}:$B${last + 1}"
        status_col = f"$F${first + 1}:$F${last + 1}"
        sev = SEVERITY_TEXT[self.lang]
        labels = t["checks_summary"]
        for i, severity in enumerate(("error", "warning")):
            ws.merge_range(2 + i, 0, 2 + i, 1, labels[i], self.f["label"])
            formula = f'=COUNTIFS({sev_col},"{sev[severity]}",{status_col},"{rules.FAIL}")'
            ws.write_formula(2 + i, 2, formula, self.f["check"], self.failing[severity])
        ws.merge_range(4, 0, 4, 1, labels[2], self.f["label"])
        ok, bad = t["status_ok"], t["status_bad"]
        bad_formula = bad.replace("{e}", '"&C3&"').replace("{w}", '"&C4&"')
        ws.merge_range(4, 2, 4, 5, None, self.f["value"])
        ws.write_formula(
            4,
            2,
            f'=IF(C3+C4=0,"{ok}","{bad_formula}")',
            self.f["value"],
            self.status,
        )
        for col, head in enumerate(t["checks_cols"]):
            ws.write_string(header_row, col, head, self.f["header"])
        by_severity: dict[str, list[Place]] = {}
        for i, (rule, inst) in enumerate(rows):
            r = first + i
            place = self.layout.place(f"check.{inst.key}")
            ws.write_string(r, 0, inst.code, self.f["small"])
            ws.write_string(r, 1, sev[rule.severity.value], self.f["small"])
            ws.write_string(r, 2, rule.name.get(self.lang), self.f["check_label"])
            ws.write_string(r, 3, spec.where(inst, self.lang), self.f["check_label"])
            ws.write_url(
                r, 4, f"internal:{place.ref()}", self.f["link"], f"{place.sheet}!{place.a1}"
            )
            shown = rules.PASS if self.passes[inst.key] else rules.FAIL
            ws.write_formula(r, 5, "=" + place.ref(layout.CHECKS_SHEET), self.f["check"], shown)
            by_severity.setdefault(rule.severity.value, []).append(Place(layout.CHECKS_SHEET, r, 5))
        self._check_formats(ws, by_severity)
        ws.freeze_panes(first, 0)
        ws.autofilter(header_row, 0, last, 5)
        return {"errors": "C3", "warnings": "C4", "result": "C5"}

    def _instructions_sheet(self, ws, summary: dict[str, str]) -> None:
        t, spec = self.t, self.spec
        ws.set_column(0, 0, 6)
        ws.set_column(1, 1, 96)
        title = t["template_title"].format(unit=self.unit.name, year=self.year)
        ws.merge_range(0, 0, 0, 1, title, self.f["title"])
        ws.set_row(0, 30)
        line = t["format_line"].format(
            name=spec.name,
            basis=spec.basis,
            version=spec.version,
            revision=spec.revision,
            hash=spec.hash[:12],
        )
        ws.merge_range(1, 0, 1, 1, line, self.f["note"])
        row = 3
        for i, step in enumerate(t["steps"], start=1):
            ws.write_number(row, 0, i, self.f["plain"])
            ws.write_string(row, 1, step, self.f["plain"])
            ws.set_row(row, 15 * layout.text_lines(step, 96))
            row += 1
        row += 1
        legend = t["legend"]
        ws.write_string(row, 0, legend[0], self.f["plain"])
        ws.write_string(row, 1, legend[1], self.f["legend_input"])
        ws.write_string(row + 1, 1, legend[2], self.f["legend_total"])
        ws.write_string(row + 2, 1, legend[3], self.f["plain"])
        ws.write_string(row + 3, 1, legend[4], self.f["plain"])
        row += 5
        ws.write_string(row, 0, t["status_label"], self.f["label"])
        ws.set_row(row, 24)
        ref = f"{quote_sheetname(layout.CHECKS_SHEET)}!{summary['result']}"
        ws.write_formula(row, 1, f"={ref}", self.f["value"], self.status)
        ws.conditional_format(
            row,
            1,
            row,
            1,
            {
                "type": "cell",
                "criteria": "!=",
                "value": f'"{t["status_ok"]}"',
                "format": self.f["error_cf"],
            },
        )

    def _feedback_sheet(self, ws) -> None:
        """Every finding, first in a feedback workbook, each linked to its cell."""
        t = FEEDBACK_TEXT[self.lang]
        ws.set_column(0, 0, 6)
        ws.set_column(1, 2, 8)
        ws.set_column(3, 3, 24)
        ws.set_column(4, 4, 90)
        title = t["title"].format(unit=self.unit.name, year=self.year)
        ws.merge_range(0, 0, 0, 4, title, self.f["title"])
        ws.merge_range(1, 0, 1, 4, t["intro"], self.f["note"])
        ws.set_row(1, 30)
        for col, head in enumerate(t["columns"]):
            ws.write_string(3, col, head, self.f["header"])
        for i, row in enumerate(self.feedback.rows):
            r = 4 + i
            ws.write_number(r, 0, i + 1, self.f["small"])
            ws.write_string(r, 1, SEVERITY_TEXT[self.lang][row.severity], self.f["small"])
            ws.write_string(r, 2, row.code, self.f["small"])
            if row.key in self.layout.places:
                place = self.layout.place(row.key)
                link = f"internal:{place.ref()}"
                ws.write_url(r, 3, link, self.f["link"], f"{place.sheet}!{place.a1}")
            else:
                ws.write_string(r, 3, row.where, self.f["check_label"])
            ws.write_string(r, 4, row.message, self.f["check_label"])
            ws.set_row(r, 15 * layout.text_lines(row.message, 90))
        if not self.feedback.rows:
            ws.write_string(4, 4, t["none"], self.f["plain"])
        ws.set_paper(9)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)

    def _meta_sheet(self, ws) -> None:
        spec = self.spec
        meta = metadata(spec, self.unit, self.year, self.lang)
        ws.set_column(0, 0, 18)
        ws.set_column(1, 1, 70)
        for row, key in enumerate(META_KEYS):
            ws.write_string(row, 0, key)
            ws.write_string(row, 1, str(meta[key]))
        ws.very_hidden()


def metadata(spec: Spec, unit: Unit, year: int, lang: str = "zh") -> dict[str, str]:
    """What the hidden metadata sheet records: the reader uses it to identify the filing."""
    return {
        "format_id": spec.format_id,
        "format_version": spec.version,
        "format_revision": str(spec.revision),
        "spec_hash": spec.hash,
        "unit": unit.name,
        "code": unit.code,
        "kind": unit.kind,
        "year": str(year),
        "lang": lang,
        "tool": "wbtools",
        "tool_version": __version__,
    }


def _multi_range(rects: list[tuple[int, int, int, int]]) -> str:
    return " ".join(
        xl_rowcol_to_cell(r1, c1)
        + ("" if (r1, c1) == (r2, c2) else ":" + xl_rowcol_to_cell(r2, c2))
        for r1, c1, r2, c2 in rects
    )


def _rectangles(places: list[Place]) -> list[tuple[int, int, int, int]]:
    """Group cells into as few rectangles as possible: contiguous runs per row, then stacked
    rows with the same runs (data validation and formatting apply per range)."""
    by_row: dict[int, list[int]] = {}
    for p in places:
        by_row.setdefault(p.row, []).append(p.col)
    runs: list[tuple[int, int, int]] = []  # (row, first col, last col)
    for row in sorted(by_row):
        cols = sorted(by_row[row])
        start = prev = cols[0]
        for c in cols[1:]:
            if c != prev + 1:
                runs.append((row, start, prev))
                start = c
            prev = c
        runs.append((row, start, prev))
    rects: list[list[int]] = []
    for row, c1, c2 in runs:
        for rect in rects:
            if rect[2] == row - 1 and rect[1] == c1 and rect[3] == c2:
                rect[2] = row
                break
        else:
            rects.append([row, c1, row, c2])
    return [(r1, c1, r2, c2) for r1, c1, r2, c2 in rects]


def render(
    spec: Spec,
    unit: Unit,
    year: int,
    *,
    lang: str = "zh",
    password: str = "",
    values: Mapping[str, Any] | None = None,
    texts: Mapping[str, str] | None = None,
    info: Mapping[str, Any] | None = None,
    feedback: Feedback | None = None,
) -> bytes:
    """The workbook for ``unit`` and ``year`` as bytes; ``values``/``texts``/``info`` prefill it;
    ``feedback`` colours problem cells with comments and adds the list of findings."""
    return _Writer(spec, unit, year, lang, password, values, texts, info, feedback).write()


def write(path: Path, spec: Spec, unit: Unit, year: int, **options: Any) -> Path:
    atomic_write(path, render(spec, unit, year, **options))
    return path


def _write_one(args: tuple) -> str:
    path, spec_source, unit, year, options = args
    from . import spec as spec_module

    write(Path(path), spec_module.load(spec_source), unit, year, **options)
    return path


def write_roster(
    spec: Spec,
    units: list[Unit],
    year: int,
    folder: Path,
    *,
    jobs: int | None = None,
    progress=None,
    **options: Any,
) -> list[Path]:
    """One template per unit in ``folder``; uses several processes for large rosters."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / file_name(u, year) for u in units]
    jobs = jobs or min(os.cpu_count() or 1, 8)
    if jobs <= 1 or len(units) < 40:
        for path, unit in zip(paths, units, strict=True):
            write(path, spec, unit, year, **options)
            if progress:
                progress(path)
        return paths
    tasks = [(str(p), spec.source, u, year, options) for p, u in zip(paths, units, strict=True)]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for done in pool.map(_write_one, tasks, chunksize=8):
            if progress:
                progress(Path(done))
    return paths
