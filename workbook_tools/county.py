"""Write the county workbook of a merge: the county totals in the official layout (readable back
as a filing, so ``wbtools check``/``report`` work on it), the submission status of every unit and
file, a per-unit breakdown, every finding, and every unit's narrative side by side.

It is written in xlsxwriter's constant-memory mode, row by row, streaming the per-unit sheets from
the merge's spool, so memory stays flat however many units are merged. That mode cannot register a
merged range spanning rows (xlsxwriter pads later rows at once), so merged labels are written cell
by cell in row order and the range is added to the sheet's merge list when its last row is done.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from . import __version__, charts, layout, safe_text, template
from .files import replacing
from .findings import Severity
from .merge import STATUS_TEXT, Result
from .roster import Unit

STATUS_SHEET = "报送情况"
BREAKDOWN_SHEET = "分单位明细"
FINDINGS_SHEET = "问题清单"
TEXTS_SHEET = "各单位文字"
SUMMARY_SHEET = "汇总说明"
CHARTS_SHEET = "图表"

TEXT = {
    "zh": {
        "title": "{name}{year}年政府信息公开工作年度报告 汇总",
        "roster": "单位名册：共 {n} 个单位",
        "no_roster": "未提供单位名册：按文件中的单位计，共 {n} 个单位",
        "included": "纳入汇总：{n} 个单位",
        "status_units": "{status}：{n} 个单位（{where}）",
        "in_total": "纳入汇总",
        "left_out": "未纳入汇总",
        "provisional_units": "未通过校验但按临时数纳入",
        "outside_files": "名册外的文件：{n} 个（未纳入汇总，见“报送情况”）",
        "made_at": "生成时间：{when}",
        "source": "数据来源：{path}",
        "provisional": "注意：含未通过校验的单位（--include-failing），汇总数为临时数。",
        "rules_ok": "汇总数据的勾稽关系：全部通过",
        "rules_bad": "汇总数据的勾稽关系：{n} 项未通过（见“问题清单”）",
        "similar": "文字内容高度雷同：{n} 处（见“问题清单”，代码 N5）",
        "status_cols": [
            "序号",
            "单位名称",
            "单位代码",
            "单位类型",
            "状态",
            "原因",
            "文件",
            "错误",
            "警告",
            "纳入汇总",
        ],
        "breakdown_cols": ["单位名称", "单位代码", "单位类型", "状态", "文件"],
        "id_row": "数据项编号",
        "findings_cols": ["单位名称", "文件", "级别", "代码", "位置", "说明"],
        "texts_cols": ["单位名称", "状态"],
        "yes": "是",
        "no": "否",
        "default_name": "全县汇总",
        "generated": "由 wbtools {version} 生成",
    },
    "en": {
        "title": "{name} {year} government information disclosure annual report: county total",
        "roster": "Roster: {n} units",
        "no_roster": "No roster given: {n} units, as named in the files",
        "included": "Units in the total: {n}",
        "status_units": "{status}: {n} units ({where})",
        "in_total": "in the total",
        "left_out": "left out of the total",
        "provisional_units": "failing but included as provisional",
        "outside_files": "Files not on the roster: {n} (left out, see 报送情况)",
        "made_at": "Made at: {when}",
        "source": "From: {path}",
        "provisional": "Note: failing units are included (--include-failing); the totals are provisional.",
        "rules_ok": "Consistency rules on the totals: all pass",
        "rules_bad": "Consistency rules on the totals: {n} fail (see 问题清单)",
        "similar": "Nearly identical narrative: {n} (see 问题清单, code N5)",
        "status_cols": [
            "No.",
            "Unit",
            "Code",
            "Kind",
            "Status",
            "Reason",
            "File",
            "Errors",
            "Warnings",
            "In total",
        ],
        "breakdown_cols": ["Unit", "Code", "Kind", "Status", "File"],
        "id_row": "datapoint id",
        "findings_cols": ["Unit", "File", "Severity", "Code", "Where", "Message"],
        "texts_cols": ["Unit", "Status"],
        "yes": "yes",
        "no": "no",
        "default_name": "County total",
        "generated": "Made by wbtools {version}",
    },
}


@dataclass
class Coverage:
    """Whom the county total covers, counted in units (not files). A unit is a roster unit, or
    without a roster each unit name found in the files. A unit not in the total is left out for
    the status of its most telling file (failing before duplicate before the rest)."""

    roster: int = 0  # units expected
    roster_given: bool = True
    included: list[str] = dc_field(default_factory=list)
    provisional: list[str] = dc_field(default_factory=list)  # included although failing
    left_out: dict[str, list[str]] = dc_field(default_factory=dict)  # status -> unit names
    outside: list[str] = dc_field(default_factory=list)  # files matching no roster unit
    made_at: str = ""  # ISO 8601 with the local offset
    sources: list[str] = dc_field(default_factory=list)  # the files and folders merged

    @property
    def complete(self) -> bool:
        return not self.provisional and not any(self.left_out.values())

    def by_status(self) -> dict[str, int]:
        """Units per status: passed (in the total), then each reason for leaving one out."""
        counts = {"passed": len(self.included) - len(self.provisional)}
        if self.provisional:
            counts["provisional"] = len(self.provisional)
        counts.update((status, len(names)) for status, names in self.left_out.items() if names)
        return counts

    def to_json(self, limit: int = 30_000) -> str:
        """For the hidden metadata sheet (one cell holds at most 32,767 characters): name lists
        are cut to fit, the counts stay whole."""
        data = asdict(self)
        data["counts"] = {
            "included": len(self.included),
            "provisional": len(self.provisional),
            "left_out": {k: len(v) for k, v in self.left_out.items()},
            "outside": len(self.outside),
        }
        text = json.dumps(data, ensure_ascii=False)
        keep = 1000
        while len(text) > limit and keep:
            keep //= 2
            for key in ("included", "provisional", "outside"):
                data[key] = getattr(self, key)[:keep]
            data["left_out"] = {k: v[:keep] for k, v in self.left_out.items()}
            text = json.dumps(data, ensure_ascii=False)
        return text


# The order in which a unit's files tell why it was left out.
_TELLING = ("failing", "duplicate", "mismatch")


def now() -> datetime:
    """The local time, or SOURCE_DATE_EPOCH when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now().astimezone().replace(microsecond=0)


def coverage(result: Result, sources: list[Path] | None = None) -> Coverage:
    by_unit: dict[str, list] = {}
    outside = []
    for e in result.entries:
        if e.key and e.status != "outside":
            by_unit.setdefault(e.key, []).append(e)
        else:
            outside.append(Path(e.path).name if e.path else e.unit)
    cov = Coverage(
        roster=len(by_unit),
        roster_given=result.roster_given,
        outside=outside,
        made_at=now().isoformat(),
        sources=[str(Path(p).resolve()) for p in sources or []],
    )
    for entries in by_unit.values():
        name = entries[0].unit
        chosen = next((e for e in entries if e.included), None)
        if chosen is not None:
            cov.included.append(name)
            if chosen.status != "passed":
                cov.provisional.append(name)
            continue
        statuses = [e.status for e in entries]
        status = next((s for s in _TELLING if s in statuses), statuses[0])
        cov.left_out.setdefault(status, []).append(name)
    order = ("missing", *_TELLING)
    cov.left_out = dict(
        sorted(cov.left_out.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 9)
    )
    return cov


def text_width(text: str) -> float:
    """Width in full-width characters: ASCII counts half."""
    return sum(0.5 if ord(ch) < 0x2E80 else 1.0 for ch in text)


def breakdown_path(spec, dp_id: str) -> list[str]:
    """A datapoint's official labels from the table down: the table's heading, the block's
    caption (表二), the row labels, the column labels."""
    dp = spec.datapoints[dp_id]
    table = spec.table(dp.table)
    caption = table.blocks[dp.block].caption if len(table.blocks) > 1 else None
    labels = [table.heading, caption, *(lab for _, lab in dp.row_labels)]
    labels += [lab for _, lab in dp.col_labels]
    return [lab for lab in labels if lab]


def _header_spans(paths: list[list[str]], depth: int, breaks: set[int] = frozenset()):
    """Merged header cells over columns whose label paths agree: (level, last level of the
    path, first column, last column, text); a path's last label reaches down to ``depth``.
    A merge ends at a page break (column index in ``breaks``), so every printed page shows
    its labels instead of the blank part of a merge centred on another page."""
    for level in range(depth):
        start = None
        for j in range(len(paths) + 1):
            here = paths[j][: level + 1] if j < len(paths) and len(paths[j]) > level else None
            if start is not None and (here != paths[start][: level + 1] or j in breaks):
                yield level, len(paths[start]) - 1, start, j - 1, paths[start][level]
                start = None
            if start is None and here is not None:
                start = j


PRINT_SCALE = 70  # percent: three rows of 表三 (21 columns) across one landscape page
# A4 landscape less 2 x 0.4 inch margins, in 96-dpi pixels at PRINT_SCALE, less a third for
# LibreOffice and WPS, whose default font draws the same column widths wider than Excel's.
PRINT_WIDTH_PX = int(1040 * 100 / PRINT_SCALE / 1.35)


def _px(width: float) -> int:
    return int(width * 7 + 5)  # xlsxwriter's column width to pixels for the default font


def _page_breaks(spec, ids: list[str], first: int, widths: list[float]) -> list[int]:
    """Columns before which a printed page starts: a new table, or a row group of a table
    (its row labels) that would not fit on the page beside the repeated unit column."""
    room = PRINT_WIDTH_PX - _px(widths[0])
    groups: list[tuple[int, int, bool]] = []  # first column, pixels, starts a table
    for j, dp_id in enumerate(ids):
        dp = spec.datapoints[dp_id]
        key = (dp.table, dp.block, dp.row_labels)
        prev = spec.datapoints[ids[j - 1]] if j else None
        if prev is None or key != (prev.table, prev.block, prev.row_labels):
            groups.append((first + j, 0, prev is None or prev.table != dp.table))
        start, px, new_table = groups[-1]
        groups[-1] = (start, px + _px(widths[first + j]), new_table)
    breaks, used = [], sum(_px(w) for w in widths[1:first])
    for start, px, new_table in groups:
        if used and (new_table or used + px > room):
            breaks.append(start)
            used = 0
        used += px
    return breaks


class _Streamed(Worksheet):
    """A constant-memory sheet that can record a merged range after its rows are written."""

    def add_merge(self, first_row: int, first_col: int, last_row: int, last_col: int) -> None:
        # xlsxwriter writes <mergeCells> from this list when the sheet is assembled; the cells
        # themselves were written in row order by the caller (value at the top left, blanks over
        # the rest, one format). A test reads the ranges back from the file.
        self.merge.append([first_row, first_col, last_row, last_col])

    def _write_string(self, row: int, col: int, string: str, cell_format: Any = None) -> int:
        # File names in the status and findings sheets may be GBK bytes kept as surrogates.
        return super()._write_string(row, col, safe_text.undecoded(string), cell_format)


class _Rows:
    """Cells of one sheet collected in any order, then written in row order."""

    def __init__(self) -> None:
        self.cells: dict[int, dict[int, tuple[str, Any, Any, Any]]] = defaultdict(dict)
        self.merges: list[tuple[int, int, int, int]] = []

    def put(
        self, row: int, col: int, kind: str, value: Any, fmt: Any = None, cached: Any = None
    ) -> None:
        self.cells[row][col] = (kind, value, fmt, cached)

    def label(self, row: int, col: int, last_row: int, last_col: int, text: str, fmt: Any) -> None:
        for r in range(row, last_row + 1):
            for c in range(col, last_col + 1):
                self.put(r, c, "blank", None, fmt)
        self.put(row, col, "text", text, fmt)
        if (row, col) != (last_row, last_col):
            self.merges.append((row, col, last_row, last_col))

    def write(self, ws: _Streamed) -> None:
        ends: dict[int, list[tuple[int, int, int, int]]] = defaultdict(list)
        for m in self.merges:
            ends[m[2]].append(m)
        for row in sorted(self.cells):
            for col in sorted(self.cells[row]):
                kind, value, fmt, cached = self.cells[row][col]
                if kind == "text":
                    ws.write_string(row, col, value, fmt)
                elif kind == "number":
                    ws.write_number(row, col, value, fmt)
                elif kind == "formula":
                    ws.write_formula(row, col, value, fmt, cached)
                else:
                    ws.write_blank(row, col, None, fmt)
            for m in ends.pop(row, ()):
                ws.add_merge(*m)
        for pending in ends.values():  # merges ending on rows with no cells (none in practice)
            for m in pending:
                ws.add_merge(*m)


def write(
    result: Result,
    out: Path,
    lang: str = "zh",
    sources: list[Path] | None = None,
    previous: Path | None = None,
) -> Path:
    """Write the county workbook atomically to ``out``; ``sources`` are the files and folders
    that were merged (named in 汇总说明), ``previous`` last year's (for the year-on-year chart)."""
    from xlsxwriter.exceptions import XlsxFileError

    # Same folder: readers see the old file or the whole new one; a failure leaves nothing.
    with replacing(out) as tmp:
        cov = coverage(result, sources)
        try:
            _Writer(result, tmp, lang, cov, chart_data(result, cov, lang, previous)).write()
        except XlsxFileError as exc:  # xlsxwriter wraps the OSError of writing the zip
            cause = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else None
            raise cause or OSError(0, str(exc)) from None
    return out


def chart_data(
    result: Result, cov: Coverage, lang: str, previous: Path | None = None
) -> list[charts.Chart]:
    """The county's charts: unit status, applications per unit, outcome mix, and with last
    year's files the headline figures against last year's (the same units' files summed, or
    last year's county workbook as it is)."""
    zh = lang == "zh"
    labels = {s: v[0 if zh else 1] for s, v in STATUS_TEXT.items()}
    labels["provisional"] = TEXT[lang]["provisional_units"]
    out = [charts.status_chart(cov.by_status(), labels, lang)]
    spec = result.spec
    if charts.RECEIVED in spec.datapoints:
        received = [
            (e.unit, float(result.values_of(record).get(charts.RECEIVED) or 0))
            for e, record in result.records(result.included)
        ]
        if received:
            out.append(charts.per_unit_chart(received, lang))
    if charts.outcome_groups(spec):
        out.append(charts.outcomes_chart(spec, result.totals, lang))
    if previous is not None:
        last, matched = _last_year(result, previous)
        if matched:
            out.append(
                charts.year_on_year_chart(
                    spec, result.totals, last, result.year, lang, matched, len(result.included)
                )
            )
    return out


def _last_year(result: Result, previous: Path) -> tuple[dict[str, Any], int]:
    """Last year's figures for the units in this year's total, and how many were found."""
    from . import check
    from .filing import Filing

    spec = result.spec
    if previous.is_file():
        last = check.read_any(previous, spec)
        if not last.readable:
            return {}, 0
        return spec.compute({i: last.values.get(i) for i in spec.inputs}), len(result.included)
    finder = check.previous_finder(spec, previous)
    sums: dict[str, float] = defaultdict(float)
    matched = 0
    for e in result.included:
        last = finder(Filing(e.path or "", unit=e.unit, code=e.code, year=e.year))
        if last is None or not last.readable or (e.year and last.year != e.year - 1):
            continue
        matched += 1
        for k, v in spec.compute({i: last.values.get(i) for i in spec.inputs}).items():
            if isinstance(v, int | float):
                sums[k] += v
    return dict(sums), matched


class _Writer:
    def __init__(
        self, result: Result, path: Path, lang: str, cov: Coverage, charts_: list[charts.Chart]
    ):
        self.r, self.lang, self.t, self.cov = result, lang, TEXT[lang], cov
        self.charts = charts_
        self.spec = result.spec
        self.layout = layout.build(self.spec)
        self.wb = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
            },
        )
        base = {"font_name": template.FONT, "font_size": 11, "valign": "vcenter"}
        border = {"border": 1, "text_wrap": True}
        self.f = {
            "title": self.wb.add_format({**base, "bold": True, "font_size": 16, "align": "center"}),
            "plain": self.wb.add_format({**base, "text_wrap": True}),
            "note": self.wb.add_format(
                {**base, "font_size": 9, "italic": True, "font_color": "#595959"}
            ),
            "caption": self.wb.add_format(
                {**base, **border, "bold": True, "bg_color": template.COLORS["header"]}
            ),
            "header": self.wb.add_format(
                {
                    **base,
                    **border,
                    "bold": True,
                    "align": "center",
                    "bg_color": template.COLORS["header"],
                }
            ),
            "corner": self.wb.add_format(
                {
                    **base,
                    **border,
                    "align": "center",
                    "font_size": 10,
                    "bg_color": template.COLORS["header"],
                }
            ),
            "stub": self.wb.add_format({**base, **border, "bg_color": template.COLORS["stub"]}),
            "number": self.wb.add_format({**base, "border": 1, "align": "center"}),
            "total": self.wb.add_format(
                {
                    **base,
                    "border": 1,
                    "align": "center",
                    "bold": True,
                    "bg_color": template.COLORS["total"],
                }
            ),
            "label": self.wb.add_format(
                {**base, **border, "bold": True, "bg_color": template.COLORS["stub"]}
            ),
            "value": self.wb.add_format({**base, **border}),
            "section": self.wb.add_format({**base, "bold": True, "font_size": 12, "bottom": 1}),
            "cell": self.wb.add_format({**base, "border": 1}),
            "wrap": self.wb.add_format({**base, "border": 1, "text_wrap": True, "valign": "top"}),
            "small_header": self.wb.add_format(
                {
                    **base,
                    **border,
                    "font_size": 9,
                    "align": "center",
                    "bg_color": template.COLORS["header"],
                }
            ),
        }
        self.unit = Unit(result.name or self.t["default_name"], "", "政府")

    def sheet(self, name: str) -> _Streamed:
        return self.wb.add_worksheet(name, worksheet_class=_Streamed)

    def write(self) -> None:
        r = self.r
        self._summary(self.sheet(SUMMARY_SHEET))
        self._charts(self.sheet(CHARTS_SHEET))
        self._info(self.sheet(layout.INFO_SHEET))
        for table in self.spec.tables:
            self._table(self.sheet(table.sheet), self.layout.tables[table.id])
        self._narrative(self.sheet(layout.NARRATIVE_SHEET))
        self._status(self.sheet(STATUS_SHEET))
        self._breakdown(self.sheet(BREAKDOWN_SHEET))
        self._findings(self.sheet(FINDINGS_SHEET))
        self._texts(self.sheet(TEXTS_SHEET))
        meta = self.sheet(layout.META_SHEET)
        values = template.metadata(self.spec, self.unit, r.year or 0, self.lang)
        values["merged_units"] = str(len(r.included))
        values["provisional"] = "1" if r.provisional else "0"
        values["coverage"] = self.cov.to_json()
        values["charts"] = charts.to_json(self.charts)[:32_000]
        for row, (k, v) in enumerate(values.items()):
            meta.write_string(row, 0, k)
            meta.write_string(row, 1, v)
        meta.very_hidden()
        self.wb.worksheets()[0].activate()
        self.wb.set_properties(
            {
                "title": self.t["title"].format(name=self.unit.name, year=r.year),
                "author": "wbtools",
                "created": template.creation_time(r.year or 2000),
            }
        )
        self.wb.close()

    def _summary(self, ws) -> None:
        r, t, cov = self.r, self.t, self.cov
        zh = self.lang == "zh"
        ws.set_column(0, 0, 100)
        lines = [
            t["roster"].format(n=cov.roster)
            if cov.roster_given
            else t["no_roster"].format(n=cov.roster),
            t["included"].format(n=len(cov.included)),
        ]
        for status, n in cov.by_status().items():
            label = (
                t["provisional_units"]
                if status == "provisional"
                else STATUS_TEXT.get(status, (status, status))[0 if zh else 1]
            )
            where = t["in_total"] if status in ("passed", "provisional") else t["left_out"]
            lines.append(t["status_units"].format(status=label, n=n, where=where))
        if cov.outside:
            lines.append(t["outside_files"].format(n=len(cov.outside)))
        if r.provisional:
            lines.append(t["provisional"])
        lines.append(
            t["rules_bad"].format(n=len(r.total_findings)) if r.total_findings else t["rules_ok"]
        )
        if r.similar:
            lines.append(t["similar"].format(n=len(r.similar)))
        lines.append(t["made_at"].format(when=cov.made_at.replace("T", " ")))
        for source in cov.sources:
            lines.append(t["source"].format(path=source))
        lines.append(t["generated"].format(version=__version__))
        ws.set_row(0, 30)  # a 16-point title in a taller row, not clipped in print
        ws.write_string(0, 0, t["title"].format(name=self.unit.name, year=r.year), self.f["title"])
        for i, line in enumerate(lines, start=2):
            ws.write_string(i, 0, line, self.f["plain"])
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)

    def _charts(self, ws) -> None:
        """Each chart's figures as a small table (what the chart plots, readable and printable
        on its own) with the native Excel chart beside it."""
        ws.set_column(0, 0, 30)
        ws.set_column(1, 2, 11)
        ws.set_row(0, 30)
        ws.write_string(0, 0, CHARTS_SHEET, self.f["title"])
        row = 2
        font = {"name": template.FONT, "size": 10}
        for chart in self.charts:
            n = len(chart.categories)
            ws.write_string(row, 0, chart.title, self.f["section"])
            head = row + 1
            ws.write_string(head, 0, "", self.f["header"])
            for j, (name, _) in enumerate(chart.series):
                ws.write_string(head, 1 + j, name, self.f["header"])
            for i, category in enumerate(chart.categories):
                ws.write_string(head + 1 + i, 0, category, self.f["cell"])
                for j, (_, values) in enumerate(chart.series):
                    ws.write_number(head + 1 + i, 1 + j, values[i], self.f["cell"])
            kind = {"bar": "bar", "column": "column", "pie": "pie"}[chart.kind]
            xl = self.wb.add_chart({"type": kind})
            for j in range(len(chart.series)):
                series = {
                    "name": [CHARTS_SHEET, head, 1 + j],
                    "categories": [CHARTS_SHEET, head + 1, 0, head + n, 0],
                    "values": [CHARTS_SHEET, head + 1, 1 + j, head + n, 1 + j],
                    "data_labels": {"value": True, "font": font},
                }
                if kind == "pie":
                    series["data_labels"] = {
                        "percentage": True,
                        "category": True,
                        "leader_lines": True,
                        "font": font,
                    }
                xl.add_series(series)
            xl.set_title({"name": chart.title, "name_font": {**font, "size": 12, "bold": True}})
            if kind == "pie":
                xl.set_legend({"position": "right", "font": font})
            else:
                xl.set_legend(
                    {"position": "bottom", "font": font}
                    if len(chart.series) > 1
                    else {"none": True}
                )
                xl.set_x_axis({"num_font": font})
                xl.set_y_axis({"num_font": font, "major_gridlines": {"visible": True}})
                if kind == "bar":  # the first category on top, as in the table; values below
                    xl.set_y_axis({"reverse": True, "crossing": "max", "num_font": font})
            height = max(300, 22 * n * len(chart.series) + 90) if kind == "bar" else 320
            xl.set_size({"width": 640, "height": height})
            ws.insert_chart(row, 4, xl, {"object_position": 1})
            rows = max(n + 2, -(-height // 20))
            row += rows + 2
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)

    def _info(self, ws) -> None:
        ws.set_column(0, 0, 16)
        ws.set_column(1, 1, 44)
        ws.set_row(0, 30)
        ws.write_string(0, 0, layout.INFO_SHEET, self.f["title"])
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)
        values = {
            "unit": self.unit.name,
            "code": "",
            "kind": self.unit.kind,
            "year": str(self.r.year or ""),
        }
        for field in self.spec.info:
            place = self.layout.place(f"info.{field.id}")
            ws.write_string(place.row, 0, field.label, self.f["label"])
            ws.write_string(place.row, 1, values.get(field.id, ""), self.f["value"])

    def _table(self, ws, tl: layout.TableLayout) -> None:
        rows = _Rows()
        rows.label(
            layout.TITLE_ROW, 0, layout.TITLE_ROW, tl.width - 1, tl.table.heading, self.f["title"]
        )
        line = template.TEXT[self.lang]["unit_line"].format(unit=self.unit.name, year=self.r.year)
        rows.label(layout.UNIT_ROW, 0, layout.UNIT_ROW, tl.width - 1, line, self.f["plain"])
        for label in tl.labels:
            rows.label(
                label.row, label.col, label.last_row, label.last_col, label.text, self.f[label.role]
            )
        formulas = template.formulas.compiled(self.spec).totals
        for dp_id, place in tl.cells.items():
            dp = self.spec.datapoints[dp_id]
            fmt = self.f["total" if dp.computed else "number"]
            if place.last_col is not None:
                for c in range(place.col + 1, place.last_col + 1):
                    rows.put(place.row, c, "blank", None, fmt)
                rows.merges.append((place.row, place.col, place.row, place.last_col))
            value = self.r.totals[dp_id]
            if dp.computed:
                rows.put(place.row, place.col, "formula", formulas[dp_id], fmt, value)
            else:
                rows.put(place.row, place.col, "number", value, fmt)
        for i, width in enumerate(tl.col_widths):
            ws.set_column(i, i, width)
        heights = {layout.TITLE_ROW: 28.0, **tl.row_heights}  # a 16-point title, not clipped
        for row, height in sorted(heights.items()):
            ws.set_row(row, height)
        rows.write(ws)
        ws.set_paper(9)
        if tl.table.landscape:
            ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(*tl.header_rows)

    def _narrative(self, ws) -> None:
        ws.set_column(0, 0, 22)
        ws.set_column(1, 1, layout.NARRATIVE_TEXT_WIDTH)
        ws.set_row(0, 30)
        ws.write_string(0, 0, layout.NARRATIVE_SHEET, self.f["title"])
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)
        for section in self.spec.sections:
            if not section.fields:
                continue
            first = self.layout.place(section.fields[0].id)
            ws.write_string(first.row - 1, 0, section.heading, self.f["section"])
            for field in section.fields:
                place = self.layout.place(field.id)
                ws.write_string(place.row, 0, field.label, self.f["label"])
                ws.write_blank(place.row, 1, None, self.f["wrap"])

    def _status(self, ws) -> None:
        t = self.t
        for col, head in enumerate(t["status_cols"]):
            ws.write_string(0, col, head, self.f["header"])
        ws.set_column(1, 1, 28)
        ws.set_column(5, 6, 40)
        ordered = sorted(
            self.r.entries, key=lambda e: (list(STATUS_TEXT).index(e.status), e.code, e.unit)
        )
        for i, e in enumerate(ordered, start=1):
            cells = [
                i,
                e.unit,
                e.code,
                e.kind,
                e.status_text(self.lang),
                e.reason[0 if self.lang == "zh" else 1],
                Path(e.path).name if e.path else "",
                e.errors,
                e.warnings,
                t["yes"] if e.included else t["no"],
            ]
            for col, value in enumerate(cells):
                if isinstance(value, int):
                    ws.write_number(i, col, value, self.f["cell"])
                else:
                    ws.write_string(i, col, value, self.f["cell"])
        ws.autofilter(0, 0, len(ordered), len(t["status_cols"]) - 1)
        ws.freeze_panes(1, 0)
        self._print_wide(ws, header=(0, 0))

    def _breakdown(self, ws) -> None:
        """One row per readable file, one column per datapoint, headed by the official labels
        (table · block · row labels · column labels) in merged header rows like the official
        tables; the datapoint ids in a hidden first row, for machines."""
        spec, t = self.spec, self.t
        fixed = t["breakdown_cols"]
        ids = list(spec.datapoints)
        paths = [breakdown_path(spec, dp_id) for dp_id in ids]
        depth = max(len(p) for p in paths)
        head = _Rows()
        # Narrow columns where a table has many (表三's 175), wider for the few of 表二 and 表四
        per_table = {
            t.id: sum(1 for d in ids if spec.datapoints[d].table == t.id) for t in spec.tables
        }
        widths = [24, 8, 8, 12, 30] + [
            5 if per_table[spec.datapoints[d].table] > 40 else 9 for d in ids
        ]
        head.put(0, 0, "text", t["id_row"], self.f["note"])
        for j, dp_id in enumerate(ids):
            head.put(0, len(fixed) + j, "text", dp_id, self.f["note"])
        breaks = _page_breaks(spec, ids, len(fixed), widths)
        cells = [(text, 1, c, depth, c) for c, text in enumerate(fixed)]
        cells += [
            (text, r + 1, len(fixed) + a, r + 1 if r < last else depth, len(fixed) + b)
            for r, last, a, b, text in _header_spans(paths, depth, {b - len(fixed) for b in breaks})
        ]
        heights = {r: 15.0 for r in range(1, depth + 1)}
        for text, r, c, last_r, last_c in cells:
            fmt = self.f["header"] if c < len(fixed) or r == 1 else self.f["small_header"]
            head.label(r, c, last_r, last_c, text, fmt)
            room = sum(widths[c : last_c + 1]) / 1.8  # characters of 9-point 宋体 per line
            need = 12.5 * max(1, -int(-text_width(text) // max(room, 1))) + 4
            if last_r == r:
                heights[r] = max(heights[r], need)
        for text, r, c, last_r, last_c in cells:  # spans over rows: the last row takes the rest
            room = sum(widths[c : last_c + 1]) / 1.8
            need = 12.5 * max(1, -int(-text_width(text) // max(room, 1))) + 4
            have = sum(heights[x] for x in range(r, last_r + 1))
            if have < need:
                heights[last_r] += need - have
        for c, width in enumerate(widths):
            ws.set_column(c, c, width)
        ws.set_row(0, None, None, {"hidden": True})
        for r, height in heights.items():
            ws.set_row(r, height)
        head.write(ws)
        row = depth + 1
        readable = [e for e in self.r.entries if e.offset is not None]
        for e, record in self.r.records(readable):
            if not record["readable"]:
                continue
            values = self.r.values_of(record)
            for col, value in enumerate(
                [e.unit, e.code, e.kind, e.status_text(self.lang), Path(e.path).name]
            ):
                ws.write_string(row, col, value)
            for j, dp_id in enumerate(ids):
                v = values.get(dp_id)
                if isinstance(v, int | float):
                    ws.write_number(row, len(fixed) + j, v)
            row += 1
        ws.freeze_panes(depth + 1, 1)
        ws.autofilter(depth, 0, max(row - 1, depth), len(fixed) + len(ids) - 1)
        # Printed across as many landscape pages as it takes, never one page wide: 200-odd
        # columns on one sheet of paper would be type of a fraction of a millimetre. Each page
        # repeats the header rows and the unit names, and breaks only between whole rows of
        # the official tables (a row of 表三 is its 7 columns), starting each table afresh.
        ws.set_paper(9)
        ws.set_landscape()
        ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
        ws.repeat_rows(1, depth)
        ws.repeat_columns(0, 0)
        ws.set_print_scale(PRINT_SCALE)
        ws.set_v_pagebreaks(breaks)

    @staticmethod
    def _print_wide(ws, header: tuple[int, int] | None = None) -> None:
        """A4 landscape, one page wide (as many pages down as needed), header rows repeated."""
        ws.set_paper(9)
        ws.set_landscape()
        ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
        ws.fit_to_pages(1, 0)
        if header is not None:
            ws.repeat_rows(*header)

    def _findings(self, ws) -> None:
        t, spec = self.t, self.spec
        for col, head in enumerate(t["findings_cols"]):
            ws.write_string(0, col, head, self.f["header"])
        ws.set_column(0, 1, 24)
        ws.set_column(4, 4, 24)
        ws.set_column(5, 5, 100)
        row = 1
        zh = self.lang == "zh"
        for e, record in self.r.records(e for e in self.r.entries if e.offset is not None):
            for code, severity, sheet, cell, _dp, message_zh, message_en in record["findings"]:
                where = f"{sheet}!{cell}" if sheet and cell else (sheet or "")
                cells = [
                    e.unit,
                    Path(e.path).name,
                    Severity(severity).label(self.lang),
                    code,
                    where,
                    message_zh if zh else message_en,
                ]
                for col, value in enumerate(cells):
                    ws.write_string(row, col, value)
                row += 1
        extra = [(self.unit.name, f) for f in self.r.total_findings] + [
            ("", f) for f in self.r.similar
        ]
        for who, f in extra:
            cells = [
                who,
                Path(f.file).name if f.file else "",
                f.level(spec).label(self.lang),
                f.code,
                f.datapoint or "",
                f.message(self.lang, spec),
            ]
            for col, value in enumerate(cells):
                ws.write_string(row, col, value)
            row += 1
        ws.autofilter(0, 0, max(row - 1, 1), len(t["findings_cols"]) - 1)
        ws.freeze_panes(1, 0)
        self._print_wide(ws, header=(0, 0))

    def _texts(self, ws) -> None:
        spec, t = self.spec, self.t
        fields = spec.fields
        heads = t["texts_cols"] + [f.label for f in fields]
        for col, head in enumerate(heads):
            ws.write_string(0, col, head, self.f["header"])
        ws.set_column(0, 0, 24)
        ws.set_column(2, 1 + len(fields), 50)
        row = 1
        for e, record in self.r.records(e for e in self.r.entries if e.offset is not None):
            if not record["readable"]:
                continue
            ws.write_string(row, 0, e.unit, self.f["wrap"])
            ws.write_string(row, 1, e.status_text(self.lang), self.f["wrap"])
            for j, field in enumerate(fields):
                ws.write_string(row, 2 + j, record["texts"].get(field.id, ""), self.f["wrap"])
            row += 1
        ws.freeze_panes(1, 1)
        # Ten narrative columns cannot be read one page wide: pages across, each with the
        # header row and the unit names.
        ws.set_paper(9)
        ws.set_landscape()
        ws.repeat_rows(0, 0)
        ws.repeat_columns(0, 0)
