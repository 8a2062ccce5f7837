"""wbtools import of PDF reports: real published PDFs and PDFs printed by LibreOffice from Word
layouts that do what real ones do (tests/pdf_corpus.py). Every value read right, blank stays
blank, cut off is missing, nothing invented; scans and broken files are coded findings."""

from __future__ import annotations

import json
import random

import pymupdf
import pytest

from workbook_tools import check, importer, report, synth, template
from workbook_tools.importer import pdf
from workbook_tools.roster import Unit

from . import pdf_corpus
from .conftest import run

TABLES = ("t2", "t3", "t4")


def _printed(spec, values: dict) -> dict:
    return {d: values.get(d) for d in spec.datapoints if spec.datapoints[d].table in TABLES}


def _read(filing, spec) -> dict:
    """What the import made of every table cell: a number, None (blank) or 'missing'."""
    return {
        d: "missing" if d in filing.missing else filing.values.get(d)
        for d in spec.datapoints
        if spec.datapoints[d].table in TABLES
    }


@pytest.fixture(scope="session")
def corpus(tmp_path_factory, soffice, shared_dir):
    return pdf_corpus.build(tmp_path_factory.mktemp("pdf_corpus"))


# --- a real published PDF ----------------------------------------------------------------------


def test_huaian_every_value_of_tables_three_and_four(spec21, shared_dir):
    """淮安市 2024, as published: ruled tables, 三/本/年/度 down a merged cell, labels wrapped in
    their cells, 表三 running over a page break that also splits （四）无/法提供, page numbers."""
    published = shared_dir / "examples" / "published"
    truth = json.loads((published / "expected_t3_t4.json").read_text(encoding="utf-8"))
    expected = pdf_corpus.real_values("huaian_2024.pdf")
    filing = importer.read(published / "huaian_2024.pdf", spec21)
    assert filing.readable
    got = {d: ("missing" if d in filing.missing else filing.values.get(d)) for d in expected}
    assert got == expected
    assert len(expected) == 25 * 7 + 15 == len(truth["_rows_t3"]) * 7 + 15
    assert (filing.unit, filing.year) == ("淮安市人民政府", 2024)
    assert not {f.code for f in filing.findings} & {"I103", "I104", "I105"}


def test_huaian_lines_have_no_page_numbers_and_whole_paragraphs(shared_dir):
    lines = pdf.pdf_lines(shared_dir / "examples" / "published" / "huaian_2024.pdf")
    assert not [t for t in lines if t.strip(" -—").isdigit()]
    # the paragraph broken by the page break after page 1 is one line again
    assert any("“建设‘四最’一流营商环境高质量推进产业发展”" in t for t in lines)
    # the group label written one character a line is one label, in its row
    assert any(t.startswith("三、本年度办理结果 | （一）予以公开 | 1288 |") for t in lines)
    # a label wrapped inside its cell is one label
    assert "5.要求行政机关确认或重新出具已获取信息 | 1 | 0 | 0 | 0 | 0 | 0 | 1 |" in lines
    assert "行政事业性收费 | 96171.6 |" in lines


# --- PDFs made from Word layouts ---------------------------------------------------------------


@pytest.mark.libreoffice
@pytest.mark.parametrize("name", [layout.name for layout in pdf_corpus.layouts()])
def test_corpus_layouts(spec21, corpus, name):
    path, layout = corpus[name]
    filing = importer.read(path, spec21)
    expected = layout.expected
    want = {d: expected.get(d, "missing") for d in _read(filing, spec21)}
    assert _read(filing, spec21) == want
    assert (filing.unit, filing.year) == (layout.unit, layout.year)
    codes = {f.code for f in filing.findings}
    if layout.cut_t3_after is not None:
        assert {"I104", "I103"} <= codes  # cut off inside 表三, and 表四 never came
    else:
        assert not codes & {"I103", "I104", "I105"}


@pytest.mark.libreoffice
def test_corpus_page_furniture_is_dropped(corpus):
    lines = pdf.pdf_lines(corpus["ruled_blanks"][0])
    assert not [
        t for t in lines if t == "青禾县测试局政务公开" or (t[:1] == "第" and t[-1:] == "页")
    ]
    lines = pdf.pdf_lines(corpus["ruled_real"][0])
    assert not [t for t in lines if t.startswith("—") or t.endswith("—")]
    # the narrative paragraphs run over the page break whole
    assert sum(t == pdf_corpus.FILLER for t in lines) == 9


@pytest.mark.libreoffice
def test_blank_cells_stay_blank(spec21, corpus):
    path, _ = corpus["ruled_blanks"]
    filing = importer.read(path, spec21)
    for dp_id in ("t3.new.research", "t3.new.legal", "t3.carried.total", "t4.review.upheld"):
        assert dp_id not in filing.missing
        assert filing.values.get(dp_id) is None  # printed blank: not 0, not the next number


@pytest.mark.libreoffice
def test_rotated_pages_read_the_same(corpus, tmp_path):
    src = corpus["ruled_real"][0]
    with pymupdf.open(src) as doc:
        for page in doc:
            page.set_rotation(90)
        doc.save(tmp_path / "rotated.pdf")
    assert pdf.pdf_lines(tmp_path / "rotated.pdf") == pdf.pdf_lines(src)


@pytest.mark.libreoffice
@pytest.mark.parametrize("seed", [3, 2024])
def test_report_printed_to_pdf_imports_back(spec21, soffice, tmp_path, seed):
    """`wbtools report`'s own Word layout (landscape 表三/表四, header rows repeated on every page)
    printed to PDF by LibreOffice reads back to the same figures."""
    from workbook_tools import office

    rng = random.Random(seed)
    values = synth.consistent_values(spec21, rng)
    book = tmp_path / "unit.xlsx"
    book.write_bytes(template.render(spec21, Unit("测试镇", "9", "乡镇"), 2025, values=values))
    filing = check.check_file(book, spec21).filing
    docx = tmp_path / "report.docx"
    docx.write_bytes(report.render(report.build(filing), "docx"))
    printed = office.convert(docx, "pdf", tmp_path / "pdf")
    back = importer.read(printed, spec21)
    assert (back.unit, back.year) == ("测试镇", 2025)
    assert _read(back, spec21) == pytest.approx(_printed(spec21, values))


# --- what cannot be read ----------------------------------------------------------------------


def _scan(tmp_path, pages: int = 2):
    """A scanned report: each page only a picture, no text layer."""
    doc = pymupdf.open()
    for n in range(pages):
        page = doc.new_page()
        pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 200, 280), False)
        pix.set_rect(pix.irect, (255, 255, 255))
        pix.set_rect(pymupdf.IRect(20, 20 + n, 180, 40), (0, 0, 0))  # a dark “title” band
        page.insert_image(page.rect, pixmap=pix)
    path = tmp_path / "scan.pdf"
    doc.save(path)
    return path


def test_scanned_pdf_is_a_finding_and_exit_2(tmp_path):
    path = _scan(tmp_path)
    out = tmp_path / "out.xlsx"
    result = run("import", path, "-o", out)
    assert result.exit_code == 2, result.output
    assert "I120" in result.output and "文字层" in result.output
    assert not out.exists()
    result = run("import", path, "-o", out, "--lang", "en")
    assert result.exit_code == 2 and "text layer" in result.output
    with pytest.raises(pdf.NoTextLayer):
        pdf.pdf_lines(path)


def _unmapped_pdf() -> bytes:
    """One page of text in a font with no ToUnicode map (Identity-H): the glyph numbers come out
    as characters of an unrelated script, as with real PDFs whose fonts were subset badly."""
    glyphs = b"".join(b"%04X" % (0x1234 + i) for i in range(60))
    content = b"BT /F1 12 Tf 72 700 Td <" + glyphs + b"> Tj ET"
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
        b" /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /X /Encoding /Identity-H"
        b" /DescendantFonts [6 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /X /CIDSystemInfo"
        b" << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor 7 0 R >>",
        b"<< /Type /FontDescriptor /FontName /X /Flags 4 /FontBBox [0 0 1000 1000]"
        b" /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 700 /StemV 80 >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


def test_unmapped_fonts_count_as_no_text_layer(tmp_path):
    path = tmp_path / "unmapped.pdf"
    path.write_bytes(_unmapped_pdf())
    with pymupdf.open(path) as doc:
        assert len(doc[0].get_text().strip()) >= 40  # there is “text”, of the wrong script
    with pytest.raises(pdf.NoTextLayer):
        pdf.pdf_lines(path)
    filing = importer.read(path)
    assert [f.code for f in filing.findings] == ["I120"] and not filing.readable


@pytest.mark.parametrize(
    "kind, code",
    [("encrypted", "F104"), ("not a pdf", "F103"), ("truncated", "F103"), ("pages", "F106")],
)
def test_broken_pdfs_are_findings(tmp_path, monkeypatch, kind, code):
    path = tmp_path / "report.pdf"
    doc = pymupdf.open()
    for _ in range(4):
        doc.new_page().insert_text((72, 72), "2024 annual report page text " * 3)
    if kind == "encrypted":
        doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="o")
    elif kind == "not a pdf":
        # (junk: a web page named .pdf is read as the page it is, see test_battery3)
        path.write_bytes(b"not a pdf \x00\x01\x02 at all")
    elif kind == "truncated":
        data = doc.tobytes()
        path.write_bytes(data[: len(data) // 3])
    else:
        doc.save(path)
        monkeypatch.setattr(pdf, "MAX_PAGES", 3)
    filing = importer.read(path)
    assert not filing.readable
    assert [f.code for f in filing.findings] == [code]
    out = tmp_path / "out.xlsx"
    result = run("import", path, "-o", out)
    assert result.exit_code == 2 and code in result.output and not out.exists()


def test_pdf_inputs_go_through_the_shared_intake(tmp_path, monkeypatch):
    """A named pipe called report.pdf is refused without blocking (F113); a PDF over the byte
    bound is not opened (F106); a missing one is F101."""
    import os

    fifo = tmp_path / "pipe.pdf"
    os.mkfifo(fifo)
    filing = importer.read(fifo)
    assert [f.code for f in filing.findings] == ["F113"] and not filing.readable
    big = tmp_path / "big.pdf"
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "2024 report")
    doc.save(big)
    monkeypatch.setattr(pdf, "MAX_BYTES", 100)
    assert [f.code for f in importer.read(big).findings] == ["F106"]
    assert [f.code for f in importer.read(tmp_path / "absent.pdf").findings] == ["F101"]


@pytest.mark.parametrize("rotate", [90, 270])
def test_group_label_set_in_vertical_text(tmp_path, rotate):
    """A group label rotated down its merged cell (Word's and WPS's vertical text direction),
    read bottom to top (90) or top to bottom (270), is one label in reading order."""
    doc = pymupdf.open()
    page = doc.new_page()
    xs, ys = [72, 100, 250, 320], [100, 130, 160, 190]
    for y in (ys[0], ys[-1]):
        page.draw_line((xs[0], y), (xs[-1], y))
    for y in ys[1:-1]:  # no rule across the first column: one cell over three rows
        page.draw_line((xs[1], y), (xs[-1], y))
    for x in xs:
        page.draw_line((x, ys[0]), (x, ys[-1]))
    page.insert_font(fontname="cjk", fontbuffer=pymupdf.Font("cjk").buffer)
    start = (92, 165) if rotate == 90 else (80, 120)
    page.insert_text(start, "三、本年度", fontname="cjk", fontsize=10, rotate=rotate)
    for y, (label, figure) in zip(ys, [("规章", "3"), ("文件", ""), ("许可", "7")], strict=False):
        page.insert_text((105, y + 20), label, fontname="cjk", fontsize=10)
        page.insert_text((260, y + 20), figure, fontname="cjk", fontsize=10)
    doc.save(tmp_path / "vertical.pdf")
    assert pdf.pdf_lines(tmp_path / "vertical.pdf") == [
        "三、本年度 | 规章 | 3 |",
        "文件 |  |",  # a blank figure stays a blank cell
        "许可 | 7 |",
    ]


def _grid_page(doc, per_cell: bool):
    """表二's first rows in a ruled grid, its rules drawn whole or cell by cell (as some
    writers do: one short segment per cell edge)."""
    page = doc.new_page()
    page.insert_font(fontname="cjk", fontbuffer=pymupdf.Font("cjk").buffer)
    xs, ys = [72, 200, 280, 360, 440], [100, 125, 150, 175]
    rows = [["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"], ["规章", "1", "", "11"]]
    rows.append(["行政规范性文件", "8", "26", "66"])
    for r, y in enumerate(ys):
        for c in range(len(xs) - 1):
            if per_cell:
                page.draw_line((xs[c], y), (xs[c + 1], y))
                if r + 1 < len(ys):
                    page.draw_line((xs[c], y), (xs[c], ys[r + 1]))
                    page.draw_line((xs[c + 1], y), (xs[c + 1], ys[r + 1]))
        if not per_cell:
            page.draw_line((xs[0], y), (xs[-1], y))
    if not per_cell:
        for x in xs:
            page.draw_line((x, ys[0]), (x, ys[-1]))
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            page.insert_text((xs[c] + 4, ys[r] + 17), text, fontname="cjk", fontsize=9)


def test_rules_drawn_cell_by_cell_make_the_same_table(tmp_path):
    lines = {}
    for per_cell in (False, True):
        doc = pymupdf.open()
        _grid_page(doc, per_cell)
        doc.save(tmp_path / f"{per_cell}.pdf")
        lines[per_cell] = pdf.pdf_lines(tmp_path / f"{per_cell}.pdf")
    assert lines[True] == lines[False]
    assert "规章 | 1 |  | 11 |" in lines[True]  # the blank cell in its place


def test_a_dense_drawing_is_not_taken_for_a_table(tmp_path):
    """A page of hatching (hundreds of short rules that never join) is read as text, bounded."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_font(fontname="cjk", fontbuffer=pymupdf.Font("cjk").buffer)
    for i in range(250):
        x, y = 60 + (i % 25) * 19, 300 + (i // 25) * 19
        page.draw_line((x, y), (x + 8, y))
        page.draw_line((x + 12, y + 4), (x + 12, y + 12))
    page.insert_text((72, 100), "二、主动公开政府信息情况", fontname="cjk", fontsize=12)
    doc.save(tmp_path / "hatch.pdf")
    assert pdf.pdf_lines(tmp_path / "hatch.pdf") == ["二、主动公开政府信息情况"]


# --- the reader's shortcuts read what its rules say, character by character ----------------------


def _join_by_character(chars):
    """pdf._join as its rule reads, one character at a time (as it was written before it took a
    shortcut for lines of Chinese text)."""
    out, prev, shown, widest = [], None, None, 0.0
    for ch in chars:
        c, x0, _, _, size = ch
        if c.isspace():
            if out and out[-1] != " ":
                out.append(" ")
            prev = ch
            continue
        if shown is not None and x0 - shown[2] > widest:
            widest = x0 - shown[2]
        if (
            prev is not None
            and prev is shown
            and x0 - prev[2] > 0.25 * size
            and (prev[0].isascii() or c.isascii())
            and out[-1] != " "
        ):
            out.append(" ")
        out.append(c)
        prev = shown = ch
    return "".join(out).strip(), widest


def _lines_by_character(chars):
    """pdf._lines as its rule reads: characters by baseline then left, each joining the line
    before if within the tolerance of the one placed before it."""
    groups, last = [], []
    for ch in sorted(chars, key=lambda ch: (ch[3], ch[1])):
        if last and abs(ch[3] - last[-1][3]) <= max(pdf.TOL, 0.3 * ch[4]):
            last.append(ch)
        else:
            last = [ch]
            groups.append(last)
    out = []
    for group in groups:
        if all(c[0].isspace() for c in group):
            continue
        group.sort(key=lambda ch: ch[1])
        n = len(group) // 2
        size = sorted(c[4] for c in group)[n]
        text, widest = _join_by_character(group)
        y = sorted(c[3] for c in group)[n]
        out.append((text, y, group[0][1], group[-1][2], size, widest > 0.9 * size, group))
    return out


def _random_line(pick: random.Random, odd: bool):
    chars, x = [], pick.choice([0.0, 50.0, 300.25])
    base = pick.choice([100.0, 100.5, 103.0, 140.0])
    size = pick.choice([10.5, 12.0, 0.75])
    for _ in range(pick.randint(0, 30)):
        c = pick.choice("中文表格数据总计年度一二三，。" * 3 + "ab19,. \u3000\t")
        if odd and pick.random() < 0.03:  # (MuPDF gives one character; the rule takes any text)
            c = pick.choice(["", "中文", "ab", " 中"])
        x += pick.choice([0.0, 0.5, 1.0, 3.0, 8.0, 20.0, -2.0])
        w = pick.choice([size, size / 2, 0.0])
        y = base + pick.choice([0.0, 0.0, 0.0, 0.25, -0.5, 2.0])
        ch = [c, x, x + w, y, size]
        if odd and pick.random() < 0.08:  # what a damaged or hostile file's matrices can give
            ch[pick.randint(1, 4)] = pick.choice([float("nan"), float("inf"), -float("inf"), -0.0])
        chars.append(tuple(ch))
        x += w
    return chars


def test_joining_characters_reads_as_the_rule_for_each_character():
    """_join takes lines of Chinese text (no space, nothing Latin) as a whole; _lines places a
    baseline's characters together. Both read exactly what the rule for each character reads, on
    random lines with spaces, Latin, overlaps, zero widths, and (as a hostile file gives) NaN,
    infinite and negative-zero coordinates."""
    pick = random.Random(13)
    for round_ in range(3000):
        odd = round_ % 3 == 0
        line = _random_line(pick, odd)
        assert repr(pdf._join(line)) == repr(_join_by_character(line))
        page = [ch for _ in range(pick.randint(1, 6)) for ch in _random_line(pick, odd)]
        pick.shuffle(page)
        got = [
            (t.text, t.y, t.x0, t.x1, t.size, t.wide, t.chars) for t in pdf._lines(list(page), 0)
        ]
        assert repr(got) == repr(_lines_by_character(list(page)))


def _segments_by_drawings(page):
    """pdf._segments as written against get_drawings (Point, Rect and Quad objects)."""
    h, v = [], []
    area = page.rect.width * page.rect.height

    def rect(x0, y0, x1, y1):
        if x1 - x0 <= 3 and y1 - y0 > 3:
            v.append(((x0 + x1) / 2, y0, y1))
        elif y1 - y0 <= 3 and x1 - x0 > 3:
            h.append(((y0 + y1) / 2, x0, x1))
        elif x1 - x0 > 3 and y1 - y0 > 3 and (x1 - x0) * (y1 - y0) < 0.8 * area:
            h.extend([(y0, x0, x1), (y1, x0, x1)])
            v.extend([(x0, y0, y1), (x1, y0, y1)])

    for path in page.get_drawings():
        if path.get("type") == "f" and pdf._white(path.get("fill")):
            continue
        for item in path["items"]:
            if item[0] == "l":
                p, q = item[1], item[2]
                if abs(p.y - q.y) <= 1:
                    h.append(((p.y + q.y) / 2, min(p.x, q.x), max(p.x, q.x)))
                elif abs(p.x - q.x) <= 1:
                    v.append(((p.x + q.x) / 2, min(p.y, q.y), max(p.y, q.y)))
            elif item[0] in ("re", "qu"):
                r = item[1] if item[0] == "re" else item[1].rect
                rect(r.x0, r.y0, r.x1, r.y1)
    return h, v


def test_rules_read_from_mupdf_paths_as_from_drawing_objects():
    """_segments reads MuPDF's paths as plain tuples: the same rules as from get_drawings' Point,
    Rect (normalised) and Quad objects, for lines, rectangles drawn either way round, rotated
    rectangles (quads) and white fills."""
    pick = random.Random(5)
    doc = pymupdf.open()
    for _ in range(12):
        page = doc.new_page()
        shape = page.new_shape()
        for _ in range(40):
            x, y = pick.uniform(0, 550), pick.uniform(0, 780)
            w, h = pick.choice([0.5, 2, 50, 200, -30]), pick.choice([0.5, 2, 40, 300, -20])
            kind = pick.random()
            if kind < 0.3:
                shape.draw_line((x, y), (x + w, y + pick.choice([0, 0.5, 3])))
            elif kind < 0.5:
                shape.draw_line((x, y), (x + pick.choice([0, 0.7, 5]), y + h))
            elif kind < 0.75:
                shape.draw_rect(pymupdf.Rect(x, y, x + w, y + h))
            else:
                turn = pymupdf.Matrix(pick.choice([15, 90, 180, 33]))
                quad = pymupdf.Rect(x, y, x + abs(w), y + abs(h)).quad
                shape.draw_quad(quad.morph(pymupdf.Point(x, y), turn))
            shape.finish(color=(0, 0, 0), fill=pick.choice([None, (1, 1, 1), (0.5, 0.5, 0.5)]))
        shape.commit()
        kinds = {item[0] for path in page.get_cdrawings() for item in path["items"]}
        assert {"l", "re", "qu"} <= kinds
        segments = pdf._segments(page)
        assert (segments.h, segments.v) == _segments_by_drawings(page)
    # A content stream's own rectangles, of negative width or height: MuPDF gives some reversed.
    page = doc.new_page()
    ops = [
        f"{pick.randint(0, 500)} {pick.randint(0, 700)} {pick.choice([-80, -2, 2, 60])} "
        f"{pick.choice([-90, -1, 1, 40])} re {pick.choice('Sf')}"
        for _ in range(60)
    ]
    content = doc.get_new_xref()
    doc.update_object(content, "<<>>")
    doc.update_stream(content, " ".join(ops).encode())
    doc.xref_set_key(page.xref, "Contents", f"{content} 0 R")
    page = doc.reload_page(page)
    rects = [item[1] for path in page.get_cdrawings() for item in path["items"]]
    assert any(r[2] < r[0] for r in rects)  # (MuPDF turns them upright, not round)
    segments = pdf._segments(page)
    assert (segments.h, segments.v) == _segments_by_drawings(page)
