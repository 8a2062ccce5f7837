"""Real pages seen after the first corpus (issue 11 follow-up): layouts that placed figures in
the wrong cells or lost what the text said. Each test bends a report written by ``wbtools
report`` into the real layout, in our own words and made-up figures."""

from __future__ import annotations

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
