"""Turn a published report (text, HTML, Markdown or Word) back into a filing.

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
from .labels import fold
from .narrative import read_narrative
from .pdf import PdfError
from .sections import SECTION_WORDS, find_sections, find_title, guess_kind, is_2019
from .sources import IMPORTABLE, Line, load_lines
from .tables import Imported, groups, read_table, tokens

__all__ = [
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
]


def read(path: Path | str, spec: Spec | None = None) -> Filing:
    """Import a published report. ``spec`` is the format to import into; by default the 2021
    format, or the 2019 trial format when table 二 carries its labels."""
    path = Path(path)
    filing = Filing(str(path))
    try:
        lines = load_lines(path)
    except intake.InputRefused as refused:
        filing.findings.append(refused.finding(path))
        return filing
    except FileNotFoundError:
        filing.findings.append(Finding("F101", {}, file=str(path)))
        return filing
    except PdfError as exc:  # a scan, an encrypted or broken PDF, or one beyond the bounds
        filing.findings.append(Finding(exc.code, exc.args_, file=str(path)))
        return filing
    except Exception as exc:  # a broken .docx or undecodable HTML
        filing.findings.append(
            Finding("F110", {"detail": f"{type(exc).__name__}: {str(exc)[:200]}"}, file=str(path))
        )
        return filing
    bounds = find_sections(lines)
    s2 = lines[slice(*bounds["s2"])] if "s2" in bounds else []
    if is_2019(s2):
        spec = spec_module.load("gov_disclosure_2019")
        filing.findings.append(Finding("I107", {}, file=str(path)))
    spec = spec or spec_module.load()
    filing.spec = spec
    unit, year, title_line = find_title(lines)
    filing.unit, filing.year, filing.kind = unit, year, guess_kind(unit)
    if not unit or not year:
        filing.findings.append(Finding("I101", {}, file=str(path)))
    if not bounds:
        filing.findings.append(
            Finding(
                "F111", {"detail": "no section heading of the report was found"}, file=str(path)
            )
        )
        return filing
    for sid in SECTION_WORDS:
        if sid not in bounds:
            heading = next(s.heading for s in spec.sections if s.id == sid)
            filing.findings.append(Finding("I102", {"heading": heading}, file=str(path)))
    for section in spec.sections:
        part = lines[slice(*bounds[section.id])] if section.id in bounds else None
        if section.table:
            ids = [d.id for d in spec.datapoints.values() if d.table == section.table]
            if part is None:
                filing.missing.update(ids)
                filing.findings.append(
                    Finding("I103", {"table": spec.table(section.table).name}, file=str(path))
                )
                continue
            got = read_table(spec, section.table, part, str(path))
            filing.values.update(got.values)
            filing.raw.update(got.raw)
            filing.missing.update(got.missing)
            filing.findings += got.findings
            for dp_id, line in got.lines.items():
                filing.sources[dp_id] = Source("", f"第{line}行")
                filing.lines[dp_id] = line
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
    }
    if title_line:
        filing.lines["title"] = title_line
    return filing
