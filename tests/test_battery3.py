"""Inputs a stranger's file still broke after the first hostile-input battery, each found by the
mutation fuzzer (``python -m tests.fuzz``) or by hand, turned into a small regression case: real
files written and read through the real command line in a child under memory and CPU limits."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests import hostile
from tests import workbooks as wb


def _with_entry(data: bytes, name: str, body: bytes = b"<x/>") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr(name, body)
    return out.getvalue()


def test_entry_name_flagged_utf8_but_not_utf8(tmp_path, spec21):
    """A zip entry whose name is flagged UTF-8 but is not (a Windows tool writing GBK names with
    the flag set, or one damaged byte) made zipfile raise UnicodeDecodeError out of intake: a
    traceback for check and merge, and for an .xlsx roster."""
    good = wb.render(spec21)
    named = _with_entry(good, "docProps/x\u00e1.xml")
    assert named.count(b"x\xc3\xa1.xml") == 2  # local header and central directory
    bad = wb.write(tmp_path, named.replace(b"x\xc3\xa1.xml", b"x\xe1\xa1.xml"), "bad.xlsx")
    roster_src = _with_entry(hostile_roster(), "docProps/x\u00e1.xml")
    roster = wb.write(tmp_path, roster_src.replace(b"x\xc3\xa1.xml", b"x\xe1\xa1.xml"), "r.xlsx")
    ok = wb.write(tmp_path, good, "good.xlsx")
    inputs = hostile.digest([bad, ok, roster])

    result = hostile.wbtools("check", bad, ok)
    hostile.assert_clean(result, (1,), "F103")
    assert "good.xlsx" in result.out
    result = hostile.wbtools("merge", bad, ok, "-o", tmp_path / "county.xlsx")
    hostile.assert_clean(result, (1,), "F103")
    result = hostile.wbtools("template", "--roster", roster, "--year", "2025", "-o", tmp_path)
    hostile.assert_clean(result, (2,), "U101")
    assert hostile.digest([bad, ok, roster]) == inputs


def hostile_roster() -> bytes:
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    for r, row in enumerate([["单位名称", "单位代码"], ["徐营镇", "101"]]):
        sheet.write_row(r, 0, row)
    book.close()
    return out.getvalue()


@pytest.mark.libreoffice
def test_a_panic_in_the_workbook_reader_is_a_finding(tmp_path, spec21, soffice):
    """python-calamine panics on some damaged .xls formula records (a token cut short: "index
    out of bounds" in parse_formula, found by the fuzzer on a LibreOffice-saved template). pyo3
    raises a panic as PanicException, a BaseException: it went past every ``except Exception``
    -- a traceback for check, and in a pool worker the parent's. Rust's panic message also went
    straight to stderr."""
    import olefile
    import xlsxwriter

    from workbook_tools import office

    src = tmp_path / "tiny.xlsx"
    book = xlsxwriter.Workbook(str(src))
    sheet = book.add_worksheet("s")
    sheet.write("A1", 1)
    sheet.write_formula("B1", '=IF(A1>0,"✓","✗")')
    book.close()
    bad = office.convert(src, "xls", tmp_path / "out")
    with olefile.OleFileIO(str(bad), write_mode=True) as ole:
        stream = bytearray(ole.openstream("Workbook").read())
        at = stream.find(bytes([0x17, 1, 1, 0x17, 0x27, 0x19]))  # "✗" then a ptgAttr
        assert at > 0
        stream[at + 5] = 0x65  # now a ptgArea whose operands run past the formula's end
        ole.write_stream("Workbook", bytes(stream))
    ok = wb.write(tmp_path, wb.render(spec21), "good.xlsx")
    roster = tmp_path / "roster.xls"
    roster.write_bytes(bad.read_bytes())
    inputs = hostile.digest([bad, ok, roster])

    for jobs in ("1", "2"):
        result = hostile.wbtools("check", bad, ok, "--jobs", jobs)
        hostile.assert_clean(result, (1,), "F103")
        assert "good.xlsx" in result.out
    result = hostile.wbtools("template", "--roster", roster, "--year", "2025", "-o", tmp_path)
    hostile.assert_clean(result, (2,), "U101")
    assert hostile.digest([bad, ok, roster]) == inputs


def test_quieting_the_reader_is_safe_across_threads():
    """``rust_reader`` points file descriptor 2 at /dev/null while calamine runs. Two threads in
    it at once (the portal's office pages, a library caller's pool) must not leave stderr pointing
    at /dev/null when both have left: the descriptor is restored once, by the last to leave."""
    import os
    import threading

    from workbook_tools import intake

    before = os.fstat(2)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def first():
        with intake.rust_reader():
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def second():
        a_in.wait(10)
        with intake.rust_reader():
            b_in.set()
            a_out.wait(10)  # the first leaves while the second is still inside

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)


def test_text_shaped_like_xlsxwriters_rich_string_is_kept_as_text(tmp_path, spec21):
    """xlsxwriter writes any string that starts with “<r>” and ends with “</r>” into the XML as
    it is (its own rich strings are stored so). A unit's narrative or name shaped so read back
    empty, and markup in it went into the workbook's XML unescaped: the template, the feedback
    workbook and the county workbook must all keep such text as the text it is."""
    import openpyxl

    from workbook_tools import reader
    from workbook_tools.roster import Unit

    odd = "<r><t>一</t></r></si><si><t>注入</t></r>"
    texts = {**wb.TEXTS, "s1.overview": odd}
    unit = Unit("<r>徐营镇</r>", "101", "乡镇")
    book = wb.write(tmp_path, wb.render(spec21, texts=texts, unit=unit), "odd.xlsx")
    filing = reader.read(book, spec21)
    assert filing.texts.get("s1.overview") == odd and filing.unit == "<r>徐营镇</r>"
    county = tmp_path / "county.xlsx"
    hostile.wbtools("merge", book, "-o", county)
    cells = {
        c
        for ws in openpyxl.load_workbook(county, read_only=True).worksheets
        for row in ws.iter_rows(values_only=True)
        for c in row
    }
    assert odd in cells and "<r>徐营镇</r>" in cells
