"""The cover sheet (填报说明): title, format line, the steps, the legend and the check status."""

from __future__ import annotations

from .. import layout
from ..layout import quote_sheetname
from .book import Book


def write(b: Book, ws, summary: dict[str, str]) -> None:
    t, spec = b.t, b.spec
    ws.set_column(0, 0, 6)
    ws.set_column(1, 1, 96)
    title = t["template_title"].format(unit=b.unit.name, year=b.year)
    ws.merge_range(0, 0, 0, 1, title, b.f["title"])
    ws.set_row(0, 30)
    line = t["format_line"].format(
        name=spec.name,
        basis=spec.basis,
        version=spec.version,
        revision=spec.revision,
        hash=spec.hash[:12],
    )
    ws.merge_range(1, 0, 1, 1, line, b.f["note"])
    row = 3
    for i, step in enumerate(t["steps"], start=1):
        ws.write_number(row, 0, i, b.f["plain"])
        ws.write_string(row, 1, step, b.f["plain"])
        ws.set_row(row, 15 * layout.text_lines(step, 96))
        row += 1
    row += 1
    legend = t["legend"]
    ws.write_string(row, 0, legend[0], b.f["plain"])
    ws.write_string(row, 1, legend[1], b.f["legend_input"])
    ws.write_string(row + 1, 1, legend[2], b.f["legend_total"])
    ws.write_string(row + 2, 1, legend[3], b.f["plain"])
    ws.write_string(row + 3, 1, legend[4], b.f["plain"])
    row += 5
    ws.write_string(row, 0, t["status_label"], b.f["label"])
    ws.set_row(row, 24)
    ref = f"{quote_sheetname(layout.CHECKS_SHEET)}!{summary['result']}"
    ws.write_formula(row, 1, f"={ref}", b.f["value"], b.status)
    ws.conditional_format(
        row,
        1,
        row,
        1,
        {
            "type": "cell",
            "criteria": "!=",
            "value": f'"{t["status_ok"]}"',
            "format": b.f["error_cf"],
        },
    )
