"""Returned workbooks for tests: a consistent base filing with narrative, rendered through the
template writer; the edits units make live in ``workbook_tools.synth``."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path
from typing import Any

from workbook_tools import synth, template
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


sheet_part = synth.sheet_part
edit_part = synth.edit_part
replace_cell = synth.replace_cell
type_over_formula = synth.type_over_formula
stale_cached_value = synth.stale_cached_value
retype_text = synth.retype_text
unprotect = synth.unprotect
with_openpyxl = synth.with_openpyxl
set_meta = synth.set_meta


def write(tmp_path: Path, data: bytes, name: str = "returned.xlsx") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def breakdown_chunks(ws) -> list[dict]:
    """分单位明细 read back the way a machine would: each chunk's hidden id row (A = 数据项编号),
    its header rows, and its data rows (A = the file's 序号) as {序号: {id: value}}."""
    rows = list(ws.iter_rows(values_only=True))
    chunks = []
    for i, row in enumerate(rows, start=1):
        if row[0] == "数据项编号":
            ids = {c: v for c, v in enumerate(row[1:], start=2) if v}
            chunks.append({"id_row": i, "ids": ids, "data": {}, "first": None, "last": None})
        elif chunks and isinstance(row[0], int):
            chunk = chunks[-1]
            chunk["first"] = chunk["first"] or i
            chunk["last"] = i
            chunk["data"][row[0]] = {chunk["ids"][c]: row[c - 1] for c in chunk["ids"]}
    return chunks


def breakdown_values(ws) -> dict[int, dict]:
    """序号 -> every field and datapoint of that file, over all chunks."""
    out: dict[int, dict] = {}
    for chunk in breakdown_chunks(ws):
        for no, values in chunk["data"].items():
            out.setdefault(no, {}).update(values)
    return out


# What a zip entry says of its part, but how it is deflated.
_ENTRY = ("filename", "date_time", "compress_type", "create_system", "create_version")
_ENTRY += ("extract_version", "flag_bits", "external_attr", "internal_attr", "CRC", "file_size")


def same_parts(ours: bytes | None, theirs: bytes) -> bool:
    """Part for part the same workbook: the same zip entries in the same order, each with the
    same fields and the same bytes once inflated (zipfile checks each part's CRC), however the
    parts are deflated (an import's prepared workbook by ISA-L, xlsxwriter's by zlib)."""
    if ours is None:
        return False
    with zipfile.ZipFile(io.BytesIO(ours)) as a, zipfile.ZipFile(io.BytesIO(theirs)) as b:
        fields = [[tuple(getattr(i, f) for f in _ENTRY) for i in z.infolist()] for z in (a, b)]
        return fields[0] == fields[1] and all(a.read(n) == b.read(n) for n in b.namelist())
