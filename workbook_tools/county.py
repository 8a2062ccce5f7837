"""Write the county workbook of a merge: the county totals in the official layout (readable back
as a filing, so ``wbtools check``/``report`` work on it), the submission status of every unit and
file, a per-unit breakdown, every finding, and every unit's narrative side by side.

It is written in xlsxwriter's constant-memory mode, row by row, streaming the per-unit sheets from
the merge's spool, so memory stays flat however many units are merged. That mode cannot register a
merged range spanning rows (xlsxwriter pads later rows at once), so merged labels are written cell
by cell in row order and the range is added to the sheet's merge list when its last row is done.
"""

from __future__ import annotations

import functools
import io
import json
import math
import os
from array import array
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from xlsxwriter.utility import _preserve_whitespace, xl_col_to_name
from xlsxwriter.xmlwriter import XMLwriter

from . import __version__, charts, layout, packing, patterns, safe_text, template
from .files import replacing
from .findings import Severity
from .merge import STATUS_TEXT, Figures, Result
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
            "汇总所用文件",
            "错误",
            "警告",
            "纳入汇总",
        ],
        "breakdown_cols": ["序号", "单位名称", "单位代码", "单位类型", "状态", "纳入汇总", "文件"],
        "breakdown_title": "{name}{year}年 分单位明细",
        "breakdown_note": "每个文件一个序号（见第一部分）；灰色斜体的行未纳入汇总。表三按官方表格的整行分段。",
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
            "File used",
            "Errors",
            "Warnings",
            "In total",
        ],
        "breakdown_cols": ["No.", "Unit", "Code", "Kind", "Status", "In total", "File"],
        "breakdown_title": "{name} {year}: figures by unit",
        "breakdown_note": "One number per file (see the first part); grey italic rows are left out of the total. 表三 is cut between whole rows of the official table.",
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
            outside.append(_file_name(e.path) if e.path else e.unit)
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


@functools.lru_cache(maxsize=4096)
def _file_name(path: str) -> str:
    """A file's name as ``Path(path).name`` gives it, worked out once per path (the status
    sheet, 分单位明细 and 问题清单 each name every file; ``Path`` takes microseconds)."""
    return Path(path).name


_NARROW = patterns.compile("[\x00-\u2e7f]")  # drawn half as wide as a CJK character


def text_width(text: str) -> float:
    """Width in full-width characters: ASCII counts half."""
    return len(text) - 0.5 * _NARROW.subn("", text)[1]


def breakdown_path(spec, dp_id: str) -> list[str]:
    """A datapoint's official labels from the table down: the table's heading, the block's
    caption (表二), the row labels, the column labels."""
    dp = spec.datapoints[dp_id]
    table = spec.table(dp.table)
    caption = table.blocks[dp.block].caption if len(table.blocks) > 1 else None
    labels = [table.heading, caption, *(lab for _, lab in dp.row_labels)]
    labels += [lab for _, lab in dp.col_labels]
    return [lab for lab in labels if lab]


def _header_spans(paths: list[list[str]], depth: int):
    """Merged header cells over columns whose label paths agree: (level, last level of the
    path, first column, last column, text); a path's last label reaches down to ``depth``."""
    for level in range(depth):
        start = None
        for j in range(len(paths) + 1):
            here = paths[j][: level + 1] if j < len(paths) and len(paths[j]) > level else None
            if start is not None and here != paths[start][: level + 1]:
                yield level, len(paths[start]) - 1, start, j - 1, paths[start][level]
                start = None
            if start is None and here is not None:
                start = j


# 分单位明细 is printed one A4 landscape page wide. Its grid: 序号, 单位名称, then DATA_COLS
# narrow columns (three rows of 表三, 7 columns each). At these widths the sheet is about as wide
# as the page (10.89 in less margins = 1045 px at 96 dpi), so fitting it to one page wide keeps
# the type near its own size instead of shrinking 200-odd columns to 10 %.
DATA_COLS = 21
BD_WIDTHS = (5, 22)  # 序号, 单位名称 (xlsxwriter character widths)
BD_DATA_WIDTH = 5
# Printable height of an A4 landscape page, in points, for the rows below the repeated title:
# 8.27 in less 0.5 in margins at top and bottom, less the 28-point title row and a margin of
# error for applications that draw rows a little taller.
BD_PAGE_HEIGHT = (8.27 - 1.0) * 72 - 28 - 40


@dataclass
class _Block:
    """One stacked block of 分单位明细: a group of datapoints (a whole table, or whole rows of
    表三) printed with its own official header rows over the unit rows."""

    ids: list[str]

    def paths(self, spec) -> list[list[str]]:
        return [breakdown_path(spec, dp_id) for dp_id in self.ids]


def breakdown_blocks(spec) -> list[_Block]:
    """The datapoints in blocks no wider than the grid: a table whose columns fit is one block;
    a wider one is cut between whole rows of the official table (never inside a row)."""
    blocks: list[_Block] = []
    for table in spec.tables:
        ids = [d for d, dp in spec.datapoints.items() if dp.table == table.id]
        if len(ids) <= DATA_COLS:
            blocks.append(_Block(ids))
            continue
        rows: list[list[str]] = []
        for dp_id in ids:
            dp = spec.datapoints[dp_id]
            key = (dp.block, dp.row_labels)
            if not rows or key != rows[-1][0]:
                rows.append([key, []])
            rows[-1][1].append(dp_id)
        group: list[str] = []
        for _, row_ids in rows:
            if group and len(group) + len(row_ids) > DATA_COLS:
                blocks.append(_Block(group))
                group = []
            group = group + row_ids
        if group:
            blocks.append(_Block(group))
    return blocks


def _lines(text: str, room: float) -> int:
    """Lines a wrapped text takes in a cell ``room`` full-width characters wide."""
    room = max(room, 1)
    if len(text) <= room and "\n" not in text:
        return 1  # no wider than it is long: one line (most cells: names, codes, places)
    return sum(max(1, -int(-text_width(part) // room)) for part in text.split("\n"))


# Full-width characters of 11-point type on one line of a column of width w: the column is
# 7w + 5 pixels, a character 11 pt = 14.7 pixels (a little less room, for other fonts).
CHARS_PER_WIDTH = 1 / 2.2
MAX_ROW_HEIGHT = 409  # points: the most Excel allows


def _text_row(ws, row: int, values: list, widths: list[float], fmt, number_fmt=None) -> None:
    """One row of wrapped cells, as tall as its longest text, so that nothing is cut off in
    print (a wrapped cell shows only the lines its row has room for)."""
    lines = max(
        (
            _lines(v, w * CHARS_PER_WIDTH)
            for v, w in zip(values, widths, strict=True)
            if isinstance(v, str)
        ),
        default=1,
    )
    ws.set_row(row, min(MAX_ROW_HEIGHT, 15 * lines + 3))
    cells = [
        (col, "number", v, number_fmt or fmt)
        if isinstance(v, int | float)
        else (col, "text", v, fmt)
        for col, v in enumerate(values)
    ]
    if ws.write_cells_row(row, cells):
        return
    for col, value in enumerate(values):
        if isinstance(value, int | float):
            ws.write_number(row, col, value, number_fmt or fmt)
        else:
            ws.write_string(row, col, value, fmt)


def _chunks(heights: list[float], header: float) -> list[list[int]]:
    """Rows (by index) in runs that fit one printed page below a header ``header`` points
    tall; a run holds at least one row."""
    out: list[list[int]] = []
    used = BD_PAGE_HEIGHT
    for k, height in enumerate(heights):
        if not out or used + height > BD_PAGE_HEIGHT:
            out.append([])
            used = header
        out[-1].append(k)
        used += height
    return out


_NAMES: list[str] = []


def _names(last: int) -> list[str]:
    """Column letters (A, B, …, AA, …) by index, at least up to column ``last``."""
    while len(_NAMES) <= last:
        _NAMES.append(xl_col_to_name(len(_NAMES)))
    return _NAMES


class _Merges:
    """A sheet's merged ranges, four integers each in one array (a list per range, as xlsxwriter
    keeps them, cost ~100 bytes each: 分单位明细 repeats its header merges in every chunk)."""

    def __init__(self) -> None:
        self.cells = array("L")

    def append(self, merged: list[int]) -> None:
        self.cells.extend(merged)

    def __len__(self) -> int:
        return len(self.cells) // 4

    def __iter__(self):
        cells = self.cells
        for i in range(0, len(cells), 4):
            yield list(cells[i : i + 4])


# Stands for the row number in cells made once and written at several rows (never in XML
# xlsxwriter writes: control characters in text are escaped as _x0000_).
ROW_MARK = "\x00"


class _Collected(list):
    """Strings written to it, kept in order (a sheet's file handle while rows are gathered)."""

    write = list.append


class _Streamed(safe_text.LiteralStrings, packing.Ahead):
    """A constant-memory sheet that can record a merged range after its rows are written."""

    # Set on sheets without charts: forget each row's height once the row is written, so a
    # sheet with a row per file keeps no per-row record (xlsxwriter keeps them for placing
    # drawings, which these sheets do not have).
    forget_rows = False

    def __init__(self) -> None:
        super().__init__()
        self.merge = _Merges()

    def add_merge(self, first_row: int, first_col: int, last_row: int, last_col: int) -> None:
        # xlsxwriter writes <mergeCells> from this list when the sheet is assembled; the cells
        # themselves were written in row order by the caller (value at the top left, blanks over
        # the rest, one format). A test reads the ranges back from the file.
        self.merge.append([first_row, first_col, last_row, last_col])

    def _write_merge_cells(self) -> None:
        """``<mergeCells>`` as xlsxwriter writes it, a few thousand ranges per write instead of
        two cell names and a tag per call (分单位明细 repeats its header merges in every chunk)."""
        cells = self.merge.cells
        if not cells:
            return
        names = _names(max(max(cells[1::4]), max(cells[3::4])))
        self._xml_start_tag("mergeCells", [("count", len(self.merge))])
        for start in range(0, len(cells), 4 * 4096):
            part = cells[start : start + 4 * 4096]
            self.fh.write(
                "".join(
                    f'<mergeCell ref="{names[c1]}{r1 + 1}:{names[c2]}{r2 + 1}"/>'
                    for r1, c1, r2, c2 in zip(
                        part[0::4], part[1::4], part[2::4], part[3::4], strict=True
                    )
                )
            )
        self._xml_end_tag("mergeCells")

    @staticmethod
    def _escape_control_characters(data):
        # Most texts hold nothing xlsxwriter escapes here (a control character, a noncharacter,
        # or "_xHHHH_"): such a text is itself, without its two regular expressions. (A text
        # isprintable() holds no control character, U+FFFE or U+FFFF.)
        if type(data) is str and data.isprintable() and "_x" not in data:
            return data
        return XMLwriter._escape_control_characters(data)

    def _write_string(self, row: int, col: int, string: str, cell_format: Any = None) -> int:
        # File names in the status and findings sheets may be GBK bytes kept as surrogates.
        return super()._write_string(row, col, safe_text.undecoded(string), cell_format)

    _done_row = -1  # a row written whole by write_cells_row: nothing of it is pending

    @functools.cached_property
    def _inline_texts(self) -> dict[str, str]:
        # Short texts written again and again (header labels in every chunk, unit names in every
        # block) are escaped once; a few thousand at most, so memory stays flat.
        return {}

    def _inline_text(self, value: Any) -> str | None:
        """The end of an inline-string cell as xlsxwriter writes it for ``value`` (after the
        ``r``/``s`` attributes), or None where xlsxwriter's own rules might differ."""
        text = safe_text.undecoded(value) if isinstance(value, str) else None
        # long strings are cut to Excel's limit; "<r>…</r>" is taken as rich text
        if text is None or len(text) > self.xls_strmax // 2 or text.startswith("<r>"):
            return None
        text = self._escape_control_characters(text)
        space = ' xml:space="preserve"' if _preserve_whitespace(text) else ""
        tail = f' t="inlineStr"><is><t{space}>{self._escape_data(text)}</t></is></c>'
        if type(value) is str and len(value) <= 200:
            cache = self._inline_texts
            if len(cache) >= 512:
                cache.clear()
            cache[value] = tail
        return tail

    def write_cells_row(
        self,
        row: int,
        cells: list[tuple[int, str, Any, Any]],
        figures: tuple[int, list[float], Any] | None = None,
    ) -> bool:
        """Write a whole row at once -- ``(col, kind, value, format)`` in column order, kinds
        text/number/blank -- as the XML xlsxwriter's per-cell calls would write, without their
        bookkeeping per cell (分单位明细 has ~365 formatted cells per unit, and that bookkeeping
        was most of writing the county workbook). ``figures`` = ``(first column, numbers,
        format)`` ends the row with a run of numbers in one format, NaN written as a blank (the
        figures of 分单位明细): one string per cell, nothing checked per cell. Returns False,
        having written nothing, where the result might differ; the caller then makes the
        ordinary calls. A test compares the two byte for byte."""
        if not self._open(row):
            return False
        info = self.row_info.get(row)
        rendered = self.render_cells(
            cells, bool(info is not None and info.row_format), str(row + 1), figures
        )
        return rendered is not None and self.write_rendered(row, rendered)

    def _open(self, row: int) -> bool:
        """Whether ``row`` can be written whole now: nothing of it is pending, no later row is
        out, no comment or extension needs xlsxwriter's own writing."""
        return not (
            not self.constant_memory
            or row < self.previous_row
            or (row == self.previous_row and (self.table or row == self._done_row))
            or row in self.comments
            or self.excel_version == 2010
            or row >= self.xls_rowmax
        )

    def render_cells(
        self,
        cells: list[tuple[int, str, Any, Any]],
        row_format: bool,
        rn: str = ROW_MARK,
        figures: tuple[int, list[float], Any] | None = None,
    ) -> tuple[str, int, int] | None:
        """The cells' XML (see ``write_cells_row``) with ``rn`` as the row number -- by default
        a mark that ``write_rendered`` replaces, so that rows repeated at other places (the
        header rows of every chunk of 分单位明细) are made once -- and the first and last
        column written; None where xlsxwriter's own calls might write something else."""
        parts: list[str] = []
        first = last = -1
        top = cells[-1][0] if cells else -1
        if top >= self.xls_colmax:
            return None
        names = _names(top)
        texts = self._inline_texts
        for col, kind, value, fmt in cells:
            if col <= last or col > top:
                return None
            if fmt is not None:
                attr = f' s="{fmt._get_xf_index()}"'
            elif kind == "blank":
                continue  # xlsxwriter writes no blank cell without a format
            elif row_format or (col in self.col_info and self.col_info[col].column_format):
                return None
            else:
                attr = ""
            if kind == "number":
                if type(value) not in (int, float) or not math.isfinite(value):
                    return None
                parts.append(f'<c r="{names[col]}{rn}"{attr}><v>{value:.16G}</v></c>')
            elif kind == "text":
                tail = texts.get(value) if type(value) is str else None
                if tail is None:
                    tail = self._inline_text(value)
                    if tail is None:
                        return None
                parts.append(f'<c r="{names[col]}{rn}"{attr}{tail}')
            elif kind == "blank":
                parts.append(f'<c r="{names[col]}{rn}"{attr}/>')
            else:
                return None
            if first < 0:
                first = col
            last = col
        if figures is not None and figures[1]:
            start, numbers, fmt = figures
            end = start + len(numbers) - 1
            if start <= last or end >= self.xls_colmax or fmt is None:
                return None
            if any(map(math.isinf, numbers)):
                return None  # xlsxwriter refuses them (or writes an error formula)
            s = fmt._get_xf_index()
            parts += [
                f'<c r="{name}{rn}" s="{s}"/>'
                if v != v
                else f'<c r="{name}{rn}" s="{s}"><v>{v:.16G}</v></c>'
                for name, v in zip(_names(end)[start : end + 1], numbers, strict=True)
            ]
            first = start if first < 0 else first
            last = end
        if first < 0:
            return None
        return "".join(parts), first, last

    @functools.cached_property
    def _row_tags(self) -> dict[tuple, str]:
        return {}

    def _row_tag(self, row: int, info: Any) -> str:
        """The ``<row>`` start tag xlsxwriter's ``_write_row`` writes for ``row`` and its
        ``row_info``, made by that method once per kind of row (its height, hidden or not...)
        and given each row's number (the header rows of 分单位明细 are repeated over every
        chunk)."""
        if info is not None and info.row_format is not None:
            key = None  # (a row format: its index asked for each time, as xlsxwriter does)
        else:
            key = (
                None if info is None else (info.height, info.hidden, info.level, info.collapsed),
                self.default_row_height,
                self.original_row_height,
                self.excel_version,
            )
        tail = self._row_tags.get(key) if key is not None else None
        if tail is None:
            out, fh = _Collected(), self.fh
            self.fh = out
            try:
                self._write_row(row, None, info)
            finally:
                self.fh = fh
            tag = "".join(out)
            head = f'<row r="{row + 1}"'
            if key is None or not tag.startswith(head):
                return tag
            tail = self._row_tags[key] = tag[len(head) :]
        return f'<row r="{row + 1}"{tail}'

    def write_rendered(self, row: int, rendered: tuple[str, int, int]) -> bool:
        """Write cells made by ``render_cells`` as row ``row``; False (nothing written) where
        the row cannot be written whole now."""
        if not self._open(row):
            return False
        body, first, last = rendered
        self._check_dimensions(row, first)
        self._check_dimensions(row, last)
        if row > self.previous_row:
            self._write_single_row(row)  # the rows before this one go out first
        tag = self._row_tag(row, self.row_info.get(row))
        self.fh.write(tag + body.replace(ROW_MARK, str(row + 1)) + "</row>")
        self._done_row = row
        return True

    def write_rendered_rows(
        self, rows: list[tuple[int, str]] | list[tuple[int, bytes]], first: int, last: int
    ) -> bool:
        """Rows made by ``render_cells`` -- (row, XML), rows increasing, cells from column
        ``first`` to ``last`` -- written as ``write_rendered`` writes them one by one, in one
        write (分单位明细 has a row per file in every block); False, nothing written, where
        they cannot be written whole now. XML given as UTF-8 bytes (every row's) is written
        as bytes: a row of figures is ASCII but for its unit's name, and put together as text
        the name would make the whole row a string of two bytes a character, copied wide and
        encoded back (the same bytes in the file)."""
        if not rows or not self._open(rows[0][0]) or rows[-1][0] >= self.xls_rowmax:
            return False
        self._check_dimensions(rows[0][0], first)
        self._check_dimensions(rows[-1][0], last)
        if rows[0][0] > self.previous_row:
            self._write_single_row(rows[0][0])  # the rows before these go out first
        out, fh = _Collected(), self.fh
        plain = self.default_row_height == self.original_row_height  # a row tag is <row r="n">
        as_bytes = all(type(body) is bytes for _, body in rows)
        if as_bytes and not isinstance(getattr(fh, "buffer", None), io.BufferedIOBase):
            return False
        self.fh = out  # (xlsxwriter's row tag, where a row has its own height, written here)
        try:
            before = None
            for row, body in rows:
                if before is not None:  # the row before went out whole: as _write_single_row
                    if row <= before:
                        raise ValueError("rows out of order")
                    if self.forget_rows:
                        self.row_info.pop(before, None)
                        self.row_sizes.pop(before, None)
                info = self.row_info.get(row)
                plain_row = info is None and plain
                tag = f'<row r="{row + 1}">' if plain_row else self._row_tag(row, info)
                if as_bytes:
                    out += (tag.encode(), body.replace(b"\0", b"%d" % (row + 1)), b"</row>")
                else:
                    out += (tag, body.replace(ROW_MARK, str(row + 1)), "</row>")
                before = row
        finally:
            self.fh = fh
        if as_bytes:
            fh.flush()  # (the text written before goes out first)
            fh.buffer.write(b"".join(out))
        else:
            fh.write("".join(out))
        self.previous_row = self._done_row = rows[-1][0]
        return True

    def _write_single_row(self, current_row_num: int = 0) -> None:
        row = self.previous_row
        if row == self._done_row:  # already out, whole (write_rendered)
            self.previous_row = current_row_num
            self.table.clear()
        else:
            super()._write_single_row(current_row_num)
        if self.forget_rows:
            self.row_info.pop(row, None)
            self.row_sizes.pop(row, None)


# Rows made where a file is read (``prepare``, in the merge's worker processes), put together by
# the writer after the pool, which alone knows the row numbers (ROW_MARK) and the formats' indices
# (STYLE_MARK: the row's one format). A text made that way holds no other control character
# (xlsxwriter writes those in text as _x0001_), so these separate its pieces too.
STYLE_MARK = "\x01"
PIECE = "\x02"  # between a row's line count and its cells
NEXT_ROW = "\x03"  # between the rows of one file (its findings)
FAILED = "\x04"  # could not be made whole: the writer makes that file's rows itself
FINDINGS_WIDTHS = [20, 26, 6, 6, 16, 60]
# Files from which, read by two processes, 分单位明细 is made by a second one (a fork costs a
# few ms; at 16 files the sheet costs about as much)
ELSEWHERE_FROM = 16
# The formats the sheets before 分单位明细 (汇总说明 to 报送情况) number, in the order they
# first use them, with the official spec: the child making 分单位明细 numbers them so first
# (Book.finish_elsewhere). Where a spec or a change makes them number others, the child's part
# is not taken and the parent writes the sheet itself: the same file, made more slowly.
_NUMBERED_BEFORE = (
    "title",
    "plain",
    "section",
    "header",
    "cell",
    "label",
    "value",
    "caption",
    "corner",
    "stub",
    "number",
    "total",
    "wrap",
)
TEXTS_WIDTHS = [20, 10]  # then NARRATIVE_WIDTH per field
NARRATIVE_WIDTH = 44


class _Marked:
    """A format whose index the writer puts in later (``STYLE_MARK``)."""

    @staticmethod
    def _get_xf_index() -> str:
        return STYLE_MARK


_PLANS: dict[str, tuple[list[tuple[list[int], list[tuple[str, str]]]], _Streamed]] = {}


def _plan(spec) -> tuple[list[tuple[list[int], list[tuple[str, str]]]], _Streamed]:
    """Per spec, once per process: each block of 分单位明细 as indexes into a row of
    ``Figures`` with each figure's cell as ``render_cells`` writes it from column C on (blank
    where there is no figure; else up to the number), and a sheet to render cells with (for its
    escaping and its text cache)."""
    if spec.hash not in _PLANS:
        index = {dp_id: j for j, dp_id in enumerate(spec.datapoints)}
        blocks = []
        for b in breakdown_blocks(spec):
            names = _names(2 + len(b.ids))[2 : 2 + len(b.ids)]
            cells = [
                (
                    f'<c r="{name}{ROW_MARK}" s="{STYLE_MARK}"/>',
                    f'<c r="{name}{ROW_MARK}" s="{STYLE_MARK}"><v>',
                )
                for name in names
            ]
            blocks.append(([index[dp_id] for dp_id in b.ids], cells))
        _PLANS[spec.hash] = (blocks, _Streamed())
    return _PLANS[spec.hash]


def prepare(report, spec, figures: array | None) -> list[str]:
    """One file's rows of the county workbook, made where the file is read (the merge's
    ``render``): for 分单位明细 the run of figures of each block, for 各单位文字 the narrative
    cells with the lines they take, for 问题清单 each finding's cells but the unit's (which the
    roster may rename), in Chinese and in English -- each with ROW_MARK and STYLE_MARK for the
    writer to put in (``_Writer``), FAILED where xlsxwriter's own calls must write it."""
    blocks, ws = _plan(spec)
    out: list[str] = []
    for where, cells in blocks:
        if figures is None:
            out.append("")
            continue
        # the block's figures as render_cells writes them (2, figures, _Marked), a test says
        numbers = [figures[x] for x in where]
        if not numbers or 2 + len(numbers) > ws.xls_colmax or any(map(math.isinf, numbers)):
            out.append(FAILED)  # (xlsxwriter refuses an infinity, or writes an error formula)
            continue
        out.append(
            "".join(
                [
                    blank if v != v else f"{start}{v:.16G}</v></c>"
                    for (blank, start), v in zip(cells, numbers, strict=True)
                ]
            )
        )
    if figures is None:
        out.append("")
    else:
        texts = [report.filing.texts.get(field.id, "") for field in spec.fields]
        out.append(_prepared_row(ws, len(TEXTS_WIDTHS), texts, [NARRATIVE_WIDTH] * len(texts)))
    name = Path(report.path).name
    for lang in ("zh", "en"):
        rows = []
        for x in report.findings:
            where = f"{x.sheet}!{x.cell}" if x.sheet and x.cell else (x.sheet or "")
            cells = [name, x.level(spec).label(lang), x.code, where, x.message(lang, spec)]
            rows.append(_prepared_row(ws, 1, cells, FINDINGS_WIDTHS[1:]))
        out.append(FAILED if FAILED in rows else NEXT_ROW.join(rows))
    return out


def _prepared_row(ws: _Streamed, first: int, values: list, widths: list[float]) -> str:
    """Text cells from column ``first`` on, as ``_text_row`` writes them, with the lines the
    longest takes: "lines PIECE cells", or FAILED."""
    if not all(type(v) is str for v in values):
        return FAILED
    cells = [(col, "text", v, _Marked) for col, v in enumerate(values, start=first)]
    made = ws.render_cells(cells, False) if cells else None
    if made is None:
        return FAILED
    lines = max(_lines(v, w * CHARS_PER_WIDTH) for v, w in zip(values, widths, strict=True))
    return f"{lines}{PIECE}{made[0]}"


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

    def write(self, ws: _Streamed, offset: int = 0, made: dict | None = None) -> None:
        """Write the cells, ``offset`` rows further down; ``made`` keeps each row's XML for the
        next time the same rows are written (at another offset)."""
        ends: dict[int, list[tuple[int, int, int, int]]] = defaultdict(list)
        for m in self.merges:
            ends[m[2]].append(m)
        rows = sorted(self.cells)
        if made and all(made.get(row) is not None for row in rows):
            # made the first time (a header repeated over every chunk): written in one go
            first = min(made[row][1] for row in rows)
            last = max(made[row][2] for row in rows)
            bodies = [(row + offset, made[row][0]) for row in rows]
            if ws.write_rendered_rows(bodies, first, last):
                for row in rows:  # the merges in the order the rows add them
                    for m in ends.pop(row, ()):
                        ws.add_merge(m[0] + offset, m[1], m[2] + offset, m[3])
                for pending in ends.values():
                    for m in pending:
                        ws.add_merge(m[0] + offset, m[1], m[2] + offset, m[3])
                return
        for row in rows:
            line = self.cells[row]
            at = row + offset
            if made is not None and made.get(row) is not None and ws.write_rendered(at, made[row]):
                cols = []  # made the first time (a header repeated over every chunk)
            else:
                cols = sorted(line)
                cells = [(c, *line[c][:3]) for c in cols]
                if made is None:
                    done = ws.write_cells_row(at, cells)
                else:
                    if row not in made:  # cells without a format would depend on the row's own
                        formatted = all(fmt is not None for *_, fmt in cells)
                        made[row] = ws.render_cells(cells, False) if formatted else None
                    done = made[row] is not None and ws.write_rendered(at, made[row])
                if done:
                    cols = []
            for col in cols:
                kind, value, fmt, cached = line[col]
                if kind == "text":
                    ws.write_string(at, col, value, fmt)
                elif kind == "number":
                    ws.write_number(at, col, value, fmt)
                elif kind == "formula":
                    ws.write_formula(at, col, value, fmt, cached)
                else:
                    ws.write_blank(at, col, None, fmt)
            for m in ends.pop(row, ()):
                ws.add_merge(m[0] + offset, m[1], m[2] + offset, m[3])
        for pending in ends.values():  # merges ending on rows with no cells (none in practice)
            for m in pending:
                ws.add_merge(m[0] + offset, m[1], m[2] + offset, m[3])


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
        writer = _Writer(result, tmp, lang, cov, chart_data(result, cov, lang, previous))
        try:
            writer.write()
        except XlsxFileError as exc:  # xlsxwriter wraps the OSError of writing the zip
            cause = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else None
            raise cause or OSError(0, str(exc)) from None
        finally:
            writer.wb.discard()  # a failed write: the sheets made ahead, and their thread
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
        at = result.figures.index[charts.RECEIVED]
        received = [
            (e.unit, _or_zero(result.figures.row(e.figures)[at]))
            for e in result.included
            if e.figures is not None
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


def _or_zero(x: float) -> float:
    return 0.0 if x != x else x  # NaN: no figure


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
        # the sheets with a row per file are deflated in a thread as each is done (packing)
        self.wb = packing.Book(
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
            **self._breakdown_formats(base),
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
        self._unit_pieces: dict[str, tuple[str, list[tuple[str, str]]]] = {}  # (_unit_row)

    def _breakdown_formats(self, base: dict[str, Any]) -> dict[str, Any]:
        """Figures and names in 分单位明细; a file left out of the total in grey italics."""
        out = {}
        for suffix, extra in (("", {}), ("_out", {"italic": True, "font_color": "#7F7F7F"})):
            common = {**base, **extra, "border": 1, "font_size": 10}
            out["bd_num" + suffix] = self.wb.add_format({**common, "align": "center"})
            out["bd_text" + suffix] = self.wb.add_format({**common, "text_wrap": True})
            # a span of cells bordered as one, without a merge: its left, inner and right cells
            ruled = {k: v for k, v in common.items() if k != "border"} | {"top": 1, "bottom": 1}
            out["bd_left" + suffix] = self.wb.add_format({**ruled, "left": 1})
            out["bd_mid" + suffix] = self.wb.add_format(ruled)
            out["bd_right" + suffix] = self.wb.add_format({**ruled, "right": 1})
        return out

    def sheet(self, name: str, per_file: bool = False) -> _Streamed:
        ws = self.wb.add_worksheet(name, worksheet_class=_Streamed)
        ws.forget_rows = per_file
        return ws

    def write(self) -> None:
        r = self.r
        # every sheet added first, in the workbook's order, so that 分单位明细 can be made
        # elsewhere from the start
        summary, charts_ws, info = (
            self.sheet(name) for name in (SUMMARY_SHEET, CHARTS_SHEET, layout.INFO_SHEET)
        )
        tables = [(self.sheet(t.sheet), self.layout.tables[t.id]) for t in self.spec.tables]
        narrative = self.sheet(layout.NARRATIVE_SHEET)
        sheets = {
            name: (self.sheet(name, per_file=True), write)
            for name, write in (
                (STATUS_SHEET, self._status),
                (BREAKDOWN_SHEET, self._breakdown),
                (FINDINGS_SHEET, self._findings),
                (TEXTS_SHEET, self._texts),
            )
        }
        # 分单位明细, the biggest, made by a second process beside all the other sheets where
        # the files were read by two (the pool is done: the second core is idle). The child
        # numbers the formats the sheets before it number here meanwhile (_NUMBERED_BEFORE),
        # so its own get the numbers one process gives them; adopt checks that they did.
        child, (breakdown, _) = None, sheets[BREAKDOWN_SHEET]
        if r.jobs > 1 and len(r.entries) >= ELSEWHERE_FROM:
            r.before_fork()
            first = [self.f[name] for name in _NUMBERED_BEFORE]
            child = self.wb.finish_elsewhere(breakdown, self._breakdown, r.reopen, first)
        self._summary(summary)
        self._charts(charts_ws)
        self._info(info)
        for ws, table_layout in tables:
            self._table(ws, table_layout)
        self._narrative(narrative)
        for ws, write in sheets.values():
            if ws is breakdown and child is not None:
                continue
            write(ws)
            self.wb.finish(ws)  # its XML made and deflated while the next sheets are written
        if child is not None and not self.wb.adopt(child, breakdown):
            # the child failed, or the other sheets numbered formats of their own: made here
            self._breakdown(breakdown)
            self.wb.finish(breakdown)
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
        # As for a Word report: made by the county (its name, when given), now. Unlike a
        # template, whose bytes are pinned for its golden digests, the county workbook states
        # when it was made anyway (汇总说明); SOURCE_DATE_EPOCH pins both for reproducible builds.
        made = datetime.fromisoformat(self.cov.made_at) if self.cov.made_at else now()
        self.wb.set_properties(
            {
                "title": self.t["title"].format(name=self.unit.name, year=r.year),
                "author": r.name or "",
                "created": made.astimezone(UTC).replace(tzinfo=None),
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
                    # bars thicker than their labels are tall, or a pair's labels overlap
                    "gap": 60,
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
            height = max(300, 26 * n * len(chart.series) + 90) if kind == "bar" else 320
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
        """One row per file (and per roster unit that sent none): its status and why, and which
        of the unit's files the total used (the newest of a resubmitting unit's files)."""
        t = self.t
        widths = [5, 22, 8, 8, 12, 30, 28, 28, 6, 6, 8]
        for col, width in enumerate(widths):
            ws.set_column(col, col, width)
        ws.set_row(0, 30)
        for col, head in enumerate(t["status_cols"]):
            ws.write_string(0, col, head, self.f["header"])
        used = {
            e.key: _file_name(e.path) for e in self.r.entries if e.included and e.key and e.path
        }
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
                _file_name(e.path) if e.path else "",
                used.get(e.key, "") if e.key else "",
                e.errors,
                e.warnings,
                t["yes"] if e.included else t["no"],
            ]
            _text_row(ws, i, cells, widths, self.f["wrap"])
        ws.autofilter(0, 0, len(ordered), len(t["status_cols"]) - 1)
        ws.freeze_panes(1, 0)
        self._print_wide(ws, header=(0, 0))

    def _breakdown(self, ws) -> None:
        """Every readable file's figures, printable one A4 landscape page wide: stacked blocks
        (the units, then 表二, 表三 in groups of whole rows, 表四), each headed by the official
        labels (table · block · row labels · column labels) in merged rows like the official
        tables, over one row per file. A block longer than a page is cut into chunks that each
        start a page with their own header rows. Above each chunk a hidden row holds the
        datapoint ids (the units block: field names), for machines; column A holds the file's
        序号 in every block."""
        spec, t, f = self.spec, self.t, self.f
        data_cols = max(DATA_COLS, *(len(b.ids) for b in breakdown_blocks(spec)))
        widths = [*BD_WIDTHS] + [BD_DATA_WIDTH] * data_cols
        for c, width in enumerate(widths):
            ws.set_column(c, c, width)
        ws.set_row(0, 28)
        title = t["breakdown_title"].format(name=self.unit.name, year=self.r.year)
        ws.merge_range(0, 0, 0, len(widths) - 1, title, f["title"])
        ws.merge_range(1, 0, 1, len(widths) - 1, t["breakdown_note"], f["note"])
        entries, values = self._breakdown_values()
        name_room = BD_WIDTHS[1] / 2.0  # characters of 10-point 宋体 on one line
        heights = [14.0 * _lines(e.unit, name_room) + 2 for e in entries]
        row, breaks = 3, []
        # the units block: who each 序号 is, and what became of its file
        keys = ["no", "unit", "code", "kind", "status", "included", "file"]
        spans = [(0, 0), (1, 1), (2, 4), (5, 6), (7, 10), (11, 12), (13, len(widths) - 1)]
        files = [_file_name(e.path) if e.path else "" for e in entries]
        file_room = sum(widths[spans[-1][0] :]) / 2.0
        unit_heights = [
            max(h, 14.0 * _lines(name, file_room) + 2)
            for h, name in zip(heights, files, strict=True)
        ]
        for chunk in _chunks(unit_heights, 30.0):
            if row > 3:
                breaks.append(row)
            rows = _Rows()
            rows.put(row, 0, "text", t["id_row"], f["note"])
            for key, (a, _) in zip(keys[1:], spans[1:], strict=True):
                rows.put(row, a, "text", key, f["note"])
            ws.set_row(row, None, None, {"hidden": True})
            ws.set_row(row + 1, 30)
            for head, (a, b) in zip(t["breakdown_cols"], spans, strict=True):
                rows.label(row + 1, a, row + 1, b, head, f["header"])
            for i, k in enumerate(chunk, start=row + 2):
                ws.set_row(i, unit_heights[k])
            rows.write(ws)
            for i, k in enumerate(chunk, start=row + 2):
                e = entries[k]
                shown = [
                    k + 1,
                    e.unit,
                    e.code,
                    e.kind,
                    e.status_text(self.lang),
                    t["yes"] if e.included else t["no"],
                    files[k],
                ]
                self._unit_row(ws, i, shown, "" if e.included else "_out", spans)
            row += len(chunk) + 3
        rendered = self.r.rendered
        # Each name's cell as escaped once (the sheet's cache of short texts holds fewer than
        # a county's units)
        unit_tails = [ws._inline_text(e.unit) for e in entries] if rendered is not None else []
        for b, block in enumerate(breakdown_blocks(spec)):
            # each file's run of figures, made where it was read (prepare), in file order
            made_rows = rendered.read(b, entries) if rendered is not None else None
            last = 2 + len(block.ids) - 1
            depth, labels, head_heights = self._block_header(block, widths)
            # the id row and the header rows, the same over every chunk: made once
            head, made = _Rows(), {}
            head.put(0, 0, "text", t["id_row"], f["note"])
            for j, dp_id in enumerate(block.ids):
                head.put(0, 2 + j, "text", dp_id, f["note"])
            head.label(1, 0, depth, 0, t["breakdown_cols"][0], f["header"])
            head.label(1, 1, depth, 1, t["breakdown_cols"][1], f["header"])
            for r, c, last_r, last_c, text, fmt in labels:
                head.label(1 + r, c, 1 + last_r, last_c, text, f[fmt])
            for chunk in _chunks(heights, sum(head_heights)):
                breaks.append(row)
                ws.set_row(row, None, None, {"hidden": True})
                for r, height in enumerate(head_heights, start=row + 1):
                    ws.set_row(r, height)
                head.write(ws, row, made)
                where = [values.index[dp_id] for dp_id in block.ids]
                whole: list[tuple[int, int, str]] = []  # rows made whole, written together
                for i, k in enumerate(chunk, start=row + 1 + depth):  # in row order: directly
                    out = "" if entries[k].included else "_out"
                    num = f["bd_num" + out]
                    if heights[k] > 16:
                        ws.set_row(i, heights[k])
                    run = next(made_rows)[1] if made_rows is not None else FAILED
                    if run != FAILED and unit_tails[k] is not None:
                        # the 序号 and the name as render_cells makes them, then the run, with
                        # the row's formats put in (their indexes asked for in the same order)
                        s_num = str(num._get_xf_index())
                        s_text = str(f["bd_text" + out]._get_xf_index())
                        lead = (
                            f'<c r="A{ROW_MARK}" s="{s_num}"><v>{k + 1}</v></c>'
                            f'<c r="B{ROW_MARK}" s="{s_text}"{unit_tails[k]}'
                        )
                        # as UTF-8: the run stays ASCII (write_rendered_rows)
                        body = lead.encode() + run.replace(STYLE_MARK, s_num).encode()
                        whole.append((i, k, body))
                        continue
                    self._figure_rows(ws, whole, entries, where, last)
                    whole = []
                    self._figure_rows(ws, [(i, k, None)], entries, where, last)
                self._figure_rows(ws, whole, entries, where, last)
                row += depth + len(chunk) + 2
        ws.freeze_panes(1, 2)
        # One page wide, as many pages down as it takes; each chunk starts a page (the manual
        # row breaks), so every page carries its own official header rows; the title row is
        # repeated on every page.
        ws.set_paper(9)
        ws.set_landscape()
        ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(0, 0)
        ws.set_h_pagebreaks(breaks)
        ws.set_footer("&C&P / &N")

    def _unit_row(self, ws, i: int, values: list, out: str, spans: list) -> None:
        """A file's row of the units block of 分单位明细 -- its 序号, then a text per span of
        columns (the file name's span merged) -- and its merge after it, as ``_Rows`` writes
        them: the row's XML put together from pieces made once per kind of row (included or
        not), only the texts escaped per file; cell by cell where that cannot be."""
        f, last = self.f, spans[-1][1]
        texts = ws._inline_texts
        tails = [texts.get(v) or ws._inline_text(v) if type(v) is str else None for v in values[1:]]
        if type(values[0]) is int and None not in tails and ws._open(i):
            if out not in self._unit_pieces:
                self._unit_pieces[out] = self._unit_row_pieces(out, spans)
            head, pieces = self._unit_pieces[out]
            xml = [f"{head}{values[0]}</v></c>"]
            for (start, blanks), tail in zip(pieces, tails, strict=True):
                xml += (start, tail, blanks)
            written = ws.write_rendered(i, ("".join(xml), 0, last))
        else:
            written = False
        if not written:
            cells: list[tuple[int, str, Any, Any]] = []
            for value, (a, b) in zip(values, spans, strict=True):
                if isinstance(value, int):
                    cells.append((a, "number", value, f["bd_num" + out]))
                elif a == b or b == last:  # the file name wraps in its merged cell
                    fmt = f["bd_text" + out]
                    cells.append((a, "text", value, fmt))
                    cells += [(c, "blank", None, fmt) for c in range(a + 1, b + 1)]
                else:
                    # a short value runs on into the blank cells of its span: no merge per row
                    # (a sheet's merges are kept in memory until it is written)
                    cells.append((a, "text", value, f["bd_left" + out]))
                    cells += [(c, "blank", None, f["bd_mid" + out]) for c in range(a + 1, b)]
                    cells.append((b, "blank", None, f["bd_right" + out]))
            if not ws.write_cells_row(i, cells):
                for col, kind, value, fmt in cells:
                    if kind == "text":
                        ws.write_string(i, col, value, fmt)
                    elif kind == "number":
                        ws.write_number(i, col, value, fmt)
                    else:
                        ws.write_blank(i, col, None, fmt)
        if spans[-1][0] != last:
            ws.add_merge(i, spans[-1][0], i, last)

    def _unit_row_pieces(self, out: str, spans: list) -> tuple[str, list[tuple[str, str]]]:
        """The XML of a units row but its 序号 and texts, with ROW_MARK for the row: the 序号
        cell up to its number, then per text span the start of its cell (up to the text) and the
        blank cells after it. Each format's index is asked for in the order of the row's cells
        (the order xlsxwriter numbers formats in)."""
        f, last = self.f, spans[-1][1]
        names = _names(last)
        s = {
            k: f[k + out]._get_xf_index()
            for k in ("bd_num", "bd_text", "bd_left", "bd_mid", "bd_right")
        }
        head = f'<c r="{names[spans[0][0]]}{ROW_MARK}" s="{s["bd_num"]}"><v>'
        pieces = []
        for a, b in spans[1:]:
            if a == b or b == last:
                start = f'<c r="{names[a]}{ROW_MARK}" s="{s["bd_text"]}"'
                blanks = [(c, s["bd_text"]) for c in range(a + 1, b + 1)]
            else:
                start = f'<c r="{names[a]}{ROW_MARK}" s="{s["bd_left"]}"'
                blanks = [(c, s["bd_mid"]) for c in range(a + 1, b)] + [(b, s["bd_right"])]
            pieces.append(
                (start, "".join(f'<c r="{names[c]}{ROW_MARK}" s="{x}"/>' for c, x in blanks))
            )
        return head, pieces

    def _figure_rows(self, ws, rows: list, entries: list, where: list[int], last: int) -> None:
        """Rows of figures of 分单位明细, (row, index of the file, XML made or None): the XML
        written whole where it can be, the rest made here (whole, or cell by cell)."""
        made = [(i, xml) for i, _, xml in rows if xml is not None]
        if len(made) == len(rows) and (not rows or ws.write_rendered_rows(made, 0, last)):
            return
        f, values = self.f, self.r.figures
        for i, k, _ in rows:
            e = entries[k]
            out = "" if e.included else "_out"
            num = f["bd_num" + out]
            lead = [(0, "number", k + 1, num), (1, "text", e.unit, f["bd_text" + out])]
            figures = values.row(e.figures)
            if ws.write_cells_row(i, lead, (2, [figures[x] for x in where], num)):
                continue
            ws.write_number(i, 0, k + 1, num)
            ws.write_string(i, 1, e.unit, f["bd_text" + out])
            for j, x in enumerate(where, start=2):
                v = figures[x]
                if v == v:  # not NaN: a number
                    ws.write_number(i, j, v, num)
                else:
                    ws.write_blank(i, j, None, num)

    def _breakdown_values(self) -> tuple[list, Figures]:
        """The readable files, and their figures (made as each file was read)."""
        entries = [e for e in self.r.entries if e.offset is not None and e.figures is not None]
        return entries, self.r.figures

    def _block_header(self, block: _Block, widths: list[float]):
        """A block's header: its depth in rows, the merged labels (rows and columns relative to
        the block's first header row and the sheet's first column) and each row's height."""
        paths = block.paths(self.spec)
        depth = max(len(p) for p in paths)
        labels = []
        for r, last, a, b, text in _header_spans(paths, depth):
            c, last_c = 2 + a, 2 + b
            fmt = "header" if r == 0 else "small_header"
            labels.append((r, c, r if r < last else depth - 1, last_c, text, fmt))
        heights = [15.0] * depth
        for spanning in (False, True):  # single rows first; a span over rows takes the rest
            for r, c, last_r, last_c, text, fmt in labels:
                if (last_r > r) != spanning:
                    continue
                room = sum(widths[c : last_c + 1]) / (1.6 if fmt == "header" else 1.8)
                need = 12.5 * _lines(text, room) + 4
                have = sum(heights[r : last_r + 1])
                if have < need:
                    heights[last_r] += need - have
        return depth, labels, heights

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
        widths = FINDINGS_WIDTHS
        for col, width in enumerate(widths):
            ws.set_column(col, col, width)
        row = 1
        zh = self.lang == "zh"
        files = [e for e in self.r.entries if e.offset is not None]
        # each file's rows as made where it was read (prepare), else from its spooled record
        for e, made in self._made(-2 if zh else -1, files):
            if made is not None:
                rows = made.split(NEXT_ROW) if made else []
                if not rows or self._prepared_row(ws, row, [e.unit], widths, rows[0]):
                    for k, prepared in enumerate(rows[1:], start=row + 1):
                        if not self._prepared_row(ws, k, [e.unit], widths, prepared):
                            raise AssertionError("the same unit written, then not")
                    row += len(rows)
                    continue
            record = self.r.spool.read(e.offset)
            for code, severity, sheet, cell, _dp, message_zh, message_en in record["findings"]:
                where = f"{sheet}!{cell}" if sheet and cell else (sheet or "")
                cells = [
                    e.unit,
                    _file_name(e.path),
                    Severity(severity).label(self.lang),
                    code,
                    where,
                    message_zh if zh else message_en,
                ]
                _text_row(ws, row, cells, widths, self.f["wrap"])
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
            _text_row(ws, row, cells, widths, self.f["wrap"])
            row += 1
        ws.autofilter(0, 0, max(row - 1, 1), len(t["findings_cols"]) - 1)
        ws.freeze_panes(1, 0)
        self._print_wide(ws, header=(0, 0))

    def _made(self, stream: int, files: list) -> Iterator[tuple[Any, str | None]]:
        """Each of ``files`` with what ``prepare`` made of it in ``stream`` (None where it made
        nothing usable, or the merge was not given it: the writer makes those rows itself)."""
        if self.r.rendered is None:
            yield from ((e, None) for e in files)
            return
        for e, made in self.r.rendered.read(stream % len(self.r.rendered.streams), files):
            yield e, None if made == FAILED else made

    def _prepared_row(self, ws, row: int, lead: list[str], widths: list[float], made: str) -> bool:
        """A row of wrapped cells as ``_text_row`` writes it: the ``lead`` texts, then the cells
        ``prepare`` made ("lines PIECE cells"); False, having written nothing, where the lead
        texts need xlsxwriter's own calls."""
        fmt = self.f["wrap"]
        if not all(type(v) is str for v in lead):
            return False
        head = ws.render_cells([(col, "text", v, fmt) for col, v in enumerate(lead)], False)
        if head is None or not ws._open(row):
            return False
        lines, cells = made.split(PIECE, 1)
        room = [_lines(v, w * CHARS_PER_WIDTH) for v, w in zip(lead, widths, strict=False)]
        ws.set_row(row, min(MAX_ROW_HEIGHT, 15 * max(int(lines), *room) + 3))
        body = head[0] + cells.replace(STYLE_MARK, str(fmt._get_xf_index()))
        return ws.write_rendered(row, (body, 0, len(widths) - 1))

    def _texts(self, ws) -> None:
        spec, t = self.spec, self.t
        fields = spec.fields
        heads = t["texts_cols"] + [f.label for f in fields]
        for col, head in enumerate(heads):
            ws.write_string(0, col, head, self.f["header"])
        widths = TEXTS_WIDTHS + [NARRATIVE_WIDTH] * len(fields)
        for col, width in enumerate(widths):
            ws.set_column(col, col, width)
        row = 1
        files = [e for e in self.r.entries if e.offset is not None and e.readable]
        # each file's narrative cells as made where it was read (prepare), else from its record
        for e, made in self._made(-3, files):
            lead = [e.unit, e.status_text(self.lang)]
            if made is not None and self._prepared_row(ws, row, lead, widths, made):
                row += 1
                continue
            record = self.r.spool.read(e.offset)
            if not record["readable"]:
                continue
            texts = [record["texts"].get(field.id, "") for field in fields]
            _text_row(ws, row, [e.unit, e.status_text(self.lang), *texts], widths, self.f["wrap"])
            row += 1
        ws.freeze_panes(1, 1)
        # Ten narrative columns cannot be read one page wide: pages across, each with the
        # header row and the unit names.
        ws.set_paper(9)
        ws.set_landscape()
        ws.repeat_rows(0, 0)
        ws.repeat_columns(0, 0)
