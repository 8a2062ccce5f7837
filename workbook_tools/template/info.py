"""The 基本信息 sheet: the prefilled unit and year (locked) and the contact fields to fill."""

from __future__ import annotations

from datetime import date

from .book import Book


def write(b: Book, ws) -> None:
    t = b.t
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 44)
    ws.merge_range(0, 0, 0, 1, t["info_title"], b.f["title"])
    for field in b.spec.info:
        place = b.layout.place(f"info.{field.id}")
        label = field.label if b.lang == "zh" else f"{field.label} {field.label_en}"
        ws.write_string(place.row, 0, label, b.f["label"])
        value = b.info.get(field.id)
        if field.prefilled:
            b.write_value(ws, place, value, b.f["value"])
        elif field.type == "date":
            fmt = b.f["date_input"]
            if isinstance(value, date):
                ws.write_datetime(place.row, place.col, value, fmt)
            else:
                b.write_value(ws, place, value, fmt)
            ws.data_validation(
                place.row,
                place.col,
                place.row,
                place.col,
                {
                    "validate": "date",
                    "criteria": "between",
                    "minimum": date(b.year, 1, 1),
                    "maximum": date(b.year + 2, 12, 31),
                    "input_title": t["text_hint_title"],
                    "input_message": t["date_hint"],
                    "error_message": t["date_error"],
                },
            )
        else:
            base = b.f["phone_input" if field.id == "phone" else "text_input"]
            fmt = b.marked_format(f"info.{field.id}", base)
            b.comment(ws, f"info.{field.id}", place)
            b.write_value(ws, place, value if value is None else str(value), fmt)
