"""The report as a document model (title, preamble, sections of parts, tables as grids of
cells), built by ``report`` and rendered by ``report`` (HTML, Markdown) and ``docx_report`` (Word).
Its own module so that both renderers depend on it and neither on the other."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class GridCell:
    text: str
    rowspan: int = 1
    colspan: int = 1
    kind: str = "label"  # label | value
    role: str = ""  # caption | header | corner | stub (labels)


@dataclass
class Grid:
    """A table as rows of cells; a cell covered by a merge is None."""

    table_id: str
    title: str
    rows: list[list[GridCell | None]]
    header_rows: int  # how many leading rows repeat on each printed page
    landscape: bool
    width: int
    widths: list[float]  # relative column widths (the template's)


@dataclass
class Block:
    """A table block flattened for plain text: caption, a note, column headings, labelled rows."""

    caption: str
    note: str
    header: list[str]
    rows: list[list[str]]


@dataclass
class Part:
    kind: str  # subheading | paragraph | placeholder | table
    text: str = ""
    grid: Grid | None = None
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Section:
    heading: str
    parts: list[Part] = field(default_factory=list)


@dataclass
class Document:
    title: str
    unit: str
    year: int | None
    preamble: list[str]
    sections: list[Section]
    unverified: bool
    warnings: list[str]
    lang: str = "zh"
    notice: str = ""
    coverage: list[str] = field(default_factory=list)  # a county total: whom it covers
    partial: bool = False  # some units missing, left out or provisional
    charts: list = field(default_factory=list)  # a county total's charts (charts.Chart)
    charts_heading: str = ""


TITLE_CAPACITY = 20.0  # 二号 (22 pt) characters on one line of the 156 mm type area


def text_width(text: str) -> float:
    """Width in full-width characters: ASCII (digits of the year) counts half."""
    return sum(0.5 if ord(ch) < 0x2E80 else 1.0 for ch in text)


def title_lines(doc: Document, capacity: float = TITLE_CAPACITY) -> list[str]:
    """The title in balanced lines broken at a meaningful place (GB/T 9704 asks for a trapezoid
    or diamond, words kept whole): after the unit, after its year, or before 政府信息公开… /
    年度报告; the upper line preferably the shorter. One line when it fits."""
    title = doc.title
    if text_width(title) <= capacity or text_width(title) == len(title) / 2:
        return [title]  # fits; or has no Chinese, and word processors break English at spaces
    cuts = set()
    for head in (doc.unit, f"{doc.unit}{doc.year}年"):
        if head and title.startswith(head):
            cuts.add(len(head))
    for tail in ("政府信息公开工作年度报告", "工作年度报告", "年度报告"):
        if title.endswith(tail):
            cuts.add(len(title) - len(tail))
    cuts.update(i + 1 for i, ch in enumerate(title) if ch in " ：")  # a subtitle, a space
    best, score = None, None
    for cut in sorted(c for c in cuts if 0 < c < len(title)):
        top, bottom = text_width(title[:cut].rstrip()), text_width(title[cut:].lstrip())
        if top > capacity or bottom > capacity:
            continue
        s = abs(top - bottom) + (1.5 if top > bottom else 0)
        if score is None or s < score:
            best, score = cut, s
    if best is not None:
        return [title[:best].rstrip(), title[best:].lstrip()]
    # A unit name too long for two lines: its own even pieces, then the rest of the title.
    head_end = f"{doc.unit}{doc.year}年"
    cut = len(head_end) if doc.unit and title.startswith(head_end) else len(title) // 2
    head, rest = title[:cut], title[cut:]
    n = max(1, -int(-text_width(head) // capacity))
    per, lines, line = text_width(head) / n, [], ""
    for ch in head:
        if line and text_width(line + ch) > per + 0.5 and len(lines) < n - 1:
            lines.append(line)
            line = ""
        line += ch
    lines.append(line)
    while rest:
        piece = rest
        while text_width(piece) > capacity:
            piece = piece[:-1]
        lines.append(piece)
        rest = rest[len(piece) :]
    return lines
