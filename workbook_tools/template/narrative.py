"""The 文字部分 sheet: one yellow cell per narrative item of sections 一, 五 and 六, with its
length and whether a required item is still empty."""

from __future__ import annotations

from .. import layout, rules
from .book import Book


def write(b: Book, ws) -> None:
    t = b.t
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, layout.NARRATIVE_TEXT_WIDTH)
    ws.set_column(2, 3, 8)
    ws.merge_range(0, 0, 0, 3, t["narrative_title"], b.f["title"])
    ws.merge_range(1, 0, 1, 1, t["narrative_note"], b.f["note"])
    ws.write_string(1, 2, t["narrative_cols"][2], b.f["small"])
    ws.write_string(1, 3, t["narrative_cols"][3], b.f["small"])
    for section in b.spec.sections:
        if not section.fields:
            continue
        first = b.layout.place(section.fields[0].id)
        ws.merge_range(first.row - 1, 0, first.row - 1, 3, section.heading, b.f["section"])
        ws.set_row(first.row - 1, 22)
        for field in section.fields:
            place = b.layout.place(field.id)
            text = b.texts.get(field.id, "")
            ws.write_string(place.row, 0, field.label, b.f["label"])
            fmt = b.marked_format(field.id, b.f["text_input"])
            b.comment(ws, field.id, place)
            if text:
                ws.write_string(place.row, 1, text, fmt)
            else:
                ws.write_blank(place.row, 1, None, fmt)
            ws.set_row(place.row, 150 if field.required else 60)
            cell = place.a1
            ws.write_formula(place.row, 2, f"=LEN({cell})", b.f["small"], len(text))
            if field.required:
                missing = t["narrative_missing"]
                shown = rules.PASS if text.strip() else missing
                formula = f'=IF(LEN(TRIM({cell}))=0,"{missing}","{rules.PASS}")'
                ws.write_formula(place.row, 3, formula, b.f["small"], shown)
                ws.conditional_format(
                    place.row,
                    3,
                    place.row,
                    3,
                    {
                        "type": "cell",
                        "criteria": "==",
                        "value": f'"{missing}"',
                        "format": b.f["warning_cf"],
                    },
                )
            else:
                ws.write_string(place.row, 3, t["narrative_optional"], b.f["small"])
            hint = field.hint.get(b.lang)
            if hint:
                ws.data_validation(
                    place.row,
                    1,
                    place.row,
                    1,
                    {
                        "validate": "any",
                        "input_title": t["text_hint_title"],
                        "input_message": hint[:255],
                    },
                )
