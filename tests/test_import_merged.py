"""Real pages seen after the first corpus (issue 11 follow-up): layouts that placed figures in
the wrong cells or lost what the text said. Each test bends a report written by ``wbtools
report`` into the real layout, in our own words and made-up figures."""

from __future__ import annotations

import re

import pytest

from .test_import_layouts import _values, expected, read, table_rows, table_values
from .test_import_real import published


def _merged_rows(values):
    """表三 rows whose middle cells (商业企业 … 其他) are all zero: a page that merged them prints
    only 自然人 and 总计, then pads the row with one bar per spanned column."""
    rows = {}
    for d, v in values.items():
        if d.startswith("t3.") and d.endswith(".natural"):
            row = d[len("t3.") : -len(".natural")]
            middle = [values[f"t3.{row}.{c}"] for c in ("commercial", "research", "nonprofit")]
            middle += [values[f"t3.{row}.{c}"] for c in ("legal", "other")]
            if all(m == 0 for m in middle) and values[f"t3.{row}.total"]:
                rows[row] = (v, values[f"t3.{row}.total"])
    return rows


@pytest.mark.parametrize("one_cell_per_line", [False, True])
def test_rows_padded_for_merged_cells_are_not_placed_by_position(
    spec21, tmp_path, one_cell_per_line
):
    """A page that writes merged cells as bars run together at the row's end (“| 3 | 3 |
    |||||”, or a line “|||||” after cells written one per line): the printed figures' columns
    are unknown, so the row is missing with I117 — not 3 in 自然人 and 3 in 商业企业. Full rows
    padded only for their label's span are read as usual."""
    values = _values(spec21, seed=2)  # four 表三 rows with only 自然人 and 总计 non-zero
    merged = _merged_rows(values)
    assert len(merged) == 4
    text = published(spec21, tmp_path, values)

    def emit(cells):
        if len(cells) == 8 and cells[1].isdigit():
            printed = cells
            for row, (natural, _total) in merged.items():
                label = spec21.datapoints[f"t3.{row}.natural"].label().split(" / ")[-2]
                if cells[0].endswith(label) and cells[1] == str(natural):
                    printed = [cells[0], cells[1], cells[7]]
            pads = "|" * (10 - len(printed))
            if one_cell_per_line:
                return [f"{c} |" for c in printed] + [pads]
            return [" | ".join(printed) + " | " + pads]
        return [" | ".join(cells) + " | ||"]

    filing = read(spec21, tmp_path, table_rows(text, emit))
    got = table_values(spec21, filing)
    in_merged = {d for d in values if d.startswith(tuple(f"t3.{r}." for r in merged))}
    assert not in_merged & set(got)  # no figure of a merged row placed anywhere
    assert in_merged <= filing.missing
    want = {d: v for d, v in expected(spec21, values).items() if d not in in_merged}
    assert {d: got.get(d) for d in want} == want
    noted = [f for f in filing.findings if f.code == "I117"]
    assert len(noted) == len(merged)
    assert {f.args["values"] for f in noted} == {f"{n}、{t}" for n, t in merged.values()}
    assert all(f.args["found"] == 2 and f.args["expected"] == 7 for f in noted)


# --- where the unit is named -------------------------------------------------------------------


@pytest.mark.parametrize(
    "head, unit",
    [
        # the year after the words “信息公开工作” (“…办公室政府信息公开工作2025年度报告”), printed
        # on one line and again over two
        (
            "某区人民政府某办公室政府信息公开工作2025年度报告\n"
            "某区人民政府某办公室\n政府信息公开工作2025年度报告",
            "某区人民政府某办公室",
        ),
        # “本级”: how a township's text speaks of itself, not its name
        ("根据《条例》规定，向社会公布2025年本级政府信息公开工作年度报告。", ""),
        # the title broken right after the year, which has no 年: the unit is before the year
        ("某自治区人民政府某厅2025\n\n政府信息公开工作年度报告", "某自治区人民政府某厅"),
        # the sentence that compiles the report names it, the year before the unit
        (
            "根据《条例》特编制2025年度某县某乡人民政府办公室信息公开年度报告。本报告由六部分组成。",
            "某县某乡人民政府办公室",
        ),
        # the compiling sentence after a notice whose title holds the year and the words of a
        # report: the unit is the one the verb compiles, not the notice's sender
        (
            "根据《条例》和《某县人民政府办公室关于2025年政府信息公开工作年度报告编制发布工作的通知》"
            "规定，特编制某县某民族乡2025年政府信息公开工作年度报告。",
            "某县某民族乡",
        ),
        # the compiling sentence with the year after the words
        ("根据有关要求，特编制某县某体育局政府信息公开工作2025年度报告。", "某县某体育局"),
        # the compiling sentence without 政府 before 信息公开
        ("根据有关文件精神，编制某乡人民政府2025年信息公开工作年度报告。", "某乡人民政府"),
        # the unit that compiles it, named more fully than in the report's name after the verb
        ("根据有关规定，某县某局编制了县某局2025年政府信息公开工作年度报告。", "某县某局"),
        # “由<unit>编制的<year>年度政府信息公开年度报告”: the unit is the one that compiles it
        ("本年报根据有关规定，由某区某局编制的2025年度政府信息公开年度报告。", "某区某局"),
        # a bracketed qualifier after the name (“（机关）”) is not part of it
        ("特向社会公布2025年度某镇政府（机关）信息公开年度报告。", "某镇政府"),
        # a county's office for staffing (机构编制委员会办公室): 编制 in its name is no verb
        ("某县机构编制委员会办公室2025年政府信息公开工作年度报告", "某县机构编制委员会办公室"),
        # a sentence quoting the report's name with last year's year: the unit is named, the year
        # is the statistics period's
        ("根据有关规定，我镇认真编制了《某镇2024年政府信息公开工作年度报告》。", "某镇"),
        # a notice's title that compiles and publishes reports: what follows its verbs is no name
        ("根据《某办关于编制发布2025年政府信息公开工作年度报告的函》要求，做好有关工作。", ""),
        # no report's name at all: “本年度报告…由<unit>编制，全文包括…”
        ("本年度报告根据有关规定，由某区某街道办事处编制，全文包括六部分。", "某区某街道办事处"),
        # … but only a name: what a unit did with its figures is not part of it
        ("本报告由某街道办事处综合各项数据编制。", ""),
        ("本报告由某镇人民政府党政办公室编制，全文包括六部分。", ""),
    ],
    ids=[
        "year-after-the-words",
        "this-level",
        "year-without-nian-at-a-break",
        "compiled-sentence",
        "compiled-after-a-notice",
        "compiled-year-after-the-words",
        "compiled-without-zhengfu",
        "compiled-by-its-subject",
        "compiled-by-you",
        "bracketed-qualifier",
        "bianzhi-in-the-name",
        "quoted-with-last-years-year",
        "notice-that-compiles-reports",
        "compiled-by-without-the-reports-name",
        "compiled-by-with-more-words",
        "compiled-by-an-office-inside-the-unit",
    ],
)
def test_unit_from_more_title_forms(spec21, tmp_path, head, unit):
    text = published(spec21, tmp_path, _values(spec21))
    text = text.replace("# 测试镇2025年政府信息公开工作年度报告", head)
    filing = read(spec21, tmp_path, text)
    assert (filing.unit, filing.year) == (unit, 2025)
    assert ("I101" in {f.code for f in filing.findings}) == (not unit)


# --- a copy that lost its section headings -----------------------------------------------------


def test_tables_found_by_their_own_header_rows_when_the_headings_are_gone(spec21, tmp_path):
    """A mirror of a report that kept its paragraphs and tables but dropped every section heading
    (they were the page's own headings): the tables are still there, found by the rows that open
    them (“第二十条第（一）项”, the 勾稽关系 note, 行政复议 / 行政诉讼), and read — not I116 and
    nothing imported. Labels converted to Taiwan phrasing by the mirror (规范性檔案) still match."""
    values = _values(spec21, seed=3)
    text = published(spec21, tmp_path, values)
    text = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    text = text.replace("**第二十条第（一）项**", "第二十条第（一）项")
    text = text.replace("| 行政规范性文件 |", "| 行政規範性檔案 |")
    assert "一、总体情况" not in text and "四、政府信息公开行政复议" not in text
    filing = read(spec21, tmp_path, text)
    assert not {"I116", "I104", "I111"} & {f.code for f in filing.findings}
    assert table_values(spec21, filing) == expected(spec21, values)


def test_a_dash_in_a_row_of_cells_is_a_cell_not_a_table_rule(spec21, tmp_path):
    """“| 4 | - | 4 |”: a dash printed in a cell is that cell (none, read as 0 with V103); only a
    row made of dashes alone is a Markdown rule. Dropped, it shifted the row's later figures one
    column to the left."""
    values = _values(spec21, seed=4)
    row = next(
        r
        for r in ("new", "carried", "granted", "partial")
        if values[f"t3.{r}.commercial"] == 0 and values[f"t3.{r}.total"]
    )
    text = published(spec21, tmp_path, values)
    lines = []
    for line in text.splitlines():
        cells = line.split(" | ")
        label = spec21.datapoints[f"t3.{row}.natural"].label().split(" / ")[-2]
        if line.startswith("| ") and label in cells[0] and cells[2] == "0":
            cells[2] = "-"
            line = " | ".join(cells)
        lines.append(line)
    filing = read(spec21, tmp_path, "\n".join(lines))
    assert table_values(spec21, filing) == expected(spec21, values)
    assert any(f.code == "V103" and f.datapoint == f"t3.{row}.commercial" for f in filing.findings)


def test_rows_printed_blank_with_bars_run_together_stay_blank(spec21, tmp_path):
    """“行政处罚 | ||||” then “行政强制 | ||||”: rows printed with every cell empty, the bars run
    together. Both are blank (V101) — the second row's short label is not taken for an unreadable
    cell of the first (R5 “行政强制” in 行政处罚's cell)."""
    values = _values(spec21)
    values["t2.penalty.decisions"] = values["t2.coercion.decisions"] = None
    text = published(spec21, tmp_path, values)
    text = re.sub(r"\| (行政处罚|行政强制) \|[^\n]*", r"\1 | ||||", text)
    filing = read(spec21, tmp_path, text)
    codes = {(f.code, f.datapoint) for f in filing.findings}
    assert ("V101", "t2.penalty.decisions") in codes and ("V101", "t2.coercion.decisions") in codes
    assert "R5" not in {c for c, _ in codes}
    want = {d: v for d, v in expected(spec21, values).items() if v is not None}
    got = table_values(spec21, filing)
    assert {d: got.get(d) for d in want} == want


def test_a_row_printed_as_sub_rows_of_its_own_is_missing_not_a_sub_rows_label(spec21, tmp_path):
    """A row printed as sub-rows with figures of their own (“行政处罚 |” then “罚款 | 3 |”,
    “警告 | 2 |”): the row's own cell is not in the text — missing, never the sub-row's label
    read as its value (R5) nor a sub-row's figure."""
    values = _values(spec21)
    text = published(spec21, tmp_path, values)
    text = re.sub(r"\| 行政处罚 \|[^\n]*", "| 行政处罚 |\n| 罚款 | 3 |\n| 警告 | 2 |", text)
    filing = read(spec21, tmp_path, text)
    assert "t2.penalty.decisions" in filing.missing
    assert "R5" not in {f.code for f in filing.findings}
    want = expected(spec21, values)
    want.pop("t2.penalty.decisions")
    got = table_values(spec21, filing)
    assert {d: got.get(d) for d in want} == want


# --- columns in another order ----------------------------------------------------------------


@pytest.mark.parametrize("one_cell_per_line", [False, True])
def test_table_three_printed_with_its_total_column_first(spec21, tmp_path, one_cell_per_line):
    """A page whose 表三 header puts 总计 before 自然人 (“申请人情况 / 总计 / 自然人 / 法人或其他组织
    …”) and prints every row's total first: each figure goes to its own column — not the total
    into 自然人 and every other figure one column to the left."""
    values = _values(spec21, seed=6)
    text = published(spec21, tmp_path, values)

    def emit(cells):
        if len(cells) == 8 and (cells[1].isdigit() or cells[1] == "自然人"):
            cells = [cells[0], cells[7], *cells[1:7]]
            if cells[2] == "自然人":
                cells[1] = "总计"
        if one_cell_per_line:
            return [c for c in cells if c]
        return [" | ".join(cells) + " |"]

    filing = read(spec21, tmp_path, table_rows(text, emit))
    assert table_values(spec21, filing) == expected(spec21, values)


@pytest.mark.parametrize(
    "unit, kind",
    [
        ("某县人民政府", "政府"),
        ("某市某区人民政府", "政府"),
        ("某县政府", "政府"),
        ("某县某镇人民政府", "乡镇"),
        ("某县人民政府办公室", "部门"),
    ],
)
def test_a_county_or_district_government_is_of_kind_government(spec21, tmp_path, unit, kind):
    """“环县人民政府”, “某区人民政府”: a government's own report is of kind 政府 (as a roster says),
    not left unknown; a township's 人民政府 stays 乡镇 and a government's office 部门."""
    text = (
        published(spec21, tmp_path, _values(spec21))
        .replace("测试镇2025年", f"{unit}2025年")
        .replace("我镇", "本单位")
    )
    assert read(spec21, tmp_path, text).kind == kind


# --- the 2019 layout's signed column, and sub-rows printed without labels ----------------------


def test_a_change_printed_as_decrease_or_increase_in_words(tmp_path):
    """“本年增/减” printed “减4” or “增3” (a decrease or increase in words): −4 and 3 in their
    cells, not a label that breaks the row (the figure after it lost, I105)."""
    from workbook_tools import spec as spec_module

    spec19 = spec_module.load("gov_disclosure_2019")
    values = _values(spec19, seed=7)
    values["t2.licensing.last_year"], values["t2.licensing.change"] = 6, -4
    values["t2.penalty.last_year"], values["t2.penalty.change"] = 2, 3
    text = published(spec19, tmp_path, values)
    text = re.sub(r"(\| 行政许可 \| 6 \| )-4 \|", r"\1减4 |", text)
    text = re.sub(r"(\| 行政处罚 \| 2 \| )3 \|", r"\1增3 |", text)
    assert "减4" in text and "增3" in text
    filing = read(spec19, tmp_path, text)
    assert table_values(spec19, filing) == expected(spec19, values)
    assert "I105" not in {f.code for f in filing.findings}


def test_sub_rows_printed_without_their_labels_are_taken_in_order(spec21, tmp_path):
    """“（三）不予公开 |” followed by its eight rows' 56 figures with the rows' own labels left
    out: exactly eight rows of seven, in the format's order — each row its own figures (with
    I111), not the heading's seven taken as a group total and the eight rows lost."""
    values = _values(spec21, seed=8)
    text = published(spec21, tmp_path, values)
    lines = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| 三、本年度办理结果 （三）不予公开"):
            if "1.属于国家秘密" in cells[0]:
                lines.append("| （三）不予公开 |")
            lines.append("| " + " | ".join(cells[1:]) + " |")
        else:
            lines.append(line)
    filing = read(spec21, tmp_path, "\n".join(lines))
    assert table_values(spec21, filing) == expected(spec21, values)
    assert sum(f.code == "I111" for f in filing.findings) == 8


def test_a_heading_printed_as_one_row_is_named_in_its_note(spec21, tmp_path):
    """“（三）不予公开” printed as one row with the group's figures: its note (I113) names that
    heading, not “（六）其他处理”."""
    values = _values(spec21, seed=9)
    text = published(spec21, tmp_path, values)
    rows = [f"t3.deny_{r}" for r in ("secret", "law", "safety", "third_party")]
    rows += [f"t3.deny_{r}" for r in ("internal", "process", "enforcement", "inquiry")]
    cols = ("natural", "commercial", "research", "nonprofit", "legal", "other", "total")
    sums = [sum(values[f"{r}.{c}"] for r in rows) for c in cols]
    lines, done = [], False
    for line in text.splitlines():
        if line.startswith("| 三、本年度办理结果 （三）不予公开"):
            if not done:
                lines.append("| （三）不予公开 | " + " | ".join(map(str, sums)) + " |")
                done = True
            continue
        lines.append(line)
    filing = read(spec21, tmp_path, "\n".join(lines))
    note = next(f for f in filing.findings if f.code == "I113")
    assert "（三）不予公开" in note.message("zh") and "（六）" not in note.message("zh")
    assert "（三）不予公开" in note.message("en")
