"""Synthetic filings and returned workbooks, for the tests, the benchmarks and the samples.

``consistent_values`` makes random values that satisfy every rule (generic where the spec says
enough, and using the 2021 format's table-三 balance where it does not). The edit functions make
the changes units make to returned files the way they happen: a number typed over a formula,
protection removed or a label retyped (XML-level, everything else kept byte for byte), and
structural changes through openpyxl (which also drops cached formula results, as WPS and many
tools do).
"""

from __future__ import annotations

import io
import random
import re
import zipfile
from collections.abc import Callable
from typing import Any

from . import intake, layout, patterns
from .spec import Spec


def consistent_values(
    spec: Spec, rng: random.Random, unit_kind: str = "乡镇", scale: int = 6
) -> dict[str, Any]:
    """Inputs and totals for one unit that pass every rule of ``spec`` (2021 format).

    ``scale`` bounds the typical count in a cell; most cells are small, as in real reports.
    """
    values: dict[str, Any] = {i: 0 for i in spec.inputs}

    def count() -> int:
        return rng.choice([0, 0, 0, rng.randint(0, scale), rng.randint(0, scale * 5)])

    # Table 二: documents in force cover what was issued this year (W1); townships and
    # departments make no 规章 (W2).
    for row in spec.sets.get("t2_doc_rows", ()):
        if row == "rules" and unit_kind in ("乡镇", "街道", "部门"):
            continue
        issued, repealed = count(), count()
        values[f"t2.{row}.issued"] = issued
        values[f"t2.{row}.repealed"] = repealed
        values[f"t2.{row}.in_force"] = max(0, issued - repealed) + count()
    for dp in spec.datapoints.values():
        if dp.table == "t2" and dp.col_key in ("decisions",):
            values[dp.id] = count()
    if "t2.fees.amount" in values:
        values["t2.fees.amount"] = round(rng.choice([0, 0, rng.uniform(0, 500)]), 2)

    # Table 三: pick results and carry-forward per column, then split the sum into new + carried
    # so that 一 + 二 = 三（七） + 四 holds for every column (R1).
    for col in spec.sets.get("applicants", ()):
        handled = 0
        for row in spec.sets.get("results", ()):
            v = count() if rng.random() < 0.4 else 0
            values[f"t3.{row}.{col}"] = v
            handled += v
        carry_next = rng.randint(0, 2) if rng.random() < 0.3 else 0
        values[f"t3.carry_next.{col}"] = carry_next
        total = handled + carry_next
        # Carried over from last year is, like carried forward, small and often none.
        carried = rng.randint(0, min(total, 2)) if rng.random() < 0.3 else 0
        values[f"t3.carried.{col}"] = carried
        values[f"t3.new.{col}"] = total - carried

    # Table 四: any outcomes; totals are computed.
    for dp in spec.datapoints.values():
        if dp.table == "t4" and not dp.computed:
            values[dp.id] = rng.choice([0, 0, 0, 1, 2])

    return spec.compute(values)


def sheet_part(data: bytes, sheet: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheets = intake._SHEET_ENTRY.findall(z.read("xl/workbook.xml"))
        return intake._sheet_parts(data, z, sheets)[sheet]


def edit_part(data: bytes, part: str, change: Callable[[bytes], bytes]) -> bytes:
    """Rewrite one zip part, everything else byte for byte."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == part:
                new = change(body)
                assert new != body, f"edit of {part} changed nothing"
                body = new
            dst.writestr(info, body)
    return out.getvalue()


def replace_cell(data: bytes, sheet: str, ref: str, cell_xml: str) -> bytes:
    """Replace the <c r="ref"> element of ``sheet`` by ``cell_xml`` (use {s} for its style)."""

    def change(xml: bytes) -> bytes:
        pattern = patterns.compile(
            rb'<c r="' + ref.encode() + rb'"( s="(\d+)")?[^>]*?(/>|>.*?</c>)', re.S
        )
        m = pattern.search(xml)
        assert m, f"{sheet}!{ref} not found"
        style = (m.group(2) or b"0").decode()
        return xml[: m.start()] + cell_xml.format(r=ref, s=style).encode() + xml[m.end() :]

    return edit_part(data, sheet_part(data, sheet), change)


def type_over_formula(data: bytes, sheet: str, ref: str, number: float) -> bytes:
    return replace_cell(data, sheet, ref, '<c r="{r}" s="{s}"><v>' + str(number) + "</v></c>")


def stale_cached_value(data: bytes, sheet: str, ref: str, number: float) -> bytes:
    def change(xml: bytes) -> bytes:
        pattern = patterns.compile(
            rb'(<c r="' + ref.encode() + rb'"[^>]*><f>[^<]*</f><v>)[^<]*(</v>)'
        )
        assert pattern.search(xml)
        return pattern.sub(lambda m: m.group(1) + str(number).encode() + m.group(2), xml, count=1)

    return edit_part(data, sheet_part(data, sheet), change)


def retype_text(data: bytes, sheet: str, ref: str, text: str) -> bytes:
    return replace_cell(
        data, sheet, ref, '<c r="{r}" s="{s}" t="inlineStr"><is><t>' + text + "</t></is></c>"
    )


def unprotect(data: bytes, sheet: str) -> bytes:
    return edit_part(
        data, sheet_part(data, sheet), lambda xml: re.sub(rb"<sheetProtection[^>]*/>", b"", xml)
    )


def with_openpyxl(data: bytes, change: Callable[[Any], None]) -> bytes:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data))
    change(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def set_meta(data: bytes, key: str, value: str) -> bytes:
    row = _meta_keys().index(key) + 1
    return retype_text(data, layout.META_SHEET, f"B{row}", value)


def _meta_keys() -> tuple[str, ...]:
    from .template import META_KEYS

    return META_KEYS


def previous_year(spec: Spec, this: dict[str, Any]) -> dict[str, Any]:
    """Last year's values that agree with ``this`` year's across years (X1, X2) and pass every
    rule: last year carried forward what this year carried over, and this year's documents in
    force are last year's plus issued minus repealed."""
    last = {i: this[i] for i in spec.inputs}
    for c in spec.sets["applicants"]:
        last[f"t3.carry_next.{c}"] = this[f"t3.carried.{c}"]
        handled = sum(last[f"t3.{r}.{c}"] for r in spec.sets["results"])
        last[f"t3.new.{c}"] = handled + last[f"t3.carry_next.{c}"] - last[f"t3.carried.{c}"]
        if last[f"t3.new.{c}"] < 0:
            last[f"t3.granted.{c}"] -= last[f"t3.new.{c}"]
            last[f"t3.new.{c}"] = 0
    for r in spec.sets["t2_doc_rows"]:
        last[f"t2.{r}.in_force"] = (
            this[f"t2.{r}.in_force"] - this[f"t2.{r}.issued"] + this[f"t2.{r}.repealed"]
        )
        last[f"t2.{r}.issued"] = last[f"t2.{r}.repealed"] = 0  # last year's own flows
    return spec.compute(last)
