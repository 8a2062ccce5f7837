"""The table sheets (表二, 表三, 表四): labels and merges as the national format has them, input
cells with data validation, total formulas, and the live ✓/✗ cells beside and below each table."""

from __future__ import annotations

from .. import layout, rules
from ..findings import LENIENT, PLAIN_NUMBER, Severity
from ..layout import Place, TableLayout, cell_name
from ..normalise import excel_readable
from .book import Book
from .ranges import check_formats, multi_range, rectangles


def write(b: Book, ws, tl: TableLayout) -> None:
    table = tl.table
    title_rows(b, ws, tl.width, table.heading)
    ws.merge_range(
        layout.NOTE_ROW, 0, layout.NOTE_ROW, tl.width - 1, b.t["table_note"], b.f["note"]
    )
    for i, width in enumerate(tl.col_widths):
        ws.set_column(i, i, width)
    for row, height in tl.row_heights.items():
        ws.set_row(row, height)
    for label in tl.labels:
        fmt = b.f[label.role]
        if label.merged:
            ws.merge_range(label.row, label.col, label.last_row, label.last_col, label.text, fmt)
        else:
            ws.write_string(label.row, label.col, label.text, fmt)
    data_cells(b, ws, tl)
    check_cells(b, ws, tl)
    ws.set_paper(9)  # A4
    if table.landscape:
        ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.center_horizontally()
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.print_area(0, 0, tl.bottom, tl.width - 1)
    ws.repeat_rows(*tl.header_rows)
    ws.set_footer(b.t["footer"])
    ws.freeze_panes(tl.header_rows[1] + 1, 0)


def title_rows(b: Book, ws, width: int, title: str) -> None:
    ws.merge_range(layout.TITLE_ROW, 0, layout.TITLE_ROW, width - 1, title, b.f["title"])
    ws.set_row(layout.TITLE_ROW, 28)
    line = b.t["unit_line"].format(unit=b.unit.name, year=b.year)
    ws.merge_range(layout.UNIT_ROW, 0, layout.UNIT_ROW, width - 1, line, b.f["subtitle"])


def data_cells(b: Book, ws, tl: TableLayout) -> None:
    spec = b.spec
    by_type: dict[str, list[Place]] = {}
    for dp_id, place in tl.cells.items():
        dp = spec.datapoints[dp_id]
        fmt = b.marked_format(dp_id, b.f["total" if dp.computed else "input"])
        b.comment(ws, dp_id, place)
        if place.last_col is not None:
            ws.merge_range(place.row, place.col, place.row, place.last_col, None, fmt)
        if dp.computed and dp_id in b.printed:  # printed in the source, unlike its rows' sum
            b.write_value(ws, place, b.printed[dp_id], fmt)
        elif dp.computed:
            formula = b.formulas.totals[dp_id]
            ws.write_formula(place.row, place.col, formula, fmt, b.values[dp_id])
        elif dp_id in b.missing and b.values.get(dp_id) is None:
            ws.write_blank(place.row, place.col, None, b.missing_format())
            ws.write_comment(place.row, place.col, b.t["missing_cell"], {"author": "wbtools"})
            by_type.setdefault(dp.type, []).append(place)
        else:
            b.write_value(ws, place, b.values.get(dp_id), fmt)
            by_type.setdefault(dp.type, []).append(place)
    for type_id, places in by_type.items():
        vtype = spec.types[type_id]
        options = {
            "validate": "decimal" if vtype.kind == "decimal" else "integer",
            **(
                {"criteria": "between", "minimum": -(10**9), "maximum": 10**9}
                if vtype.kind == "signed"
                else {"criteria": ">=", "value": 0}
            ),
            "ignore_blank": True,
            "input_title": b.t["number_hint_title"],
            "input_message": vtype.hint.get(b.lang)[:255],
            # What the checker makes of text here decides how the template takes it: a number
            # with a unit or in full-width digits is read with a warning (the registry's V106,
            # V105, ...), so the template warns in the registry's words and lets it stand.
            "error_type": "warning" if LENIENT is Severity.WARNING else "stop",
            "error_title": LENIENT.label(b.lang),
            "error_message": f"{vtype.error.get(b.lang)}{PLAIN_NUMBER[b.lang]}"[:255],
        }
        rects = rectangles(places)
        for r1, c1, r2, c2 in rects:
            ws.data_validation(r1, c1, r2, c2, options)
        # One rule over every range: its relative reference is to the first range's
        # top-left cell, and Excel and LibreOffice shift it for every other cell.
        r1, c1 = rects[0][:2]
        first = cell_name(r1, c1)
        predicate = rules.excel_type_predicate(first, vtype.kind, excel_readable)
        ws.conditional_format(
            *rects[0],
            {
                "type": "formula",
                "criteria": f"=NOT(IFERROR({predicate},FALSE))",
                "format": b.f["error_cf"],
                "multi_range": multi_range(rects),
            },
        )
        lenient = f'AND(ISTEXT({first}),TRIM({first})<>"",{excel_readable(first, vtype.kind)})'
        ws.conditional_format(
            *rects[0],
            {
                "type": "formula",
                "criteria": f"=IFERROR({lenient},FALSE)",
                "format": b.f["warning_cf" if LENIENT is Severity.WARNING else "error_cf"],
                "multi_range": multi_range(rects),
            },
        )


def check_cells(b: Book, ws, tl: TableLayout) -> None:
    spec = b.spec
    for code, col in tl.check_cols.items():
        rule = spec.rule(code)
        text = b.t["check_row"].format(code=code, name=rule.name.get(b.lang))
        first, last = tl.header_rows
        if last > first:
            ws.merge_range(first, col, last, col, text, b.f["check_head"])
        else:
            ws.write_string(first, col, text, b.f["check_head"])
        ws.set_column(col, col, layout.CHECK_COL_WIDTH)
    stub = tl.table.blocks[0].stub_width
    for code, row in tl.check_rows.items():
        rule = spec.rule(code)
        text = b.t["check_row"].format(code=code, name=rule.name.get(b.lang))
        if stub > 1:
            ws.merge_range(row, 0, row, stub - 1, text, b.f["check_label"])
        elif stub == 1:
            ws.write_string(row, 0, text, b.f["check_label"])
        else:
            ws.write_string(row, tl.width, text, b.f["check_label"])
    by_severity: dict[str, list[Place]] = {}
    for rule in spec.rules:
        for inst in rule.instances:
            place = tl.checks.get(inst.key)
            if place is None:
                continue
            formula = b.formulas.checks[inst.key]
            shown = rules.PASS if b.passes[inst.key] else rules.FAIL
            ws.write_formula(place.row, place.col, formula, b.f["check"], shown)
            by_severity.setdefault(rule.severity.value, []).append(place)
    check_formats(b, ws, by_severity)
