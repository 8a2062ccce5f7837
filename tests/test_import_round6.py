"""Real reports of the sixth round: text whose ideographs are radical code points.

PDFs written by macOS and by some WPS/Word exports map common characters to the Kangxi radicals
(⼯ U+2F2F for 工, ⼀ U+2F00 for 一) or to the CJK radicals supplement (⻓ U+2ED3 for 长); text copied
from them into a web page or a Word file carries the same code points. They look right and match
nothing, so headings, labels and the title vanish. Each test bends a real or a generated report
into that shape and asks for the same import as the plain text."""

from __future__ import annotations

import functools
import io
import random
import re
import unicodedata
import zipfile

import pytest

from workbook_tools import check, importer, report, synth, template
from workbook_tools.importer import radicals
from workbook_tools.roster import Unit

# The radical each ideograph has, as a broken font map gives it: the Kangxi block by NFKC's own
# mapping (independent of the importer's table), then the supplement's simplified forms.
_KANGXI = {unicodedata.normalize("NFKC", chr(cp)): chr(cp) for cp in range(0x2F00, 0x2FD6)}
_RUN_TEXT = re.compile(r"(<w:t(?:\s[^>]*)?>)([^<]*)")
_SIMPLIFIED = {"长": "\u2ed3", "门": "\u2ed4", "见": "\u2ec5", "车": "\u2ecb", "页": "\u2eda"}


def _as_radicals(text: str) -> str:
    return "".join(_SIMPLIFIED.get(c) or _KANGXI.get(c, c) for c in text)


def _same_import(a, b) -> None:
    assert (b.unit, b.year, b.kind) == (a.unit, a.year, a.kind)
    assert b.values == a.values
    assert b.missing == a.missing
    assert b.texts == a.texts
    assert sorted(f.code for f in b.findings) == sorted(f.code for f in a.findings)


def test_the_table_is_unicodes_equivalence():
    """Spot values typed from the Unicode names, and the Kangxi block as NFKC gives it."""
    assert radicals.unify("\u2ed3\u2ed4\u2ec5\u2ecb\u2eda\u2ea0") == "长门见车页民"
    assert radicals.unify("\u2f2f\u2f00\u2f08\u2f8f") == "工一人行"
    assert radicals.unify("\uf9b8\ufa0c") == unicodedata.normalize("NFC", "\uf9b8\ufa0c")
    assert all(
        radicals.unify(chr(cp)) == unicodedata.normalize("NFKC", chr(cp))
        for cp in range(0x2F00, 0x2FD6)
    )
    # nothing else changes: full-width punctuation and digits are the report's own
    plain = "一、总体情况（一）１２，３。ABC ① ㈠"
    assert radicals.unify(plain) == plain


@pytest.mark.parametrize(
    "name", ["pingtan_2023.txt", "longgang_qzfgzbm_2024.txt", "ningshan_meizi_zhen_2024.txt"]
)
def test_a_real_report_in_radicals_imports_as_the_plain_one(spec21, shared_dir, tmp_path, name):
    src = shared_dir / "examples" / "published" / name
    text = src.read_text(encoding="utf-8")
    bent = _as_radicals(text)
    assert sum(a != b for a, b in zip(text, bent, strict=True)) > 20  # the bending is real
    copy = tmp_path / name
    copy.write_text(bent, encoding="utf-8")
    plain = importer.read(src, spec21)
    assert plain.values, "the plain report must import for the comparison to mean anything"
    _same_import(plain, importer.read(copy, spec21))


@pytest.mark.libreoffice
def test_a_pdf_whose_text_layer_is_radicals(spec21, soffice, tmp_path):
    """`wbtools report`'s Word layout with its text in radicals, printed to PDF by LibreOffice:
    the text layer keeps the radical code points (PyMuPDF gives what the font's ToUnicode map
    says), and the import is that of the plain report printed the same way."""
    from workbook_tools import office
    from workbook_tools.importer import pdf

    values = synth.consistent_values(spec21, random.Random(11))
    book = tmp_path / "unit.xlsx"
    book.write_bytes(
        template.render(spec21, Unit("长门县交通运输局", "9", "部门"), 2025, values=values)
    )
    docx = report.render(report.build(check.check_file(book, spec21).filing), "docx")
    for name, bend in (("plain", str), ("bent", _as_radicals)):
        (tmp_path / name).mkdir()
        with (
            zipfile.ZipFile(io.BytesIO(docx)) as src,
            zipfile.ZipFile(tmp_path / name / "r.docx", "w", zipfile.ZIP_DEFLATED) as out,
        ):
            for info in src.infolist():
                data = src.read(info)
                if info.filename == "word/document.xml":  # the text of runs only, not font names
                    text = _RUN_TEXT.sub(
                        lambda m, bend=bend: m[1] + bend(m[2]), data.decode("utf-8")
                    )
                    data = text.encode("utf-8")
                out.writestr(info, data)
    plain_pdf = office.convert(tmp_path / "plain" / "r.docx", "pdf", tmp_path / "out_plain")
    bent_pdf = office.convert(tmp_path / "bent" / "r.docx", "pdf", tmp_path / "out_bent")
    layer = "".join(pdf.pdf_lines(bent_pdf))
    assert "\u2f2f" in layer and "\u2ed3" in layer  # the text layer really holds radicals
    plain = importer.read(plain_pdf, spec21)
    assert plain.unit == "长门县交通运输局" and plain.values
    _same_import(plain, importer.read(bent_pdf, spec21))


# --- a browser's print of a page whose table has no rules -----------------------------------------


def _printed_table_three(spec21, values: dict, title: str) -> bytes:
    """表三 as a browser prints a page whose table has no rules and cells sized to their content
    (Chromium's print of a county's page): each label wraps in its column and fills it to its
    edge, so the first figure stands half a character after the label's text; each figure column
    is as wide as its header or its widest figure, so two figures of one row may stand under half a character
    apart; the figures sit beside the label's middle line. The unit is named only in the PDF's
    properties (the page's <title>), as a browser writes it."""
    import pymupdf

    from tests.pdf_corpus import _value_positions

    size, lead, per_line = 9.0, 11.0, 16  # a label line holds 16 characters of 9 pt
    font = pymupdf.Font("cjk")
    label_x = 130.0
    grid = report.grid(spec21, "t3", {})
    at = _value_positions(spec21, "t3", grid)
    rows = range(grid.header_rows, len(grid.rows))
    figures = {r: [at[(r, c)] for c in range(grid.width) if (r, c) in at] for r in rows}
    columns = max(len(f) for f in figures.values())
    widths = [
        max(font.text_length(str(values[f[k]]), fontsize=size) for f in figures.values())
        for k in range(columns)
    ]
    xs = [label_x + per_line * size + 0.5 * size]
    for width in widths[:-1]:  # as wide as its header (two characters), or its widest figure
        xs.append(xs[-1] + max(1.6 * size, width + 0.45 * size))
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_font(fontname="cjk", fontbuffer=font.buffer)  # embedded, as a browser does
    write = functools.partial(page.insert_text, fontname="cjk", fontsize=size)
    write((40, 60), "三、收到和处理政府信息公开申请情况", fontsize=12)
    y = 90.0
    for r in rows:
        labels = [
            (c, cell.text) for c, cell in enumerate(grid.rows[r]) if cell and cell.kind == "label"
        ]
        own = labels[-1][1]
        for c, text in labels[:-1]:  # a group's label, down the side, on its first row
            write((40 + 45 * c, y), text[:4])
        wrapped = [own[i : i + per_line] for i in range(0, len(own), per_line)]
        for k, piece in enumerate(wrapped):
            write((label_x, y + k * lead), piece)
        middle = y + (len(wrapped) - 1) * lead / 2
        for k, dp_id in enumerate(figures[r]):
            write((xs[k], middle), str(values[dp_id]))
        y += len(wrapped) * lead + 4
    write((40, y + 20), "四、政府信息公开行政复议、行政诉讼情况", fontsize=12)
    doc.set_metadata({"title": title})
    return doc.tobytes()


@pytest.mark.parametrize(("seed", "scale"), [(23, 1), (4, 37)])
def test_a_browser_printed_table_whose_labels_touch_the_figures(spec21, tmp_path, seed, scale):
    values = synth.consistent_values(spec21, random.Random(seed))
    values = {k: v * scale if k.startswith("t3.") else v for k, v in values.items()}  # (sums hold)
    t3 = {k: v for k, v in values.items() if k.startswith("t3.")}
    path = tmp_path / "printed.pdf"
    path.write_bytes(
        _printed_table_three(spec21, values, "青禾县交通运输局2025年政府信息公开工作年度报告")
    )
    filing = importer.read(path, spec21)
    assert {k: filing.values.get(k) for k in t3} == t3
    assert (filing.unit, filing.year) == ("青禾县交通运输局", 2025)


@pytest.mark.parametrize(
    ("title", "unit"),
    [
        (
            "Microsoft Word - 青禾县交通运输局2025年政府信息公开工作年度报告.docx",
            "青禾县交通运输局",
        ),
        ("青禾县交通运输局2025年政府信息公开工作年度报告_青禾县人民政府", "青禾县交通运输局"),
        ("文档1", ""),  # a name that is no report's title names no unit
    ],
)
def test_a_pdfs_title_property_names_the_unit_only_when_it_is_a_reports_title(
    spec21, tmp_path, title, unit
):
    values = synth.consistent_values(spec21, random.Random(29))
    path = tmp_path / "printed.pdf"
    path.write_bytes(_printed_table_three(spec21, values, title))
    assert importer.read(path, spec21).unit == unit
