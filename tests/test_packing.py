"""Sheets finished early (``packing.Book.finish``) are put together and deflated in a thread
(or by a forked child: ``finish_elsewhere``) while the rest of the workbook is written: the file
must hold what xlsxwriter writes when it makes every part in close(), entry for entry and byte for
byte once inflated (the parts made ahead are deflated by ISA-L), and nothing may be left behind in
the temporary folder."""

from __future__ import annotations

import tempfile
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
import xlsxwriter.packager
import xlsxwriter.workbook

from workbook_tools import county, merge, packing, roster
from workbook_tools import spec as spec_module
from workbook_tools.findings import Failure

from .test_county_rows import SAMPLES, _odd_files


def _parts(path: Path) -> list[tuple]:
    """A zip's entries, in order, as what a reader sees of them: name, time, mode, method,
    checksum, size and the bytes inflated (not the deflated bytes: the parts made ahead are
    deflated by ISA-L, those made in close() by zlib)."""
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        return [
            (
                i.filename,
                i.date_time,
                i.external_attr,
                i.create_system,
                i.flag_bits,
                i.compress_type,
                i.CRC,
                i.file_size,
                zf.read(i),
            )
            for i in zf.infolist()
        ]


def _book(path: Path, finish: bool) -> int:
    """A workbook of two sheets finished early (rows of text and numbers, heights, hidden rows,
    merges, an autofilter, printed header rows and page breaks) beside two left to close() (the
    first, which close() selects, and a small one); how many parts were made ahead."""
    book = packing.Book(str(path), {"constant_memory": True})
    book.set_properties({"created": datetime(2026, 1, 1)})  # the same file twice
    fmt = book.add_format({"border": 1, "text_wrap": True})
    made = 0
    for s, name in enumerate(["甲", "乙", "丙", "丁"]):
        ws = book.add_worksheet(name, worksheet_class=county._Streamed)
        ws.forget_rows = True
        ws.set_column(0, 3, 12)
        for row in range(0, 5 if s == 2 else 3000):
            if row % 7 == 0:
                ws.set_row(row, 30)
            if row % 11 == 0:
                ws.set_row(row, None, None, {"hidden": True})
            cells = [(0, "number", row, fmt), (1, "text", f"第{row}行 & <{s}>", fmt)]
            if row % 2 or not ws.write_cells_row(row, cells):
                ws.write_number(row, 0, row, fmt)
                ws.write_string(row, 1, f"单位{row * 7919 % 10007}\n{'文' * (row % 13)}", fmt)
                ws.write_number(row, 2, row / 7, fmt)
            if row % 5 == 0:
                ws.add_merge(row, 2, row, 3)
        ws.autofilter(0, 0, 4, 3)
        ws.repeat_rows(0, 0)
        ws.set_h_pagebreaks([10, 20])
        ws.freeze_panes(1, 1)
        if finish and s != 2:
            book.finish(ws)
            made += ws.ahead is not None
    book.close()
    return made


def test_a_sheet_finished_early_is_packed_as_xlsxwriter_packs_it(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(packing, "_CHUNK", 4099)  # deflated ahead in many pieces, of odd sizes
    assert _book(tmp_path / "late.xlsx", False) == 0
    assert _book(tmp_path / "early.xlsx", True) == 2
    assert _parts(tmp_path / "early.xlsx") == _parts(tmp_path / "late.xlsx")
    assert (tmp_path / "early.xlsx").read_bytes() != (tmp_path / "late.xlsx").read_bytes()
    # where the deflated bytes cannot be written as they are, they are inflated and deflated
    # again as any part: the very file xlsxwriter writes
    monkeypatch.setattr(packing._ZipFile, "raw", False)
    assert _book(tmp_path / "inflated.xlsx", True) == 2
    assert (tmp_path / "inflated.xlsx").read_bytes() == (tmp_path / "late.xlsx").read_bytes()
    with zipfile.ZipFile(tmp_path / "early.xlsx") as zf:
        assert zf.testzip() is None
        assert len(zf.read("xl/worksheets/sheet1.xml")) > 300_000  # deflated in many pieces
    assert list((tmp_path / "tmp").iterdir()) == []  # every part's files removed


def test_a_part_made_ahead_is_never_packed_empty(tmp_path, monkeypatch):
    """Should xlsxwriter stop packing through the ZipFile it imported (which ``packing``
    replaces), a sheet made ahead would go in as the packager's empty file: close() fails
    instead, and leaves no temporary file behind."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(xlsxwriter.workbook, "ZipFile", zipfile.ZipFile)
    with pytest.raises(RuntimeError, match="not packed"):
        _book(tmp_path / "early.xlsx", True)
    left = [p.name for p in (tmp_path / "tmp").iterdir()]
    assert not [name for name in left if name.startswith("wbtools-part-")]
    assert packing._AHEAD == {}


def test_a_failed_write_leaves_nothing_made_ahead(tmp_path, monkeypatch, spec21):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    files = sorted((SAMPLES / "returned/2025").glob("*.xlsx"))
    result = merge.merge(files, spec21, None, name="青禾县", jobs=1)

    def broken(self, ws):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(county._Writer, "_findings", broken)  # after two sheets made ahead
    try:
        with pytest.raises(Failure, match="No space left"):  # O102, as any failed output
            county.write(result, tmp_path / "county.xlsx")
    finally:
        result.close()
    assert not (tmp_path / "county.xlsx").exists()
    assert not [p for p in (tmp_path / "tmp").iterdir() if p.name.startswith("wbtools-part-")]
    assert packing._AHEAD == {}


def test_the_county_workbook_is_part_for_part_what_xlsxwriter_packs(tmp_path, monkeypatch):
    """The county workbook with its sheets of a row per file made ahead (in one process or
    two, both languages) against the same written with every part made in close(): the same
    entries and XML, byte for byte once inflated."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    monkeypatch.setattr(packing, "_CHUNK", 65_537)
    spec = spec_module.load()
    units = roster.read(SAMPLES / "roster.csv")
    files = sorted((SAMPLES / "returned/2025").glob("*.xlsx")) + _odd_files(spec, tmp_path)
    made: list[int] = []
    real = packing._ZipFile._write_ahead

    def counted(self, zinfo, ahead):
        made.append(1)
        return real(self, zinfo, ahead)

    monkeypatch.setattr(packing._ZipFile, "_write_ahead", counted)
    # the packager's parts in memory (each given a temporary file's entry), not in files
    files_made: list[int] = []
    part = xlsxwriter.packager.Packager._filename

    def counted_file(self, xml_filename):
        made_for = part(self, xml_filename)
        if isinstance(made_for, str):  # a temporary file's name, not a buffer
            files_made.append(1)
        return made_for

    monkeypatch.setattr(xlsxwriter.packager.Packager, "_filename", counted_file)
    for jobs, lang in ((1, "zh"), (2, "en")):
        result = merge.merge(files, spec, units, name="青禾县", jobs=jobs, render=county.prepare)
        try:
            early = county.write(result, tmp_path / f"early{jobs}.xlsx", lang).read_bytes()
            assert not files_made
            monkeypatch.setattr(packing.Book, "enabled", False)
            late = county.write(result, tmp_path / f"late{jobs}.xlsx", lang).read_bytes()
            assert len(files_made) > 20  # xlsxwriter's own packing: a file per part (26)
            files_made.clear()
            monkeypatch.setattr(packing.Book, "enabled", True)
        finally:
            result.close()
        assert _parts(tmp_path / f"early{jobs}.xlsx") == _parts(tmp_path / f"late{jobs}.xlsx")
        assert early != late  # (the parts made ahead deflated by ISA-L)
    assert len(made) == 8  # 报送情况, 分单位明细, 问题清单, 各单位文字, each time


def _sheets(book, names, fmts):
    """Sheets of ``_book``'s kind (numbers and texts in a format of their own, a merge, a
    filter, printed header rows, page breaks): a writer for each, by name."""

    def writer(s: int):
        def write(ws) -> None:
            ws.forget_rows = True
            ws.set_column(0, 3, 12)
            for row in range(0, 2000):
                if row % 7 == 0:
                    ws.set_row(row, 30)
                cells = [(0, "number", row, fmts[s]), (1, "text", f"第{row}行 & <{s}>", fmts[s])]
                if row % 2 or not ws.write_cells_row(row, cells):
                    ws.write_number(row, 0, row, fmts[s])
                    ws.write_string(row, 1, f"单位{row * 7919 % 10007}", fmts[s])
                if row % 5 == 0:
                    ws.add_merge(row, 2, row, 3)
            ws.autofilter(0, 0, 4, 3)
            ws.repeat_rows(0, 0)
            ws.set_h_pagebreaks([10, 20])

        return write

    # the third sheet uses the first one's format: it numbers none of its own
    return [book.add_worksheet(n, worksheet_class=county._Streamed) for n in names], [
        writer(s % 2) for s in range(len(names))
    ]


def _forked(path: Path, mode: str) -> bool | None:
    """A workbook whose second sheet is made in a forked child (``finish_elsewhere``) while
    this process writes the third: ``mode`` "plain" (no child, every part in close(): the
    reference), "fork", or "clash" (the third sheet numbers a format of its own meanwhile);
    "early": the child forked before the first sheet is written too, told the format that
    sheet numbers meanwhile ("untold": not told). Whether the child's part was taken (None:
    no child)."""
    book = packing.Book(str(path), {"constant_memory": True})
    book.set_properties({"created": datetime(2026, 1, 1)})
    fmts = [book.add_format({"border": 1, "bold": s == 1, "italic": s == 2}) for s in range(3)]
    (first, made, last), (w0, w1, w2) = _sheets(book, ["甲", "乙", "丙"], fmts)
    early = mode in ("early", "untold")
    if not early:
        w0(first)
    if mode == "plain":
        w1(made)
        w2(last)
        book.close()
        return None
    told = [fmts[0]] if mode == "early" else []
    child = book.finish_elsewhere(made, w1, lambda: None, told)
    assert child is not None
    if early:
        w0(first)
    w2(last)
    if mode == "clash":
        last.write_number(2000, 5, 1, fmts[2])  # a format numbered here meanwhile
        last.write_number(2001, 5, 1, fmts[2])  # (when the row above is written out)
    taken = book.adopt(child, made)
    if not taken:  # written here, after the third sheet (formats numbered in that order)
        w1(made)
    book.close()
    return taken


def test_a_sheet_made_by_a_forked_child_is_packed_as_xlsxwriter_packs_it(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    assert _forked(tmp_path / "plain.xlsx", "plain") is None
    assert _forked(tmp_path / "fork.xlsx", "fork") is True
    # its formats numbered here as the child numbered them; its filter and printed header rows
    # named in the workbook's defined names
    assert _parts(tmp_path / "fork.xlsx") == _parts(tmp_path / "plain.xlsx")
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_child_whose_formats_would_clash_is_not_taken(tmp_path, monkeypatch):
    """This process numbered a format while the child made its sheet: the child's numbers
    would clash, so its part is dropped and the sheet written here -- the file xlsxwriter
    writes with the sheets written in that order."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    assert _forked(tmp_path / "clash.xlsx", "clash") is False
    book = packing.Book(str(tmp_path / "order.xlsx"), {"constant_memory": True})
    book.enabled = False
    book.set_properties({"created": datetime(2026, 1, 1)})
    fmts = [book.add_format({"border": 1, "bold": s == 1, "italic": s == 2}) for s in range(3)]
    (first, made, last), (w0, w1, w2) = _sheets(book, ["甲", "乙", "丙"], fmts)
    w0(first)
    w2(last)
    last.write_number(2000, 5, 1, fmts[2])
    last.write_number(2001, 5, 1, fmts[2])
    w1(made)
    book.close()
    assert (tmp_path / "clash.xlsx").read_bytes() == (tmp_path / "order.xlsx").read_bytes()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_child_forked_before_the_sheets_ahead_of_its_own_is_taken(tmp_path, monkeypatch):
    """The child can be forked before this process writes the sheets ahead of its own, told
    the formats they number meanwhile (in their order): its own formats then get the numbers
    one process gives them, and its part is taken. Untold, the numbers would clash: the sheet
    is written here. The same file either way, nothing left behind."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    assert _forked(tmp_path / "plain.xlsx", "plain") is None
    assert _forked(tmp_path / "early.xlsx", "early") is True
    assert _forked(tmp_path / "untold.xlsx", "untold") is False
    assert _parts(tmp_path / "early.xlsx") == _parts(tmp_path / "plain.xlsx")
    assert (tmp_path / "untold.xlsx").read_bytes() == (tmp_path / "plain.xlsx").read_bytes()
    assert list((tmp_path / "tmp").iterdir()) == []


def _two_process_result(tmp_path, spec):
    units = roster.read(SAMPLES / "roster.csv")
    files = sorted((SAMPLES / "returned/2025").glob("*.xlsx")) + _odd_files(spec, tmp_path)
    assert len(files) >= county.ELSEWHERE_FROM
    return files, units


@pytest.mark.parametrize("failure", ["none", "raises", "killed"])
def test_the_breakdown_made_by_a_second_process_is_the_same_workbook(
    tmp_path, monkeypatch, failure
):
    """Files read by two processes: 分单位明细 is made by a forked child beside the other
    sheets. The workbook is byte for byte the one a single process writes; a child that fails
    or is killed leaves the sheet to the parent, the same file again, and no file behind."""
    import os
    import signal

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    spec = spec_module.load()
    files, units = _two_process_result(tmp_path, spec)

    def written(jobs: int) -> bytes:
        result = merge.merge(files, spec, units, name="青禾县", jobs=jobs, render=county.prepare)
        try:
            assert result.jobs == jobs
            return county.write(result, tmp_path / f"county{jobs}.xlsx").read_bytes()
        finally:
            result.close()

    single = written(1)
    parent = os.getpid()
    breakdown = county._Writer._breakdown

    def failing(self, ws):
        if os.getpid() != parent:
            if failure == "raises":
                raise OSError(28, "No space left on device")
            if failure == "killed":
                os.kill(os.getpid(), signal.SIGKILL)
        return breakdown(self, ws)

    monkeypatch.setattr(county._Writer, "_breakdown", failing)
    taken: list[bool] = []
    adopt = packing.Book.adopt

    def adopting(self, child, ws):
        taken.append(adopt(self, child, ws))
        return taken[-1]

    monkeypatch.setattr(packing.Book, "adopt", adopting)
    # forked before the sheets ahead of 分单位明细 are written: they are written meanwhile
    order: list[str] = []
    elsewhere, summary = packing.Book.finish_elsewhere, county._Writer._summary

    def forking(self, *args):
        order.append("fork")
        return elsewhere(self, *args)

    def summing_up(self, ws):
        order.append("summary")
        return summary(self, ws)

    monkeypatch.setattr(packing.Book, "finish_elsewhere", forking)
    monkeypatch.setattr(county._Writer, "_summary", summing_up)
    pair = written(2)
    assert order == ["fork", "summary"]
    assert taken == [failure == "none"]
    assert pair == single
    assert [p.name for p in (tmp_path / "tmp").iterdir()] == []


def test_a_childs_outcome_is_taken_before_it_exits(monkeypatch):
    """The part a forked child made is taken as soon as the child has sent it: tearing the
    child down (a few milliseconds; more where the disk frees the blocks of its files) is not
    waited for until ``reap``, which ``Book`` calls once the workbook is packed."""
    import os

    from workbook_tools import bounded

    hold, release = os.pipe()
    real_exit = os._exit

    def held_exit(status: int) -> None:  # in the child: it exits once the test lets it
        os.read(hold, 1)
        real_exit(status)

    monkeypatch.setattr(os, "_exit", held_exit)
    try:
        child = bounded.start(lambda: 42)
        assert child.result(reap=False) == 42
        assert os.waitpid(child.pid, os.WNOHANG) == (0, 0)  # still there, not waited for
        assert child.status is None
    finally:
        os.write(release, b"x")
        os.close(release)
    child.reap()
    assert child.status == 0 and child.result() == 42
    os.close(hold)
