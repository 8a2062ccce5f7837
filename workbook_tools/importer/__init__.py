"""Turn a published report (text, HTML, Markdown, Word or PDF) back into a filing.

Every input becomes numbered lines of text: HTML and Word tables become rows of cells joined by
``|``. The title gives the unit and year; the six sections are found by their headings, in order,
tolerating the variants seen in real reports; sections 一 and 五 are split at their （一）（二）…
sub-headings. A table section is cut into tokens (cells) and grouped into *label runs* followed by
*value runs* — which is what every flattening of a table has in common, whether one cell per line,
pipe-separated, blank-line separated, or a PDF text layer with space-separated cells and header
words broken over lines. Each group is matched to the next expected row by the tail of its label
text (whitespace, full/half width, traditional characters and small typos tolerated), and takes as
many values as the row has columns. A row or table that is not in the text is reported as missing,
never filled with zeros; every value remembers its line.
"""

from __future__ import annotations

from pathlib import Path

from .. import intake
from .. import spec as spec_module
from ..filing import Filing, Source
from ..findings import Finding
from ..spec import Spec
from .errors import PdfError
from .labels import fold
from .narrative import read_narrative
from .sections import (
    SECTION_WORDS,
    Title,
    find_sections,
    find_title,
    guess_kind,
    kind_from_text,
    table2_format,
)
from .sources import FOLDER_REPORTS, IMPORTABLE, Line, NeedsProgram, load_lines
from .tables import Imported, groups, read_table, tokens

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "FOLDER_REPORTS",
    "IMPORTABLE",
    "Imported",
    "Line",
    "fold",
    "groups",
    "guess_kind",
    "load_lines",
    "read",
    "read_table",
    "tokens",
    "workbook_arguments",
]


def read(
    path: Path | str,
    spec: Spec | None = None,
    *,
    unit: str = "",
    year: int | None = None,
    kind: str = "",
) -> Filing:
    """Import a published report. ``spec`` is the format to import into; by default the 2021
    format, or the 2019 trial format when table 二 carries its labels. ``unit``, ``year`` and
    ``kind`` given by the user stand over what the text says."""
    path = Path(path)
    filing = Filing(str(path))
    where = str(path)
    try:
        lines = load_lines(path)
    except intake.InputRefused as refused:
        filing.findings.append(refused.finding(path))
        return filing
    except FileNotFoundError:
        filing.findings.append(Finding("F101", {}, file=where))
        return filing
    except NeedsProgram as exc:
        filing.findings.append(Finding("I112", {"program": str(exc)}, file=where))
        return filing
    except PdfError as exc:  # a scan, an encrypted or broken PDF, or one beyond the bounds
        filing.findings.append(Finding(exc.code, exc.args_, file=str(path)))
        return filing
    except Exception as exc:  # a broken .docx or undecodable HTML
        detail = f"{type(exc).__name__}: {str(exc)[:200]}"
        filing.findings.append(Finding("F110", {"detail": detail}, file=where))
        return filing
    bounds = find_sections(lines)
    s2 = lines[slice(*bounds["s2"])] if "s2" in bounds else []
    shape = table2_format(s2)
    if shape == "2019":
        spec = spec_module.load("gov_disclosure_2019")
        filing.findings.append(Finding("I107", {}, file=where))
    elif shape == "mixed":
        filing.findings.append(Finding("I118", {}, file=where))
    spec = spec or spec_module.load()
    filing.spec = spec
    title = _identify(filing, lines, path, unit, year, kind)
    if not bounds:  # not a report (or not its text): said as such, not as a wrong template
        filing.findings.append(Finding("I116", {}, file=where))
        return filing
    for sid in SECTION_WORDS:
        if sid not in bounds:
            heading = next(s.heading for s in spec.sections if s.id == sid)
            filing.findings.append(Finding("I102", {"heading": heading}, file=where))
    for section in spec.sections:
        part = lines[slice(*bounds[section.id])] if section.id in bounds else None
        if section.table:
            _table(filing, spec, section.table, part, where)
        elif part is not None:
            filing.texts.update(read_narrative(spec, section.id, part))
    for f in spec.fields:
        filing.texts.setdefault(f.id, "")
    # Published totals are numbers of unknown origin: check compares them with their rows (R2-R4)
    # without calling them overwritten formulas.
    for target, _ in spec.totals:
        filing.formula[target] = None
    filing.readable = True
    filing.meta = {
        "format_id": spec.format_id,
        "format_version": spec.version,
        "imported_from": path.name,
        "year_from": title.year_from,
        "unit_from": title.unit_from,
    }
    if title.line:
        filing.lines["title"] = title.line
    return filing


def kept_in_workbook(filing: Filing) -> tuple[dict[str, Any], set[str]]:
    """What a workbook written from an imported filing must keep of the text: the printed totals
    that differ from the sum of their rows (a wrong 总计 stays wrong, so check still sees it) and
    the inputs the text did not have (missing, not blank)."""
    spec = filing.spec
    printed = {}
    for target, sources in spec.totals:
        stored = filing.values.get(target)
        if target in filing.missing or not isinstance(stored, int | float):
            continue
        parts = [filing.values.get(s) for s in sources]
        summed = sum(p for p in parts if isinstance(p, int | float))
        if any(s in filing.missing for s in sources) or round(stored - summed, 6) != 0:
            printed[target] = stored
    return printed, {i for i in spec.inputs if i in filing.missing}


def workbook_arguments(filing: Filing, name: str) -> tuple[Spec, Any, int, dict[str, Any]]:
    """What ``template.render`` writes an imported filing's workbook from: spec, unit (named
    ``name`` when the text gave none), year, and the options (numbers as read; where a cell
    could not be read, its text, so the unit sees it; the contact fields; ``kept_in_workbook``)."""
    from ..roster import Unit

    spec = filing.spec
    values = {}
    for i in spec.inputs:
        value = filing.values.get(i)
        value = value if value is not None else filing.raw.get(i)
        if value is not None:
            values[i] = value
    info = {k: v for k, v in filing.info.items() if k not in ("unit", "code", "kind", "year")}
    printed, missing = kept_in_workbook(filing)
    options = {
        "values": values,
        "texts": filing.texts,
        "info": info,
        "printed": printed,
        "missing": missing,
    }
    return spec, Unit(filing.unit or name, "", filing.kind), filing.year, options


def _identify(
    filing: Filing, lines: list[Line], path: Path, unit: str, year: int | None, kind: str
) -> Title:
    """Unit, year and kind: the user's word first, then the text's, each saying its source."""
    where = str(path)
    title = find_title(lines, path.stem)
    if unit:
        title.unit, title.unit_from = unit, "given"
    if year:
        title.year, title.year_from = year, "given"
    filing.unit, filing.year = title.unit, title.year
    filing.kind = kind or guess_kind(title.unit) or kind_from_text(lines)
    if not title.unit:
        filing.findings.append(Finding("I101", {}, file=where))
    if not title.year:
        filing.findings.append(Finding("I106", {}, file=where))
    elif title.year_from not in ("title", "given"):
        source = YEAR_SOURCES[title.year_from]
        args = {"year": title.year, "source": source[0], "source_en": source[1]}
        filing.findings.append(Finding("I108", args, file=where))
    return title


YEAR_SOURCES = {  # where a year came from, as the finding says it
    "period": ("统计期限", "the statistics period"),
    "body": ("正文开头", "the opening of the text"),
    "file name": ("文件名", "the file name"),
}


def _table(filing: Filing, spec: Spec, table_id: str, part: list[Line] | None, where: str) -> None:
    if part is None:
        filing.missing.update(d.id for d in spec.datapoints.values() if d.table == table_id)
        filing.findings.append(Finding("I103", {"table": spec.table(table_id).name}, file=where))
        return
    got = read_table(spec, table_id, part, where)
    filing.values.update(got.values)
    filing.raw.update(got.raw)
    filing.missing.update(got.missing)
    filing.group_sums.update(got.group_sums)
    filing.findings += got.findings
    for dp_id, line in got.lines.items():
        filing.sources[dp_id] = Source("", f"第{line}行")
        filing.lines[dp_id] = line
