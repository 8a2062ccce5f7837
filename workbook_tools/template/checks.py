"""The 校验结果 sheet: every live check with its code, severity, place and state, how many inputs
are still empty, and the status line the cover shows."""

from __future__ import annotations

from .. import layout, rules
from ..layout import Place, cell_name, quote_sheetname
from .book import Book
from .ranges import check_formats, rectangles
from .wording import SEVERITY_TEXT


def write(b: Book, ws) -> dict[str, str]:
    """The list of every live check; returns the addresses of the summary cells."""
    t, spec = b.t, b.spec
    ws.set_column(0, 1, 7)
    ws.set_column(2, 2, 16)
    ws.set_column(3, 3, 40)
    ws.set_column(4, 4, 24)
    ws.set_column(5, 5, 7)
    ws.merge_range(0, 0, 0, 5, t["checks_title"], b.f["title"])
    ws.set_row(0, 28)  # the 16-point title, not clipped
    header_row, first = 7, 8
    rows = [(rule, inst) for rule, inst in spec.instances()]
    last = first + len(rows) - 1
    sev_col = f"$B${first + 1}:$B${last + 1}"
    status_col = f"$F${first + 1}:$F${last + 1}"
    sev = SEVERITY_TEXT[b.lang]
    labels = t["checks_summary"]
    for i, severity in enumerate(("error", "warning")):
        ws.merge_range(2 + i, 0, 2 + i, 1, labels[i], b.f["label"])
        formula = f'=COUNTIFS({sev_col},"{sev[severity]}",{status_col},"{rules.FAIL}")'
        ws.write_formula(2 + i, 2, formula, b.f["check"], b.failing[severity])
    ws.merge_range(4, 0, 4, 1, labels[2], b.f["label"])
    ws.write_formula(4, 2, blank_formula(b), b.f["check"], b.blank)
    ws.merge_range(5, 0, 5, 1, labels[3], b.f["label"])
    ws.merge_range(5, 2, 5, 5, None, b.f["value"])
    ws.write_formula(5, 2, status_formula(t), b.f["value"], b.status)
    for col, head in enumerate(t["checks_cols"]):
        ws.write_string(header_row, col, head, b.f["header"])
    by_severity: dict[str, list[Place]] = {}
    for i, (rule, inst) in enumerate(rows):
        r = first + i
        place = b.layout.place(f"check.{inst.key}")
        ws.write_string(r, 0, inst.code, b.f["small"])
        ws.write_string(r, 1, sev[rule.severity.value], b.f["small"])
        name, where = rule.name.get(b.lang), spec.where(inst, b.lang)
        ws.write_string(r, 2, name, b.f["check_label"])
        ws.write_string(r, 3, where, b.f["check_label"])
        # Wrapped labels get the rows they need, or they run over the next check's row.
        lines = max(layout.text_lines(name, 16 * 0.85), layout.text_lines(where, 40 * 0.85))
        if lines > 1:
            ws.set_row(r, 15 * lines)
        ws.write_url(r, 4, f"internal:{place.ref()}", b.f["link"], f"{place.sheet}!{place.a1}")
        shown = rules.PASS if b.passes[inst.key] else rules.FAIL
        ws.write_formula(r, 5, "=" + place.ref(layout.CHECKS_SHEET), b.f["check"], shown)
        by_severity.setdefault(rule.severity.value, []).append(Place(layout.CHECKS_SHEET, r, 5))
    check_formats(b, ws, by_severity)
    ws.freeze_panes(first, 0)
    ws.autofilter(header_row, 0, last, 5)
    return {"errors": "C3", "warnings": "C4", "blank": "C5", "result": "C6"}


def status_formula(t: dict[str, str]) -> str:
    """``book.status_text`` as a formula over the counts in C3 (errors), C4 (warnings) and C5
    (empty inputs): not finished while anything is empty, all pass only when nothing fails."""
    bad = t["status_bad"].replace("{e}", '"&C3&"').replace("{w}", '"&C4&"')
    blank = t["status_blank"].replace("{b}", '"&C5&"')
    ok, joiner = t["status_ok"], t["status_joiner"]
    return f'=IF(C5>0,"{blank}"&IF(C3+C4>0,"{joiner}{bad}",""),IF(C3+C4=0,"{ok}","{bad}"))'


def blank_formula(b: Book) -> str:
    """How many inputs are still empty: number cells (each table's input cells grouped into
    rectangles; a cell of spaces is empty too, as the checker sees it) and required narrative
    items (whose status cell on 文字部分 says 未填写)."""
    terms = []
    for tl in b.layout.tables.values():
        places = [p for dp_id, p in tl.cells.items() if not b.spec.datapoints[dp_id].computed]
        sheet = quote_sheetname(tl.table.sheet)
        for r1, c1, r2, c2 in rectangles(places):
            area = cell_name(r1, c1) + ":" + cell_name(r2, c2)
            terms.append(f'SUMPRODUCT(--(TRIM({sheet}!{area})=""))')
    required = [b.layout.place(f.id) for f in b.spec.fields if f.required]
    if required:
        top, bottom = min(p.row for p in required), max(p.row for p in required)
        status = f"$D${top + 1}:$D${bottom + 1}"
        missing = b.t["narrative_missing"]
        terms.append(f'COUNTIF({quote_sheetname(layout.NARRATIVE_SHEET)}!{status},"{missing}")')
    return "=" + ("+".join(terms) or "0")
