"""What the office downloads: the county workbook and report, built by the same ``merge``,
``county`` and ``report`` code as the command line over each unit's newest upload, and the status
list as CSV or Excel.

For the merge, each unit's newest original is linked into a scratch folder under the unit's roster
file name (roster names are validated as file names when the roster is read; nothing an upload
carried becomes a path), so the county workbook's status sheet names files as the office knows
them.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from pathlib import Path

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from .. import check, county, merge, report, safe_text
from ..roster import file_name
from .collect import UnitState, states
from .store import Portal

COLUMNS = {
    "zh": [
        "序号",
        "单位名称",
        "单位代码",
        "状态",
        "最近上传时间",
        "上传次数",
        "错误",
        "警告",
        "退回原因",
    ],
    "en": [
        "No.",
        "Unit",
        "Code",
        "Status",
        "Latest upload",
        "Uploads",
        "Errors",
        "Warnings",
        "Reason returned",
    ],
}


def neutralise(text: str) -> str:
    """A text cell for a CSV that Excel may open: no control characters, and no formula
    (the library's one rule for CSV cells, ``safe_text.csv_cell``)."""
    return safe_text.csv_cell(safe_text.terminal(text))


def status_rows(portal: Portal, items: list[UnitState], lang: str) -> list[list[str | int]]:
    rows: list[list[str | int]] = []
    for i, s in enumerate(items, start=1):
        up = s.newest
        reason = up.review.reason if up and up.review and up.review.state == "returned" else ""
        rows.append(
            [
                i,
                s.unit.name,
                s.unit.code,
                s.status_text(lang),
                portal.local_time(up.received_ns if up else None),
                s.uploads,
                up.errors if up else "",
                up.warnings if up else "",
                reason,
            ]
        )
    return rows


def status_csv(portal: Portal, lang: str) -> bytes:
    """The status list as CSV for Excel (UTF-8 with BOM); every text cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS[lang])
    for row in status_rows(portal, states(portal), lang):
        writer.writerow([v if isinstance(v, int) else neutralise(str(v)) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


class _StatusSheet(safe_text.LiteralStrings, Worksheet):
    pass


def status_xlsx(portal: Portal, lang: str) -> bytes:
    """The status list as a workbook; text is written as text, never as a formula."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    ws = book.add_worksheet("报送情况" if lang == "zh" else "Status", worksheet_class=_StatusSheet)
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    for col, head in enumerate(COLUMNS[lang]):
        ws.write_string(0, col, head, bold)
    rows = status_rows(portal, states(portal), lang)
    for r, row in enumerate(rows, start=1):
        for col, value in enumerate(row):
            if isinstance(value, int):
                ws.write_number(r, col, value)
            else:
                ws.write_string(r, col, str(value))
    ws.set_column(1, 1, 30)
    ws.set_column(3, 4, 20)
    ws.set_column(8, 8, 40)
    ws.autofilter(0, 0, max(len(rows), 1), len(COLUMNS[lang]) - 1)
    ws.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue()


class Scratch:
    """A scratch folder inside the data folder's tmp/, removed when done."""

    def __init__(self, portal: Portal):
        self.path = Path(tempfile.mkdtemp(prefix="county-", dir=portal.folder / "tmp"))

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _newest_files(portal: Portal, folder: Path) -> list[Path]:
    """Each unit's newest upload, linked into ``folder`` under its roster file name. An upload
    that is another unit's workbook (P104) is left out: merged, it would count for that unit."""
    from . import collect

    paths = []
    for s in states(portal):
        if s.newest is None:
            continue
        up = collect.upload(portal, s.newest.id)
        if up is None or any(f["code"] == "P104" for f in up.findings):
            continue
        target = folder / file_name(s.unit.as_unit(), portal.year)
        source = portal.blob_path(up.sha256)
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
        paths.append(target)
    return paths


def county_workbook(portal: Portal, folder: Path, lang: str = "zh") -> Path:
    """Merge every unit's newest upload into the county workbook, written in ``folder``."""
    inputs = folder / "in"
    inputs.mkdir()
    files = _newest_files(portal, inputs)
    units = [u.as_unit() for u in portal.units()]
    result = merge.merge(files, portal.spec, units, year=portal.year, name=portal.name, jobs=1)
    try:
        out = folder / "county.xlsx"  # our name; the county's name is only for the download
        county.write(result, out, lang)
    finally:
        result.close()
    return out


def county_report(portal: Portal, folder: Path, lang: str = "zh", fmt: str = "docx") -> Path:
    """The county report from the county workbook, as ``wbtools report`` makes it; marked
    unverified (as with --allow-errors) when the county totals fail a rule."""
    workbook = county_workbook(portal, folder, lang)
    result = check.check_file(workbook, portal.spec)
    if not result.readable:
        raise RuntimeError("the county workbook could not be read back")
    doc = report.build(result.filing, lang, unverified=bool(result.errors))
    out = folder / f"county.{fmt}"
    out.write_bytes(report.render(doc, fmt))
    return out


def download_name(portal: Portal, what: str, suffix: str, lang: str = "zh") -> str:
    """The file name offered for a download (never a path on this machine)."""
    words = {
        "county": ("汇总", "_county"),
        "report": ("年政府信息公开工作年度报告", "_annual_report"),
        "status": ("报送情况", "_status"),
    }[what]
    stem = f"{portal.name}{portal.year}{words[0 if lang == 'zh' else 1]}"
    return "".join(c if c not in '/\\:*?"<>|' and ord(c) >= 32 else "_" for c in stem) + suffix
