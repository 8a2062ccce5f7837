"""Real pages of the third round (issue 11 follow-up): layouts that placed figures in the wrong
cells or lost what the text said. Each test bends a report written by ``wbtools report`` into
the real layout, in our own words and made-up figures."""

from __future__ import annotations

import pytest

from .test_import_layouts import _values, expected, read, table_rows, table_values
from .test_import_real import published

_ONLY_TOTAL = ("一、本年新收政府信息公开申请数量", "二、上年结转政府信息公开申请数量")


def _rows_printed_as(spec, filing, values, printed):
    """表三's first two rows hold only their ``printed`` columns, each in its own column, and
    their other cells blank; every other figure is read as written."""
    got = table_values(spec, filing)
    for rid in ("new", "carried"):
        for col in ("natural", "commercial", "research", "nonprofit", "legal", "other", "total"):
            want = values[f"t3.{rid}.{col}"] if col in printed else None
            assert got.get(f"t3.{rid}.{col}") == want
    want = {
        d: v
        for d, v in expected(spec, values).items()
        if not d.startswith(("t3.new.", "t3.carried."))
    }
    assert {d: got.get(d) for d in want} == want


def test_empty_cells_as_extra_blank_lines_keep_a_lone_total_in_its_column(spec21, tmp_path):
    """A page whose cells are separated by blank lines writes an empty cell as one more blank
    line: a 表三 row printing only its 总计 (“label”, seven blank lines, “5”) has six empty
    cells before the figure. The figure is the total — not 自然人 — and the six are blank."""
    values = _values(spec21, seed=5)

    def emit(cells):
        if cells[0] in _ONLY_TOTAL:
            cells = [cells[0], "", "", "", "", "", "", cells[-1]]
        out = []
        for c in cells:
            out.extend([c, ""] if c else [""])
        return out

    text = table_rows(published(spec21, tmp_path, values), emit)
    assert "二、上年结转政府信息公开申请数量\n\n\n\n\n\n\n\n" in text
    _rows_printed_as(spec21, read(spec21, tmp_path, text), values, ("total",))


def test_a_change_printed_with_a_doubled_sign(tmp_path):
    """“本年增/减” printed “--253” (the sign typed twice) in a table written one cell per line:
    −253 in its cell — not a label whose digits are cut into the row's three cells."""
    from workbook_tools import spec as spec_module

    spec19 = spec_module.load("gov_disclosure_2019")
    values = _values(spec19, seed=9)
    values["t2.penalty.last_year"], values["t2.penalty.change"] = 253, -253
    values["t2.penalty.decisions"] = 0
    text = published(spec19, tmp_path, values)
    text = text.replace("| 行政处罚 | 253 | -253 | 0 |", "| 行政处罚 | 253 | --253 | 0 |")
    assert "--253" in text
    text = table_rows(text, lambda cells: [f"{c} |" for c in cells])
    filing = read(spec19, tmp_path, text)
    assert table_values(spec19, filing) == expected(spec19, values)


def test_a_bar_opening_a_line_of_figures_is_an_empty_cell_in_a_table_of_closing_bars(
    spec21, tmp_path
):
    """Rows written “label | 25 |”, then one line “|” per empty cell, then “| 25 |”: where no
    row opens with a bar, the bar opening “| 25 |” closes one more empty cell — 自然人 25, five
    empty cells, 总计 25 — not 25 under 其他 and the total lost."""
    values = _values(spec21, seed=4)
    rows = {}

    def emit(cells):
        if len(cells) == 8 and cells[1].isdigit() and cells[0].startswith(("一、", "二、")):
            rows[cells[0]] = (cells[1], cells[7])
            return [f"{cells[0]} | {cells[1]} |", "|", "|", "|", "|", f"| {cells[7]} |"]
        return [" | ".join(cells) + " |"]

    text = table_rows(published(spec21, tmp_path, values), emit)
    assert len(rows) == 2
    _rows_printed_as(spec21, read(spec21, tmp_path, text), values, ("natural", "total"))


def test_a_unit_before_the_compiling_verb_is_not_taken_as_government(spec21, tmp_path):
    """“某街道特编制2025年政府信息公开年度报告”: the words after the year are the report's own
    (政府信息公开…), not a unit named 政府."""
    text = published(spec21, tmp_path, _values(spec21))
    head = "根据《条例》的要求，某区某街道特编制2025年政府信息公开年度报告。"
    filing = read(spec21, tmp_path, text.replace("# 测试镇2025年政府信息公开工作年度报告", head))
    assert (filing.unit, filing.year) == ("", 2025)


@pytest.mark.parametrize(
    "unit, kind",
    [
        ("某县某镇政府", "乡镇"),
        ("某县某乡政府", "乡镇"),
        ("某区某街道办", "街道"),
        ("某自治区人民政府办公厅", "部门"),
        ("某省某厅", "部门"),
    ],
)
def test_kind_of_a_township_government_a_street_office_and_a_general_office(
    spec21, tmp_path, unit, kind
):
    """“某镇政府” is a township (not 政府, a county's own report), “某街道办” a street office
    (not a department for its 办), “某办公厅” a department."""
    text = (
        published(spec21, tmp_path, _values(spec21))
        .replace("测试镇2025年", f"{unit}2025年")
        .replace("我镇", "本单位")
    )
    filing = read(spec21, tmp_path, text)
    assert (filing.unit, filing.kind) == (unit, kind)


def test_a_row_label_with_a_long_note_naming_other_rows(tmp_path):
    """A label carrying the format's long filling note in brackets (“其他对外管理服务事项（指…，含
    …行政处罚、行政强制…）”), more than 40 characters and naming other rows: still its row, found
    by its label (a page that heads the next rows with their own heading leaves no position to
    fall back on)."""
    from workbook_tools import spec as spec_module

    spec19 = spec_module.load("gov_disclosure_2019")
    values = _values(spec19, seed=3)
    note = (
        "（指行政许可以外的各类服务事项，含确认、奖励、裁决、给付、行政处罚、行政强制、检查、征收"
        "和其他类，以及各项公共服务事项）"
    )
    assert len(note) > 40
    text = published(spec19, tmp_path, values).replace(
        "| 其他对外管理服务事项 |", f"| 其他对外管理服务事项{note} |"
    )
    assert note in text
    text = table_rows(text, lambda cells: [f"{c} |" for c in cells])
    filing = read(spec19, tmp_path, text)
    assert table_values(spec19, filing) == expected(spec19, values)
    assert "I111" not in {f.code for f in filing.findings}  # by its label, not its position
