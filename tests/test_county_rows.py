"""The county workbook writes whole rows at once (``_Streamed.write_cells_row``) instead of a
call per cell: every sheet must be byte for byte what the per-cell calls write."""

from __future__ import annotations

import zipfile
from pathlib import Path

import xlsxwriter

from workbook_tools import county, merge, roster
from workbook_tools import spec as spec_module

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

VALUES = [
    "青禾县城关镇",
    "",
    " leading",
    "trailing ",
    "tab\tinside",
    "a\x01b\x1fc",
    "_x0041_ literal",
    "<r>not rich</r>",
    "&<>\"' all",
    "\udcc4\udce3.xlsx",  # a GBK file name kept as surrogates
    "x" * 20_000,  # over half of Excel's limit: cut by xlsxwriter's own rules
    0,
    1,
    -1,
    0.1,
    -0.0,
    1e20,
    1.5e-9,
    123456789012345678,
    True,
    3.141592653589793,
    float("inf"),
]


def _sheet(folder: Path, whole_rows: bool, rows: dict, setup: dict) -> bytes:
    path = folder / f"{whole_rows}.xlsx"
    book = xlsxwriter.Workbook(path, {"constant_memory": True, "nan_inf_to_errors": True})
    assert book.constant_memory  # rows go out one at a time, as in the county workbook
    ws = book.add_worksheet("s", worksheet_class=county._Streamed)
    bold, grey = book.add_format({"bold": True}), book.add_format({"bg_color": "#EEEEEE"})
    ws.set_column(0, 3, 20, grey if setup.get("column_format") else None)
    for r, options in setup.get("rows", {}).items():
        ws.set_row(r, options.get("height"), options.get("format") and bold, options)
    if setup.get("default_height"):
        ws.set_default_row(18)
    ws.write_string(0, 0, "head", bold)
    cells = county._Rows()
    for r, line in rows.items():
        for c, (kind, value, fmt) in line.items():
            cells.put(r, c, kind, value, {"bold": bold, "grey": grey}.get(fmt))
    if not whole_rows:
        ws.write_cells_row = lambda row, line, figures=None: False  # the per-cell calls only
    cells.write(ws)
    ws.write_string(max(rows) + 3, 1, "after")
    book.close()
    with zipfile.ZipFile(path) as zf:
        return zf.read("xl/worksheets/sheet1.xml")


def test_whole_rows_are_the_xml_of_the_per_cell_calls(tmp_path):
    rows = {
        2: {c: ("text" if isinstance(v, str) else "number", v, None) for c, v in enumerate(VALUES)}
    }
    for i, v in enumerate(VALUES):  # each alone, plain, bold and grey; blanks beside
        kind = "text" if isinstance(v, str) else "number"
        rows[3 + i] = {i: (kind, v, None), i + 1: (kind, v, "bold"), 40: ("blank", None, "grey")}
    rows[40] = {0: ("blank", None, None), 5: ("blank", None, "bold")}  # a blank with no format
    rows[41] = {0: ("blank", None, None)}  # nothing to write at all
    rows[42] = {0: ("formula", "=1+1", "bold"), 1: ("number", 2, None)}
    rows[44] = {c * 7 % 300: ("number", c / 3, "grey" if c % 2 else None) for c in range(1, 250)}
    rows[45] = {16383: ("number", 1, None)}
    setups = [
        {},
        {"column_format": True},
        {"default_height": True},
        {"rows": {3: {"height": 30}, 4: {"hidden": True}, 41: {"height": 20}, 43: {"height": 9}}},
        {"rows": {5: {"format": True}, 6: {"level": 1}}},
    ]
    for setup in setups:
        assert _sheet(tmp_path, True, rows, setup) == _sheet(tmp_path, False, rows, setup), setup


def test_the_county_workbook_is_the_same_either_way(tmp_path, spec21, monkeypatch):
    # the workbook names when it was made (汇总说明, _meta): pin the clock so only rows differ
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    units = roster.read(SAMPLES / "roster.csv")
    files = sorted((SAMPLES / "returned/2025").glob("*.xlsx"))
    result = merge.merge(files, spec_module.load(), units, name="青禾县", jobs=1)
    fast = county.write(result, tmp_path / "fast.xlsx")
    monkeypatch.setattr(county._Streamed, "_open", lambda self, row: False)  # no row whole
    slow = county.write(result, tmp_path / "slow.xlsx")
    result.close()
    with zipfile.ZipFile(fast) as a, zipfile.ZipFile(slow) as b:
        sheets = [n for n in a.namelist() if n.startswith("xl/worksheets/sheet")]
        assert len(sheets) >= 10 and sheets == [n for n in b.namelist() if n in sheets]
        differ = [n for n in sheets if a.read(n) != b.read(n)]
    assert differ == []


FIGURES = [0.0, 1.0, 3.0, float("nan"), -0.0, 0.1, 1e20, 1.5e-9, 123456.75, float("nan"), 7.0]


def _figures_sheet(folder: Path, whole_rows: bool, runs: dict) -> bytes:
    """Rows of 分单位明细's shape: 序号 and a name, then a run of figures (NaN: blank)."""
    path = folder / f"figures{whole_rows}.xlsx"
    book = xlsxwriter.Workbook(path, {"constant_memory": True})
    ws = book.add_worksheet("s", worksheet_class=county._Streamed)
    num, name = book.add_format({"border": 1}), book.add_format({"italic": True})
    ws.set_row(4, 30)
    for row, (start, numbers) in runs.items():
        lead = [(0, "number", row, num), (1, "text", f"单位 {row} ", name)]
        if whole_rows:
            assert ws.write_cells_row(row, lead, (start, numbers, num)) == (row != 9)
            if row != 9:
                continue
        ws.write_number(row, 0, row, num)
        ws.write_string(row, 1, f"单位 {row} ", name)
        for j, v in enumerate(numbers, start=start):
            if v == v:
                ws.write_number(row, j, v, num)
            else:
                ws.write_blank(row, j, None, num)
    book.close()
    with zipfile.ZipFile(path) as zf:
        return zf.read("xl/worksheets/sheet1.xml")


def test_a_run_of_figures_is_the_xml_of_the_per_cell_calls(tmp_path):
    runs = {
        3: (2, FIGURES),
        4: (2, FIGURES[::-1]),  # a row with its own height
        5: (2, [float("nan")] * 21),  # all blank
        6: (30, FIGURES),  # past column Z
        7: (700, FIGURES[:3]),  # three-letter columns
        9: (2, [1.0, float("inf")]),  # not a number xlsxwriter writes: the per-cell calls
    }
    with_inf = {k: v for k, v in runs.items() if k != 9}
    assert _figures_sheet(tmp_path, True, with_inf) == _figures_sheet(tmp_path, False, with_inf)
    try:
        _figures_sheet(tmp_path, True, runs)
    except TypeError:  # xlsxwriter refuses inf without nan_inf_to_errors, as before
        pass
    else:
        raise AssertionError("inf must reach xlsxwriter's own call")


def test_per_file_sheets_keep_no_record_per_row(tmp_path):
    """A sheet with a row per file forgets each row's height once the row is out, whether it
    went out whole or cell by cell, and keeps its merged ranges as plain integers."""
    book = xlsxwriter.Workbook(tmp_path / "rows.xlsx", {"constant_memory": True})
    ws = book.add_worksheet("s", worksheet_class=county._Streamed)
    ws.forget_rows = True
    fmt = book.add_format({"border": 1})
    for row in range(1, 2001):
        ws.set_row(row, 30)
        if row % 2:
            assert ws.write_cells_row(row, [(0, "number", row, fmt), (1, "text", "名称", fmt)])
        else:
            ws.write_number(row, 0, row, fmt)
            ws.write_string(row, 1, "名称", fmt)
        ws.add_merge(row, 1, row, 3)
    assert len(ws.row_info) <= 2 and len(ws.row_sizes) <= 2
    assert len(ws.merge) == 2000 and list(ws.merge)[-1] == [2000, 1, 2000, 3]
    book.close()
    with zipfile.ZipFile(tmp_path / "rows.xlsx") as zf:
        xml = zf.read("xl/worksheets/sheet1.xml").decode()
    assert xml.count('customHeight="1"') == 2000  # every height was still written
    assert '<mergeCells count="2000">' in xml and '<mergeCell ref="B2000:D2000"/>' in xml


def _odd_files(spec, folder: Path) -> list[Path]:
    """Files beside the samples that make the prepared rows work: texts with control
    characters, line breaks, leading spaces, markup and one longer than half of Excel's limit (which
    xlsxwriter's own call must cut), a unit named like rich text, a GBK file name kept as
    surrogates, and a file that is no workbook at all."""
    import os
    import random

    from workbook_tools import synth, template
    from workbook_tools.roster import Unit

    odd = [
        " 开头有空格\n第二行\t制表符\x01控制符 & <b>标记</b>",
        "<r>看似富文本</r>",
        "很长的一段文字。" * 2200,  # 17,600 characters
        "",
    ]
    out = []
    for i, (name, text) in enumerate(
        [("青禾县测试局", odd[0]), ("<r>青禾县</r>", odd[1]), ("青禾县长文局", odd[2])]
    ):
        rng = random.Random(i)
        values = spec.compute(synth.consistent_values(spec, rng, "部门"))
        # the first file's texts can be made where it is read; each other has one that cannot
        texts = {f.id: odd[j % 2 * 3] if i == 0 or j else text for j, f in enumerate(spec.fields)}
        target = folder / (os.fsdecode(b"\xc4\xe3%d.xlsx" % i) if i == 0 else f"odd{i}.xlsx")
        target.write_bytes(
            template.render(spec, Unit(name, f"9{i:02d}", "部门"), 2025, values=values, texts=texts)
        )
        out.append(target)
    broken = folder / "坏文件.xlsx"
    broken.write_bytes(b"PK\x03\x04 not a workbook")
    return [*out, broken]


def test_rows_made_where_files_are_read_are_the_rows_the_writer_makes(
    tmp_path, spec21, monkeypatch
):
    """merge(render=county.prepare) makes each file's rows of 分单位明细, 问题清单 and 各单位文字
    in the worker that read it; the writer only puts in row numbers and formats. The workbook
    must be what the writer makes on its own, part for part, in one process or two, in both
    languages, and where the prepared rows cannot be used (every row written cell by cell)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    spec = spec_module.load()
    units = roster.read(SAMPLES / "roster.csv")
    files = sorted((SAMPLES / "returned/2025").glob("*.xlsx")) + _odd_files(spec, tmp_path)
    assert len(files) >= 16  # enough for the pool (check.BATCH)

    def parts(render, jobs: int, lang: str) -> dict[str, bytes]:
        result = merge.merge(files, spec, units, name="青禾县", jobs=jobs, render=render)
        try:
            out = county.write(result, tmp_path / f"{lang}{jobs}{render is None}.xlsx", lang)
        finally:
            result.close()
        with zipfile.ZipFile(out) as zf:
            return {n: zf.read(n) for n in zf.namelist()}

    alone = {lang: parts(None, 1, lang) for lang in ("zh", "en")}
    texts = alone["zh"]["xl/worksheets/sheet11.xml"].decode()
    assert "_x0001_" in texts and "很长的一段文字" in texts  # the odd texts are in it
    assert parts(county.prepare, 1, "zh") == alone["zh"]
    assert parts(county.prepare, 2, "zh") == alone["zh"]
    assert parts(county.prepare, 2, "en") == alone["en"]
    monkeypatch.setattr(county._Streamed, "_open", lambda self, row: False)  # no row whole
    assert parts(county.prepare, 1, "en") == alone["en"]


def test_rows_written_together_are_the_rows_written_one_by_one(tmp_path):
    def sheet(together: bool, default_height: bool) -> bytes:
        path = tmp_path / f"rows{together}{default_height}.xlsx"
        book = xlsxwriter.Workbook(path, {"constant_memory": True})
        ws = book.add_worksheet("s", worksheet_class=county._Streamed)
        ws.forget_rows = True
        fmt = book.add_format({"border": 1})
        if default_height:
            ws.set_default_row(18)
        ws.write_string(0, 0, "head", fmt)
        rows = []
        for row in range(2, 40):
            if row % 5 == 0:
                ws.set_row(row, 30)
            if row % 7 == 0:
                ws.set_row(row, None, None, {"hidden": True})
            cells = [(0, "number", row, fmt), (1, "text", f"单位{row} & <x>", fmt)]
            rows.append((row, ws.render_cells(cells, False, figures=(2, [row / 3, 0.0], fmt))[0]))
        if together:
            assert ws.write_rendered_rows(rows, 0, 3)
        else:
            for row, xml in rows:
                assert ws.write_rendered(row, (xml, 0, 3))
        assert len(ws.row_info) <= 2
        ws.write_string(41, 1, "after")
        book.close()
        with zipfile.ZipFile(path) as zf:
            return zf.read("xl/worksheets/sheet1.xml")

    for default_height in (False, True):
        assert sheet(True, default_height) == sheet(False, default_height)


def test_merged_ranges_are_written_as_xlsxwriter_writes_them():
    """``_Streamed`` writes ``<mergeCells>`` from its array of ranges in a few large writes:
    the XML of xlsxwriter's own call per range (more ranges than one write takes, columns past
    Z and ZZ, the last column and row Excel has)."""
    import io

    from xlsxwriter.worksheet import Worksheet

    ws = county._Streamed()
    ranges = [(r, r % 900, r + r % 3, r % 900 + r % 5) for r in range(9000)]
    ranges += [(0, 0, 0, 0), (1_048_575, 16_383, 1_048_575, 16_383)]
    for merged in ranges:
        ws.add_merge(*merged)
    ws.fh = io.StringIO()
    ws._write_merge_cells()
    ours = ws.fh.getvalue()
    ws.fh, ws.merge = io.StringIO(), [list(m) for m in ranges]
    Worksheet._write_merge_cells(ws)
    assert ours == ws.fh.getvalue() and ours.count("<mergeCell ") == len(ranges)
    ws.fh, ws.merge = io.StringIO(), county._Merges()
    ws._write_merge_cells()
    assert ws.fh.getvalue() == ""  # no ranges: no element, as xlsxwriter
