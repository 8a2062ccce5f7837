"""Cells grouped into ranges, and the conditional formats written over them (✓ green, ✗ red or
orange): data validation and formatting apply per range, so fewer ranges make smaller files."""

from __future__ import annotations

from .. import rules
from ..layout import Place, cell_name
from .book import Book


def check_formats(b: Book, ws, by_severity: dict[str, list[Place]]) -> None:
    """Red (error) or orange (warning) for ✗, green for ✓: one rule per colour per sheet."""
    everything: list[Place] = []
    for severity, places in by_severity.items():
        fmt = b.f["error_cf" if severity == "error" else "warning_cf"]
        cell_format(ws, places, rules.FAIL, fmt)
        everything += places
    if everything:
        cell_format(ws, everything, rules.PASS, b.f["pass_cf"])


def cell_format(ws, places: list[Place], value: str, fmt) -> None:
    rects = rectangles(places)
    ws.conditional_format(
        *rects[0],
        {
            "type": "cell",
            "criteria": "==",
            "value": f'"{value}"',
            "format": fmt,
            "multi_range": multi_range(rects),
        },
    )


def multi_range(rects: list[tuple[int, int, int, int]]) -> str:
    return " ".join(
        cell_name(r1, c1) + ("" if (r1, c1) == (r2, c2) else ":" + cell_name(r2, c2))
        for r1, c1, r2, c2 in rects
    )


def rectangles(places: list[Place]) -> list[tuple[int, int, int, int]]:
    """Group cells into as few rectangles as possible: contiguous runs per row, then stacked
    rows with the same runs."""
    by_row: dict[int, list[int]] = {}
    for p in places:
        by_row.setdefault(p.row, []).append(p.col)
    runs: list[tuple[int, int, int]] = []  # (row, first col, last col)
    for row in sorted(by_row):
        cols = sorted(by_row[row])
        start = prev = cols[0]
        for c in cols[1:]:
            if c != prev + 1:
                runs.append((row, start, prev))
                start = c
            prev = c
        runs.append((row, start, prev))
    rects: list[list[int]] = []
    for row, c1, c2 in runs:
        for rect in rects:
            if rect[2] == row - 1 and rect[1] == c1 and rect[3] == c2:
                rect[2] = row
                break
        else:
            rects.append([row, c1, row, c2])
    return [(r1, c1, r2, c2) for r1, c1, r2, c2 in rects]
