"""Inputs a stranger's file still broke after the first hostile-input battery, each found by the
mutation fuzzer (``python -m tests.fuzz``) or by hand, turned into a small regression case: real
files written and read through the real command line in a child under memory and CPU limits."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests import attacks, hostile
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


def test_files_named_for_another_kind_are_read_by_their_content(tmp_path, spec21, shared_dir):
    """A file is read as what its bytes are, not what its name says. A workbook saved or
    renamed .pdf/.docx/.html/.txt/.doc was fed to the importer: zip bytes decoded as text
    (I116 for a good workbook) or LibreOffice started on it (F110 with LibreOffice's own
    output); a PDF named .txt was decoded as text; a web page named .txt kept its tags (its
    <title> became the unit); a Markdown report named .html lost its tables to the HTML parser.
    check now reads the workbook; import says it is a workbook (F115); the others import as
    their content, to the same figures as under their right names."""
    from workbook_tools import importer

    book = wb.render(spec21)
    names = {}
    for suffix in (".pdf", ".docx", ".html", ".txt", ".doc"):
        names[suffix] = wb.write(tmp_path, book, f"book{suffix}")
    md = tmp_path / "report.md"
    result = hostile.wbtools("report", names[".pdf"], "-o", md)
    assert result.code == 0, result.text
    html = tmp_path / "report.html"
    assert hostile.wbtools("report", names[".pdf"], "-o", html).code == 0
    docx = tmp_path / "report.docx"
    assert hostile.wbtools("report", names[".pdf"], "-o", docx).code == 0
    pdf = shared_dir / "examples" / "published" / "huaian_2024.pdf"
    renamed = {
        "md_as.html": md.read_bytes(),
        "html_as.txt": html.read_bytes(),
        "docx_as.pdf": docx.read_bytes(),
        "pdf_as.txt": pdf.read_bytes(),
    }
    for name, data in renamed.items():
        (tmp_path / name).write_bytes(data)
    inputs = hostile.digest([*names.values(), *(tmp_path / n for n in renamed)])

    result = hostile.wbtools("check", *names.values(), "--format", "json")
    hostile.assert_clean(result, (0,))
    for path in names.values():
        result = hostile.wbtools("import", path, "-o", tmp_path / f"{path.name}.xlsx")
        hostile.assert_clean(result, (2,), "F115")
        assert "LibreOffice" not in result.text
    assert not list(tmp_path.glob("book.*.xlsx"))

    def figures(path):
        filing = importer.read(path, spec21)
        assert filing.readable, [f.code for f in filing.findings]
        return filing.unit, filing.year, filing.values

    assert figures(tmp_path / "md_as.html") == figures(md)
    assert figures(tmp_path / "html_as.txt") == figures(html)
    assert figures(tmp_path / "docx_as.pdf") == figures(docx)
    assert figures(tmp_path / "pdf_as.txt") == figures(pdf)
    assert hostile.digest([*names.values(), *(tmp_path / n for n in renamed)]) == inputs


@pytest.mark.libreoffice
def test_numbers_typed_as_text_in_ods_and_xls_keep_their_total_formulas(tmp_path, spec21, soffice):
    """A clerk types 表三's first row in full-width digits (text); the sheet's SUM total
    ignores text and LibreOffice saves 0. In an .xlsx the reader knows the total is a formula
    and recomputes it (T108, a warning); in the same workbook saved as .ods or .xls formula
    presence was unknown, the saved 0 stood, and check said R2, an error, with the advice to
    restore a formula that was there all along. The formulas are now found in .ods
    (table:formula) and .xls (FORMULA records) as in .xlsx: all three agree."""
    import json

    from workbook_tools import office

    values = wb.base_values(spec21)
    data = wb.render(spec21, values)
    sheet = spec21.table("t3").sheet
    wide = str.maketrans("0123456789", "０１２３４５６７８９")
    for col, ref in zip("DEFGHI", spec21.sets["applicants"], strict=False):
        text = str(values[f"t3.new.{ref}"]).translate(wide)
        data = wb.retype_text(data, sheet, f"{col}7", text)
    src = wb.write(tmp_path, data, "typed.xlsx")
    paths = [office.convert(src, fmt, tmp_path / fmt) for fmt in ("xlsx", "ods", "xls")]

    result = hostile.wbtools("check", *paths, "--format", "json")
    hostile.assert_clean(result, (0, 1))
    files = json.loads(result.out)["files"]
    codes = [sorted({f["code"] for f in file["findings"]}) for file in files]
    assert codes[0] == ["T108", "V105"], codes
    assert codes[1] == codes[0] and codes[2] == codes[0], codes
    assert all(file["status"] == "warnings" for file in files)


def _exchange(port: int, request: bytes, close_early: bool = False) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request)
        if close_early:
            return b""
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def test_portal_odd_multipart_bodies_are_answered_not_crashed(tmp_path, spec21):
    """Uploads sent by hand to a real server: a multipart boundary longer than
    python-multipart takes (256) raised out of the upload handler (500 and a traceback in the
    server's log); a client that hangs up in the middle of its body left "Exception in ASGI
    application" and a ClientDisconnect traceback in the log. Now P106 (400) and a quiet log;
    nothing is left in the portal's tmp/ and the server still takes a good upload."""
    import time

    from tests.portal_support import Server, make_portal

    portal = make_portal(tmp_path / "portal")
    path = "/" + portal.links("")[0]["url"].split("/", 1)[1]
    portal.close()
    server = Server(portal.folder, "--workers", "0").start()
    good = wb.render(spec21)

    def request(body: bytes, boundary: bytes, length: int | None = None) -> bytes:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\nConnection: close\r\n"
        ).encode()
        kind = b"Content-Type: multipart/form-data; boundary=" + boundary + b"\r\n\r\n"
        return head + kind + body

    def form(boundary: bytes, data: bytes) -> bytes:
        return (
            b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; '
            b'filename="a.xlsx"\r\n\r\n' + data + b"\r\n--" + boundary + b"--\r\n"
        )

    try:
        long = b"B" * 300
        answer = _exchange(server.port, request(form(long, good), long))
        assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
        assert b'"P106"' in answer
        body = form(b"XyZ", good)
        _exchange(server.port, request(body[: len(body) // 2], b"XyZ", len(body)), True)
        time.sleep(1)
        answer = _exchange(server.port, request(body, b"XyZ"))
        assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    finally:
        server.stop()
    log = (tmp_path / f"server-{server.port}.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    assert not list((portal.folder / "tmp").iterdir())


def _word_variants(data: bytes) -> dict[str, bytes]:
    """The same Word report as Word writes it after common edits: runs inside tracked
    insertions (with deletions beside them), smart tags and simple fields; paragraphs and tables
    inside content controls; table rows inside content controls; every table inside a one-cell
    layout table (a page pasted into Word)."""
    import re

    run = re.compile(rb"(<w:r>|<w:r [^>]*>)(.*?)</w:r>", re.S)
    deleted = b'<w:del w:id="9" w:author="a"><w:r><w:delText>999</w:delText></w:r></w:del>'
    edits = {
        "tracked": lambda d: run.sub(
            lambda m: deleted + b'<w:ins w:id="8" w:author="a">' + m.group(0) + b"</w:ins>", d
        ),
        "smarttag": lambda d: run.sub(rb'<w:smartTag w:element="x">\g<0></w:smartTag>', d),
        "field": lambda d: run.sub(rb'<w:fldSimple w:instr=" QUOTE ">\g<0></w:fldSimple>', d),
        "controls": lambda d: re.sub(
            rb"(<w:tbl>.*?</w:tbl>|<w:p[ >].*?</w:p>(?=<w:(?:p|tbl|sectPr)[ >]))",
            rb"<w:sdt><w:sdtPr/><w:sdtContent>\1</w:sdtContent></w:sdt>",
            d,
            flags=re.S,
        ),
        "row-controls": lambda d: re.sub(
            rb"(<w:tr[ >].*?</w:tr>)",
            rb"<w:sdt><w:sdtPr/><w:sdtContent>\1</w:sdtContent></w:sdt>",
            d,
            flags=re.S,
        ),
        "layout-table": lambda d: re.sub(
            rb"(<w:tbl>.*?</w:tbl>)",
            rb"<w:tbl><w:tblGrid><w:gridCol/></w:tblGrid><w:tr><w:tc>\1<w:p/></w:tc></w:tr></w:tbl>",
            d,
            flags=re.S,
        ),
    }
    out = {}
    for name, edit in edits.items():
        with zipfile.ZipFile(io.BytesIO(data)) as src:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
                for info in src.infolist():
                    body = src.read(info)
                    if info.filename == "word/document.xml":
                        new = edit(body)
                        assert new != body, name
                        body = new
                    dst.writestr(info, body)
        out[name] = buf.getvalue()
    return out


def test_word_reports_with_tracked_changes_fields_and_content_controls(tmp_path, spec21):
    """Text inside tracked insertions, smart tags and fields, and paragraphs, tables and rows
    inside content controls, were invisible to the Word import (python-docx reads only a
    paragraph's plain runs and the body's plain paragraphs and tables): a report with its
    changes still tracked was “not a report” (I116), one in content controls lost its tables
    (I103); a table inside a one-cell layout table was lost too. All now import to the same
    figures as the plain report, and deleted text stays out."""
    from workbook_tools import importer

    book = wb.write(tmp_path, wb.render(spec21), "unit.xlsx")
    plain = tmp_path / "plain.docx"
    assert hostile.wbtools("report", book, "-o", plain).code == 0
    want = importer.read(plain, spec21)
    assert want.readable and want.values
    for name, data in _word_variants(plain.read_bytes()).items():
        path = tmp_path / f"{name}.docx"
        path.write_bytes(data)
        got = importer.read(path, spec21)
        codes = sorted({f.code for f in got.findings})
        assert got.readable, (name, codes)
        assert (got.unit, got.year) == (want.unit, want.year), name
        assert got.values == want.values, (name, codes)
        assert got.texts == want.texts, name


def test_roster_typed_with_full_width_commas(tmp_path):
    """A roster typed in Notepad with the Chinese input method on separates its columns with
    full-width commas (“单位名称，单位代码，单位类型”): it was one column and U102 (no name
    column). It reads as the same units as the ASCII roster; a name holding a full-width comma
    in an ASCII roster stays one name."""
    from workbook_tools import roster

    rows = ["单位名称,单位代码,单位类型", "徐营镇,101,乡镇", "县教育局,201,部门"]
    ascii_path = tmp_path / "ascii.csv"
    ascii_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    wide = tmp_path / "wide.csv"
    wide.write_text("\n".join(r.replace(",", "，") for r in rows) + "\n", encoding="gbk")
    assert roster.read(wide) == roster.read(ascii_path)
    named = tmp_path / "named.csv"
    named.write_text(rows[0] + "\n某局（含某中心，某站）,301,部门\n", encoding="utf-8")
    assert [u.name for u in roster.read(named)] == ["某局（含某中心，某站）"]
    result = hostile.wbtools("template", "--roster", wide, "--year", "2025", "-o", tmp_path / "t")
    hostile.assert_clean(result, (0,))
    assert len(list((tmp_path / "t").iterdir())) == 2


def test_a_saved_page_with_big_scripts_and_split_texts_reads_as_the_plain_page(tmp_path, spec21):
    """A published page saved from a portal carries large inline scripts full of markup in
    strings, comments between words and runs of entities. Read with the page's own tree: tags
    written inside a script are not elements (500 unclosed "<div>" in strings were counted as
    nesting and the page refused, F106), and a text in many pieces is built once (html5lib
    appended each piece to the text so far: such a 4 MB page ran for twenty minutes). The page
    imports, through the command line in a bounded child, to the figures of the plain page."""

    book = wb.write(tmp_path, wb.render(spec21), "unit.xlsx")
    page = tmp_path / "page.html"
    assert hostile.wbtools("report", book, "-o", page).code == 0
    html = page.read_text(encoding="utf-8")
    script = (
        "<script>var menu = [];\n"
        + 'menu.push("<div class=item><a href=\\"#\\">x</a>");\n' * 60_000
        + "</script><style>"
        + "p > a { color: red }\n" * 20_000
        + "</style>"
    )
    split = "<p>" + "&nbsp; 说明<!-- x -->" * 60_000 + "</p>"
    saved = tmp_path / "saved.html"
    saved.write_text(
        html.replace("</head>", script + "</head>", 1).replace("</body>", split + "</body>", 1),
        encoding="utf-8",
    )
    from workbook_tools import reader

    results = []
    for source in (page, saved):
        out = tmp_path / f"{source.stem}.xlsx"
        hostile.assert_clean(hostile.wbtools("import", source, "-o", out, timeout=120), (0,))
        results.append(reader.read(out, spec21))
    assert results[0].values and results[1].values == results[0].values
    assert results[1].unit == results[0].unit


def test_the_title_is_sought_in_a_bounded_head(tmp_path, spec21, monkeypatch):
    """The title is sought in the first lines, a metadata table's cells each on their own. A
    first line of two hundred thousand “|” cells made each cell a candidate, searched one, two
    and three at a time (an 8 MB line of them took 21 s of CPU); now a bounded head is searched,
    and a title before such a line is still found."""
    from workbook_tools import importer
    from workbook_tools.importer import sections

    calls = []
    real = sections._title_at

    def counted(part):
        calls.append(len(part))
        return real(part)

    monkeypatch.setattr(sections, "_title_at", counted)
    report = tmp_path / "cells.txt"
    report.write_text(
        "徐营镇2024年政府信息公开工作年度报告\n表三 | " + "1 | " * 200_000, encoding="utf-8"
    )
    filing = importer.read(report, spec21)
    assert (filing.unit, filing.year) == ("徐营镇", 2024)
    assert 0 < len(calls) <= 3 * sections._HEAD_CELLS


def _cell(text: str, merge: str | None = None, span: int = 1) -> bytes:
    props = (f'<w:gridSpan w:val="{span}"/>' if span > 1 else "") + (
        f'<w:vMerge w:val="{merge}"/>' if merge == "restart" else "<w:vMerge/>" if merge else ""
    )
    return (f"<w:tc><w:tcPr>{props}</w:tcPr>".encode() if props else b"<w:tc>") + (
        attacks.para(text) + b"</w:tc>"
    )


def test_word_cells_merged_down_read_as_python_docx_reads_them_in_linear_time(tmp_path, spec21):
    """A cell merged down from the row above shows the text of the cell that starts the merge.
    python-docx finds it by looking up through every row above, recursively, for each such
    cell: a table of a thousand rows merged down took minutes (a few KB of Word file), deeper
    ones ended in RecursionError. The rows now read as python-docx's own row.cells gives them
    (merges down, across, and both), and a tall merged table imports in a bounded child."""
    import docx
    from docx.table import _Row

    from workbook_tools.importer import sources

    rows = [
        [_cell("项目", "restart", 2), _cell("申请人", span=3)],
        [_cell("续", "continue", 2), _cell("自然人"), _cell("法人", "restart"), _cell("总计")],
        [_cell("予以公开"), _cell("1"), _cell("2"), _cell("", "continue"), _cell("3")],
        [_cell("不予公开", span=2), _cell("4", "restart"), _cell("", "continue"), _cell("5")],
        [_cell("其他", span=2), _cell("", "continue"), _cell("6"), _cell("7")],
    ]
    table = b"<w:tbl>" + b"".join(b"<w:tr>" + b"".join(r) + b"</w:tr>" for r in rows)
    data = attacks.docx(attacks.word_document(table + b"</w:tbl>"))
    document = docx.Document(io.BytesIO(data))
    grid = document.tables[0]
    want = []
    for tr in grid._tbl.tr_lst:
        cells, last = [], None
        for cell in _Row(tr, grid).cells:
            if cell._tc is not last:
                cells.append(cell.text)
            last = cell._tc
        want.append(" | ".join(cells) + " |")
    assert sources._docx_lines(data) == want

    tall = b"<w:tbl><w:tr>" + _cell("表", "restart") * 6 + b"</w:tr>"
    tall += (b"<w:tr>" + _cell("", "continue") * 6 + b"</w:tr>") * 3000
    path = tmp_path / "merged.docx"
    path.write_bytes(attacks.docx(attacks.word_document(tall + b"</w:tbl>")))
    run = hostile.wbtools("import", path, "-o", tmp_path / "merged.xlsx", timeout=60)
    hostile.assert_clean(run, (2,), "I101")


def test_a_word_report_of_too_many_paragraphs_and_cells_is_refused(tmp_path, spec21):
    """Each paragraph and table cell costs tens of microseconds of python-docx: a Word file of
    millions of them (a few MB compressed, under the bounds on its parts) is refused, F106."""
    import random

    pick = random.Random(7)
    body = b"".join(
        attacks.para("".join(chr(pick.randint(0x4E00, 0x9FA5)) for _ in range(4)))
        for _ in range(120_000)
    )
    path = tmp_path / "long.docx"
    path.write_bytes(attacks.docx(attacks.word_document(body)))
    run = hostile.wbtools("import", path, "-o", tmp_path / "long.xlsx")
    hostile.assert_clean(run, (2,), "F106")


def test_a_report_that_names_no_unit_gets_none_made_up(tmp_path, spec21, shared_dir):
    """Without its title line, a report whose first sentence reads “现将2024年政务信息公开工作
    情况报告如下” named the unit “2024年政务” (the words after the verb, year included), and a
    Word file without a properties part had python-docx's made-up title “Word Document” to
    fall back on. A unit's name holds no year and is not 政务/政府; the made-up title is not
    the file's. The unit is then missing (I101), as it is."""
    from workbook_tools import importer

    text = (shared_dir / "examples" / "published" / "xuying-2024.txt").read_text(encoding="utf-8")
    lines = text.splitlines()
    title = next(i for i, line in enumerate(lines) if "年度报告" in line)
    body = lines[title + 1 :]
    assert any("现将2024年政务信息公开" in line for line in body)  # the case this guards
    report = tmp_path / "untitled.txt"
    report.write_text("\n".join(body), encoding="utf-8")
    word = tmp_path / "untitled.docx"
    escaped = (line.replace("&", "&amp;").replace("<", "&lt;") for line in body)
    word.write_bytes(attacks.docx(attacks.word_document(b"".join(map(attacks.para, escaped)))))
    for path in (report, word):
        filing = importer.read(path, spec21)
        assert (filing.unit, filing.year) == ("", 2024), path.name
        assert "I101" in {f.code for f in filing.findings}
    titled = importer.read(wb.write(tmp_path, text.encode(), "titled.txt"), spec21)
    assert titled.unit == "获嘉县徐营镇"


@pytest.mark.parametrize(
    "name, declared, encoding",
    [
        ("meta-after-a-long-script", "gb2312", "gbk"),  # browsers switch when they meet it
        ("says-utf-8-saved-as-gbk", "utf-8", "gbk"),  # saved again by a clerk's editor
        ("says-latin-1-is-utf-8", "iso-8859-1", "utf-8"),
        ("says-gbk-holds-gb18030", "gbk", "gb18030"),  # browsers read a gbk label as GB18030
    ],
)
def test_a_page_is_read_in_the_encoding_its_bytes_are_in(
    tmp_path, spec21, name, declared, encoding
):
    """A page's encoding is its byte order mark, else its meta charset, as browsers find it —
    also when the meta comes after a long script (past the first 1,024 bytes) — unless its
    bytes break the declared encoding (or it declares a Western one) and read cleanly as
    Chinese offices save pages: then the page is read as what it is (it read as mojibake)."""
    from workbook_tools import importer

    extra = "㐀" if encoding == "gb18030" else ""  # (outside GBK: GB18030's four bytes)
    title = f"{extra}徐营镇2024年政府信息公开工作年度报告"
    script = (
        "<script>var c = document.charset;" + "x" * 1500 + "</script>" if "long" in name else ""
    )
    page = (
        f"<html><head>{script}<meta http-equiv='Content-Type' content='text/html; "
        f"charset={declared}'></head><body><p>{title}</p><p>一、总体情况</p></body></html>"
    )
    path = tmp_path / f"{name}.html"
    path.write_bytes(page.encode(encoding))
    filing = importer.read(path, spec21)
    assert (filing.unit, filing.year) == (f"{extra}徐营镇", 2024), name


def _far_cell_in(data: bytes, part: str) -> bytes:
    return wb.edit_part(
        data,
        part,
        lambda xml: xml.replace(
            b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>'
        ),
    )


@pytest.mark.parametrize(
    "name, edit",
    [
        # a second tag for 表二, in a comment, pointing at another sheet's part
        (
            "comment",
            lambda xml, rid, other: xml.replace(b"</sheets>", b"</sheets><!-- " + other + b" -->"),
        ),
        # 表二's own tag with its attributes in single quotes
        (
            "single-quotes",
            lambda xml, rid, other: xml.replace(b'r:id="' + rid + b'"', b"r:id='" + rid + b"'"),
        ),
        # a ">" inside a value ends the tag early for a pattern, not for an XML reader
        (
            "gt-in-value",
            lambda xml, rid, other: xml.replace(
                b'r:id="' + rid + b'"', b'x="a>b" r:id="' + rid + b'"'
            ),
        ),
        # a second tag of 表二's name, pointing at another sheet's part
        ("duplicate", lambda xml, rid, other: xml.replace(b"</sheets>", other + b"</sheets>")),
        # the sheets' targets written through "./" (an edit of the rels)
        ("target", lambda rels, rid, other: rels.replace(b'"worksheets/', b'"./worksheets/')),
        # 表二's tag in upper case
        (
            "case",
            lambda xml, rid, other: xml.replace(
                b'<sheet name="\xe8\xa1\xa8\xe4\xba\x8c', b'<SHEET name="\xe8\xa1\xa8\xe4\xba\x8c'
            ),
        ),
    ],
)
def test_the_sheet_map_is_read_alike_by_intake_and_calamine(tmp_path, spec21, name, edit):
    """intake bounds each sheet through the map in workbook.xml and its rels, found with
    patterns; python-calamine reads the same map with an XML tokenizer. Where they read it
    differently, calamine opened a part intake never bounded, and one far cell there aborted
    the process (SIGABRT). A map written unusually is now a damaged file (F103), never an
    abort; the same far cell with the map as Excel writes it is refused as too large (F108)."""
    import re

    data = _far_cell_in(wb.render(spec21), wb.sheet_part(wb.render(spec21), "表二 主动公开"))
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = z.read("xl/workbook.xml")
    tag = re.search(rb'<sheet name="\xe8\xa1\xa8\xe4\xba\x8c[^>]*>', xml).group(0)
    rid = re.search(rb'r:id="([^"]+)"', tag).group(1)
    other = re.sub(rb'r:id="[^"]+"', b'r:id="rId1"', tag)
    control = wb.write(tmp_path, data, "control.xlsx")
    hostile.assert_clean(hostile.wbtools("check", control), (2,), "F108")
    path = wb.write(
        tmp_path,
        wb.edit_part(
            data,
            "xl/_rels/workbook.xml.rels" if name == "target" else "xl/workbook.xml",
            lambda x: edit(x, rid, other),
        ),
        f"{name}.xlsx",
    )
    hostile.assert_clean(hostile.wbtools("check", path), (2,), "F103")


def test_a_sheet_name_by_character_numbers_is_read_as_its_name(tmp_path, spec21):
    """An XML reader decodes “&#34920;” to 表: intake now reads the sheet's name so too. It
    looked for a sheet named “&#34920;二 主动公开”, found none, and left the real one to
    calamine unbounded: a far cell in it aborted the process. Now bounded (F108), and the
    plain sheet reads as it did."""
    from workbook_tools import reader

    def coded(data: bytes) -> bytes:
        return wb.edit_part(
            data,
            "xl/workbook.xml",
            lambda x: x.replace('name="表二'.encode(), b'name="&#34920;&#x4E8C;'),
        )

    data = wb.render(spec21)
    filing = reader.read(wb.write(tmp_path, coded(data), "coded.xlsx"), spec21)
    original = reader.read(wb.write(tmp_path, data, "plain.xlsx"), spec21)
    assert filing.readable and filing.values == original.values
    far = _far_cell_in(data, wb.sheet_part(data, "表二 主动公开"))
    path = wb.write(tmp_path, coded(far), "coded-far.xlsx")
    hostile.assert_clean(hostile.wbtools("check", path), (2,), "F108")
