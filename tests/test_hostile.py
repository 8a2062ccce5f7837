"""Hostile and broken input: every attack through every command that reads that kind of input, in
a child process under memory and CPU limits (see tests/hostile.py): no traceback, no abort, no
hang, the documented exit code and finding, the inputs byte-identical afterwards."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests import hostile
from tests import workbooks as wb
from workbook_tools import check, intake, reader, workers

# --- a workbook whose real extent is huge -----------------------------------------------------


def test_one_far_cell_is_refused_before_any_dense_read(tmp_path, spec21):
    """One cell at XFD1048576 in a few KB made python-calamine allocate 512 GiB and abort the
    process, for check, merge, --previous and .xlsx rosters alike."""
    bad = wb.write(tmp_path, hostile.far_cell(spec21), "bad.xlsx")
    good = wb.write(tmp_path, wb.render(spec21), "good.xlsx")
    roster = wb.write(tmp_path, hostile.far_roster(), "roster.xlsx")
    inputs = hostile.digest([bad, good, roster])

    result = hostile.wbtools("check", bad, good)
    hostile.assert_clean(result, (1,), "F108")
    assert "XFD1048576" in result.out and "good.xlsx" in result.out

    result = hostile.wbtools("merge", bad, good, "-o", tmp_path / "county.xlsx")
    hostile.assert_clean(result, (1, 2), "F108")

    result = hostile.wbtools("check", good, "--previous", bad)
    hostile.assert_clean(result, (0, 1))

    result = hostile.wbtools("merge", good, "--roster", roster, "-o", tmp_path / "c2.xlsx")
    hostile.assert_clean(result, (2,), "U101")
    assert hostile.digest([bad, good, roster]) == inputs


@pytest.mark.parametrize("ref", ["ZZ200000", "AMK3000"])
def test_far_cells_cost_no_memory(tmp_path, spec21, ref):
    """A cell at ZZ200000 cost 4.3 GB before F108; under the bound (AMK = 1,025 columns) it is
    refused just the same, from the XML."""
    path = wb.write(tmp_path, hostile.far_cell(spec21, ref))
    filing = reader.read(path, spec21)
    assert not filing.readable
    assert [f.code for f in filing.findings if f.code.startswith("F")] == ["F108"]


def test_many_sparse_sheets_share_one_budget(tmp_path, spec21):
    """40 sheets of one cell each at ALL2000 (2 million cells apiece, 13 KB in all) cost 1 GB; the
    sheets a report does not need are not read, and those read share one cell budget."""
    path = wb.write(tmp_path, hostile.sparse_sheets(spec21, 40))
    filing = reader.read(path, spec21)
    assert filing.readable  # the template's own sheets are all there: the extras are not read
    assert not [f for f in filing.findings if f.code.startswith("F")]
    # Without the template's metadata the tables are searched for in every sheet: the budget.
    bare = wb.set_meta(hostile.sparse_sheets(spec21, 40), "format_id", "")
    bare_path = wb.write(tmp_path, bare, "bare.xlsx")
    result = hostile.wbtools("check", bare_path)
    hostile.assert_clean(result, (1, 2))


def test_too_many_sheets_is_refused(tmp_path, spec21):
    path = wb.write(tmp_path, hostile.sparse_sheets(spec21, intake.MAX_SHEETS, "A2"))
    filing = reader.read(path, spec21)
    assert "F106" in [f.code for f in filing.findings]


def test_cells_without_references_are_placed_as_readers_place_them():
    xml = (
        b'<worksheet><sheetData><row r="3"><c><v>1</v></c><c/><c t="s"><v>0</v></c></row>'
        b'<row><c r="B9"><v>2</v></c></row></sheetData></worksheet>'
    )
    assert intake._xlsx_extent(xml) == (9, 3)
    styled_blank_far_away = b'<sheetData><row r="1"><c r="A1"><v>1</v></c><c r="XFD1" s="2"/></row>'
    assert intake._xlsx_extent(styled_blank_far_away) == (1, 1)


def test_ods_tables_are_bounded_before_calamine_opens_them():
    xml = (
        b'<table:table table:name="s"><table:table-row><table:table-cell office:value-type="string">'
        b"<text:p>x</text:p></table:table-cell><table:table-cell table:number-columns-repeated="
        b'"16383"/></table:table-row><table:table-row table:number-rows-repeated="1048574">'
        b'<table:table-cell table:number-columns-repeated="16384"/></table:table-row>'
        b'<table:table-row><table:table-cell table:number-columns-repeated="16383"/>'
        b'<table:table-cell office:value-type="float" office:value="1"/></table:table-row>'
        b"</table:table>"
    )
    assert intake._ods_extents(xml) == {"s": (1048576, 16384)}


@pytest.mark.libreoffice
@pytest.mark.parametrize("suffix", ["ods", "xls"])
def test_far_cell_in_ods_and_xls(tmp_path, spec21, soffice, suffix):
    """calamine parses every table of an .ods on open (one far cell: a 'cell limit' error at 100
    million cells, 3 GB below it), and a .xls sheet with a cell at IV65536 cost 1 GB."""
    import xlsxwriter

    from workbook_tools import office

    src = tmp_path / "far.xlsx"
    book = xlsxwriter.Workbook(str(src))
    sheet = book.add_worksheet("s")
    sheet.write("A1", "x")
    sheet.write("IV65536" if suffix == "xls" else "XFD1048576", 1)
    book.close()
    converted = office.convert(src, suffix, tmp_path / "out")
    result = hostile.wbtools("check", converted)
    hostile.assert_clean(result, (2,), "F108")


# --- a worker that dies -------------------------------------------------------------------------


def _die_on_seven(n: int) -> int:
    if n == 7:
        os.kill(os.getpid(), signal.SIGKILL)
    return n * 10


def test_a_dying_worker_costs_only_its_own_item():
    """A worker killed mid-batch broke the whole pool (BrokenProcessPool traceback, no report for
    any file): now the other items still get results and the dead one its own outcome."""
    out = list(workers.ordered_map(_die_on_seven, list(range(60)), 2, lambda n, why: why, 4))
    assert out[:7] == [n * 10 for n in range(7)]
    assert out[7] == "signal SIGKILL"
    assert out[8:] == [n * 10 for n in range(8, 60)]


def test_the_last_tasks_are_smaller_where_the_count_is_known():
    """With the number of items known (merge's list of files), the tasks shrink towards the
    end, so the workers finish together; the results are the same, in order, a dying worker
    costing only its own item."""
    sizes = list(itertools.islice(workers.chunk_sizes(16, 2, 200), 16))
    assert sum(sizes) == 200 and sizes[:11] == [16] * 11 and sizes[-1] == 1
    assert sizes[11:] == sorted(sizes[11:], reverse=True) and max(sizes[12:]) <= 6
    assert list(itertools.islice(workers.chunk_sizes(16, 2), 3)) == [16, 16, 16]  # not known
    out = list(workers.ordered_map(_die_on_seven, list(range(60)), 2, lambda n, why: why, 16, 60))
    assert out == [n * 10 for n in range(7)] + ["signal SIGKILL"] + [n * 10 for n in range(8, 60)]


def test_a_dead_reader_is_reported_as_f112(tmp_path):
    report = check._died((str(tmp_path / "x.xlsx"), None, None), "signal SIGABRT")
    assert [f.code for f in report.findings] == ["F112"]
    assert not report.readable


def test_workers_die_with_their_parent(tmp_path):
    """kill -9 of a parallel run left its workers alive and blocked."""
    script = textwrap.dedent(
        """
        import os, sys, time
        from workbook_tools import workers
        pool = workers.pool(2)
        pids = set()
        while len(pids) < 2:
            pids |= {pool.submit(os.getpid).result() for _ in range(8)}
        print(" ".join(map(str, pids)), flush=True)
        pool.submit(time.sleep, 60)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pids = [int(p) for p in parent.stdout.readline().split()]
    assert len(pids) == 2
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in pids if _alive(p)]
    assert not alive, f"workers {alive} outlived their parent"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# --- paths that are not files -------------------------------------------------------------------


def test_pipes_and_devices_are_named_not_read(tmp_path, spec21):
    """A named pipe as a workbook was “file does not exist”; as a roster or spec it hung, and
    /dev/zero read forever."""
    fifo = tmp_path / "pipe.xlsx"
    os.mkfifo(fifo)
    result = hostile.wbtools("check", fifo, timeout=30)
    hostile.assert_clean(result, (2,), "F113")
    assert "命名管道" in result.out
    good = wb.write(tmp_path, wb.render(spec21), "good.xlsx")
    csv_fifo = tmp_path / "roster.csv"
    os.mkfifo(csv_fifo)
    for roster in (csv_fifo, "/dev/zero"):
        result = hostile.wbtools("merge", good, "--roster", roster, "-o", tmp_path / "c.xlsx")
        hostile.assert_clean(result, (2,), "U101")
    result = hostile.wbtools("template", "--roster", "/dev/zero", "-y", 2025, "-o", tmp_path / "t")
    hostile.assert_clean(result, (2,), "U101")
    assert not (tmp_path / "c.xlsx").exists() and not (tmp_path / "t").exists()


# --- published reports: size, unpacked size, nesting ----------------------------------------------


def test_published_report_bombs_are_bounded(tmp_path, spec21):
    """A .docx inflating to 40 MB of paragraphs ran for minutes at GBs; 100,000 nested <div>s
    never finished; /dev/zero and a named pipe as a report read forever or hung. Each is now a
    finding from the shared intake, in `import` and as `check --previous`."""
    bomb = tmp_path / "bomb.docx"
    bomb.write_bytes(hostile.docx_bomb())
    nested = tmp_path / "nested.html"
    nested.write_bytes(hostile.nested_html())
    pipe = tmp_path / "pipe.txt"
    os.mkfifo(pipe)
    good = wb.write(tmp_path, wb.render(spec21), "good.xlsx")
    inputs = hostile.digest([bomb, nested, good])
    for report, code in ((bomb, "F106"), (nested, "F106"), (pipe, "F113")):
        result = hostile.wbtools("import", report, "-o", tmp_path / "x.xlsx", timeout=60)
        hostile.assert_clean(result, (2,), code)
        result = hostile.wbtools("check", good, "--previous", report, timeout=60)
        hostile.assert_clean(result, (0, 1))
    folder = tmp_path / "last"
    folder.mkdir()
    for p in (bomb, nested):
        (folder / p.name).write_bytes(p.read_bytes())
    result = hostile.wbtools("check", good, "--previous", folder, timeout=60)
    hostile.assert_clean(result, (0, 1))
    assert not (tmp_path / "x.xlsx").exists()
    assert hostile.digest([bomb, nested, good]) == inputs


# --- injection and display ----------------------------------------------------------------------

EVIL_TEXT = "=1+1\x1b[2J\x1b]0;pwned\x07<script>alert(1)</script>\n# 标题\n[链接](http://x.example)\u202e\x00"


def _evil_workbook(spec, tmp_path, name="=HYPERLINK(1).xlsx"):
    texts = dict(wb.TEXTS)
    texts["s1.overview"] = EVIL_TEXT
    data = wb.render(spec, texts=texts)
    data = wb.set_meta(data, "unit", "@SUM(1)\x1b[31m")
    data = wb.set_meta(data, "code", "-101")
    # A value cell whose text comes back in a V finding's message, escape sequences and all.
    from xlsxwriter.utility import xl_rowcol_to_cell

    from workbook_tools import layout

    table = spec.tables[0]
    dp = next(
        d for d in layout.build(spec).tables[table.id].cells if not spec.datapoints[d].computed
    )
    place = layout.build(spec).tables[table.id].cells[dp]
    cell = xl_rowcol_to_cell(place.row, place.col)
    data = wb.retype_text(data, table.sheet, cell, "5\x1b[2J\x9b31m\u202e件")
    return wb.write(tmp_path, data, name)


def test_no_formula_or_escape_reaches_csv_terminal_or_markdown(tmp_path, spec21):
    """merge --long wrote "=…" cells as they were; check printed escape sequences from cells;
    Markdown reports passed <script> and Markdown structure through; Word crashed on U+0000."""
    path = _evil_workbook(spec21, tmp_path)
    inputs = hostile.digest([path])
    result = hostile.wbtools("check", path)
    hostile.assert_clean(result, (0, 1))
    assert "\x1b" not in result.text and "\u202e" not in result.text
    result = hostile.wbtools("check", path, "-f", "json")
    assert "\x1b" not in result.out and "\u202e" not in result.out and "\x9b" not in result.out

    csv_out = tmp_path / "long.csv"
    county = tmp_path / "county.xlsx"
    result = hostile.wbtools("merge", path, "-o", county, "--long", csv_out, "--include-failing")
    hostile.assert_clean(result, (0, 1))
    import csv

    with csv_out.open(encoding="utf-8-sig", newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert any("HYPERLINK" in c for c in cells) and any("SUM(1)" in c for c in cells)
    assert not [c for c in cells if c.startswith(hostile.FORMULA_START)]

    for fmt in ("md", "html", "docx"):
        out = tmp_path / f"report.{fmt}"
        result = hostile.wbtools("report", path, "-o", out, "--allow-errors")
        hostile.assert_clean(result, (0, 1))
        assert out.exists(), result.text
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "<script>" not in md and "\n# 标题" not in md and "\n[链接](http" not in md
    assert "&lt;script&gt;" in md and "\\# 标题" in md and "\\[链接\\](http" in md
    assert "\u202e" not in md
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html
    import docx

    text = "\n".join(p.text for p in docx.Document(str(tmp_path / "report.docx")).paragraphs)
    assert "alert(1)" in text and "\x00" not in text and "\x1b" not in text
    assert hostile.digest([path]) == inputs


# --- rosters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rows, code",
    [
        ("=1+1,101,乡镇\n柳河镇,102,乡镇\n", "U110"),
        ("徐营镇,@SUM(1),乡镇\n", "U110"),
        ("徐营\u200b镇,101,乡镇\n徐营镇,102,乡镇\n", "U111"),
        ("徐营镇\u202e,101,乡镇\n", "U111"),
        ('"徐营镇,101,乡镇\n柳河镇,102,乡镇\n', "U112"),
    ],
)
def test_roster_refuses_formulas_invisible_characters_and_stray_quotes(tmp_path, rows, code):
    """Names like =1+1 passed the roster checks; a zero-width or right-to-left character made two
    units look the same; a stray quote silently merged the following rows into one unit."""
    roster = tmp_path / "roster.csv"
    roster.write_text("单位名称,单位代码,单位类型\n" + rows, encoding="utf-8")
    result = hostile.wbtools("template", "--roster", roster, "-y", 2025, "-o", tmp_path / "t")
    hostile.assert_clean(result, (2,), code)
    assert not (tmp_path / "t").exists()


def test_code_and_name_must_agree(tmp_path, spec21):
    """A roster unit was matched by code alone: another unit's file bearing the right code counted
    as that unit's return."""
    from workbook_tools import merge
    from workbook_tools.roster import Unit

    other = wb.render(spec21, unit=Unit("柳河镇", "101", "乡镇"))
    path = wb.write(tmp_path, other, "101_徐营镇_2024.xlsx")
    roster = [Unit("徐营镇", "101", "乡镇", 2), Unit("柳河镇", "102", "乡镇", 3)]
    result = merge.merge([path], spec21, roster=roster, jobs=1)
    sent = next(e for e in result.entries if e.path)
    assert sent.status == "outside" and not sent.included
    assert "101" in sent.reason[0] and "徐营镇" in sent.reason[0]
    assert sorted(e.unit for e in result.entries if e.status == "missing") == ["徐营镇", "柳河镇"]
    result.close()


# --- format specs -------------------------------------------------------------------------------


def _spec_variants() -> dict[str, tuple[str, str]]:
    from workbook_tools import spec as spec_module

    base = spec_module.bundled_path().read_text(encoding="utf-8")
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    return {
        "alias bomb": (bomb + base, "S101"),
        "recursive alias": ("loop: &l [*l]\n" + base, "S101"),
        "huge expansion": (
            base.replace(
                "each: {c: t3_columns}",
                "each: {c: t3_columns, a: t3_rows, b: t3_rows, d: t3_rows, e: t3_rows, f: t3_rows}",
                1,
            ),
            "S102",
        ),
        "format padding": (base.replace("为{left}", "为{left:>900000000}", 1), "S102"),
        "stray brace": (base.replace("为{left}", "为{left", 1), "S102"),
        "empty braces": (base.replace("为{left}", "为{}", 1), "S102"),
        "attribute access": (base.replace("为{left}", "为{left.__class__}", 1), "S102"),
        "reserved sheet": (base.replace("sheet: 表二 主动公开", "sheet: _meta", 1), "S102"),
    }


@pytest.mark.parametrize("case", list(_spec_variants()))
def test_spec_bombs_and_bad_templates_are_findings(tmp_path, case, spec21):
    """Alias bombs and recursive aliases (the hash ran over the whole document), rule expansions
    with huge products, format padding like {c:>900000000} and stray braces all ended in
    MemoryError, RecursionError or ValueError tracebacks, and a reserved sheet name crashed
    template/check later."""
    text, code = _spec_variants()[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    result = hostile.wbtools("spec", "--spec", path, timeout=60)
    hostile.assert_clean(result, (2,), code)
    good = wb.write(tmp_path, wb.render(spec21), "good.xlsx")
    result = hostile.wbtools("check", good, "--spec", path, timeout=60)
    hostile.assert_clean(result, (2,), code)


def test_spec_from_a_pipe_or_device(tmp_path):
    pipe = tmp_path / "spec.yaml"
    os.mkfifo(pipe)
    for source in (pipe, "/dev/zero"):
        result = hostile.wbtools("spec", "--spec", source, timeout=30)
        hostile.assert_clean(result, (2,), "S101")


# --- inputs are never overwritten -----------------------------------------------------------------


def test_previous_files_are_inputs_too(tmp_path, spec21):
    """`merge -o` and `check --annotate` could overwrite last year's files given with --previous."""
    from workbook_tools import annotate

    this = wb.write(tmp_path, wb.render(spec21, year=2025), "this.xlsx")
    last_dir = tmp_path / "last"
    last_dir.mkdir()
    last = wb.write(last_dir, wb.render(spec21), "last.xlsx")
    inputs = hostile.digest([this, last_dir])
    result = hostile.wbtools("merge", this, "--previous", last_dir, "-o", last)
    hostile.assert_clean(result, (2,), "O101")
    # A feedback workbook named like last year's file, in last year's folder.
    feedback = last_dir / f"this{annotate.SUFFIX['zh']}.xlsx"
    feedback.write_bytes(last.read_bytes())
    inputs = hostile.digest([this, last_dir])
    result = hostile.wbtools("check", this, "--previous", last_dir, "--annotate", last_dir)
    # (the feedback takes a free name: the run goes on, last year's files stay as they were)
    hostile.assert_clean(result, (0, 1))
    written = last_dir / f"this{annotate.SUFFIX['zh']} (2).xlsx"
    assert written.exists()
    written.unlink()
    assert hostile.digest([this, last_dir]) == inputs


# --- property: random bytes and random mutations to every reader ----------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@pytest.fixture(scope="module")
def valid_inputs(spec21, tmp_path_factory):
    """A valid workbook, a published report (Markdown, from that workbook) and a roster."""
    from workbook_tools import report

    folder = tmp_path_factory.mktemp("valid")
    book = wb.write(folder, wb.render(spec21), "valid.xlsx")
    md = report.render(report.build(reader.read(book, spec21)), "md")
    roster = "单位名称,单位代码,单位类型\n徐营镇,101,乡镇\n柳河镇,102,乡镇\n".encode()
    return {".xlsx": book.read_bytes(), ".md": md, ".csv": roster}


def _mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for pos, byte in edits:
        if out:
            out[pos % len(out)] = byte
    return bytes(out)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    kind=st.sampled_from([".xlsx", ".md", ".csv"]),
    random_bytes=st.one_of(st.none(), st.binary(max_size=2048)),
    edits=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=12),
    cut=st.one_of(st.none(), st.integers(0, 1 << 20)),
)
def test_readers_never_raise_on_random_or_mutated_input(
    tmp_path_factory, spec21, valid_inputs, kind, random_bytes, edits, cut
):
    """Random bytes, and a valid workbook, report or roster with bytes changed or cut short: each
    reader returns findings (or, for a roster, a Failure carrying them) and never raises."""
    from workbook_tools import importer, roster
    from workbook_tools.findings import Failure

    data = random_bytes if random_bytes is not None else _mutate(valid_inputs[kind], edits)
    if cut is not None and data:
        data = data[: cut % (len(data) + 1)]
    path = tmp_path_factory.mktemp("prop") / f"input{kind}"
    path.write_bytes(data)
    if kind == ".xlsx":
        filing = reader.read(path, spec21)
        assert filing.readable or filing.findings
        check.check_file(path, spec21)
    elif kind == ".md":
        importer.read(path, spec21)
    else:
        try:
            roster.read(path)
        except Failure as failure:
            assert failure.findings
    assert path.read_bytes() == data


# --- outputs: never replaced without --force, workers tied to the run ------------------------------


def test_template_and_import_do_not_replace_a_workbook_without_force(tmp_path, spec21, shared_dir):
    """`template -o` and `import -o` silently replaced an existing workbook (often a returned one
    in the same folder)."""
    returned = wb.write(tmp_path, wb.render(spec21), "徐营镇.xlsx")
    before = returned.read_bytes()
    published = shared_dir / "examples/published/xuying-2024.txt"
    for args in (
        ("template", "-u", "徐营镇", "-y", 2024, "-o", returned),
        ("import", published, "-o", returned),
    ):
        result = hostile.wbtools(*args)
        hostile.assert_clean(result, (2,), "O104")
        assert returned.read_bytes() == before
        result = hostile.wbtools(*args, "--force")
        hostile.assert_clean(result, (0, 1))
        assert returned.read_bytes() != before
        returned.write_bytes(before)


def test_template_workers_die_with_their_parent(tmp_path):
    """The template writer used a plain ProcessPoolExecutor: kill -9 of a roster run left its
    workers alive."""
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from pathlib import Path
        from workbook_tools import spec, roster
        from workbook_tools.template import writer
        units = [roster.make_unit(f"单位{{i}}", str(100 + i), "乡镇") for i in range(200)]

        def progress(path):
            me = os.getpid()
            with open(f"/proc/{{me}}/task/{{me}}/children") as fh:
                print(fh.read().strip(), flush=True)
            os.kill(me, signal.SIGKILL)

        writer.write_roster(spec.load(None), units, 2025, Path({str(tmp_path / "t")!r}),
                            jobs=2, progress=progress)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pids = [int(p) for p in parent.stdout.readline().split()]
    parent.wait()
    assert pids
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in pids if _alive(p)]
    for pid in alive:  # do not leave them behind the failing test
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"workers {alive} outlived their parent"


# --- numbers beyond float ---------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["1E+309", "-1E+309", "NaN"])
def test_infinite_and_nan_cells_are_findings_not_crashes(tmp_path, spec21, number):
    """A numeric cell holding 1E+309 (read as inf) or NaN crashed `check --annotate` (xlsxwriter:
    "NAN/INF not supported in write_number()"); inf was even accepted as an amount."""
    from xlsxwriter.utility import xl_rowcol_to_cell

    from workbook_tools import layout

    data = wb.render(spec21)
    for table in spec21.tables:
        cells = layout.build(spec21).tables[table.id].cells
        for dp in [d for d in cells if not spec21.datapoints[d].computed][:1]:
            ref = xl_rowcol_to_cell(cells[dp].row, cells[dp].col)
            data = wb.replace_cell(
                data, table.sheet, ref, f'<c r="{{r}}" s="{{s}}"><v>{number}</v></c>'
            )
    path = wb.write(tmp_path, data)
    inputs = hostile.digest([path])
    result = hostile.wbtools("check", path, "--annotate", tmp_path / "fb")
    hostile.assert_clean(result, (1,), "R5")
    (feedback,) = (tmp_path / "fb").glob("*.xlsx")
    assert check.check_file(feedback, spec21).readable
    assert hostile.digest([path]) == inputs


def test_a_400_digit_fee_in_a_published_report(tmp_path, shared_dir):
    """float('9' * 400) is inf: the fee passed every rule and crashed the workbook writer."""
    lines = (shared_dir / "examples/published/xuying-2024.txt").read_text("utf-8").split("\n")
    at = next(i for i, line in enumerate(lines) if line.strip() == "行政事业性收费")
    at = next(i for i in range(at + 1, len(lines)) if lines[i].strip())
    lines[at] = "\t" + "9" * 400
    src = tmp_path / "fee.txt"
    src.write_text("\n".join(lines), encoding="utf-8")
    result = hostile.wbtools("import", src, "-o", tmp_path / "fee.xlsx")
    hostile.assert_clean(result, (1,), "R5")
    assert (tmp_path / "fee.xlsx").exists()


# --- file names that are not UTF-8 ------------------------------------------------------------------


def test_gbk_and_undecodable_file_names(tmp_path, spec21):
    """Names unpacked from a zip made on Chinese Windows are GBK bytes (surrogates in Python):
    `check` called such a file “No such file” (python-calamine turns the name into UTF-8) and
    `merge` crashed writing the name (UnicodeEncodeError)."""
    folder = tmp_path / "returned"
    folder.mkdir()
    gbk = os.fsencode(folder) + b"/" + "徐营镇2024".encode("gbk") + b".xlsx"
    with open(gbk, "wb") as fh:
        fh.write(wb.render(spec21))
    other = os.fsencode(folder) + b"/\xff\xfe.xlsx"
    with open(other, "wb") as fh:
        fh.write(wb.render(spec21, unit=wb.Unit("甲镇", "102", "乡镇")))
    inputs = hostile.digest([folder])
    result = hostile.wbtools("check", os.fsdecode(gbk))
    hostile.assert_clean(result, (0,))
    result = hostile.wbtools("check", folder, "--annotate", tmp_path / "fb")
    hostile.assert_clean(result, (0,))
    assert len(list((tmp_path / "fb").iterdir())) == 2
    county, long = tmp_path / "county.xlsx", tmp_path / "long.csv"
    result = hostile.wbtools("merge", folder, "-o", county, "--long", long)
    hostile.assert_clean(result, (0,))
    assert "2 " in result.out or "2，" in result.out or "通过 2" in result.out
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(county))
    cells = {
        str(v)
        for name in book.sheet_names
        for row in book.get_sheet_by_name(name).to_python()
        for v in row
    }
    assert "徐营镇2024.xlsx" in cells  # the GBK name shown as the name it is
    assert "徐营镇2024.xlsx" in long.read_text("utf-8-sig")
    assert hostile.digest([folder]) == inputs


# --- outputs that cannot be written ---------------------------------------------------------------


def _leftovers(folder) -> list[str]:
    return [p.name for p in Path(folder).rglob("*") if ".part" in p.name or "pdf-tmp" in p.name]


def test_unwritable_outputs_are_o102_with_the_reason(tmp_path, spec21, shared_dir):
    """-o naming a folder where a file is expected, /dev/null, a path under a file, a folder no
    one may write to (/sys, read-only even for root): tracebacks (IsADirectoryError,
    FileExistsError, NotADirectoryError) before, and .part files left behind."""
    good = wb.write(tmp_path, wb.render(spec21), "good.xlsx")
    published = shared_dir / "examples/published/xuying-2024.txt"
    roster = Path(__file__).resolve().parents[1] / "samples/roster.csv"
    plain = tmp_path / "plain.txt"
    plain.write_text("x", encoding="utf-8")
    folder_xlsx, folder_csv = tmp_path / "folder.xlsx", tmp_path / "folder.csv"
    folder_xlsx.mkdir()
    folder_csv.mkdir()
    inputs = hostile.digest([good, plain])
    cases = [
        ("template", "-u", "甲镇", "-y", 2025, "-o", plain / "t.xlsx"),
        ("template", "-r", roster, "-y", 2025, "-o", plain / "t"),
        ("template", "-u", "甲镇", "-y", 2025, "-o", "/sys/t.xlsx"),
        ("check", good, "--annotate", "/dev/null"),
        ("check", good, "--annotate", plain / "fb"),
        ("merge", good, "-o", folder_xlsx),
        ("merge", good, "-o", plain / "c.xlsx"),
        ("merge", good, "-o", tmp_path / "c.xlsx", "--long", folder_csv),
        ("merge", good, "-o", tmp_path / "c2.xlsx", "--long", "/sys/long.csv"),
        ("report", good, "-o", "/dev/null"),
        ("report", good, "-o", plain / "r.html"),
        ("report", good, "-o", "/sys/r.html"),
        ("import", published, "-o", folder_xlsx, "--force"),
        ("import", published, "-o", "/sys/i.xlsx"),
    ]
    for args in cases:
        result = hostile.wbtools(*args)
        hostile.assert_clean(result, (2,), "O102")
        assert "：" in result.err.split("O102", 1)[1].split("\n", 1)[0]  # with the reason
    assert hostile.digest([good, plain]) == inputs
    assert not _leftovers(tmp_path)


def test_a_full_disk_is_o102_and_leaves_nothing(tmp_path, spec21, shared_dir):
    """A write that fails half way (here: the file size limit, as on a full disk or a full
    temporary folder) gave tracebacks from xlsxwriter, pandas or the merge's spool."""
    good = wb.write(tmp_path, wb.render(spec21), "good.xlsx")
    published = shared_dir / "examples/published/xuying-2024.txt"
    out = tmp_path / "out"
    out.mkdir()
    for args in [
        ("template", "-u", "甲镇", "-y", 2025, "-o", out / "t.xlsx"),
        ("check", good, "--annotate", out / "fb"),
        ("merge", good, "-o", out / "c.xlsx"),
        ("report", good, "-o", out / "r.docx"),
        ("import", published, "-o", out / "i.xlsx"),
    ]:
        result = hostile.wbtools(*args, file_size=16_000)
        hostile.assert_clean(result, (2,), "O102")
        assert not _leftovers(out), args
        assert not [p for p in out.rglob("*") if p.is_file()], args


def test_a_zip_needing_a_newer_zip_version_is_damaged_not_a_traceback(tmp_path, spec21):
    """A central directory entry that says it needs zip version 18.3 to extract (a few flipped
    bytes; the fuzzer found it): zipfile refuses the whole directory with NotImplementedError,
    which reached the user as a traceback."""
    data = bytearray(wb.render(spec21))
    central = data.index(b"PK\x01\x02")
    data[central + 6 : central + 8] = (183).to_bytes(2, "little")  # version needed to extract
    bad = wb.write(tmp_path, bytes(data), "bad.xlsx")
    good = wb.write(tmp_path, wb.render(spec21), "good.xlsx")
    inputs = hostile.digest([bad, good])
    result = hostile.wbtools("check", bad, good)
    hostile.assert_clean(result, (1,), "F103")
    assert "18.3" in result.out and "good.xlsx" in result.out
    assert hostile.digest([bad, good]) == inputs
