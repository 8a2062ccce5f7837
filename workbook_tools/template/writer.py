"""The whole workbook: its sheets in order, document properties, defined names, protection;
one template per roster unit, in several processes for a large roster."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from .. import __version__, layout
from ..files import atomic_write, make_folder
from ..roster import Unit, file_name
from ..spec import Spec
from . import checks, cover, meta, narrative, tables
from . import feedback as feedback_sheet
from . import info as info_sheet
from .book import Book, Feedback
from .wording import FEEDBACK_SHEET

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any


def render(
    spec: Spec,
    unit: Unit,
    year: int,
    *,
    lang: str = "zh",
    password: str = "",
    values: Mapping[str, Any] | None = None,
    texts: Mapping[str, str] | None = None,
    info: Mapping[str, Any] | None = None,
    feedback: Feedback | None = None,
    printed: Mapping[str, Any] | None = None,
    missing: Iterable[str] = (),
) -> bytes:
    """The workbook for ``unit`` and ``year`` as bytes; ``values``/``texts``/``info`` prefill it;
    ``feedback`` colours problem cells with comments and adds the list of findings. An imported
    report's ``printed`` totals that differ from their rows stand as numbers over the formula
    (as a typed-over total does); its ``missing`` inputs are marked in the sheet and recorded in
    the metadata, so a check of the workbook says “missing” (I104), not “left blank”."""
    book = Book(spec, unit, year, lang, password, values, texts, info, feedback, printed, missing)
    return _write(book)


def _write(b: Book) -> bytes:
    spec, unit, wb = b.spec, b.unit, b.wb
    wb.set_properties(
        {
            "title": spec.title.format(unit=unit.name, year=b.year),
            "subject": f"{spec.name} {spec.version}",
            "author": "wbtools",
            "company": unit.name,
            "comments": f"wbtools {__version__}; {spec.format_id} {spec.version}",
            "created": meta.creation_time(b.year),
        }
    )

    def sheet(name: str):
        return wb.add_worksheet(name, worksheet_class=b.worksheet_class)

    instructions = sheet(layout.INSTRUCTIONS_SHEET)
    info_ws = sheet(layout.INFO_SHEET)
    table_ws = {t.id: sheet(t.sheet) for t in spec.tables}
    narrative_ws = sheet(layout.NARRATIVE_SHEET)
    checks_ws = sheet(layout.CHECKS_SHEET)
    meta_ws = sheet(layout.META_SHEET)
    feedback_ws = sheet(FEEDBACK_SHEET[b.lang]) if b.feedback is not None else None

    info_sheet.write(b, info_ws)
    for tid, ws in table_ws.items():
        tables.write(b, ws, b.layout.tables[tid])
    narrative.write(b, narrative_ws)
    summary = checks.write(b, checks_ws)
    cover.write(b, instructions, summary)
    meta.write(b, meta_ws)
    if feedback_ws is not None:
        feedback_sheet.write(b, feedback_ws)
    for name, ref in b.formulas.names.items():
        wb.define_name(name, ref)
    for ws in (instructions, info_ws, narrative_ws, checks_ws):
        ws.set_paper(9)  # A4, one page wide: the unit prints and signs what it returns
        ws.fit_to_pages(1, 0)
        ws.set_footer(b.t["footer"])
    for ws in wb.worksheets():
        # Row heights and column widths stay adjustable: long narrative needs taller rows.
        ws.protect(b.password, {"format_rows": True, "format_columns": True})
    (feedback_ws or instructions).activate()
    wb.close()
    return b.buffer.getvalue()  # (the structure is locked as it is written: LockedWorkbook)


def write(path: Path, spec: Spec, unit: Unit, year: int, **options: Any) -> Path:
    atomic_write(path, render(spec, unit, year, **options))
    return path


def _write_one(args: tuple) -> str:
    path, spec_source, unit, year, options = args
    from .. import spec as spec_module

    write(Path(path), spec_module.load(spec_source), unit, year, **options)
    return path


def write_roster(
    spec: Spec,
    units: list[Unit],
    year: int,
    folder: Path,
    *,
    jobs: int | None = None,
    progress=None,
    **options: Any,
) -> list[Path]:
    """One template per unit in ``folder``; uses several processes for large rosters."""
    make_folder(folder)
    paths = [folder / file_name(u, year) for u in units]
    jobs = jobs or min(os.cpu_count() or 1, 8)
    if jobs <= 1 or len(units) < 40:
        for path, unit in zip(paths, units, strict=True):
            write(path, spec, unit, year, **options)
            if progress:
                progress(path)
        return paths
    from .. import workers  # (the process pool is not loaded for one workbook)

    tasks = [(str(p), spec.source, u, year, options) for p, u in zip(paths, units, strict=True)]
    # workers.pool: the workers die with this process instead of outliving a killed run.
    with workers.pool(jobs) as pool:
        for done in pool.map(_write_one, tasks, chunksize=8):
            if progress:
                progress(Path(done))
    return paths
