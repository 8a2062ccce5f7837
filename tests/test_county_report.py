"""What the county leader receives: the county report says whom it covers, follows GB/T 9704 where
a reader sees it (page numbers, title lines, document properties), and the county workbook reads
and prints well. Outputs are opened with the libraries a user's tools use."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docx
import html5lib
import pytest
from docx.oxml.ns import qn

from workbook_tools import check, report

from . import workbooks as wb
from .conftest import SAMPLES, run

NS = {"h": "http://www.w3.org/1999/xhtml"}
LEFT_OUT = {  # the sample county: who is not in the total, and why
    "missing": ["青禾县市场监督管理局"],
    "failing": ["青禾县柳河镇", "青禾县石桥镇", "青禾县白杨乡"],
    "duplicate": ["青禾县人民政府办公室"],
}


@pytest.fixture(scope="module")
def county_xlsx(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("county") / "county.xlsx"
    result = run(
        "merge",
        SAMPLES / "returned/2025",
        "-r",
        SAMPLES / "roster.csv",
        "--name",
        "青禾县",
        "-o",
        out,
    )
    assert result.exit_code == 1 and out.exists(), result.output
    return out


@pytest.fixture(scope="module")
def complete_county(spec21, tmp_path_factory) -> Path:
    """Two units, both returned and clean: a county total that covers everyone."""
    folder = tmp_path_factory.mktemp("complete")
    units = folder / "units"
    units.mkdir()
    roster = folder / "roster.csv"
    roster.write_text("单位名称,单位代码,单位类型\n甲镇,01,乡镇\n乙镇,02,乡镇\n", encoding="utf-8")
    from workbook_tools.roster import Unit

    for name, code in (("甲镇", "01"), ("乙镇", "02")):
        data = wb.render(spec21, unit=Unit(name, code, "乡镇"), year=2025)
        (units / f"{code}.xlsx").write_bytes(data)
    out = folder / "county.xlsx"
    result = run("merge", units, "-r", roster, "--name", "甲县", "-o", out)
    assert result.exit_code == 0, result.output
    return out


# --- coverage -------------------------------------------------------------------------------


def test_partial_county_report_is_refused_and_the_terminal_says_whom_it_lacks(
    county_xlsx, tmp_path
):
    out = tmp_path / "county.docx"
    result = run("report", county_xlsx, "-o", out)
    assert result.exit_code == 1 and not out.exists()
    assert "13 个单位" in result.output and "纳入汇总 8 个" in result.output
    for names in LEFT_OUT.values():
        assert all(name in result.output for name in names)
    assert "--allow-partial" in result.output


def test_county_report_states_its_coverage_in_every_format(county_xlsx, tmp_path):
    for fmt in ("docx", "html", "md"):
        out = tmp_path / f"county.{fmt}"
        result = run("report", county_xlsx, "-o", out, "--allow-partial")
        assert result.exit_code == 0, result.output
        assert "青禾县市场监督管理局" in result.output  # on the terminal too
        if fmt == "docx":
            paragraphs = [p.text for p in docx.Document(out).paragraphs]
            # right after the title, before the preamble and the six sections
            note = paragraphs[1 : paragraphs.index("一、总体情况")]
        elif fmt == "html":
            tree = html5lib.parse(out.read_text(encoding="utf-8"))
            div = tree.find(".//h:div[@class='coverage']", NS)
            note = ["".join(p.itertext()) for p in div.findall("h:p", NS)]
        else:
            note = [
                line[2:]
                for line in out.read_text(encoding="utf-8").splitlines()
                if line.startswith("> ")
            ]
        text = "\n".join(note)
        assert "单位名册共 13 个单位，纳入汇总 8 个" in text, fmt
        assert "未报送（1 个）：青禾县市场监督管理局" in text
        assert "未通过校验、未纳入汇总（3 个）：青禾县柳河镇、青禾县石桥镇、青禾县白杨乡" in text
        assert "未纳入汇总（1 个）：青禾县人民政府办公室" in text


def test_provisional_units_are_named(tmp_path):
    county_xlsx = tmp_path / "county.xlsx"
    run(
        "merge",
        SAMPLES / "returned/2025",
        "-r",
        SAMPLES / "roster.csv",
        "--include-failing",
        "-o",
        county_xlsx,
    )
    out = tmp_path / "county.md"
    assert run("report", county_xlsx, "-o", out, "--allow-errors").exit_code == 1
    result = run(
        "report", county_xlsx, "-o", out, "--allow-partial", "--allow-errors", "--lang", "en"
    )
    assert result.exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert "included as provisional figures (3): 青禾县柳河镇, 青禾县石桥镇, 青禾县白杨乡" in text


def test_complete_county_report_needs_no_flag_and_says_so(complete_county, tmp_path):
    out = tmp_path / "county.docx"
    result = run("report", complete_county, "-o", out)
    assert result.exit_code == 0, result.output
    text = "\n".join(p.text for p in docx.Document(out).paragraphs)
    assert "单位名册共 2 个单位，纳入汇总 2 个。各单位均已报送并通过校验。" in text


def test_a_units_own_report_has_no_coverage_note(spec21, tmp_path):
    path = wb.write(tmp_path, wb.render(spec21))
    doc = report.build(check.check_file(path, spec21).filing)
    assert doc.coverage == [] and not doc.partial


# --- Word: page numbers, title lines, properties --------------------------------------------


def _docx(spec21, tmp_path, unit=None) -> docx.document.Document:
    from workbook_tools.roster import Unit

    unit = unit or Unit("青禾县城关镇", "101", "乡镇")
    path = wb.write(tmp_path, wb.render(spec21, unit=unit, year=2025))
    doc = report.build(check.check_file(path, spec21).filing)
    return docx.Document(io.BytesIO(report.render(doc, "docx")))


def _field_text(paragraph) -> tuple[str, list[str]]:
    """The footer paragraph's shown text and its field instructions."""
    instr = [n.text.strip() for n in paragraph._p.iter(qn("w:instrText"))]
    return paragraph.text, instr


def test_page_numbers_on_outside_edges_in_4hao_songti(spec21, tmp_path):
    book = _docx(spec21, tmp_path)
    settings = book.settings.element
    assert settings.find(qn("w:evenAndOddHeaders")) is not None
    section = book.sections[0]
    odd, even = section.footer.paragraphs[0], section.even_page_footer.paragraphs[0]
    for p, align in ((odd, "right"), (even, "left")):
        text, instr = _field_text(p)
        assert instr == ["PAGE"]
        assert re.fullmatch(r"— \d+ —", text), text
        assert p.alignment is not None and p.alignment.name.lower() == align
        for r in p.runs:
            fonts = r._element.rPr.find(qn("w:rFonts"))
            assert fonts.get(qn("w:eastAsia")) == "宋体"
            assert r.font.size.pt == 14  # 4号
    # one character in from the outside edge
    assert odd.paragraph_format.right_indent.pt == 14
    assert even.paragraph_format.left_indent.pt == 14
    # every later section (the landscape tables) keeps the numbering
    assert all(s.footer.is_linked_to_previous for s in book.sections[1:])


@pytest.mark.parametrize(
    "unit",
    ["青禾县城关镇", "青禾县市场监督管理局", "青禾县住房和城乡建设局", "青禾县"],
)
def test_title_breaks_into_balanced_lines_at_a_meaningful_place(spec21, tmp_path, unit):
    from workbook_tools.roster import Unit

    book = _docx(spec21, tmp_path, Unit(unit, "101", "部门"))
    title = book.paragraphs[0]
    lines = title.text.split("\n")
    assert "".join(lines) == f"{unit}2025年政府信息公开工作年度报告"
    if report.text_width(title.text) <= report.TITLE_CAPACITY:
        assert lines == [title.text]
    else:
        # two lines, each fits, the break between the year and 政府信息公开…; no dangling word
        assert lines == [f"{unit}2025年", "政府信息公开工作年度报告"]
    assert all(report.text_width(line) <= report.TITLE_CAPACITY for line in lines)
    assert all(len(line) > 4 for line in lines)


def test_title_lines_of_a_very_long_unit_name_stay_whole_and_fit():
    unit = "某某省某某市某某县某某乡镇人民政府某某某某某某委员会办公室"
    doc = report.Document(f"{unit}2025年政府信息公开工作年度报告", unit, 2025, [], [], False, [])
    lines = report.title_lines(doc)
    assert "".join(lines) == doc.title and len(lines) == 3
    assert lines[-1] == "政府信息公开工作年度报告"
    assert all(report.text_width(line) <= report.TITLE_CAPACITY for line in lines)


def test_document_properties_name_the_unit_and_now(spec21, tmp_path):
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    book = _docx(spec21, tmp_path)
    props = book.core_properties
    assert props.title == "青禾县城关镇2025年政府信息公开工作年度报告"
    assert props.author == "青禾县城关镇" and props.last_modified_by == "青禾县城关镇"
    for stamp in (props.created, props.modified):
        stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp
        assert before <= stamp <= datetime.now(UTC) + timedelta(seconds=1)


# --- PDF ------------------------------------------------------------------------------------


@pytest.mark.libreoffice
def test_county_report_pdf_has_page_numbers_in_its_text_layer(soffice, county_xlsx, tmp_path):
    out = tmp_path / "county.docx"
    result = run("report", county_xlsx, "-o", out, "--allow-partial", "--pdf")
    assert result.exit_code == 0, result.output
    pdf = tmp_path / "county.pdf"
    info = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages >= 4
    for n in range(1, pages + 1):
        box = subprocess.run(
            ["pdftotext", "-f", str(n), "-l", str(n), "-bbox", pdf, "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        width = float(re.search(r'<page width="([\d.]+)"', box).group(1))
        words = re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)"[^>]*>([^<]*)</word>', box)
        number = [(float(x), float(y)) for x, y, w in words if w == str(n)]
        dashes = [float(y) for x, y, w in words if w == "—"]
        assert number, f"page {n}: no page number in the text layer"
        x, y = max(number, key=lambda p: p[1])  # the lowest on the page
        assert sum(1 for d in dashes if abs(d - y) < 3) == 2, f"page {n}: “— {n} —”"
        # odd pages right, even pages left
        assert (x > width / 2) == (n % 2 == 1), f"page {n} number at x={x} of {width}"
    text = subprocess.run(["pdftotext", pdf, "-"], capture_output=True, text=True).stdout
    assert "青禾县市场监督管理局" in text.split("一、总体情况")[0]
