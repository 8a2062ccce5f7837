"""Real pages of the fourth round: layouts that lost figures or the report's unit. Each test
bends a report written by ``wbtools report`` into the real layout, in our own words and made-up
figures."""

from __future__ import annotations

import pytest

from workbook_tools import spec as spec_module

from .test_import_layouts import _values, expected, read, table_rows, table_values
from .test_import_real import published

_LAYOUTS = {  # a 2019-layout page's rows as the real pages wrote them
    "closing bars": lambda cells: [" | ".join(cells) + " |"],
    "one cell a line": lambda cells: [f"{c} |" for c in cells],
}


def _penalty_row(spec19, tmp_path, change_cell, layout):
    values = _values(spec19, seed=9)
    values["t2.penalty.last_year"], values["t2.penalty.change"] = 7, 0
    values["t2.penalty.decisions"] = 25
    text = published(spec19, tmp_path, values)
    row = "| 行政处罚 | 7 | 0 | 25 |"
    assert row in text
    text = table_rows(text.replace(row, f"| 行政处罚 | 7 | {change_cell} | 25 |"), _LAYOUTS[layout])
    return values, read(spec19, tmp_path, text)


@pytest.mark.parametrize("layout", sorted(_LAYOUTS))
def test_a_change_word_without_its_figure_keeps_its_column(tmp_path, layout):
    """“本年增/减” printed “增” with no figure: the cell cannot be read (R5, no number), but it is
    the row's second cell — 处理决定数量 25 stays in its column, not lost or moved."""
    spec19 = spec_module.load("gov_disclosure_2019")
    values, filing = _penalty_row(spec19, tmp_path, "增", layout)
    got = table_values(spec19, filing)
    assert got.get("t2.penalty.decisions") == 25
    assert got.get("t2.penalty.last_year") == 7
    assert got.get("t2.penalty.change") is None
    assert any(f.code == "R5" and f.datapoint == "t2.penalty.change" for f in filing.findings)
    want = expected(spec19, values)
    want.pop("t2.penalty.change")
    assert {d: got.get(d) for d in want} == want


@pytest.mark.parametrize("layout", sorted(_LAYOUTS))
def test_a_change_printed_as_increase_slash_decrease(tmp_path, layout):
    """“本年增/减” printed “0/0” (nothing up, nothing down, as the header pairs them): a change of
    0 in its own cell, not two figures that push 处理决定数量 out of the row."""
    spec19 = spec_module.load("gov_disclosure_2019")
    values, filing = _penalty_row(spec19, tmp_path, "0/0", layout)
    assert table_values(spec19, filing) == expected(spec19, values)


def test_a_2021_report_with_the_2019_header_over_its_first_block(spec21, tmp_path):
    """A 2021 report whose template kept the 2019 header words over table 二's first block
    (本年新 / 制作数量 …, cells separated by blank lines) while its other blocks are the 2021
    ones (本年处理决定数量, 本年收费金额): imported in the 2021 format with every figure, and a
    note (I118) that the first block's figures were taken in column order — not the 2019 format
    with table 二 lost."""
    values = _values(spec21, seed=6)
    text = published(spec21, tmp_path, values)
    header = "| 信息内容 | 本年制发件数 | 本年废止件数 | 现行有效件数 |"
    assert header in text
    text = text.replace(header, "| 信息内容 | 本年新制作数量 | 本年新公开数量 | 对外公开总数量 |")
    text = table_rows(text, lambda cells: [x for c in cells for x in (c, "")])
    filing = read(spec21, tmp_path, text.replace("本年新制作数量", "本年新\n制作数量"))
    assert filing.spec.format_id == spec21.format_id
    assert table_values(spec21, filing) == expected(spec21, values)
    codes = {f.code for f in filing.findings}
    assert "I118" in codes and "I107" not in codes
