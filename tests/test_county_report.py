"""What the county leader receives: the county report says whom it covers, follows GB/T 9704 where
a reader sees it (page numbers, title lines, document properties), and the county workbook reads
and prints well. Outputs are opened with the libraries a user's tools use."""

from __future__ import annotations

import io
import re
import subprocess
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docx
import html5lib
import openpyxl
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
        "--prefer",
        "none",  # the resubmitting unit held out as a duplicate (the default uses its newest)
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
        assert re.fullmatch(r"— [0-9]+ —", text), text  # 半角 (ASCII) digits, 一字线 each side
        assert p.alignment is not None and p.alignment.name.lower() == align
        for r in p.runs:
            fonts = r._element.rPr.find(qn("w:rFonts"))
            # 宋体 for every character: the digits are Latin text, drawn in w:ascii's font
            assert {fonts.get(qn(f"w:{a}")) for a in ("ascii", "hAnsi", "eastAsia")} == {"宋体"}
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


# --- the county workbook --------------------------------------------------------------------


def _shown(ws) -> dict[tuple[int, int], object]:
    """Every merged cell's shown value (the top-left value of its merge), by (row, column)."""
    out = {}
    for rng in ws.merged_cells.ranges:
        top = ws.cell(rng.min_row, rng.min_col).value
        for r in range(rng.min_row, rng.max_row + 1):
            for c in range(rng.min_col, rng.max_col + 1):
                out[r, c] = top
    return out


def test_breakdown_is_headed_by_official_labels_with_ids_hidden(spec21, county_xlsx):
    from workbook_tools import county

    ws = openpyxl.load_workbook(county_xlsx)[county.BREAKDOWN_SHEET]
    shown = _shown(ws)
    chunks = wb.breakdown_chunks(ws)
    units, blocks = chunks[0], chunks[1:]
    assert list(units["ids"].values()) == ["unit", "code", "kind", "status", "included", "file"]
    seen = []
    for chunk in chunks:
        assert ws.row_dimensions[chunk["id_row"]].hidden
        heads = range(chunk["id_row"] + 1, chunk["first"])
        assert [shown.get((r, 1), ws.cell(r, 1).value) for r in heads][-1] == "序号"
        assert [shown.get((r, 2), ws.cell(r, 2).value) for r in heads][-1] == "单位名称"
        if chunk is units:
            continue
        for c, dp_id in chunk["ids"].items():
            labels = [shown.get((r, c), ws.cell(r, c).value) for r in heads]
            path = [x for i, x in enumerate(labels) if x and (i == 0 or x != labels[i - 1])]
            assert path == county.breakdown_path(spec21, dp_id), dp_id
            seen.append(dp_id)
        assert max(chunk["ids"]) <= 2 + 21  # no block wider than the printed grid
        # a row of an official table is never cut between two blocks
        rows = {spec21.datapoints[d].row_labels for d in chunk["ids"].values()}
        for other in blocks:
            if other is not chunk:
                assert not rows & {spec21.datapoints[d].row_labels for d in other["ids"].values()}
    assert seen == list(spec21.datapoints)  # every datapoint once, in the official order
    t3 = next(c for c in blocks if "t3.deny_secret.natural" in c["ids"].values())
    col = next(c for c, d in t3["ids"].items() if d == "t3.deny_secret.natural")
    labels = [shown.get((r, col)) for r in range(t3["id_row"] + 1, t3["first"])]
    assert (
        labels[:4]
        == [
            "三、收到和处理政府信息公开申请情况",
            "三、本年度办理结果",
            "（三）不予公开",
            "1.属于国家秘密",
        ]
        and labels[-1] == "自然人"
    )
    data = wb.breakdown_values(ws)
    assert len(data) == 15 and data[1]["unit"] == "青禾县城关镇"
    assert data[1]["file"] == "101_青禾县城关镇_2025.xlsx" and data[1]["included"] == "是"
    assert all(len(v) == 6 + len(spec21.datapoints) for v in data.values())
    assert ws.freeze_panes == "C2"


def pdf_pages(pdf: Path) -> list[list[tuple[str, float, float, float, float]]]:
    """Each page's words with their boxes (text, x0, y0, x1, y1), from pdftotext -bbox."""
    box = subprocess.run(
        ["pdftotext", "-bbox", pdf, "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = []
    for page in box.split("<page ")[1:]:
        words = re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
            page,
        )
        pages.append([(w, float(a), float(b), float(c), float(d)) for a, b, c, d, w in words])
    return pages


@pytest.fixture(scope="module")
def county_pdf(county_xlsx, soffice, tmp_path_factory) -> Path:
    """The whole county workbook printed by LibreOffice, as a user would print it."""
    from workbook_tools import office

    return office.convert(county_xlsx, "pdf", tmp_path_factory.mktemp("county_pdf"))


@pytest.mark.libreoffice
def test_breakdown_prints_one_page_wide_and_readable(spec21, county_xlsx, county_pdf):
    from workbook_tools import county

    ws = openpyxl.load_workbook(county_xlsx)[county.BREAKDOWN_SHEET]
    ps = ws.page_setup
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    # fitToWidth is left out when it is 1, its default in the schema (ECMA-376 pageSetup), as
    # Excel itself writes it; openpyxl then reads None
    fit_width = 1 if ps.fitToWidth is None else ps.fitToWidth
    assert (fit_width, ps.fitToHeight, ps.orientation, ps.paperSize) == (1, 0, "landscape", 9)
    assert ws.print_title_rows == "$1:$1"  # the title on every page
    chunks = wb.breakdown_chunks(ws)
    # every chunk after the first starts a page: the break falls just above its hidden id row
    assert [b.id for b in ws.row_breaks.brk] == [c["id_row"] - 1 for c in chunks[1:]]
    # about as wide as an A4 landscape page (1045 px inside the margins) in Excel's units, so
    # one page wide is close to 100 %: the file stores a column of n pixels as n / 7
    last = max(c for chunk in chunks for c in chunk["ids"])
    px = sum(
        round(7 * dim.width) * (min(dim.max, last) - dim.min + 1)
        for dim in ws.column_dimensions.values()
        if dim.min <= last
    )
    assert 0.9 * 1045 < px <= 1045
    title = ws.cell(1, 1).value.replace(" ", "")
    pages = [p for p in pdf_pages(county_pdf) if title in "".join(w[0] for w in p)]
    assert len(pages) == len(chunks)  # one page per chunk: nothing spills onto another page
    for words, chunk in zip(pages, chunks, strict=True):
        text = "".join(w[0] for w in words)
        assert "序号" in text and "单位名称" in text and "青禾县城关镇" in text
        assert max(w[3] for w in words) <= 842, "nothing past the right edge"
        # the block's last column is on the same page as the unit names
        if chunk is chunks[0]:
            assert "101_青禾县城关镇_2025.xlsx" in text
        else:
            last_id = chunk["ids"][max(chunk["ids"])]
            assert county.breakdown_path(spec21, last_id)[-1][:4] in text, last_id
            assert str(chunk["data"][1][last_id]) in {w[0] for w in words}
        # legible type: a full-width character is one em wide; the unit names (10 pt at 100 %)
        # print at 7.5 pt in LibreOffice, whose fallback for Calibri draws columns wider
        name = next(w for w in words if w[0] == "青禾县城关镇")
        assert (name[3] - name[1]) / 6 >= 7.0, name


def test_summary_counts_units_not_files_and_says_when_and_from_where(county_xlsx):
    from workbook_tools import county

    ws = openpyxl.load_workbook(county_xlsx)[county.SUMMARY_SHEET]
    lines = [r[0] for r in ws.iter_rows(values_only=True) if r[0]]
    assert "单位名册：共 13 个单位" in lines and "纳入汇总：8 个单位" in lines
    by_status = {}
    for line in lines:
        m = re.fullmatch(r"(.+)：(\d+) 个单位（(纳入汇总|未纳入汇总)）", line)
        if m:
            by_status[m.group(1)] = int(m.group(2))
    assert by_status == {"已报送通过": 8, "未报送": 1, "未通过校验": 3, "重复": 1}
    assert sum(by_status.values()) == 13  # the two files of one unit count once
    made = next(x for x in lines if x.startswith("生成时间："))
    stamp = datetime.fromisoformat(made.removeprefix("生成时间："))
    assert abs(stamp - datetime.now(UTC)) < timedelta(minutes=10)
    assert f"数据来源：{(SAMPLES / 'returned/2025').resolve()}" in lines
    assert ws.row_dimensions[1].height >= 27


def test_county_workbook_properties_name_the_county_and_now(county_xlsx):
    """As for the Word report: the title, the county as author, made now (not a pinned date)."""
    props = openpyxl.load_workbook(county_xlsx).properties
    assert props.title == "青禾县2025年政府信息公开工作年度报告 汇总"
    assert props.creator == "青禾县"
    for stamp in (props.created, props.modified):
        stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp
        assert abs(stamp - datetime.now(UTC)) < timedelta(minutes=10), stamp


def overlapping_words(words) -> list[tuple]:
    """Pairs of words printed over each other: text that ran past its cell (clipped on paper,
    whole in the text layer) or label rows drawn on top of one another."""
    ws = sorted(words, key=lambda w: w[2])
    bad = []
    for i, a in enumerate(ws):
        for b in ws[i + 1 :]:
            if b[2] >= a[4]:
                break
            dx = min(a[3], b[3]) - max(a[1], b[1])
            dy = min(a[4], b[4]) - max(a[2], b[2])
            if dx > 1 and dy > 0.3 * min(a[4] - a[2], b[4] - b[2]):
                bad.append((a[0], b[0]))
    return bad


def cjk_characters(text: str) -> Counter:
    return Counter(ch for ch in text if "\u4e00" <= ch <= "\u9fff")


def printed_cell_text(book) -> Counter:
    """The CJK characters of every cell a printer prints: visible sheets, rows not hidden."""
    out: Counter = Counter()
    for ws in book.worksheets:
        if ws.sheet_state != "visible":
            continue
        hidden = {r for r, d in ws.row_dimensions.items() if d.hidden}
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str) and c.row not in hidden and c.data_type != "f":
                    out += cjk_characters(c.value)
    return out


@pytest.mark.libreoffice
def test_every_printed_page_is_free_of_overlapping_or_cut_text(
    county_pdf, county_with_previous, template_bytes, tmp_path
):
    """The county workbooks (with and without --previous) and the template as LibreOffice
    prints them: no text over other text (a cell running past its edge, label rows drawn on top
    of one another, chart labels on each other), and no text cut off: every character of every
    printed cell is in the PDF's text layer (a wrapped cell in a row too short shows only its
    first lines)."""
    from workbook_tools import office

    src = tmp_path / "template.xlsx"
    src.write_bytes(template_bytes)
    out = tmp_path / "pdf"
    previous_pdf = office.convert(county_with_previous, "pdf", out / "previous")
    template_pdf = office.convert(src, "pdf", out)
    for pdf, xlsx in (
        (county_pdf, None),
        (previous_pdf, county_with_previous),
        (template_pdf, None),
    ):
        pages = pdf_pages(pdf)
        assert pages
        for n, words in enumerate(pages, start=1):
            assert not overlapping_words(words), (pdf.name, n, overlapping_words(words)[:3])
        if xlsx is not None:
            printed = cjk_characters("".join(w[0] for page in pages for w in page))
            cells = printed_cell_text(openpyxl.load_workbook(xlsx))
            missing = cells - printed
            assert sum(cells.values()) > 10_000
            assert not missing, missing.most_common(10)
    text = "".join(w[0] for page in pdf_pages(county_pdf) for w in page)
    for title in ("三、收到和处理政府信息公开申请情况", "青禾县2025年政府信息公开工作年度报告汇总"):
        assert title in text


def test_every_sheet_has_print_setup_and_unclipped_titles(county_xlsx):
    from workbook_tools import county, layout

    book = openpyxl.load_workbook(county_xlsx)
    for ws in book.worksheets:
        if ws.sheet_state != "visible":
            continue
        assert ws.page_setup.paperSize == 9, ws.title
        title = ws.cell(1, 1).value
        if title and ws.title not in (
            county.STATUS_SHEET,
            county.FINDINGS_SHEET,
            county.TEXTS_SHEET,
        ):
            if ws.title == county.BREAKDOWN_SHEET:
                continue
            assert (ws.row_dimensions[1].height or 0) >= 27, ws.title
    for name in (county.STATUS_SHEET, county.FINDINGS_SHEET):
        ws = book[name]
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0
        assert ws.print_title_rows == "$1:$1"
    assert book[layout.NARRATIVE_SHEET].row_dimensions[1].height >= 27


def test_template_check_list_rows_fit_their_wrapped_labels(template_book):
    from workbook_tools import layout

    ws = template_book[layout.CHECKS_SHEET]
    assert ws.row_dimensions[1].height >= 27
    tall = 0
    for row in ws.iter_rows(min_row=8):
        where = row[3].value or ""
        lines = layout.text_lines(where, 40 * 0.85)
        if lines > 1:
            tall += 1
            assert (ws.row_dimensions[row[0].row].height or 15) >= 15 * lines, where
    assert tall > 0


# --- charts ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def county_with_previous(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("county_prev") / "county.xlsx"
    result = run(
        "merge",
        SAMPLES / "returned/2025",
        "-r",
        SAMPLES / "roster.csv",
        "--name",
        "青禾县",
        "--previous",
        SAMPLES / "returned/2024",
        "-o",
        out,
    )
    assert out.exists(), result.output
    return out


def _chart_tables(ws) -> dict[str, list[tuple]]:
    """The data tables on the 图表 sheet, by title: rows of (category, values...)."""
    out, title, rows = {}, None, []
    for row in ws.iter_rows(min_row=3, max_col=3, values_only=True):
        if row[0] and row[1] is None and row[2] is None and not rows:
            title = row[0]
        elif row[0] is None and row[1] is None:
            if title and rows:
                out[title] = rows
            title, rows = None, []
        elif title and isinstance(row[1], int | float):
            rows.append(row)
    if title and rows:
        out[title] = rows
    return out


def test_charts_sheet_has_native_charts_over_the_right_figures(spec21, county_with_previous):
    from openpyxl.chart import BarChart, PieChart

    from workbook_tools import charts, county

    book = openpyxl.load_workbook(county_with_previous)
    assert book.sheetnames[1] == county.CHARTS_SHEET
    ws = book[county.CHARTS_SHEET]
    kinds = [type(c) for c in ws._charts]
    assert kinds == [BarChart, BarChart, PieChart, BarChart]
    for chart in ws._charts:
        for series in chart.series:
            assert series.val.numRef.f.startswith(f"'{county.CHARTS_SHEET}'!") or (
                series.val.numRef.f.startswith(f"{county.CHARTS_SHEET}!")
            )
    tables = _chart_tables(ws)
    status = dict((r[0], r[1]) for r in tables[charts.TEXT["zh"]["status"]])
    # the default picks the resubmitting unit's newest file: 9 units in, none duplicate
    assert status == {"已报送通过": 9, "未报送": 1, "未通过校验": 3}
    # applications per unit: the units in the total, their 表三 一 总计 from the breakdown
    per_unit = dict((r[0], r[1]) for r in tables[charts.TEXT["zh"]["per_unit"]])
    rows = wb.breakdown_values(book[county.BREAKDOWN_SHEET]).values()
    passed = {r["unit"]: r["t3.new.total"] for r in rows if r["status"] == "已报送通过"}
    assert per_unit == passed and len(per_unit) == 9
    # outcome mix: the county totals of （一）…（六）
    totals = check.check_file(county_with_previous, spec21).filing.values
    outcomes = tables[charts.TEXT["zh"]["outcomes"]]
    assert [r[0] for r in outcomes] == [
        "（一）予以公开",
        "（二）部分公开",
        "（三）不予公开",
        "（四）无法提供",
        "（五）不予处理",
        "（六）其他处理",
    ]
    assert sum(r[1] for r in outcomes) == totals["t3.total.total"]
    assert outcomes[0][1] == totals["t3.granted.total"]
    yoy = tables[charts.TEXT["zh"]["year_on_year"]]
    assert yoy[0][0] == "本年新收申请" and yoy[0][2] == totals["t3.new.total"]
    assert (
        ws.cell(
            next(
                i
                for i, r in enumerate(ws.iter_rows(values_only=True), 1)
                if r[0] == charts.TEXT["zh"]["year_on_year"]
            )
            + 1,
            3,
        ).value
        == "2025年"
    )


def test_html_county_report_has_the_charts_as_inline_svg_without_script(
    county_with_previous, tmp_path
):
    out = tmp_path / "county.html"
    result = run("report", county_with_previous, "-o", out, "--allow-partial")
    assert result.exit_code == 0, result.output
    tree = html5lib.parse(out.read_text(encoding="utf-8"))
    svgs = tree.findall(".//{http://www.w3.org/2000/svg}svg")
    assert len(svgs) == 4
    assert tree.findall(".//h:script", NS) == []
    assert not any(el.tag.endswith("}script") for svg in svgs for el in svg.iter())
    titles = [svg.get("aria-label") for svg in svgs]
    assert titles[0] == "各单位报送情况（单位数）" and "主要数字与上年比较" in titles
    texts = ["".join(el.itertext()) for el in svgs[1].iter("{http://www.w3.org/2000/svg}text")]
    assert "青禾县城关镇" in texts
    # category names left of the bars are drawn whole, inside the picture: right-aligned at
    # the plot's left edge less 5, 12 px type, a Chinese character one em wide
    svg_ns = "{http://www.w3.org/2000/svg}"
    for svg in svgs:
        plot = next(g for g in svg.iter(f"{svg_ns}g") if g.get("class") == "plot")
        left = float(re.match(r"translate\(([\d.]+)", plot.get("transform")).group(1))
        axis = next((g for g in plot.iter(f"{svg_ns}g") if g.get("class") == "axis y"), None)
        for text in axis.iter(f"{svg_ns}text") if svg.get("aria-label") != titles[2] else ():
            label = "".join(text.itertext())
            if re.fullmatch(r"[\d.]+", label):
                continue  # a value axis
            width = sum(12 if ord(ch) >= 0x2E80 else 7.2 for ch in label)
            assert left + float(text.get("x")) - width >= 0, (svg.get("aria-label"), label)
    again = tmp_path / "again.html"
    run("report", county_with_previous, "-o", again, "--allow-partial")
    assert again.read_bytes() == out.read_bytes()  # stable ids: the same bytes


def test_chart_labels_are_escaped_text_never_markup():
    from workbook_tools import charts

    chart = charts.Chart(
        "per_unit", "t<script>x</script>", "bar", ["<img src=x onerror=1>"], [("n", [3])]
    )
    tree = html5lib.parse(f"<div>{charts.svg(chart)}</div>")
    svg = tree.find(".//{http://www.w3.org/2000/svg}svg")
    assert not any(el.tag.endswith(("}script", "}img")) for el in svg.iter())
    texts = ["".join(el.itertext()) for el in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert "<img src=x onerror=1>" in texts


def test_outputs_get_the_normal_file_mode(county_xlsx, tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        out = tmp_path / "county.md"
        run("report", county_xlsx, "-o", out, "--allow-partial")
        book = tmp_path / "again.xlsx"
        run("merge", SAMPLES / "returned/2025", "-r", SAMPLES / "roster.csv", "-o", book)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert stat.S_IMODE(book.stat().st_mode) == 0o644


@pytest.mark.libreoffice
def test_a_large_county_breakdown_starts_every_page_with_its_header(spec21, soffice, tmp_path):
    """Blocks longer than a page are cut into chunks, each on its own page under its own header
    rows, and nothing runs past the bottom of a page."""
    from workbook_tools import county, merge, office, synth, template
    from workbook_tools.roster import Unit

    folder = tmp_path / "units"
    folder.mkdir()
    rng = __import__("random").Random(5)
    n = 30
    for i in range(n):
        unit = Unit(f"测试{i:02d}镇人民政府" + "社区服务中心" * (i % 3 == 0), f"{i:02d}", "乡镇")
        values = synth.consistent_values(spec21, rng, "乡镇")
        data = template.render(spec21, unit, 2025, values=values, texts=wb.TEXTS)
        (folder / f"{unit.code}.xlsx").write_bytes(data)
    result = merge.merge([folder], spec21, None, name="测试县", jobs=1)
    out = county.write(result, tmp_path / "county.xlsx")
    result.close()
    ws = openpyxl.load_workbook(out)[county.BREAKDOWN_SHEET]
    chunks = wb.breakdown_chunks(ws)
    blocks = len(county.breakdown_blocks(spec21)) + 1
    assert len(chunks) >= 2 * blocks  # every block needs more than one page for 30 files
    assert sorted(wb.breakdown_values(ws)) == list(range(1, n + 1))
    for chunk in chunks:  # header and rows within one page below the repeated title
        height = sum(
            ws.row_dimensions[r].height or 15 for r in range(chunk["id_row"] + 1, chunk["last"] + 1)
        )
        assert height <= (8.27 - 1.0) * 72 - 28
    pdf = office.convert(out, "pdf", tmp_path / "pdf")
    title = ws.cell(1, 1).value.replace(" ", "")
    pages = [p for p in pdf_pages(pdf) if title in "".join(w[0] for w in p)]
    assert len(pages) == len(chunks)
    for words, chunk in zip(pages, chunks, strict=True):
        text = "".join(w[0] for w in words)
        assert "序号" in text and "单位名称" in text
        first, last = min(chunk["data"]), max(chunk["data"])
        shown = {w[0] for w in words}
        assert str(first) in shown and str(last) in shown
