"""The 问题清单 sheet of a feedback workbook: every finding, each linked to its cell."""

from __future__ import annotations

from .. import layout
from .book import Book
from .wording import FEEDBACK_TEXT, SEVERITY_TEXT


def write(b: Book, ws) -> None:
    """Every finding, first in a feedback workbook, each linked to its cell."""
    t = FEEDBACK_TEXT[b.lang]
    ws.set_column(0, 0, 6)
    ws.set_column(1, 2, 8)
    ws.set_column(3, 3, 24)
    ws.set_column(4, 4, 90)
    title = t["title"].format(unit=b.unit.name, year=b.year)
    ws.merge_range(0, 0, 0, 4, title, b.f["title"])
    ws.merge_range(1, 0, 1, 4, t["intro"], b.f["note"])
    ws.set_row(1, 30)
    for col, head in enumerate(t["columns"]):
        ws.write_string(3, col, head, b.f["header"])
    for i, row in enumerate(b.feedback.rows):
        r = 4 + i
        ws.write_number(r, 0, i + 1, b.f["small"])
        ws.write_string(r, 1, SEVERITY_TEXT[b.lang][row.severity], b.f["small"])
        ws.write_string(r, 2, row.code, b.f["small"])
        if row.key in b.layout.places:
            place = b.layout.place(row.key)
            link = f"internal:{place.ref()}"
            ws.write_url(r, 3, link, b.f["link"], f"{place.sheet}!{place.a1}")
        else:
            ws.write_string(r, 3, row.where, b.f["check_label"])
        ws.write_string(r, 4, row.message, b.f["check_label"])
        ws.set_row(r, 15 * layout.text_lines(row.message, 90))
    if not b.feedback.rows:
        ws.write_string(4, 4, t["none"], b.f["plain"])
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
