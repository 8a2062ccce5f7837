"""Feedback workbooks: for each checked file, a fresh workbook generated from the spec with the
unit's own values and text filled in, every problem cell coloured with a comment saying what is
wrong and how to fix it, and a sheet listing every finding. The county can send it straight back;
the unit corrects it in place and returns it (it is a normal template, metadata included).

The returned file itself is never opened for writing: re-saving someone's workbook would lose
what the reader cannot carry over, so everything is regenerated (DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from . import template
from .check import Report
from .files import fit_name, guard_output
from .findings import Severity
from .roster import Unit, unsafe_part
from .spec import Spec

SUFFIX = {"zh": "_反馈", "en": "_feedback"}


def feedback(report: Report, spec: Spec, lang: str = "zh") -> template.Feedback:
    marks: dict[str, tuple[str, str]] = {}
    rows = []
    for f in report.findings:
        level = f.level(spec)
        message = f.message(lang, spec)
        key = f.datapoint
        rows.append(template.FeedbackRow(level.value, f.code, key, f.location(lang), message))
        # An equation marks every cell in it: the mistake may be in any of them.
        for k in f.datapoints or ((key,) if key is not None else ()):
            if k in marks:
                severity, text = marks[k]
                worse = "error" if Severity.ERROR in (level, Severity(severity)) else severity
                marks[k] = (worse, f"{text}\n[{f.code}] {message}")
            else:
                marks[k] = (level.value, f"[{f.code}] {message}")
    return template.Feedback(marks, rows)


def render(report: Report, spec: Spec, lang: str = "zh") -> bytes:
    filing = report.filing
    unit = Unit(filing.unit or Path(report.path).stem, filing.code, filing.kind)
    values = {i: filing.raw.get(i) for i in spec.inputs if i in filing.raw}
    info = {k: v for k, v in filing.info.items() if k not in ("unit", "code", "kind", "year")}
    return template.render(
        spec,
        unit,
        filing.year or 0,
        lang=lang,
        values=values,
        texts=filing.texts,
        info=info,
        feedback=feedback(report, spec, lang),
    )


def out_name(report: Report, lang: str) -> str:
    stem = Path(report.path).stem
    if unsafe_part(stem):
        stem = report.filing.code or "unit"
    return fit_name(f"{stem}{SUFFIX[lang]}.xlsx")


def stream(
    reports: Iterable[Report],
    spec: Spec,
    folder: Path,
    inputs: Iterable[Path],
    lang: str,
    written: list[Path],
    renamed: list[tuple[Path, str]] | None = None,
) -> Iterator[Report]:
    """Pass reports through, writing each one's feedback workbook on the way (paths appended to
    ``written``), so a long run keeps no report. Files of the same name (from different
    folders) get “ (2)”, “ (3)” … added to their feedback's name, listed in ``renamed``."""
    from .files import InputSet, atomic_write, free_name, make_folder

    make_folder(folder)
    known = InputSet(inputs)
    taken: set[Path] = set()
    unusable = _Unusable(taken, known)
    for report in reports:
        if report.readable and report.filing.year is not None:
            named = folder / out_name(report, lang)
            # a file of the same name from another folder, or an input so named (feedback beside
            # the returned files, a second time: the first run's feedback is an input now)
            path = free_name(named, unusable)
            if path != named and renamed is not None:
                renamed.append((Path(report.path), path.name))
            taken.add(path)
            guard_output(path, known)
            atomic_write(path, render(report, spec, lang))
            written.append(path)
        yield report


class _Unusable:
    """Names a feedback workbook cannot take: written already in this run, or an input's."""

    def __init__(self, taken: set[Path], known) -> None:
        self.taken, self.known = taken, known

    def __contains__(self, path: object) -> bool:
        return path in self.taken or (isinstance(path, Path) and self.known.holds(path))


def write_all(
    reports: Iterable[Report], spec: Spec, folder: Path, inputs: Iterable[Path], lang: str = "zh"
) -> list[Path]:
    """A feedback workbook per readable report in ``folder``; never over an input."""
    written: list[Path] = []
    for _ in stream(reports, spec, folder, inputs, lang, written):
        pass
    return written
