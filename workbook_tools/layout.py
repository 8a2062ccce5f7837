"""Where everything sits in the workbook, derived from the spec alone.

The template writer places cells from this layout, and the reader finds them through it (or
through the defined names written from it); nothing else in wbtools knows an A1 address.

A table sheet is: a title row, a unit/year row, a note row, then the official table grid (blocks
stacked, each with its caption row, header rows and data rows), then one check row per rule shown
below the table. Rules shown by row get one check column each, right of the table.
"""

from __future__ import annotations

import functools
import math
from collections import namedtuple
from collections.abc import Sequence

from . import patterns
from .normalise import label_key
from .record import Record
from .spec import Block, Header, Spec, Table

TITLE_ROW, UNIT_ROW, NOTE_ROW, TABLE_TOP = 0, 1, 2, 3
INFO_FIRST_ROW = 2  # basic-information fields: label in A, value in B
NARRATIVE_FIRST_ROW = 2  # narrative: section heading rows, then label in A, text in B

INSTRUCTIONS_SHEET = "填报说明"
INFO_SHEET = "基本信息"
NARRATIVE_SHEET = "文字部分"
CHECKS_SHEET = "校验结果"
META_SHEET = "_meta"
MISSING_KEY = "missing"  # metadata row: datapoint ids not in an imported source (not blank)

# Widths in Excel character units; a CJK character takes about two.
DATA_COL_WIDTH = 10.0
CHECK_COL_WIDTH = 7.0
NARRATIVE_TEXT_WIDTH = 90.0


@functools.lru_cache(maxsize=1 << 14)
def cell_name(row: int, col: int, absolute: bool = False) -> str:
    """Zero-based (row, col) as an A1 reference, as xlsxwriter's ``xl_rowcol_to_cell``: written
    here because importing xlsxwriter takes longer than checking a file (``wbtools check``)."""
    letters = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    mark = "$" if absolute else ""
    return f"{mark}{letters}{mark}{row + 1}"


@functools.lru_cache(maxsize=64)
def quote_sheetname(name: str) -> str:
    """``name`` as a formula refers to it, as xlsxwriter's ``quote_sheetname``: a name of Chinese
    characters alone stands bare, one with a space is quoted (its first rule: anything but word
    characters); any other goes to xlsxwriter, whose import costs more than a ``wbtools import``
    writing a prepared workbook (``template.prepared``)."""
    if all("\u4e00" <= ch <= "\u9fff" for ch in name) and name:
        return name
    if " " in name and not name.startswith("'"):
        return "'" + name.replace("'", "''") + "'"
    from xlsxwriter.utility import quote_sheetname as quoted

    return quoted(name)


_A1 = patterns.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)$")


def cell_position(name: str) -> tuple[int, int]:
    """An A1 reference as zero-based (row, col); ValueError if it is not one."""
    m = _A1.match(name)
    if not m:
        raise ValueError(f"not an A1 reference: {name!r}")
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


class Label(
    namedtuple(
        "Label",
        (
            "row",  # int
            "col",  # int
            "last_row",  # int
            "last_col",  # int
            "text",  # str
            "role",  # str: caption | header | stub | corner
        ),
    )
):
    """A label cell (caption, header, stub or corner) of a table sheet, merged or not."""

    __slots__ = ()

    @property
    def merged(self) -> bool:
        return (self.row, self.col) != (self.last_row, self.last_col)


class Place(
    namedtuple(
        "Place",
        (
            "sheet",  # str
            "row",  # int
            "col",  # int
            "last_col",  # int | None
        ),
        defaults=(None,),
    )
):
    """A cell on a sheet; ``last_col`` > ``col`` for a data cell merged across columns."""

    __slots__ = ()

    @property
    def a1(self) -> str:
        return cell_name(self.row, self.col)

    def ref(self, from_sheet: str | None = None, absolute: bool = False) -> str:
        cell = cell_name(self.row, self.col, absolute)
        return cell if from_sheet == self.sheet else f"{quote_sheetname(self.sheet)}!{cell}"


class TableLayout(Record):
    """Where one table sheet puts its labels, data cells, checks and print rows. (A record
    written out, not a dataclass: see ``record``.)"""

    _fields = (
        "table",
        "labels",
        "cells",
        "header_rows",
        "bottom",
        "check_cols",
        "check_rows",
        "checks",
        "col_widths",
        "row_heights",
        "label_keys",
    )

    def __init__(self, table: Table) -> None:
        self.table = table
        self.labels: list[Label] = []
        self.cells: dict[str, Place] = {}
        self.header_rows: tuple[int, int] = (0, 0)  # rows to repeat on printed pages
        self.bottom = 0  # last row of the official table
        self.check_cols: dict[str, int] = {}
        self.check_rows: dict[str, int] = {}
        self.checks: dict[str, Place] = {}  # instance key -> check cell
        self.col_widths: list[float] = []
        self.row_heights: dict[int, float] = {}
        self.label_keys: list[tuple[int, int, str]] = []  # (row, col, match key)

    @property
    def sheet(self) -> str:
        return self.table.sheet

    @property
    def width(self) -> int:
        return self.table.width


class WorkbookLayout(Record):
    """Where a spec's workbook puts everything: the table sheets and each place by key. (A
    record written out, not a dataclass: see ``record``.)"""

    _fields = ("spec", "tables", "places")

    def __init__(
        self, spec: Spec, tables: dict[str, TableLayout], places: dict[str, Place]
    ) -> None:
        self.spec = spec
        self.tables = tables
        # datapoint ids, "info.<id>", narrative field ids, "check.<key>"
        self.places = places

    def place(self, key: str) -> Place:
        return self.places[key]

    def refs(self, ids: Sequence[str], from_sheet: str | None) -> str:
        """A reference list for ``ids``, contiguous cells folded into ranges (A1:A9)."""
        return ",".join(_ranges([self.places[i] for i in ids], from_sheet))


def _ranges(places: list[Place], from_sheet: str | None) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(places):
        start = places[i]
        j = i
        step = None
        while j + 1 < len(places):
            nxt, cur = places[j + 1], places[j]
            if nxt.sheet != start.sheet or (cur.last_col or cur.col) != cur.col:
                break
            this_step = (nxt.row - cur.row, nxt.col - cur.col)
            if this_step not in ((1, 0), (0, 1)) or (step and this_step != step):
                break
            step = this_step
            j += 1
        first = start.ref(from_sheet)
        if j > i:
            end = cell_name(places[j].row, places[j].col)
            first = f"{first}:{end}"
        out.append(first)
        i = j + 1
    return out


def text_lines(text: str, width: float) -> int:
    """Rough number of wrapped lines for ``text`` in a column ``width`` units wide."""
    units = sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)
    return max(1, math.ceil(units / max(width - 1, 1)))


def _layout_table(table: Table, spec: Spec) -> TableLayout:
    tl = TableLayout(table)
    row = TABLE_TOP
    width = table.width
    widths = _column_widths(table)
    tl.col_widths = widths
    first_header = None
    for bi, block in enumerate(table.blocks):
        if block.caption:
            tl.labels.append(Label(row, 0, row, width - 1, block.caption, "caption"))
            row += 1
        depth = block.header_depth
        if first_header is None:
            first_header = row
        if block.stub_width:
            text = block.corner or ""
            tl.labels.append(Label(row, 0, row + depth - 1, block.stub_width - 1, text, "corner"))
        col = block.stub_width
        for top in block.columns:
            col = _place_column_header(tl, top, row, col, 0, depth)
        if bi == 0:
            tl.header_rows = (first_header, row + depth - 1)
        row += depth
        row = _place_rows(tl, table, block, bi, row, spec)
    tl.bottom = row - 1
    _place_checks(tl, spec)
    # The reader's matching key, computed once per layout.
    tl.label_keys = [(label.row, label.col, label_key(label.text)) for label in tl.labels]
    for label in tl.labels:
        span_width = sum(widths[label.col : label.last_col + 1])
        lines = text_lines(label.text, span_width)
        rows = label.last_row - label.row + 1
        need = 15.0 * math.ceil(lines / rows)
        if need > tl.row_heights.get(label.row, 15.0):
            tl.row_heights[label.row] = need
    return tl


def _place_column_header(
    tl: TableLayout, node: Header, row: int, col: int, level: int, depth: int
) -> int:
    """Place ``node`` at (row, col); return the column after it."""
    width = sum(leaf.span for _, leaf in node.leaves())
    last_row = row if node.children else row + depth - level - 1
    if node.label is not None:
        tl.labels.append(Label(row, col, last_row, col + width - 1, node.label, "header"))
    child_col = col
    for child in node.children:
        child_col = _place_column_header(tl, child, row + 1, child_col, level + 1, depth)
    return col + width


def _place_rows(tl: TableLayout, table: Table, block: Block, bi: int, row: int, spec: Spec) -> int:
    stub = block.stub_width

    def place(node: Header, r: int, level: int) -> int:
        n = sum(1 for _ in node.leaves())
        if node.label is not None:
            last_col = level if node.children else stub - 1
            tl.labels.append(Label(r, level, r + n - 1, last_col, node.label, "stub"))
        child_row = r
        for child in node.children:
            child_row = place(child, child_row, level + 1)
        return r + n

    r = row
    for top in block.rows:
        r = place(top, r, 0)
    leaves = block.column_leaves()
    by_pos = {
        (d.row, d.col): d.id
        for d in spec.datapoints.values()
        if d.table == table.id and d.block == bi
    }
    for ri, _ in enumerate(block.row_leaves()):
        col = stub
        for ci, (_, leaf) in enumerate(leaves):
            dp_id = by_pos[(ri, ci)]
            last = col + leaf.span - 1
            tl.cells[dp_id] = Place(table.sheet, row + ri, col, last if leaf.span > 1 else None)
            col += leaf.span
    return row + len(block.row_leaves())


def _place_checks(tl: TableLayout, spec: Spec) -> None:
    """One check column per row-shown rule, one check row per column-shown rule."""
    next_row = tl.bottom + 2  # one blank row between the official table and the check rows
    for rule in spec.rules:
        mine = [i for i in rule.instances if i.at in tl.cells]
        if not mine:
            continue
        if rule.show == "row":
            col = tl.width + len(tl.check_cols)
            tl.check_cols[rule.code] = col
            for inst in mine:
                tl.checks[inst.key] = Place(tl.sheet, tl.cells[inst.at].row, col)
        else:
            tl.check_rows[rule.code] = next_row
            for inst in mine:
                tl.checks[inst.key] = Place(tl.sheet, next_row, tl.cells[inst.at].col)
            next_row += 1


def _column_widths(table: Table) -> list[float]:
    block0 = table.blocks[0]
    stub = block0.stub_width
    widths = [DATA_COL_WIDTH] * table.width
    if stub:
        # The deepest stub column holds the long leaf labels; the others hold short group labels
        # that span many rows, so they stay narrow and wrap.
        for level in range(stub):
            widths[level] = 10.0 if level < stub - 1 else 44.0
        if stub == 1:
            widths[0] = 24.0
    return widths


_LAYOUTS: dict[str, WorkbookLayout] = {}


def build(spec: Spec) -> WorkbookLayout:
    """The layout of the workbook for ``spec``: cached per spec hash in the process, and kept
    in the user's cache folder across processes (``spec.cached``: placing every label, cell and
    check took three times as long as loading them, ~12 M instructions, in every one-file
    ``wbtools check`` and ``import``). The key holds the spec's hash and the code that places."""
    if spec.hash in _LAYOUTS:
        return _LAYOUTS[spec.hash]
    from . import spec as spec_module

    ids = [t.id for t in spec.tables]
    parts = [spec.hash.encode()]
    parts += spec_module.code_parts("layout.py", "spec.py", "normalise.py", "rules.py")
    tables, places = spec_module.cached(
        "layout",
        parts,
        lambda: _placed(spec),
        lambda v: type(v) is tuple and len(v) == 2 and list(v[0]) == ids,
    )
    for table in spec.tables:
        tables[table.id].table = table  # the spec's own (an entry holds equal copies)
    layout = WorkbookLayout(spec, tables, places)
    _LAYOUTS[spec.hash] = layout
    return layout


def _placed(spec: Spec) -> tuple[dict[str, TableLayout], dict[str, Place]]:
    """The table sheets' layouts and every place by key, as ``build`` keeps them."""
    tables = {t.id: _layout_table(t, spec) for t in spec.tables}
    places: dict[str, Place] = {}
    for tl in tables.values():
        places.update(tl.cells)
        places.update({f"check.{k}": p for k, p in tl.checks.items()})
    for i, f in enumerate(spec.info):
        places[f"info.{f.id}"] = Place(INFO_SHEET, INFO_FIRST_ROW + i, 1)
    row = NARRATIVE_FIRST_ROW
    for section in spec.sections:
        if not section.fields:
            continue
        row += 1  # the section heading row
        for f in section.fields:
            places[f.id] = Place(NARRATIVE_SHEET, row, 1)
            row += 1
    return tables, places
