"""A PDF's text layer as the importer's lines.

The importer reads one kind of input: numbered lines, narrative paragraphs as lines and table rows
as ``a | b | c |`` with every cell in its place (an empty cell stays an empty cell). This module
turns a PDF into exactly that, so one parser serves every input.

PyMuPDF gives each character with its box and baseline, and every vector drawing on the page. From
those:

* **Ruled tables** (the common case: a Word table printed to PDF) come from the drawn lines. The
  lines give a grid; where a line between two grid cells is missing the cells are one merged cell,
  so a row group label written one character per line down a tall merged cell (三/本/年/度) reads
  as one label, and a label wrapped over lines inside its cell stays one label.
* **Unruled tables** come from word positions: a line whose text has wide gaps is cut into
  segments; value columns are where the numbers line up; label lines without numbers (wrapped
  labels, vertical group labels) join the nearest value row.
* Page numbers and running headers and footers are dropped, and a paragraph or a table that goes
  on over a page break simply continues.

A PDF with no text layer (a scan) raises ``NoTextLayer``: the importer reports it; it is never an
empty import. Work is bounded by page count and text size.
"""

from __future__ import annotations

import bisect
import gc
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import chain, groupby
from math import isfinite
from operator import itemgetter, sub
from pathlib import Path

from .. import bounded, intake
from ..normalise import NONE_MARKS
from .errors import PdfError
from .labels import fold

MAX_BYTES = 100 * 1024 * 1024  # a scanned report of 40 pages is some 30 MB
MAX_PAGES = 300  # the longest real reports run to some 40 pages
# Characters of text layer, all pages together: 300 pages of 2,000. The longest real reports hold
# some 60,000; reading one costs 10-35 µs (PyMuPDF's boxes, lines, table cells), so 2,000,000
# allowed a minute of work.
MAX_CHARS = 600_000
MAX_SEGMENTS = 20_000  # drawn line segments on one page (a vector drawing is not a table)
MAX_CROSSINGS = 40_000  # horizontal x vertical rules (after joining) tested for a grid on a page
# Reading ruled tables, the whole document: rule crossings tested, grid cells (twice: a cell costs
# about two crossings' time), and characters and lines looked at to place them in their grids. A
# real report of 40 pages spends some 100,000; a page ruled 200 by 200 spends 120,000 (a third of a
# second), and a file of a few KB can show that page on 300 pages.
MAX_TABLE_WORK = 2_000_000
# Content a page runs: its content streams, each form (XObject) counted as often as it is drawn.
# A form can draw another ten times, that one another ten times …: a few KB of PDF then runs
# gigabytes of drawing (a content bomb). Real pages run some 10-80 KB.
MAX_PAGE_CONTENT = 4 * 1024 * 1024
MAX_CONTENT = 64 * 1024 * 1024  # all pages together
TOL = 2.5  # points: lines this close are the same line
WRAP = 1.5  # baselines of one wrapped cell are at most this many font sizes apart


class _Work:
    """A budget of steps for the whole document (work that grows as a product of what is on a
    page): past it the PDF is refused as too large rather than read for minutes."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise PdfError("F106", detail="PDF, too many ruled lines and cells to read as tables")


class NoTextLayer(PdfError):
    """A scan (pictures of pages), or glyphs that map to no characters: nothing to read."""

    def __init__(self, pages: int) -> None:
        super().__init__("I120", pages=pages)


# One character: (text, x0, x1, baseline y, font size). A plain tuple, not an object: a report
# has some 1,000 characters a page and each is handled a few times, so building and reading them
# is most of the reader's own work. Its middle (for placing it in a cell) is y - size * 0.35.
Char = tuple[str, float, float, float, float]
_C, _X0, _X1, _Y, _SIZE = (itemgetter(i) for i in range(5))
_baseline_then_left = itemgetter(3, 1)
_ASCII_OR_SPACE = re.compile(r"[\x00-\x7f\s]")  # (\s: what str.isspace calls a space)


@dataclass(slots=True)
class TextLine:
    chars: list[Char]
    y: float
    x0: float
    x1: float
    size: float
    text: str = ""
    page: int = 0
    wide: bool = False  # has a gap wider than a character: perhaps cells of a table row

    @classmethod
    def of(cls, chars: list[Char], page: int = 0, level: int = 0) -> TextLine:
        """The line of ``chars``; ``level`` 1: they are on one baseline (equal y, a number), so
        that its middle one's y is the median; 2: and already in order of their left edges
        (numbers: sorting them again would keep them as they are)."""
        if level < 2:
            chars.sort(key=_X0)
        n = len(chars) // 2
        size = sorted(map(_SIZE, chars))[n]
        text, widest = _join(chars)
        return cls(
            chars,
            chars[n][3] if level else sorted(map(_Y, chars))[n],
            chars[0][1],
            chars[-1][2],
            size,
            text,
            page,
            widest > 0.9 * size,
        )


@dataclass
class Block:
    """Something on a page, in reading order: a text line or a table's rows."""

    top: float
    line: TextLine | None = None
    rows: list[str] = field(default_factory=list)


# --- reading the page --------------------------------------------------------------------------


def _join(chars: list[Char]) -> tuple[str, float]:
    """Characters of one line, left to right; a gap wider than a space's becomes one space. Also
    the widest gap between two shown (non-space) characters, space characters between them
    included (0 for fewer than two)."""
    texts = list(map(_C, chars))
    text = "".join(texts)
    if len(chars) > 1 and not _ASCII_OR_SPACE.search(text) and "" not in texts:
        # No space and nothing Latin (a line of Chinese text): nothing to insert, and the widest
        # gap is that of neighbours — taken without a step per character unless a gap is no
        # number (NaN: the loop below passes it over).
        after = iter(chars)
        next(after)
        gaps = list(map(sub, map(_X0, after), map(_X1, chars)))
        total = sum(gaps)
        if total == total:
            return text, max(0.0, max(gaps))
    out: list[str] = []
    widest = 0.0
    shown_c, shown_x1 = "", None  # the last non-space character: its text and right edge
    after = 0  # what the last character was: 0 none yet, 1 a space, 2 a shown one
    for c, x0, x1, _, size in chars:
        if c.isspace():
            if after == 2:  # (a run of spaces is one; leading spaces are none)
                out.append(" ")
                after = 1
            continue
        if shown_x1 is not None:
            gap = x0 - shown_x1
            if gap > widest:
                widest = gap
            # A gap between Chinese characters is justification or letter spacing, not a word
            # break.
            if after == 2 and gap > 0.25 * size and (shown_c.isascii() or c.isascii()):
                out.append(" ")
        out.append(c)
        after = 2
        shown_c, shown_x1 = c, x1
    return "".join(out).strip(), widest


_DO = re.compile(rb"\bDo\b")  # the operator that draws a form (or an image)


def _content_size(doc, page) -> int:
    """Bytes of content the page runs, each form as often as it can be drawn: a form's size plus
    its draw operators times the largest form it may draw (an upper bound; a form without its own
    resources draws from the page's). Cycles are cut (MuPDF refuses a form that draws itself)."""
    children: dict[int, set[int]] = {}
    for xref, _name, invoker, _box in page.get_xobjects():
        children.setdefault(invoker, set()).add(xref)
    forms = set().union(*children.values())
    inherits = {x for x in forms if doc.xref_get_key(x, "Resources")[0] == "null"}
    sizes: dict[int, int] = {}

    def size(x: int, path: frozenset[int]) -> int:
        if x in sizes:
            return sizes[x]
        data = page.read_contents() if x == 0 else (doc.xref_stream(x) or b"")
        kids = children.get(0 if x in inherits else x, set()) - path - {x}
        worst = max((size(k, path | {x}) for k in kids), default=0)
        sizes[x] = len(data) + (len(_DO.findall(data)) * worst if worst else 0)
        return sizes[x]

    return size(0, frozenset())


def _chars(page) -> list[Char]:
    """Every character with its box and baseline. Text set vertically (a label rotated down a
    narrow cell, read top to bottom or bottom to top) becomes one horizontal run in its reading
    order at the middle of where it stands, so it reads as one word wherever it is placed."""
    out: list[Char] = []
    raw = page.get_text("rawdict", flags=0)
    for block in raw["blocks"]:
        for line in block.get("lines", ()):
            if abs(line["dir"][1]) > 0.5:
                chars = [
                    (ch, span["size"] or 1.0) for span in line["spans"] for ch in span["chars"]
                ]
                if not chars:
                    continue
                x0, y0, x1, y1 = line["bbox"]
                size = min((x1 - x0), max(size for _, size in chars))
                step = (x1 - x0) / len(chars)
                base = (y0 + y1) / 2 + 0.35 * size  # its middle is the line's middle
                for i, (ch, _) in enumerate(chars):
                    out.append((ch["c"], x0 + i * step, x0 + (i + 1) * step, base, size))
                continue
            for span in line["spans"]:
                size = span["size"] or 1.0
                out += [
                    (ch["c"], box[0], box[2], ch["origin"][1], size)
                    for ch in span["chars"]
                    for box in (ch["bbox"],)
                ]
    return out


def _lines(chars: list[Char], page_no: int) -> list[TextLine]:
    """Group characters into lines by baseline."""
    lines: list[list[Char]] = []
    # Each line: 0 its characters are of several baselines, 1 of one (TextLine.of takes its
    # middle one's y), 2 of one and already left to right.
    level: list[int] = []
    last: list[Char] = []
    at = 0.0  # the baseline of the last character placed
    # Characters by baseline, then left to right. When every baseline and left edge is a number
    # (the sums are finite) that is each baseline's characters sorted on their own, by one number
    # (no key pairs made and compared); else (a damaged or hostile file's inf or NaN) one sort by
    # both, as NaN compares.
    if isfinite(sum(map(_Y, chars)) + sum(map(_X0, chars))):
        runs = ((y, sorted(run, key=_X0), 2) for y, run in groupby(sorted(chars, key=_Y), key=_Y))
    else:
        runs = ((y, run, 1) for y, run in groupby(sorted(chars, key=_baseline_then_left), key=_Y))
    # Characters on one baseline come together: the first decides whether they go on the line
    # before, the rest follow it at distance 0 (within any tolerance) — one step per baseline,
    # not per character. A baseline that is no number (inf, NaN) goes character by character.
    for y, run, flat in runs:
        if y - y == 0:
            group = list(run)
            if last and abs(y - at) <= max(TOL, 0.3 * group[0][4]):
                last += group
                level[-1] = 0
            else:
                last = group
                lines.append(last)
                level.append(flat)
            at = y
            continue
        for ch in run:
            y = ch[3]
            if last and abs(y - at) <= max(TOL, 0.3 * ch[4]):
                last.append(ch)
                level[-1] = 0
            else:
                last = [ch]
                lines.append(last)
                level.append(0)
            at = y
    out = []
    for group, flat in zip(lines, level, strict=True):
        line = TextLine.of(group, page_no, flat)
        if line.text or not "".join(map(_C, group)).isspace():  # (spaces only: no line)
            out.append(line)
    return out


@dataclass
class Segments:
    h: list[tuple[float, float, float]]  # y, x0, x1
    v: list[tuple[float, float, float]]  # x, y0, y1


def _segments(page) -> Segments:
    h: list[tuple[float, float, float]] = []
    v: list[tuple[float, float, float]] = []
    area = page.rect.width * page.rect.height

    def rect(x0: float, y0: float, x1: float, y1: float) -> None:
        if x1 - x0 <= 3 and y1 - y0 > 3:
            v.append(((x0 + x1) / 2, y0, y1))
        elif y1 - y0 <= 3 and x1 - x0 > 3:
            h.append(((y0 + y1) / 2, x0, x1))
        elif x1 - x0 > 3 and y1 - y0 > 3 and (x1 - x0) * (y1 - y0) < 0.8 * area:
            h.extend([(y0, x0, x1), (y1, x0, x1)])
            v.extend([(x0, y0, y1), (x1, y0, y1)])

    # The paths as MuPDF gives them, points as (x, y) tuples (get_drawings makes Point, Rect and
    # Quad objects of them: a third of the time, for nothing read here).
    for path in page.get_cdrawings():
        if path.get("type") == "f" and _white(path.get("fill")):
            continue  # a white fill paints the page, not a rule
        for item in path["items"]:
            kind = item[0]
            if kind == "l":
                (px, py), (qx, qy) = item[1], item[2]
                if abs(py - qy) <= 1:
                    h.append(((py + qy) / 2, min(px, qx), max(px, qx)))
                elif abs(px - qx) <= 1:
                    v.append(((px + qx) / 2, min(py, qy), max(py, qy)))
            elif kind == "re":
                x0, y0, x1, y1 = item[1]
                if x1 < x0:  # normalised, as Rect.normalize does
                    x0, x1 = x1, x0
                if y1 < y0:
                    y0, y1 = y1, y0
                rect(x0, y0, x1, y1)
            elif kind == "qu":  # its bounding box, as Quad.rect
                ul, ur, ll, lr = item[1]
                rect(
                    min(ul[0], ur[0], lr[0], ll[0]),
                    min(ul[1], ur[1], lr[1], ll[1]),
                    max(ul[0], ur[0], lr[0], ll[0]),
                    max(ul[1], ur[1], lr[1], ll[1]),
                )
        if len(h) + len(v) > MAX_SEGMENTS:
            return Segments([], [])  # a drawing, not a table: read the page as text
    return Segments(h, v)


def _white(color) -> bool:
    return color is not None and all(c > 0.95 for c in color)


# --- ruled tables ------------------------------------------------------------------------------


class _Union:
    def __init__(self) -> None:
        self.parent: dict = {}

    def find(self, a):
        self.parent.setdefault(a, a)
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a, b) -> None:
        self.parent[self.find(a)] = self.find(b)


def _cluster(values: list[float]) -> list[float]:
    out: list[float] = []
    for value in sorted(values):
        if out and value - out[-1] <= TOL:
            continue
        out.append(value)
    return out


@dataclass
class Grid:
    xs: list[float]
    ys: list[float]
    h: list[tuple[float, float, float]]
    v: list[tuple[float, float, float]]

    @property
    def box(self) -> tuple[float, float, float, float]:
        return self.xs[0], self.ys[0], self.xs[-1], self.ys[-1]


def _joined(segs: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    """Collinear rules that touch or overlap, as one rule."""
    lines: list[list[tuple[float, float, float]]] = []
    for seg in sorted(segs):
        if lines and seg[0] - lines[-1][0][0] <= TOL:
            lines[-1].append(seg)
        else:
            lines.append([seg])
    out: list[tuple[float, float, float]] = []
    for line in lines:
        at = line[0][0]
        run: list[float] | None = None
        for _, lo, hi in sorted(line, key=lambda s: s[1]):
            if run is not None and lo <= run[1] + TOL:
                run[1] = max(run[1], hi)
                continue
            if run is not None:
                out.append((at, run[0], run[1]))
            run = [lo, hi]
        if run is not None:
            out.append((at, run[0], run[1]))
    return out


def _grids(seg: Segments, work: _Work) -> list[Grid]:
    """Connected sets of horizontal and vertical rules, each with at least two of each: tables."""
    h, v = _joined(seg.h), _joined(seg.v)  # a table drawn cell by cell has one rule per edge
    if len(h) < 2 or len(v) < 2 or len(h) * len(v) > MAX_CROSSINGS:
        return []
    work.spend(len(h) * len(v))
    union = _Union()
    for i, (y, hx0, hx1) in enumerate(h):
        union.find(("h", i))
        for j, (x, vy0, vy1) in enumerate(v):
            if hx0 - TOL <= x <= hx1 + TOL and vy0 - TOL <= y <= vy1 + TOL:
                union.union(("h", i), ("v", j))
    groups: dict = {}
    for i in range(len(h)):
        groups.setdefault(union.find(("h", i)), ([], []))[0].append(h[i])
    for j in range(len(v)):
        root = union.find(("v", j))
        if root in groups:
            groups[root][1].append(v[j])
    out = []
    for hs, vs in groups.values():
        xs = _cluster([x for x, _, _ in vs])
        ys = _cluster([y for y, _, _ in hs])
        if len(xs) >= 2 and len(ys) >= 2:
            work.spend(2 * (len(xs) - 1) * (len(ys) - 1))  # the cells _table_rows goes through
            out.append(Grid(xs, ys, hs, vs))
    return out


class _Rules:
    """Which stretches of the grid's rules are drawn: ``has(at, lo, hi)`` is whether a rule within
    TOL of position ``at`` passes the middle of ``lo``–``hi`` (within TOL). Built once per grid so
    that each of its cells costs a bisection, not a pass over every rule: a page ruled 200 by 200
    has some 40,000 cells and 400 rules."""

    def __init__(self, segs: list[tuple[float, float, float]], positions: list[float]) -> None:
        self._spans: dict[float, tuple[list[float], list[float]]] = {}
        by_position = sorted(segs)
        keys = [p for p, _, _ in by_position]
        for at in set(positions):
            near = by_position[
                bisect.bisect_left(keys, at - TOL) : bisect.bisect_right(keys, at + TOL)
            ]
            merged: list[list[float]] = []
            for _, a, b in sorted(near, key=lambda s: s[1]):
                if merged and a - TOL <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], b + TOL)
                else:
                    merged.append([a - TOL, b + TOL])
            self._spans[at] = ([a for a, _ in merged], [b for _, b in merged])

    def has(self, at: float, lo: float, hi: float) -> bool:
        starts, ends = self._spans[at]
        mid = (lo + hi) / 2
        k = bisect.bisect_right(starts, mid) - 1
        return k >= 0 and mid <= ends[k]


def _table_rows(grid: Grid, chars: list[Char]) -> list[str]:
    """The grid's rows as pipe rows. Merged cells (no rule between grid cells) are one cell; its
    text is given once, in its top row and first column; below that, in the label columns it is
    left out, in the value columns it is an empty cell."""
    xs, ys = grid.xs, grid.ys
    nr, nc = len(ys) - 1, len(xs) - 1
    verticals, horizontals = _Rules(grid.v, xs[1:-1]), _Rules(grid.h, ys[1:-1])
    parent = list(range(nr * nc))  # cells joined (union-find): cell (r, c) is r * nc + c

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for r in range(nr):
        for c in range(nc):
            k = r * nc + c
            if c + 1 < nc and not verticals.has(xs[c + 1], ys[r], ys[r + 1]):
                parent[find(k)] = find(k + 1)
            if r + 1 < nr and not horizontals.has(ys[r + 1], xs[c], xs[c + 1]):
                parent[find(k)] = find(k + nc)
    cells: dict = {}
    roots = [[find(r * nc + c) for c in range(nc)] for r in range(nr)]
    for r in range(nr):
        for c in range(nc):
            cells.setdefault(roots[r][c], []).append((r, c))
    first = {root: min(members) for root, members in cells.items()}
    left = {root: min(c for _, c in members) for root, members in cells.items()}
    content: dict = {}
    for ch in chars:
        _, x0, x1, y, size = ch
        c = bisect.bisect_right(xs, (x0 + x1) / 2) - 1
        r = bisect.bisect_right(ys, y - size * 0.35) - 1
        if 0 <= r < nr and 0 <= c < nc:
            content.setdefault(roots[r][c], []).append(ch)
    texts = {root: _cell_text(chs) for root, chs in content.items()}
    # Label columns: those left of the first column holding a number anywhere, as far right as
    # a label reaches in a row of figures (表四 has none: its first column may be all blank).
    first_value = nc
    for root, text in texts.items():
        if text and value_like(text):
            first_value = min(first_value, left[root])
    has_value = [False] * nr
    for root, text in texts.items():
        if text and value_like(text):
            for r, _ in cells[root]:
                has_value[r] = True
    label_end = -1
    for root, text in texts.items():
        in_data = any(has_value[r] for r, _ in cells[root])
        if text and not value_like(text) and left[root] < first_value and in_data:
            label_end = max(label_end, max(c for _, c in cells[root]))
    first_value = label_end + 1
    rows: list[str] = []
    data = False
    for r in range(nr):
        out: list[str] = []
        for c in range(nc):
            root = roots[r][c]
            top = first[root]
            if top == (r, c):
                text = texts.get(root, "")
            elif top[0] == r or c < first_value:
                continue  # the rest of a merged cell, or an empty label cell
            else:
                text = ""
            if c < first_value and not text:
                continue
            out.append(text)
        if not any(out):
            continue
        if not data and any(value_like(t) for t in out if t):
            data = True  # the headings are over: from here on an empty cell is a blank figure
        rows.append(_pipe(out) if data else _pipe([t for t in out if t]))
    return rows


def _cell_text(chars: list[Char]) -> str:
    """A cell's lines joined: a label wrapped inside its cell reads as one label."""
    lines = _lines(chars, 0)
    parts = [line.text for line in lines]
    text = ""
    for part in parts:
        if text and text[-1].isascii() and text[-1].isalpha() and part[:1].isascii():
            text += " "
        text += part
    return text


# --- unruled tables ----------------------------------------------------------------------------

_ITEM = re.compile(
    r"^\s*(?:[（(][一二三四五六七八九十\d]+[）)]|[一二三四五六七八九十]+、|\d+\s*[.、．])"
)


@dataclass
class Piece:
    text: str
    x0: float
    x1: float
    y: float


def _pieces(line: TextLine) -> list[Piece]:
    """A line cut at gaps wider than a character: the cells of a table row set without rules."""
    if not line.wide:
        return [Piece(line.text, line.x0, line.x1, line.y)]
    out: list[Piece] = []
    run: list[Char] = []

    def cut() -> None:
        # A label run up to the first figure with less than a character between them (a narrow
        # column, a label cell filled to its edge): the figure after a visible gap is a cell.
        k = len(run)
        while k > 0 and (run[k - 1][0].isdigit() or run[k - 1][0] in ",."):
            k -= 1
        gap = run[k][1] - run[k - 1][2] if 0 < k < len(run) else 0.0
        if gap >= 0.25 * line.size and run[k][0].isdigit() and not run[k - 1][0].isdigit():
            out.append(Piece(_join(run[:k])[0], run[0][1], run[k - 1][2], line.y))
            del run[:k]
        out.append(Piece(_join(run)[0], run[0][1], run[-1][2], line.y))

    wide = 0.9 * line.size
    for ch in line.chars:
        if ch[0].isspace():
            continue
        if run and ch[1] - run[-1][2] > wide:
            cut()
            run = []
        run.append(ch)
    if run:
        cut()
    return out


def _unruled(lines: list[TextLine]) -> list[Block]:
    """Find runs of lines that hold a table set by position and give them as pipe rows; every
    other line stays a text line."""
    cut = [_pieces(line) for line in lines]
    is_row = [
        sum(1 for p in pieces if value_like(p.text)) >= 2
        or (len(pieces) >= 2 and value_like(pieces[-1].text))
        for pieces in cut
    ]
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        if not is_row[i]:
            blocks.append(Block(lines[i].y - lines[i].size, line=lines[i]))
            i += 1
            continue
        # A table: value rows, with at most three label lines between two of them.
        j = last = i
        while j + 1 < len(lines) and j + 1 - last <= 4:
            j += 1
            if is_row[j]:
                last = j
        end = last + 1
        if (
            end < len(lines)
            and not is_row[end]
            and lines[end].y - lines[last].y < WRAP * lines[end].size
        ):
            end += 1  # perhaps the last row's label wrapped onto the line below
        for block in _position_blocks(lines[i:end], cut[i:end], is_row[i:end]):
            blocks.append(block)
        i = end
    return blocks


def _continuation(line: TextLine, pieces: list[Piece], row: TextLine, column: float):
    """The pieces of label line ``line`` that are the rest of the label of value row ``row`` (a
    label wrapped in its cell) rather than text before the next row: the line follows closely
    (within the line spacing of a wrapped cell, tighter than the spacing of rows), does not start
    a new item, and the pieces stand in the row's label column (``label``: the row's own label
    pieces). Pieces left of that column (a group label down the side) are not the row's."""
    if line.y - row.y > WRAP * max(line.size, row.size) or not pieces:
        return []
    more = [p for p in pieces if p.x0 >= column - line.size]
    if more and _ITEM.match(more[0].text):
        return []
    return more


def _position_blocks(lines, cut, is_row) -> list[Block]:
    """The lines of one table set by position. Value columns are where numbers line up (a header
    line reaching into them starts a new set of columns: 表二 is several small tables). Label
    lines that continue the row above join it; others stay text lines, so they lead the label of
    the row below, which is how the importer reads labels (by their ending)."""
    start = min(
        (p.x0 for k, flag in enumerate(is_row) if flag for p in cut[k] if value_like(p.text)),
        default=float("inf"),
    )
    # Cut at header lines: lines without values that have text over the value columns.
    parts: list[tuple[int, int]] = []
    first = 0
    for k in range(len(lines)):
        if not is_row[k] and any(p.x1 > start + 2 for p in cut[k]) and k > first:
            parts.append((first, k))
            first = k
    parts.append((first, len(lines)))
    out: list[Block] = []
    for a, b in parts:
        out += _position_part(lines[a:b], cut[a:b], is_row[a:b])
    return out


def _position_part(lines, cut, is_row) -> list[Block]:
    rows = [k for k, flag in enumerate(is_row) if flag]
    spans: list[list[float]] = []
    for k in rows:
        for p in cut[k]:
            if value_like(p.text):
                spans.append([p.x0, p.x1])
    spans.sort()
    columns: list[list[float]] = []
    for x0, x1 in spans:
        if columns and x0 <= columns[-1][1] + 1:
            columns[-1][1] = max(columns[-1][1], x1)
        else:
            columns.append([x0, x1])
    start = columns[0][0] if columns else float("inf")
    labels: dict[int, list[Piece]] = {k: [] for k in rows}
    cells: dict[int, list[str]] = {k: [""] * len(columns) for k in rows}
    for k in rows:
        for p in cut[k]:
            col = None if p.x1 <= start + 1 and not value_like(p.text) else _column(columns, p)
            if col is None:
                labels[k].append(p)
            else:
                cells[k][col] = (cells[k][col] + " " + p.text).strip()
    out: list[Block] = []
    pending: list[tuple[TextLine, list[Piece]]] = []  # label lines since the last row

    def flush() -> None:
        for line, pieces in pending:
            out.append(Block(line.y - line.size, line=_sub_line(line, pieces)))
        pending.clear()

    owner: tuple[int, float, TextLine] | None = None  # the row a label line may continue
    current: tuple[Block, str, list[str]] | None = None  # that row: its block, label, cells
    for k, line in enumerate(lines):
        if not is_row[k]:
            more: list[Piece] = []
            if owner is not None:
                more = _continuation(line, cut[k], owner[2], owner[1])
            if more and current is not None:
                block, label, values = current
                label += "".join(p.text for p in more)
                block.rows = [_pipe([label, *values])]
                current = (block, label, values)
                left = [p for p in cut[k] if p not in more]
                if left:  # group label text beside the wrapped label: text of its own
                    out.append(Block(line.y - line.size, line=_sub_line(line, left)))
                owner = (owner[0], owner[1], line)
            else:
                owner = None
                pending.append((line, cut[k]))
            continue
        # The row's label column: where its own label starts, or the line above's last piece.
        # (a label line just above counts: the row's own line may hold only a group label).
        own = labels[k]
        starts = [p.x0 for p in own]
        if pending and line.y - pending[-1][0].y <= WRAP * line.size:
            starts.append(pending[-1][1][-1].x0)
        column = max(starts) if starts else None
        # Label lines just above, in that column, are the head of a label wrapped in its cell
        # (cells centred vertically put the values beside the middle of their label).
        pulled: list[Piece] = []
        y = line.y
        while pending and column is not None:
            above, pieces = pending[-1]
            head = [p for p in pieces if p.x0 >= column - above.size and p.x1 <= start + 1]
            if y - above.y > WRAP * above.size or (head == [] and pieces[-1].x1 > column):
                break  # too far, or text in the label column that is not this label's
            pulled = pieces + pulled
            pending.pop()
            y = above.y
            if _ITEM.match("".join(p.text for p in head)):
                break
        flush()
        pieces = pulled + own
        if column is not None:
            # Text left of the row's own column (a group label down the side) comes first.
            pieces.sort(key=lambda p: (p.x0 >= column - line.size, p.y, p.x0))
        label = "".join(p.text for p in pieces)
        block = Block(line.y - line.size, rows=[_pipe([label, *cells[k]] if label else cells[k])])
        out.append(block)
        current = (block, label, cells[k])
        owner = (k, column if column is not None else float("-inf"), line)
    flush()
    return out


def _sub_line(line: TextLine, pieces: list[Piece]) -> TextLine:
    chars = [c for c in line.chars if any(p.x0 <= c[1] and c[2] <= p.x1 + 0.1 for p in pieces)]
    return TextLine.of(chars or list(line.chars), line.page)


def _pipe(cells: list[str]) -> str:
    """``a | b | c |``; a row whose first cell is empty opens with a pipe (``| | b | c |``), so
    that the empty cell is not taken for the row's edge."""
    row = " | ".join(c.replace("|", " ") for c in cells) + " |"
    return "| " + row if cells and not cells[0] else row


def _column(columns: list[list[float]], p: Piece) -> int | None:
    best, overlap = None, 0.0
    for i, (x0, x1) in enumerate(columns):
        o = min(x1, p.x1) - max(x0, p.x0)
        if o > overlap:
            best, overlap = i, o
    if best is None:  # no overlap: the nearest column, if the piece is close to one
        mid = (p.x0 + p.x1) / 2
        dist = [min(abs(mid - x0), abs(mid - x1)) for x0, x1 in columns]
        if dist and min(dist) < 20:
            best = dist.index(min(dist))
    return best


# --- page furniture ----------------------------------------------------------------------------

_PAGE_NO = re.compile(
    r"^[\s\-—–－~·.]*(?:第\s*)?(?:\d{1,4}|[IVXLivxl]{1,6})(?:\s*页)?"
    r"(?:\s*(?:/|共|of)\s*\d{1,4}\s*页?)?[\s\-—–－~·.]*$"
    r"|^(?:Page|page|第)\s*\d{1,4}\s*(?:页)?(?:\s*(?:of|/|共)\s*\d{1,4}\s*页?)?$"
)


def _furniture(pages: list[list[TextLine]], heights: list[float]) -> set[int]:
    """ids of lines that are page numbers or running headers/footers, near the top or bottom."""
    drop: set[int] = set()
    repeated: Counter = Counter()
    edge: list[TextLine] = []
    for lines, height in zip(pages, heights, strict=True):
        for line in lines:
            if line.y < 0.12 * height or line.y > 0.88 * height:
                edge.append(line)
                repeated[re.sub(r"\d+", "#", line.text.replace(" ", ""))] += 1
    for line in edge:
        key = re.sub(r"\d+", "#", line.text.replace(" ", ""))
        words = sum(1 for c in key if c.isalpha())  # a running header has words, not figures
        if _PAGE_NO.match(line.text) or (
            words >= 2 and repeated[key] >= max(2, (len(pages) + 1) // 2)
        ):
            drop.add(id(line))
    return drop


# What a report's text is made of: Latin, Latin-1 to enclosed alphanumerics (①), punctuation,
# CJK radicals to ideographs, CJK compatibility and full-width forms.
_UNREADABLE = re.compile("[^\\s\x20-\x7e\xa0-\u24ff\u2e80-\u9fff\uf900-\ufaff\ufe30-\uffef]")


def _has_text(pages: list[list[Char]], count: int) -> None:
    """A scan has no text layer, or a few characters a page (a stamped page number). A PDF whose
    fonts map glyphs to no characters gives U+FFFD, private-use codes or the raw glyph numbers
    (which read as some unrelated script). Either way there is nothing to import."""
    text = "".join(map(_C, chain.from_iterable(pages)))
    shown = len("".join(text.split()))  # (str.split cuts at what str.isspace calls a space)
    if shown < 5 * max(1, count) or len(_UNREADABLE.findall(text)) > 0.3 * shown:
        raise NoTextLayer(count)


# --- the document ------------------------------------------------------------------------------


_FIGURE = re.compile(r"[+-]?\d[\d,]*(\.\d+)?")


def value_like(text: str) -> bool:
    """A cell that holds a figure or a none-mark, as the importer's table reader decides it."""
    t = fold(text)
    return bool(_FIGURE.fullmatch(t)) or t in NONE_MARKS


def pdf_lines(path: Path | str) -> list[str]:
    """The report's lines: paragraphs as lines, table rows as ``a | b | c |``. Raises
    ``PdfError`` (``NoTextLayer`` for a scan) when there is nothing to read."""
    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)  # damage is reported as a finding, not on stderr
    try:  # the shared intake: a regular file (not a pipe or a device), and not too large
        data = intake.read_input(Path(path), MAX_BYTES)
    except intake.InputRefused as refused:
        if str(refused) == "no such file":
            raise FileNotFoundError(path) from None
        if str(refused).startswith("too large"):
            raise PdfError("F106", detail=f"PDF: {refused}") from None
        raise PdfError("F113", zh=refused.zh, en=str(refused)) from None
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except Exception as exc:  # not a PDF, or damaged beyond repair
        raise PdfError("F103", detail=f"PDF: {type(exc).__name__}: {str(exc)[:160]}") from exc
    work = _Work(MAX_TABLE_WORK)
    with doc:
        if not doc.is_pdf:  # MuPDF also opens HTML, XPS, images …: only a PDF is a PDF here
            raise PdfError("F103", detail="not a PDF")
        if doc.needs_pass:
            raise PdfError("F104", detail="PDF")
        if doc.page_count > MAX_PAGES:
            raise PdfError("F106", detail=f"PDF, {doc.page_count} pages > {MAX_PAGES}")
        try:  # in a child with a CPU and a memory limit: MuPDF may meet a shape we do not know
            return bounded.run(lambda: _read(doc, work))
        except bounded.Exhausted as exc:
            if exc.what == "crash":
                raise PdfError("F103", detail=f"PDF: the reader stopped ({exc.detail})") from None
            took = "took" if exc.what == "cpu" else "needed"
            raise PdfError("F106", detail=f"PDF: reading it {took} {exc.detail}") from None
        except PdfError:
            raise
        except Exception as exc:  # a page MuPDF could open but not interpret
            raise PdfError("F103", detail=f"PDF: {type(exc).__name__}: {str(exc)[:160]}") from exc


# What a PDF printer puts before and after a document's name when the name is all it has.
_PRINTED_NAME = re.compile(
    r"^\s*(?:Microsoft (?:Word|Office Word)|WPS(?: Office| 文字)?)\s*-\s*|\.(?:docx?|wps|pdf)\s*$",
    re.IGNORECASE,
)


def _titled(doc, lines: list[str]) -> list[str]:
    """The lines, after the title the PDF's properties hold (a browser prints the page's <title>
    there, Word the document's title or name), as a saved page's title is given: used for the
    unit only when the text names none."""
    title = " ".join(str((doc.metadata or {}).get("title") or "").split())[:200]
    title = _PRINTED_NAME.sub("", title)
    return [f"[[title:{title}]]", *lines] if title else lines


def _read(doc, work: _Work) -> list[str]:
    """The document's lines (in the bounded child), without the cyclic collector: MuPDF's page
    dictionaries are some twelve objects a character, and collections walking them cost a tenth of
    the reading, to find the few hundred objects in cycles a document leaves (pages), which the
    child's exit frees anyway."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        pages = _read_pages(doc, work)
        bounded.keep(pages)  # (every character of the document: the child's exit frees them)
        return _titled(doc, _layout(*pages, work))
    finally:
        if collecting:
            gc.enable()


def _read_pages(doc, work: _Work):
    page_lines: list[list[TextLine]] = []
    page_chars: list[list[Char]] = []
    grids: list[list[Grid]] = []
    heights: list[float] = []
    total = content = 0
    for n, page in enumerate(doc):
        size = _content_size(doc, page)
        content += size
        if size > MAX_PAGE_CONTENT or content > MAX_CONTENT:
            raise PdfError("F106", detail=f"PDF, page {n + 1} draws {size:,} bytes of content")
        if page.rotation:  # read text and rules in one space, the page as drawn
            page.set_rotation(0)  # (in memory only: the file is never written)
        chars = _chars(page)
        total += len(chars)
        if total > MAX_CHARS:
            raise PdfError("F106", detail=f"PDF, more than {MAX_CHARS} characters of text")
        page_chars.append(chars)
        page_lines.append(_lines(chars, n))
        grids.append(_grids(_segments(page), work) if chars else [])
        heights.append(page.rect.height)
    _has_text(page_chars, doc.page_count)
    return page_lines, page_chars, grids, heights


def _layout(page_lines, page_chars, grids, heights, work: _Work) -> list[str]:
    """Each page's tables and text lines in reading order, then paragraphs."""
    drop = _furniture(page_lines, heights)
    blocks: list[Block] = []
    for n, lines in enumerate(page_lines):
        lines = [line for line in lines if id(line) not in drop]
        page_blocks: list[Block] = []
        inside: set[int] = set()
        if grids[n]:  # each grid looks only at the characters level with it
            here = page_chars[n]
            middle = [y - size * 0.35 for _, _, _, y, size in here]
            order = sorted(range(len(here)), key=middle.__getitem__)
            mids = list(map(middle.__getitem__, order))
        for grid in grids[n]:
            x0, y0, x1, y1 = grid.box
            band = order[bisect.bisect_left(mids, y0 - 1) : bisect.bisect_right(mids, y1 + 1)]
            work.spend(len(band) + len(lines))
            band.sort()  # the page's own order: characters drawn twice keep theirs
            chars = [
                c for c in map(here.__getitem__, band) if x0 - 1 <= (c[1] + c[2]) / 2 <= x1 + 1
            ]
            if not chars:
                continue
            for line in lines:
                if (
                    x0 - 1 <= (line.x0 + line.x1) / 2 <= x1 + 1
                    and y0 - 1 <= line.y - line.size * 0.35 <= y1 + 1
                ):
                    inside.add(id(line))
            rows = _table_rows(grid, chars)
            if rows:
                page_blocks.append(Block(y0, rows=rows))
        rest = [line for line in lines if id(line) not in inside]
        page_blocks += _unruled(rest)
        page_blocks.sort(key=lambda b: b.top)
        blocks += page_blocks
    return _paragraphs(blocks)


def _paragraphs(blocks: list[Block]) -> list[str]:
    """Text lines joined into paragraphs: a paragraph starts indented or after a short line, a
    heading, a table or a wide gap, and goes on over a page break."""
    texts = [b.line for b in blocks if b.line is not None]
    if texts:
        left = Counter(round(t.x0) for t in texts).most_common(1)[0][0]
        right = max(Counter(round(t.x1) for t in texts).most_common(3))[0]
        weights: Counter[int] = Counter()
        for t in texts:  # the size most characters are set in
            weights[round(t.size)] += len(t.chars)
        body = weights.most_common(1)[0][0]
        centre = (left + right) / 2
    out: list[str] = []
    prev: TextLine | None = None
    for block in blocks:
        if block.line is None:
            out.extend(block.rows)
            prev = None
            continue
        line = block.line
        joins = (
            prev is not None
            and line.x0 <= left + 0.8 * line.size
            and prev.x1 >= right - 1.5 * prev.size
            and abs(line.size - prev.size) < 1.0
            and (line.page != prev.page or 0 < line.y - prev.y < 2.2 * line.size)
        )
        # A title set large and centred over several lines is one title.
        title = (
            prev is not None
            and line.page == prev.page
            and min(line.size, prev.size) >= 1.15 * body
            and abs(line.size - prev.size) < 0.5
            and abs((line.x0 + line.x1) / 2 - centre) < 2 * line.size
            and abs((prev.x0 + prev.x1) / 2 - centre) < 2 * line.size
            and 0 < line.y - prev.y < 2.2 * line.size
        )
        if joins or title:
            sep = " " if out[-1][-1:].isascii() and line.text[:1].isascii() else ""
            out[-1] += sep + line.text
        else:
            out.append(line.text)
        prev = line
    return out
