"""Output formats for check results: functions that only format (text for people, JSON for
machines). The exit code is the results' own: 0 no errors, 1 errors found, 2 nothing checkable."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from . import __version__
from .check import Report
from .findings import Severity
from .safe_text import terminal
from .spec import Spec

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
        "counts": "{e} errors, {w} warnings",
        "year": "{year}",
        "summary": "Checked {n} files: {passed} passed, {warned} with warnings, {failed} failed, {unreadable} unreadable; {e} errors, {w} warnings in all.",
        "none": "No files to check.",
    },
}


def status(report: Report) -> str:
    if not report.readable:
        return "unreadable"
    if report.errors:
        return "errors"
    return "warnings" if report.warnings else "passed"


def exit_code(reports: Sequence[Report]) -> int:
    if not reports or not any(r.readable for r in reports):
        return 2
    return 1 if any(r.errors for r in reports) else 0


def tally(reports: Sequence[Report]) -> dict[str, int]:
    states = [status(r) for r in reports]
    return {
        "n": len(reports),
        "passed": states.count("passed"),
        "warned": states.count("warnings"),
        "failed": states.count("errors"),
        "unreadable": states.count("unreadable"),
        "e": sum(r.errors for r in reports),
        "w": sum(r.warnings for r in reports),
    }


def text(reports: Sequence[Report], spec: Spec, lang: str = "zh", style=None) -> str:
    """Readable report, grouped by file, errors first, with a summary line. ``style`` may colour
    words (click.style-like: style(text, fg=...)); plain when None."""
    w = WORDS[lang]
    paint = style or (lambda s, **_: s)
    colours = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.NOTE: "blue"}
    lines: list[str] = []
    if not reports:
        return w["none"]
    for report in reports:
        f = report.filing
        state = status(report)
        who = " ".join(x for x in (f.unit, w["year"].format(year=f.year) if f.year else "") if x)
        who = terminal(who)
        mark = {"passed": "✓", "warnings": "✓", "errors": "✗", "unreadable": "✗"}[state]
        head = "  ".join(x for x in (f"{mark} {terminal(report.path)}", who, w[state]) if x)
        if report.findings and state != "unreadable":
            head += "  " + w["counts"].format(e=report.errors, w=report.warnings)
        lines.append(
            paint(head, bold=True, fg="green" if state in ("passed", "warnings") else "red")
        )
        for finding in report.findings:
            level = finding.level(spec)
            label = paint(f"{level.label(lang):<2}", fg=colours[level])
            where = _place(finding, lang)
            lines.append(
                f"  {label} {finding.code:<5} {where + '  ' if where else ''}{finding.message(lang, spec)}"
            )
    lines.append("")
    lines.append(w["summary"].format(**tally(reports)))
    return "\n".join(lines)


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


def as_json(reports: Sequence[Report], spec: Spec, lang: str = "zh") -> str:
    files: list[dict[str, Any]] = []
    for report in reports:
        f = report.filing
        files.append(
            {
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
                        "cells": list(x.cells)
                        or ([f"{x.sheet}!{x.cell}"] if x.sheet and x.cell else []),
                        "datapoint": x.datapoint,
                        "line": x.line,
                        "args": {k: v for k, v in x.args.items()},
                    }
                    for x in report.findings
                ],
            }
        )
    document = {
        "tool": "wbtools",
        "version": __version__,
        "format": {"id": spec.format_id, "version": spec.version, "spec_hash": spec.hash},
        "files": files,
        "summary": tally(reports),
        "exit_code": exit_code(reports),
    }
    text = json.dumps(document, ensure_ascii=False, indent=2, default=str)
    # JSON escapes C0 itself; DEL, C1 and direction overrides it lets through raw: escaped too,
    # so the data stays whole and a terminal showing it is not driven by it.
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
