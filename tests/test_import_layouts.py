"""Layouts of the three tables seen on real published reports that no one here wrote (portal text
exports, saved pages, archived copies): each test bends a report that ``wbtools report`` wrote
into one such layout, in our own words and made-up figures, and checks every figure is read back
— or, where the text truly lacks something, that a coded finding says so."""

from __future__ import annotations

import random
import re

import pytest

from workbook_tools import check, importer, report, synth, template
from workbook_tools.roster import Unit

from . import workbooks as wb
from .test_import_real import TEXTS, published  # a report by wbtools report, bent into shape


def _values(spec, seed=11):
    return synth.consistent_values(spec, random.Random(seed))


def table_rows(text: str, emit) -> str:
    """Every Markdown table row of ``text`` (separator rows dropped) rewritten by ``emit(cells)``
    into the lines of another layout."""
    out: list[str] = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("|") and s.endswith("|"):
            cells = [c.strip() for c in s[1:-1].split("|")]
            if all(set(c) <= set("-: ") for c in cells):
                continue
            out.extend(emit(cells))
        else:
            out.append(line)
    return "\n".join(out)


def table_values(spec, filing) -> dict[str, object]:
    return {
        d: v
        for d, v in filing.values.items()
        if d.startswith(("t2.", "t3.", "t4.")) and d not in filing.missing
    }


def expected(spec, values) -> dict[str, object]:
    return {d: values[d] for d in spec.datapoints if d.startswith(("t2.", "t3.", "t4."))}


def read(spec, tmp_path, text: str, name="report.md"):
    return importer.read(wb.write(tmp_path, text.encode("utf-8"), name), spec)


# --- the bar on a line of its own ------------------------------------------------------------


def test_bar_on_its_own_line_after_every_cell_separates_cells(spec21, tmp_path):
    """A portal export that writes each cell on a line and the cell's closing bar on the next
    line: the bar closes the cell above it, it is not an empty cell of its own. A second bar in a
    row still is an empty cell."""
    values = _values(spec21)
    blank = next(
        d
        for d in sorted(values)
        if d.startswith("t3.") and not d.endswith(".total") and values[d] == 0
    )
    values[blank] = None  # one blank cell (its total unchanged): printed as a bar after a bar
    text = published(spec21, tmp_path, values)
    lines = table_rows(text, lambda cells: [x for c in cells for x in ((c, "|") if c else ("|",))])
    filing = read(spec21, tmp_path, lines)
    want = expected(spec21, values)
    want.pop(blank)
    got = table_values(spec21, filing)
    assert {d: got.get(d) for d in want} == want
    assert filing.values.get(blank) is None


# --- headings run into the text ----------------------------------------------------------------


def test_headings_inside_a_short_flattened_paragraph(spec21, tmp_path):
    """A saved page whose opening paragraph, first section and next heading came out as one line
    joined by spaces (shorter than the long-line rule catches): the headings are still found."""
    values = _values(spec21)
    lines = published(spec21, tmp_path, values).splitlines()
    lines = [re.sub(r"^#+\s*", "", line) for line in lines if not line.startswith("###")]
    start = next(i for i, line in enumerate(lines) if line.startswith("本报告所列数据"))
    end = next(i for i, line in enumerate(lines) if line.startswith("二、"))
    joined = " ".join(line for line in lines[start : end + 1] if line.strip())
    assert len(joined) < 300
    text = "\n".join([*lines[:start], joined, *lines[end + 1 :]])
    filing = read(spec21, tmp_path, text, "report.txt")
    assert not {"I116", "I102"} & {f.code for f in filing.findings}
    got = table_values(spec21, filing)
    assert got == expected(spec21, values)
    assert filing.year == 2025


# --- row labels with a note ----------------------------------------------------------------------


def test_row_labels_with_a_note_in_brackets_after_them(spec21, tmp_path):
    """Reports that explain a row in brackets after its label (“规范性文件（指…）”)."""
    values = _values(spec21)
    text = published(spec21, tmp_path, values)
    for label, note in (
        ("行政规范性文件", "（指本机关印发的有文号的文件）"),
        ("行政许可", "(含变更)"),
        ("2.重复申请", "（同一事项）"),
    ):
        text = text.replace(f"| {label} |", f"| {label}{note} |").replace(
            f"{label} |", f"{label}{note} |"
        )
    assert "（同一事项）" in text and "(含变更)" in text
    filing = read(spec21, tmp_path, text)
    assert table_values(spec21, filing) == expected(spec21, values)


# --- where the unit is named -------------------------------------------------------------------


@pytest.mark.parametrize(
    "head, unit, year",
    [
        # a portal's metadata table printed before the report, the title one of its cells
        (
            "索 引 号 | 000000-1/2021-00001 | 分 类 | 报告 |\n"
            "标 题 | 某街道办事处2021年政府信息公开工作年度报告 | ||\n"
            "发布机构 | 某街道 | 发文日期 | 2022-01-04 |",
            "某街道办事处",
            2021,
        ),
        # the title on two lines, the year only in the statistics period below
        ("某市农业农村局\n政府信息公开工作年度报告", "某市农业农村局", 2025),
        # no title: the sentence that publishes the report names the unit after the year
        (
            "依据《条例》规定，特向社会公布2024年某乡人民政府政府信息公开工作情况报告。",
            "某乡人民政府",
            2024,
        ),
    ],
    ids=["metadata-table", "title-without-year", "publishing-sentence"],
)
def test_unit_from_the_ways_real_pages_name_it(spec21, tmp_path, head, unit, year):
    text = published(spec21, tmp_path, _values(spec21))
    if year != 2025:
        text = text.replace("2025年1月1日", f"{year}年1月1日")
    text = text.replace("# 测试镇2025年政府信息公开工作年度报告", head)
    filing = read(spec21, tmp_path, text, "report.md")
    assert (filing.unit, filing.year) == (unit, year)


def test_unit_from_the_page_title_of_a_saved_page(spec21, tmp_path):
    """A saved portal page whose report has no title line of its own: the page's <title> names it
    (with the site's name after it)."""
    values = _values(spec21)
    page = published(spec21, tmp_path, values, fmt="html")
    page = re.sub(r"<h1[^>]*>.*?</h1>", "", page, flags=re.S)
    page = re.sub(
        r"<title>.*?</title>",
        "<title>某县水利局2024年政府信息公开工作年度报告_某县人民政府网</title>",
        page,
        flags=re.S,
    ).replace("2025年1月1日", "2024年1月1日")
    assert "某县水利局" not in page.split("</head>")[-1]
    filing = read(spec21, tmp_path, page, "page.html")
    assert (filing.unit, filing.year) == ("某县水利局", 2024)
    assert table_values(spec21, filing) == expected(spec21, values)


# --- what is inside a cell ---------------------------------------------------------------------


def test_invisible_characters_inside_labels_and_figures(spec21, tmp_path):
    """Zero-width spaces and joiners, soft hyphens and no-break spaces that pages and Word files
    leave inside labels and figures: invisible, they neither cut a number in two (its first digit
    read alone) nor hide a label (表四 then read one cell off)."""
    values = _values(spec21)

    def emit(cells):
        label = cells[0][:2] + "\u200b" + cells[0][2:] if len(cells[0]) > 2 else cells[0]
        figures = [c[:1] + "\u200d" + c[1:] if len(c) > 1 else "\u00a0" + c for c in cells[1:]]
        return ["| " + " | ".join([label, *figures]) + " |"]

    text = table_rows(published(spec21, tmp_path, values), emit)
    text = text.replace("规章", "规\u00ad章")
    assert "\u200b" in text and "\u200d" in text
    filing = read(spec21, tmp_path, text)
    assert table_values(spec21, filing) == expected(spec21, values)


def test_counts_printed_with_their_unit(spec21, tmp_path):
    """“12件” in a cell: the count, with the normaliser's V106 note — not label text that pushes
    the row's figures out of place."""
    values = _values(spec21)

    def emit(cells):
        unit = cells[0] != "行政事业性收费"  # 件 in an amount is R5: not certain
        return [
            "| "
            + " | ".join([cells[0], *(c + "件" if c.isdigit() and unit else c for c in cells[1:])])
            + " |"
        ]

    filing = read(spec21, tmp_path, table_rows(published(spec21, tmp_path, values), emit))
    assert table_values(spec21, filing) == expected(spec21, values)
    assert "V106" in {f.code for f in filing.findings}


def test_an_amount_printed_in_yuan_is_converted_to_wan(spec21, tmp_path):
    """The fees row printed in 元 while the table counts in 万元: 35000元 is 3.5 万元, said in a
    note (I115); a figure already in 万元 is taken as it is."""
    values = _values(spec21)
    values["t2.fees.amount"] = 0
    text = published(spec21, tmp_path, values).replace(
        "| 行政事业性收费 | 0 |", "| 行政事业性收费 | 35,000元 |"
    )
    assert "35,000元" in text
    filing = read(spec21, tmp_path, text)
    assert filing.values["t2.fees.amount"] == 3.5
    note = next(f for f in filing.findings if f.code == "I115")
    assert "3.5" in note.message("zh") and "35,000元" in note.message("zh")
    text = text.replace("35,000元", "3.5万元")
    assert read(spec21, tmp_path, text).values["t2.fees.amount"] == 3.5


# --- rows printed blank ------------------------------------------------------------------------


def test_rows_printed_with_every_cell_blank_are_blank_not_cut_off(spec21, tmp_path):
    """A saved page whose table has rows with all cells empty (&nbsp;): the rows are there and
    blank (V101 per cell, as any blank cell), not “cut off” (I104) — the text is whole."""
    values = _values(spec21)
    page = published(spec21, tmp_path, values, fmt="html")
    blank_rows = ("2.其他法律行政法规禁止公开", "3.危及“三安全一稳定”", "（六）其他处理")
    for label in blank_rows[:2]:
        page = re.sub(
            rf"(<tr><th[^>]*>{re.escape(label)}</th>)(.*?)(</tr>)",
            lambda m: (
                m.group(1) + re.sub(r"<td>[^<]*</td>", "<td>&nbsp;</td>", m.group(2)) + m.group(3)
            ),
            page,
        )
    assert page.count("<td>&nbsp;</td>") == 14
    filing = read(spec21, tmp_path, page, "page.html")
    codes = {f.code for f in filing.findings}
    assert "I104" not in codes and "V101" in codes
    for rid in ("deny_law", "deny_safety"):
        ids = [d for d in spec21.datapoints if d.startswith(f"t3.{rid}.")]
        assert all(filing.values.get(d) is None and d not in filing.missing for d in ids)
    want = {
        d: v
        for d, v in expected(spec21, values).items()
        if ".deny_law." not in d and ".deny_safety." not in d
    }
    got = table_values(spec21, filing)
    assert {d: got.get(d) for d in want} == want


# --- two figures in one cell -------------------------------------------------------------------


def test_two_figures_run_into_one_cell_are_two_cells_when_the_row_is_short(spec21, tmp_path):
    """A PDF's unruled table whose first two columns stand too close: “20 43” comes out as one
    cell. Read as one number it is a wrong figure (2043) and every later cell shifts; the row is
    one cell short, and split it has exactly its width. A number with a stray space in a row of
    full width (“1 23”) is still one number."""
    values = _values(spec21)

    def emit(cells):
        if cells[0].startswith(("一、", "二、", "四、")) and all(c.isdigit() for c in cells[1:]):
            cells = [cells[0], f"{cells[1]} {cells[2]}", *cells[3:]]
        elif cells[0].endswith("（七）总计"):
            cells = [cells[0], f"{cells[1][:1]} {cells[1][1:]}".strip(), *cells[2:]]
        return ["| " + " | ".join(cells) + " |"]

    text = table_rows(published(spec21, tmp_path, values), emit)
    assert re.search(r"\| \d+ \d+ \|", text)
    filing = read(spec21, tmp_path, text)
    assert table_values(spec21, filing) == expected(spec21, values)


def test_a_report_that_names_itself_only_as_our_bureau_has_no_unit(spec21, tmp_path):
    """“现公布我局2022年政府信息公开工作年度报告”: 我局 is how the text speaks of itself, not a
    unit name — no unit (I101, to be filled in), never “我局”."""
    text = published(spec21, tmp_path, _values(spec21)).replace(
        "# 测试镇2025年政府信息公开工作年度报告",
        "根据《条例》规定，现公布我局2025年政府信息公开工作年度报告。",
    )
    filing = read(spec21, tmp_path, text)
    assert filing.unit == "" and "I101" in {f.code for f in filing.findings}
    assert filing.year == 2025


# --- section headings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "numbering",
    [r"\1.", r"\1．", r"\1，", "", "arabic"],
    ids=["full-stop", "full-width-stop", "comma", "no-numbering", "arabic"],
)
def test_section_headings_numbered_otherwise(spec21, tmp_path, numbering):
    """Headings numbered “一.” or “一，” instead of “一、”, printed without their numeral (a
    portal's heading style) or numbered “1、”: the sections are found, not “no heading at all”
    (I116)."""
    values = _values(spec21)
    text = published(spec21, tmp_path, values)
    if numbering == "arabic":  # “1、 总体情况”, and the narrative's items numbered alike
        text = re.sub(
            r"(?m)^## ([一二三四五六])、",
            lambda m: f"## {'一二三四五六'.index(m.group(1)) + 1}、 ",
            text,
        )
        text = text.replace("### （一）主动公开", "1、 主动公开").replace("### （二）", "2、 ")
    else:
        text = re.sub(r"(?m)^## ([一二三四五六])、", "## " + numbering, text)
    assert "一、" not in text.split("二")[0]
    filing = read(spec21, tmp_path, text)
    assert not {"I116", "I102", "I103"} & {f.code for f in filing.findings}
    assert table_values(spec21, filing) == expected(spec21, values)


@pytest.mark.parametrize(
    "unit, kind",
    [
        ("某区佳和里街", "街道"),
        ("某区佳和里街道", "街道"),
        ("某县某乡人民政府", "乡镇"),
        ("某市统计局", "部门"),
    ],
)
def test_kind_from_the_unit_name(spec21, tmp_path, unit, kind):
    """Street offices named “…街” (as some cities name them) are 街道: W2 applies to them."""
    text = (
        published(spec21, tmp_path, _values(spec21))
        .replace("测试镇2025年", f"{unit}2025年")
        .replace("我镇", "本单位")
    )
    assert read(spec21, tmp_path, text).kind == kind


def test_a_label_and_its_first_figure_run_into_one_cell(spec21, tmp_path):
    """A PDF's unruled table whose label column stands close to the first figures: “行政规范性文件
    27 | 6 | 37 |” — the row is one cell short and its first cell holds the label and a figure
    after a space. The figure is the row's first cell."""
    values = _values(spec21)

    def emit(cells):
        if cells[1:] and all(c.isdigit() for c in cells[1:]) and not cells[0][-1:].isdigit():
            cells = [f"{cells[0]} {cells[1]}", *cells[2:]]
        return ["| " + " | ".join(cells) + " |"]

    text = table_rows(published(spec21, tmp_path, values), emit)
    assert "| 行政规范性文件 " in text
    filing = read(spec21, tmp_path, text)
    assert table_values(spec21, filing) == expected(spec21, values)


def test_unit_from_the_title_property_of_a_word_file(spec21, tmp_path):
    """A Word file whose text has no title line (a page saved as .docx keeps the page's title in the
    document's properties): the title property names the unit."""
    import io

    import docx

    values = _values(spec21)
    book = tmp_path / "unit.xlsx"
    book.write_bytes(
        template.render(
            spec21,
            Unit("测试镇", "9", "乡镇"),
            2025,
            values=values,
            texts={f.id: TEXTS for f in spec21.fields},
        )
    )
    data = report.render(report.build(check.check_file(book, spec21).filing), "docx")
    document = docx.Document(io.BytesIO(data))
    for p in document.paragraphs:
        if "测试镇2025年" in p.text:
            p.text = ""
    document.core_properties.title = "某县水利局2025年政府信息公开工作年度报告"
    out = tmp_path / "saved.docx"
    document.save(str(out))
    filing = importer.read(out, spec21)
    assert (filing.unit, filing.year) == ("某县水利局", 2025)
    assert table_values(spec21, filing) == expected(spec21, values)
