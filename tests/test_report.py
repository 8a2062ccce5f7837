"""wbtools report: the official layout in Word, HTML and Markdown, read back and compared."""

from __future__ import annotations

import io
import re
from pathlib import Path

import docx
import html5lib
import pytest

from workbook_tools import check, layout, office, report
from workbook_tools.docx_report import BODY_FONT

from . import workbooks as wb
from .conftest import HEADINGS, SAMPLES, run

NS = {"h": "http://www.w3.org/1999/xhtml"}


@pytest.fixture(scope="module")
def clean(spec21, tmp_path_factory):
    path = tmp_path_factory.mktemp("rep") / "unit.xlsx"
    path.write_bytes(wb.render(spec21))
    result = check.check_file(path, spec21)
    assert result.errors == 0
    return result


def _grid_cells(spec21, table_id, values):
    return report.grid(spec21, table_id, values)


def test_docx_structure_labels_merges_numbers_and_fonts(spec21, clean):
    doc_model = report.build(clean.filing)
    book = docx.Document(io.BytesIO(report.render(doc_model, "docx")))
    headings = [p.text for p in book.paragraphs if p.style.name == "Heading 1"]
    assert headings == HEADINGS
    subheadings = [p.text for p in book.paragraphs if p.style.name == "Heading 2"]
    assert subheadings == [f.label for f in spec21.fields if f.label.startswith("（")]
    assert book.paragraphs[0].text == "徐营镇2024年政府信息公开工作年度报告"
    assert len(book.tables) == 3
    values = spec21.compute({i: clean.filing.values[i] for i in spec21.inputs})
    for table, table_id in zip(book.tables, ("t2", "t3", "t4"), strict=True):
        g = report.grid(spec21, table_id, values)
        assert (len(table.rows), len(table.columns)) == (len(g.rows), g.width)
        for r, row in enumerate(g.rows):
            for c, cell in enumerate(row):
                if cell is None:
                    continue
                got = table.cell(r, c)
                assert got.text == cell.text, (table_id, r, c)
                if cell.rowspan > 1 or cell.colspan > 1:  # merged exactly as the official table
                    far = table.cell(r + cell.rowspan - 1, c + cell.colspan - 1)
                    assert far._tc is got._tc, (table_id, cell.text)
    t3 = book.tables[1]
    assert (
        t3.cell(0, 0).text.startswith("（本列数据的勾稽关系为")
        and t3.cell(0, 0)._tc is t3.cell(2, 2)._tc
    )
    assert t3.cell(5, 0).text == "三、本年度办理结果" and t3.cell(5, 0)._tc is t3.cell(26, 0)._tc
    header_flags = [
        r._tr.trPr is not None and r._tr.trPr.find(docx.oxml.ns.qn("w:tblHeader")) is not None
        for r in t3.rows
    ]
    assert header_flags[:3] == [True] * 3 and not any(header_flags[3:])
    runs = [r for p in book.paragraphs for r in p.runs] + [
        r for p in t3.cell(10, 2).paragraphs for r in p.runs
    ]
    fonts = {r._element.rPr.rFonts.get(docx.oxml.ns.qn("w:eastAsia")) for r in runs}
    assert (
        None not in fonts and BODY_FONT in fonts and "黑体" in fonts and "方正小标宋简体" in fonts
    )
    sections = book.sections
    assert [s.orientation for s in sections] == [
        0,
        1,
        0,
    ]  # portrait, landscape for 三 and 四, portrait
    assert round(sections[0].page_width.mm) == 210 and round(sections[0].top_margin.mm) == 37


def test_html_spans_and_escaping(spec21, tmp_path):
    hostile = '<script>alert("x")</script> & <b>粗</b>'
    path = wb.write(tmp_path, wb.render(spec21, texts={**wb.TEXTS, "s1.proactive": hostile}))
    doc_model = report.build(check.check_file(path, spec21).filing)
    text = report.render(doc_model, "html").decode()
    assert "&lt;script&gt;" in text and "<script>" not in text
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=True)
    tree = parser.parse(text)  # strict: any parse error raises
    assert tree.findall(".//h:script", NS) == []
    assert any(hostile in "".join(p.itertext()) for p in tree.findall(".//h:p", NS))
    assert [h.text for h in tree.findall(".//h:h2", NS)] == HEADINGS
    tables = tree.findall(".//h:table", NS)
    assert len(tables) == 3
    cells = {c.text: c for c in tables[1].iter() if c.tag.endswith(("th", "td")) and c.text}
    corner = next(c for t, c in cells.items() if t.startswith("（本列数据的勾稽关系为"))
    assert (corner.get("rowspan"), corner.get("colspan")) == ("3", "3")
    assert cells["申请人情况"].get("colspan") == "7"
    assert cells["三、本年度办理结果"].get("rowspan") == "22"
    assert cells["（三）不予公开"].get("rowspan") == "8"
    assert cells["（七）总计"].get("colspan") == "2"
    t4 = {c.text: c for c in tables[2].iter() if c.tag.endswith("th") and c.text}
    assert t4["行政诉讼"].get("colspan") == "10" and t4["复议后起诉"].get("colspan") == "5"


def test_markdown_is_readable_text(spec21, clean):
    md = report.render(report.build(clean.filing), "md").decode()
    assert md.startswith("# 徐营镇2024年政府信息公开工作年度报告")
    assert [line[3:] for line in md.splitlines() if line.startswith("## ")] == HEADINGS
    row = next(
        line for line in md.splitlines() if line.startswith("| 一、本年新收政府信息公开申请数量")
    )
    values = clean.filing.values
    assert row.split("|")[2].strip() == str(values["t3.new.natural"])
    assert "| 行政复议·结果维持 |" in md and "行政诉讼·复议后起诉·总计" in md


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_report_from_the_xuying_sample_matches_the_published_report(spec21, shared_dir, tmp_path):
    """Same section headings, the same table labels in the same order, the same figures."""
    published = (shared_dir / "examples/published/xuying-2024.txt").read_text("utf-8")
    result = check.check_file(SAMPLES / "published/获嘉县徐营镇_2024.xlsx", spec21)
    book = docx.Document(io.BytesIO(report.render(report.build(result.filing), "docx")))
    headings = [p.text for p in book.paragraphs if p.style.name == "Heading 1"]
    assert headings == [line.strip() for line in published.splitlines() if line.strip() in HEADINGS]
    squashed = _squash(published)
    position = 0
    figures = []
    for table in book.tables:
        seen = []  # merged cells repeat in row.cells; keep the elements (lxml proxies) themselves
        for row in table.rows:
            for cell in row.cells:
                if any(cell._tc is e for e in seen):
                    continue
                seen.append(cell._tc)
                if re.fullmatch(r"\d+(\.\d+)?", cell.text):
                    figures.append(cell.text)
                    continue
                found = squashed.find(_squash(cell.text), position)
                assert found >= 0, f"{cell.text!r} is not where the published report has it"
                position = found
    start, end = published.index("二、主动公开政府信息情况"), published.index("五、存在的主要问题")
    published_figures = [
        x.strip() for x in published[start:end].splitlines() if re.fullmatch(r"\s*\d+\s*", x)
    ]
    assert figures == published_figures and len(figures) == 200


def test_errors_refuse_the_report_unless_allowed(tmp_path):
    broken = SAMPLES / "returned/2025/102_青禾县柳河镇_2025.xlsx"
    out = tmp_path / "r.docx"
    result = run("report", broken, "-o", out)
    assert result.exit_code == 1 and not out.exists() and "R1" in result.output
    result = run("report", broken, "-o", out, "--allow-errors")
    assert result.exit_code == 0 and out.exists()
    text = "\n".join(p.text for p in docx.Document(out).paragraphs)
    assert "未经校验" in text


def test_empty_narrative_shows_a_placeholder_and_warns(spec21, tmp_path):
    path = wb.write(
        tmp_path, wb.render(spec21, texts={**wb.TEXTS, "s5.problems": "", "s6.fees": ""})
    )
    out = tmp_path / "r.md"
    result = run("report", path, "-o", out)
    assert result.exit_code == 0
    md = out.read_text(encoding="utf-8")
    assert "【待填写：（一）存在的主要问题】" in md and "【待填写：信息处理费收取情况】" in md
    assert "“信息处理费收取情况”未填写" in result.output


def test_folder_of_workbooks_and_the_county_workbook(spec21, tmp_path):
    out = tmp_path / "reports"
    result = run("report", SAMPLES / "returned/2025", "-o", out, "--to", "html")
    assert result.exit_code == 1  # three units have errors: no report for them
    names = sorted(p.name for p in out.iterdir())
    assert "青禾县城关镇2025年政府信息公开工作年度报告.html" in names
    assert not any("柳河镇" in n for n in names)
    county_xlsx = tmp_path / "county.xlsx"
    run(
        "merge",
        SAMPLES / "returned/2025",
        "-r",
        SAMPLES / "roster.csv",
        "--name",
        "青禾县",
        "-o",
        county_xlsx,
    )
    result = run("report", county_xlsx, "-o", tmp_path / "county.docx", "--allow-partial")
    assert result.exit_code == 0, result.output
    book = docx.Document(tmp_path / "county.docx")
    assert book.paragraphs[0].text == "青禾县2025年政府信息公开工作年度报告"


@pytest.mark.libreoffice
def test_pdf_through_libreoffice(soffice, tmp_path):
    out = tmp_path / "r.docx"
    result = run("report", SAMPLES / "returned/2025/101_青禾县城关镇_2025.xlsx", "-o", out, "--pdf")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")


def test_pdf_without_libreoffice_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(office, "find_soffice", lambda: None)
    out = tmp_path / "r.docx"
    result = run("report", SAMPLES / "returned/2025/101_青禾县城关镇_2025.xlsx", "-o", out, "--pdf")
    assert result.exit_code == 1 and out.exists() and "LibreOffice" in result.output


def test_grid_matches_the_layout(spec21):
    g = report.grid(spec21, "t3", {})
    tl = layout.build(spec21).tables["t3"]
    assert (
        len(g.rows) == tl.bottom - layout.TABLE_TOP + 1 == 28
        and g.width == 10
        and g.header_rows == 3
    )
    assert (
        Path(report.file_name(report.Document("a/b", "", 2024, [], [], False, []), "md")).name
        == "report_2024.md"
    )


def test_two_workbooks_of_one_unit_give_two_reports_not_one_overwritten(tmp_path):
    """Two returned files of the same unit (a first and a corrected version) name the same report:
    the second must not silently replace the first within one run."""
    one = SAMPLES / "returned/2025/101_青禾县城关镇_2025.xlsx"
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("101_青禾县城关镇_2025.xlsx", "101_青禾县城关镇_2025_改.xlsx"):
        (inputs / name).write_bytes(one.read_bytes())
    out = tmp_path / "reports"
    result = run("report", inputs, "-o", out, "--to", "md")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "青禾县城关镇2025年政府信息公开工作年度报告 (2).md",
        "青禾县城关镇2025年政府信息公开工作年度报告.md",
    ]
    assert "(2).md" in result.output and "同一单位" in result.output
    result = run("report", inputs, "-o", out, "--to", "md")  # a rerun replaces its own outputs
    assert result.exit_code == 0 and len(list(out.iterdir())) == 2
    result = run("report", inputs, "-o", tmp_path / "en", "--to", "md", "--lang", "en")
    assert "same unit" in result.output


def _table_by_cell_api(grid, usable_mm: float):
    """The reference for docx_report's tables: the same table made with python-docx's cell API
    (add_table, cell widths, Cell.merge, vertical alignment, paragraph format, run text)."""
    from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm

    from workbook_tools import docx_report

    doc = docx.Document()
    table = doc.add_table(rows=len(grid.rows), cols=grid.width)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    scale = usable_mm / sum(grid.widths)
    for c, width in enumerate(grid.widths):
        table.columns[c].width = Mm(width * scale)
        for r in range(len(grid.rows)):
            table.cell(r, c).width = Mm(width * scale)
    size = docx_report.SIZE_SMALL_5 if grid.landscape else docx_report.SIZE_5
    for r, row in enumerate(grid.rows):
        for c, cell in enumerate(row):
            if cell is None:
                continue
            target = table.cell(r, c)
            if cell.rowspan > 1 or cell.colspan > 1:
                target = target.merge(table.cell(r + cell.rowspan - 1, c + cell.colspan - 1))
            target.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
            p = target.paragraphs[0]
            p.paragraph_format.line_spacing = 1.0
            left = cell.role in ("stub", "caption") or (
                cell.kind == "label" and len(cell.text) > 30
            )
            p.alignment = WD_ALIGN_PARAGRAPH.LEFT if left else WD_ALIGN_PARAGRAPH.CENTER
            run = docx_report._run(p, "", docx_report.BODY_FONT, size)
            run.bold = cell.role in ("header", "caption")
            run.text = cell.text
    for r in range(grid.header_rows):
        trpr = table.rows[r]._tr.get_or_add_trPr()
        flag = docx.oxml.OxmlElement("w:tblHeader")
        flag.set(docx.oxml.ns.qn("w:val"), "true")
        trpr.append(flag)
    return table._tbl


@pytest.mark.parametrize("landscape", [False, True])
def test_word_tables_are_the_xml_python_docx_cell_api_writes(spec21, landscape):
    """docx_report builds a table's rows as one XML string: it must be exactly what python-docx's
    own cell API writes for the same grid — spans both ways, an empty position, continuation
    cells, header rows, and text with tabs, line breaks, edge spaces and markup characters."""
    from lxml import etree

    from workbook_tools import docx_report
    from workbook_tools.document import Grid, GridCell

    odd = [
        "a\tb",
        "first\nsecond\r\nthird",
        "  padded ",
        "<&> \"'",
        "规章" * 16,
        "",
    ]
    rows = [
        [GridCell("caption", colspan=4, role="caption"), None, None, None],
        [
            GridCell("corner", rowspan=2, colspan=2, role="corner"),
            None,
            GridCell("h", role="header"),
            GridCell(odd[0], role="header"),
        ],
        [None, None, GridCell(odd[1], kind="value"), GridCell(odd[2], kind="value")],
        [GridCell(odd[3], role="stub"), None, GridCell(odd[4]), GridCell(odd[5], kind="value")],
        [
            GridCell("tall", rowspan=2),
            GridCell("x", kind="value"),
            GridCell("wide", colspan=2),
            None,
        ],
        [
            None,
            GridCell("y", kind="value"),
            GridCell("1", kind="value"),
            GridCell("2", kind="value"),
        ],
    ]
    grids = [
        Grid("tx", "odd", rows, header_rows=2, landscape=landscape, width=4, widths=[3, 1, 1.5, 1])
    ]
    values = spec21.compute({i: 0 for i in spec21.inputs})
    grids += [report.grid(spec21, t, values) for t in ("t2", "t3", "t4")]
    for grid in grids:
        grid.landscape = landscape
        doc = docx.Document()
        style = doc.styles["Table Grid"].style_id
        docx_report._table(doc, grid, 154.0, style)
        ours = doc.tables[0]._tbl
        want = _table_by_cell_api(grid, 154.0)
        assert etree.tostring(ours) == etree.tostring(want), grid.table_id
