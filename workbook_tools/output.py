"""Output formats for check results: functions that only format (text for people, JSON for
machines). The exit code is the results' own: 0 no errors, 1 errors found, 2 nothing checkable."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable

from . import __version__, patterns
from .check import Report
from .findings import Severity
from .safe_text import terminal
from .spec import Spec

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any

WORDS = {
    "zh": {
        "passed": "通过",
        "warnings": "通过（有警告）",
        "errors": "未通过",
        "unreadable": "无法读取",
        "counts": "{e} 个错误，{w} 个警告",
        "year": "{year}年",
        "summary": "共检查 {n} 个文件：通过 {passed} 个，有警告 {warned} 个，未通过 {failed} 个，无法读取 {unreadable} 个；共 {e} 个错误，{w} 个警告。",
        "none": "没有要检查的文件。",
    },
    "en": {
        "passed": "passed",
        "warnings": "passed with warnings",
        "errors": "failed",
        "unreadable": "unreadable",
        "counts": "{e} error{e:s}, {w} warning{w:s}",
        "year": "{year}",
        "summary": "Checked {n} file{n:s}: {passed} passed, {warned} with warnings, {failed} failed, {unreadable} unreadable; {e} error{e:s}, {w} warning{w:s} in all.",
        "none": "No files to check.",
    },
}


class Count(int):
    """A count that formats as itself, and with the spec ``s`` as the English plural ending it
    asks for (“1 error”, “2 errors”); the Chinese texts never ask."""

    def __format__(self, spec: str) -> str:
        if spec == "s":
            return "" if self == 1 else "s"
        return format(int(self), spec)


def status(report: Report) -> str:
    if not report.readable:
        return "unreadable"
    if report.errors:
        return "errors"
    return "warnings" if report.warnings else "passed"


def exit_code(reports: Iterable[Report]) -> int:
    return Tally.of(reports).exit_code


class Tally:
    """Counts over reports as they pass (the summary line and the exit code), so a long run is
    printed as it goes and no report is kept."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(("passed", "warnings", "errors", "unreadable"), 0)
        self.n = self.e = self.w = 0

    @classmethod
    def of(cls, reports: Iterable[Report]) -> Tally:
        tally = cls()
        for r in reports:
            tally.add(r)
        return tally

    def add(self, report: Report) -> None:
        self.n += 1
        self.counts[status(report)] += 1
        self.e += report.errors
        self.w += report.warnings

    @property
    def exit_code(self) -> int:
        if self.n == self.counts["unreadable"]:
            return 2  # nothing checkable (no file, or none readable)
        return 1 if self.e else 0

    def summary(self) -> dict[str, int]:
        c = self.counts
        return {
            "n": self.n,
            "passed": c["passed"],
            "warned": c["warnings"],
            "failed": c["errors"],
            "unreadable": c["unreadable"],
            "e": self.e,
            "w": self.w,
        }


def tally(reports: Iterable[Report]) -> dict[str, int]:
    return Tally.of(reports).summary()


def text(reports: Iterable[Report], spec: Spec, lang: str = "zh", style=None) -> str:
    """Readable report, grouped by file, errors first, with a summary line. ``style`` may colour
    words (click.style-like: style(text, fg=...)); plain when None."""
    lines: list[str] = []
    stream_text(reports, spec, lang, style, lines.append)
    return "\n".join(lines)


def stream_text(
    reports: Iterable[Report], spec: Spec, lang: str, style, write: Callable[[str], Any]
) -> int:
    """``text``, one line at a time to ``write`` (each file's lines as soon as it is checked);
    returns the exit code."""
    w = WORDS[lang]
    count = Tally()
    for report in reports:
        count.add(report)
        for line in report_lines(report, spec, lang, style):
            write(line)
    if not count.n:
        write(w["none"])
    else:
        write("")
        write(w["summary"].format(**{k: Count(v) for k, v in count.summary().items()}))
    return count.exit_code


def report_lines(report: Report, spec: Spec, lang: str = "zh", style=None) -> list[str]:
    """One file's lines of the text output: its status, then each finding."""
    w = WORDS[lang]
    paint = style or (lambda s, **_: s)
    colours = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.NOTE: "blue"}
    f = report.filing
    state = status(report)
    who = " ".join(x for x in (f.unit, w["year"].format(year=f.year) if f.year else "") if x)
    who = terminal(who)
    mark = {"passed": "✓", "warnings": "✓", "errors": "✗", "unreadable": "✗"}[state]
    head = "  ".join(x for x in (f"{mark} {terminal(report.path)}", who, w[state]) if x)
    if report.findings and state != "unreadable":
        head += "  " + w["counts"].format(e=Count(report.errors), w=Count(report.warnings))
    lines = [paint(head, bold=True, fg="green" if state in ("passed", "warnings") else "red")]
    for finding in report.findings:
        level = finding.level(spec)
        label = paint(f"{level.label(lang):<2}", fg=colours[level])
        where = _place(finding, lang)
        lines.append(
            f"  {label} {finding.code:<5} {where + '  ' if where else ''}{finding.message(lang, spec)}"
        )
    return lines


def _place(finding, lang: str) -> str:
    """Where in the file (the file itself heads the group): sheet!cell, sheet, or line."""
    if finding.sheet and finding.cell:
        others = [
            c.rpartition("!")[2] if c.startswith(finding.sheet + "!") else c
            for c in finding.cells[1:]
        ]
        also = (
            ("（及 " + "、".join(others) + "）") if lang == "zh" else f" (and {', '.join(others)})"
        )
        return f"{finding.sheet}!{finding.cell}" + (also if others else "")
    if finding.line is not None:
        return f"第{finding.line}行" if lang == "zh" else f"line {finding.line}"
    return finding.sheet or ""


def _file_entry(report: Report, spec: Spec, lang: str) -> dict[str, Any]:
    f = report.filing
    return {
        "path": report.path,
        "unit": f.unit or None,
        "code": f.code or None,
        "kind": f.kind or None,
        "year": f.year,
        "status": status(report),
        "errors": report.errors,
        "warnings": report.warnings,
        "findings": [
            {
                "code": x.code,
                "severity": x.level(spec).value,
                "message": x.message(lang, spec),
                "file": x.file,
                "sheet": x.sheet,
                "cell": x.cell,
                "cells": list(x.cells) or ([f"{x.sheet}!{x.cell}"] if x.sheet and x.cell else []),
                "datapoint": x.datapoint,
                "line": x.line,
                "args": {k: v for k, v in x.args.items()},
            }
            for x in report.findings
        ],
    }


def _dumps(value: Any) -> str:
    import json  # (only for --format json: text output does not load it)

    text = json.dumps(value, ensure_ascii=False, indent=2, default=str)
    # JSON escapes C0 itself; DEL, C1 and direction overrides it lets through raw: escaped too,
    # so the data stays whole and a terminal showing it is not driven by it.
    return _unsafe_in_json().sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@functools.cache
def _unsafe_in_json() -> re.Pattern:
    return patterns.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _head(spec: Spec) -> dict[str, Any]:
    """What a JSON document says before its files: the tool and the format checked against."""
    return {
        "tool": "wbtools",
        "version": __version__,
        "format": {"id": spec.format_id, "version": spec.version, "spec_hash": spec.hash},
    }


def document(reports: Iterable[Report], spec: Spec, lang: str = "zh") -> dict[str, Any]:
    """The document ``as_json`` writes, as values (for a server that sends it on one line)."""
    reports = list(reports)
    tally = Tally.of(reports)
    return {
        **_head(spec),
        "files": [_file_entry(r, spec, lang) for r in reports],
        "summary": tally.summary(),
        "exit_code": tally.exit_code,
    }


def compact_json(value: Any) -> str:
    """``value`` as JSON on one line, escaped as ``as_json`` escapes (json's C encoder: an
    indent would make it use the pure-Python one)."""
    import json

    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return _unsafe_in_json().sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def as_json(reports: Iterable[Report], spec: Spec, lang: str = "zh") -> str:
    parts: list[str] = []
    stream_json(reports, spec, lang, parts.append)
    return "".join(parts)


def stream_json(
    reports: Iterable[Report], spec: Spec, lang: str, write: Callable[[str], Any]
) -> int:
    """``as_json``, written piece by piece (each file's entry as soon as it is checked): the same
    document, byte for byte, as one ``json.dumps`` of it would be. Returns the exit code."""
    write(_dumps(_head(spec))[:-2] + ',\n  "files": [')
    count = Tally()
    for report in reports:
        write(",\n    " if count.n else "\n    ")
        count.add(report)
        write(_dumps(_file_entry(report, spec, lang)).replace("\n", "\n    "))
    write("\n  ]" if count.n else "]")
    tail = {"summary": count.summary(), "exit_code": count.exit_code}
    write(",\n" + _dumps(tail)[2:])
    return count.exit_code
