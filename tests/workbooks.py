"""Building returned workbooks for tests: consistent filings, and the edits units make to them.

Edits are made the way they happen in the field: values typed into cells (through the template
writer, as Excel would store them), XML-level changes for tampering that keeps everything else
intact (a number typed over a formula, protection removed, a label retyped), and openpyxl for
structural changes (a sheet deleted, rows inserted), which also drops cached formula results.
"""

from __future__ import annotations

import io
import random
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl

from workbook_tools import intake, layout, synth, template
from workbook_tools.roster import Unit

UNIT = Unit("徐营镇", "101", "乡镇")
YEAR = 2024
TEXTS = {
    "s1.overview": "本年度，我镇认真贯彻落实政府信息公开条例。",
    "s1.proactive": "依法主动公开各类政府信息。",
    "s1.on_request": "依法规范办理政府信息公开申请。",
    "s1.management": "加强政府信息管理。",
    "s1.platform": "用好政府网站和公开栏。",
    "s1.oversight": "加强培训和监督。",
    "s5.problems": "公开渠道有待拓展。",
    "s5.improvements": "拓展线上线下公开渠道。",
    "s6.fees": "本年度未收取信息处理费。",
    "s6.other": "",
}


def base_values(spec, seed: int = 11) -> dict[str, Any]:
    """A consistent filing with no 逾期未缴费 closures (so “未收取信息处理费” is true) and zeros in
    the cells the golden cases change."""
    values = synth.consistent_values(spec, random.Random(seed))
    for col in spec.sets["applicants"]:
        moved = values[f"t3.other_unpaid.{col}"]
        values[f"t3.other_unpaid.{col}"] = 0
        values[f"t3.granted.{col}"] += moved
    values["t3.deny_law.other"] = 0
    values["t2.licensing.decisions"] = 12
    values["t2.rules.issued"] = values["t2.rules.repealed"] = values["t2.rules.in_force"] = 0
    return spec.compute(values)


def render(spec, values=None, texts=None, unit: Unit = UNIT, year: int = YEAR) -> bytes:
    values = base_values(spec) if values is None else values
    return template.render(spec, unit, year, values=values, texts=TEXTS if texts is None else texts)


def sheet_part(data: bytes, sheet: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return intake._sheet_parts(z, z.read("xl/workbook.xml"))[sheet]


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
        pattern = re.compile(
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
        pattern = re.compile(rb'(<c r="' + ref.encode() + rb'"[^>]*><f>[^<]*</f><v>)[^<]*(</v>)')
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


def with_openpyxl(data: bytes, change: Callable[[openpyxl.Workbook], None]) -> bytes:
    book = openpyxl.load_workbook(io.BytesIO(data))
    change(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def set_meta(data: bytes, key: str, value: str) -> bytes:
    row = template.META_KEYS.index(key) + 1
    return retype_text(data, layout.META_SHEET, f"B{row}", value)


def write(tmp_path: Path, data: bytes, name: str = "returned.xlsx") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path
