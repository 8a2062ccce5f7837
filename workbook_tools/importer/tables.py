"""A table section's lines become table values.

The lines are cut into tokens (cells) and grouped into *label runs* followed by *value runs* —
which is what every flattening of a table has in common, whether one cell per line,
pipe-separated, blank-line separated, or a PDF text layer with space-separated cells and header
words broken over lines. Each group is matched to the next expected row by the tail of its label
text, and takes as many values as the row has columns. A row or table that is not in the text is
reported as missing, never filled with zeros; every value remembers its line.
"""

from __future__ import annotations

import itertools
import math

from .. import patterns, rules
from ..findings import Finding, row_span
from ..normalise import NONE_MARKS, Value, normalise, number_text
from ..record import Record
from ..spec import Block, Spec
from .labels import MATCH, fold, match, simplified, tail_score
from .sources import IMAGE, Line

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any

LOOKAHEAD = 8  # a row may be missing: look this many rows ahead for the next label


class Token(Record):
    """A label or a figure of a table row. (A record written out, not a dataclass: see ``record``.)"""

    _fields = ("text", "line", "value", "glued", "blank_row", "parts", "padded", "empty_before")

    def __init__(
        self,
        text: str,
        line: int,
        value: bool,
        glued: bool = False,  # a number that was written onto its label with no separator
        blank_row: bool = False,  # a label whose table row has only empty cells after it
        parts: tuple[str, ...] = (),  # figures with spaces inside one cell (“1 23”, “13612 252”)
        padded: bool = False,  # the row's last printed cell: bars for merged cells follow
        empty_before: int = 0,  # empty cells written as extra blank lines right before it
    ) -> None:
        self.text = text
        self.line = line
        self.value = value
        self.glued = glued
        self.blank_row = blank_row
        self.parts = parts
        self.padded = padded
        self.empty_before = empty_before


class Group(Record):
    """A row: its label and its figures. (A record written out, not a dataclass: see ``record``.)"""

    _fields = ("label", "values", "line", "label_tokens")

    def __init__(
        self,
        label: str,  # label tokens joined, folded
        values: list[Token],
        line: int,  # where the label ends
        label_tokens: list[Token] | None = None,
    ) -> None:
        self.label = label
        self.values = values
        self.line = line
        self.label_tokens = label_tokens


# A figure with its unit written in the cell (“12件”, “0.5万元”, “251000元”): still one cell.
_WITH_UNIT = patterns.compile(r"[+-]?\d[\d,]*(\.\d+)?(?:件|个|项|次|条|宗|份|万元|元)?")
# A label cell with a figure after a space, in a row of cells: “行政规范性文件 564”; or with
# two cells' figures, a column's gap narrower than a character (“…政府信 315 3”).
_LABEL_AND_FIGURE = patterns.compile(
    r"^(.*[^\d\s.,、(（])\s+(\d[\d,]*(?:\.\d+)?(?:\s+\d[\d,]*(?:\.\d+)?)*)$"
)
# An amount printed in 元 where the format counts in 万元.
_YUAN = patterns.compile(r"(\d[\d,]*(?:\.\d+)?)元")


# A change printed in words in the 2019 layout's 本年增/减 column: “减4” is −4, “增3” is 3; a
# sign typed twice (“--253”) is the sign.
_CHANGE = patterns.compile(r"(增加?|减少?|--|\+\+)(\d+)")
_BARS = patterns.compile(r"\|{2,}")
_CELL_EDGE = patterns.compile(r"[|\t]")
_RULE_CELL = patterns.compile(r":?-+:?")  # a Markdown table's rule row
_SPACED_DIGITS = patterns.compile(r"\d[\d ]*\d")
_ZERO_PAIR = patterns.compile(r"0+(?:/0+)+")  # 0/0


def _number(text: str, kind: str) -> Value:
    """A cell read as ``normalise`` reads a workbook's, its traditional characters (“12.5萬元”,
    “11項”, “無” in a mirrored report) taken as the simplified ones the units are written in."""
    return normalise(text if text.isascii() else simplified(text), kind)


def _value_like(text: str) -> bool:
    t = fold(text)
    return bool(_WITH_UNIT.fullmatch(t) or _CHANGE.fullmatch(t)) or t in NONE_MARKS


# What a cell of figures can hold besides a figure, in a row whose cells are delimited (bars,
# tabs): a change word without its figure (“增”) or figures paired by a slash (“0/0” under the
# header “本年增/减”). Such a cell keeps its column — read, or reported as unreadable — instead of
# ending the row's figures as if it were the next row's label. Never taken from a text without
# delimiters, where a header word broken over lines (“本年增/” “减”) looks the same. A figure
# behind a character the page's encoding lost (“? 0”: a non-breaking space or a minus sign that
# became “?”) is such a cell too: reported, never guessed, and the cells after it keep theirs.
_ODD_CELL = patterns.compile(
    r"增加?|减少?|\d{1,7}(?:/\d{1,7})+|[?？\ufffd]+[+-]?\d[\d,]*(?:\.\d+)?"
)


def _cell_like(text: str) -> bool:
    return _value_like(text) or bool(_ODD_CELL.fullmatch(fold(text)))


_DIGITS = patterns.compile(r"\d+(?:\.\d+)?")
_OPENS = "(（〔【[第"
_CLOSES = ")）〕】]年月日号%％条项款期次个件人"


def _unglue(text: str, line: int) -> list[Token]:
    """Label text with numbers written onto it (“规章000”, a portal's text export with a whole
    table on one line): the numbers become value tokens of their own, marked as glued. A digit
    that numbers the next item (“…00000002.重复申请”) stays with that label; digits inside
    brackets or before 年/号/条 are part of the label."""
    runs = []
    numbered = False
    for m in _DIGITS.finditer(text):
        before = text[m.start() - 1] if m.start() else ""
        after = text[m.end()] if m.end() < len(text) else ""
        if (
            (before and before in _OPENS)
            or (after and after in _CLOSES)
            or (before.isascii() and before.isalpha())
        ):
            continue
        start, end = m.start(), m.end()
        if after in ".．、" and m.end() + 1 < len(text) and not text[m.end() + 1].isdigit():
            end -= 1  # the last digit numbers the next item: “2.重复申请”
            if end == start:
                continue
            numbered = True  # figures run into the next item's number: surely table cells
        runs.append((start, end))
    # One number at the end of a label (“规章000”) has more than one digit: “数据1” and “列2”
    # are column headers that number their columns.
    at_end = bool(runs) and runs[-1][1] == len(text) and 0 < runs[-1][0] < len(text) - 1
    if not runs or not (at_end or numbered or len(runs) >= 2):
        return [Token(text, line, False)]  # a sentence with a figure in it, not a table
    out: list[Token] = []
    pos = 0
    for start, end in runs:
        if text[pos:start].strip():
            out.append(Token(text[pos:start], line, False))
        out.append(Token(text[start:end], line, True, glued=True))
        pos = end
    if text[pos:].strip():
        out.append(Token(text[pos:], line, False))
    return out


def _bars_close_cells(lines: list[Line]) -> bool:
    """Whether this table writes each cell's closing bar on a line of its own: most lines of
    text without a bar are followed by a line holding only a bar. (Where a bar alone is rare, it
    stands for an empty cell among cells written one per line.)"""
    texts = [t for line in lines if (t := line.text.replace("｜", "|").strip())]
    cells = [i for i, t in enumerate(texts) if not t.endswith("|")]
    closed = sum(1 for i in cells if i + 1 < len(texts) and texts[i + 1] == "|")
    return bool(cells) and closed >= 0.6 * len(cells)


# Bars written back to back after a row's figures (“| 0 | ||||”, or a line “|||||” after cells
# written one per line): a page's converter pads each row to the table's width with one bar per
# column a merged cell spans, all at the row's end. They are not empty cells (those are “| |”):
# they say the row printed fewer cells than it has columns, and not which columns those cells
# cover. After a label alone (“行政许可 | ||||”) they are a row printed blank.
_PADDING = patterns.compile(r"\s*\|{2,}\s*$")


def _pad(out: list[Token], since: int) -> None:
    """Mark the last value token from ``out[since:]`` as followed by padding bars."""
    if len(out) > since and out[-1].value:
        out[-1].padded = True


def _blank_gap(lines: list[Line]) -> int:
    """How many blank lines a table that separates its cells by blank lines writes between two
    cells (0 when it does not): the gap most lines of text have before them."""
    gaps: list[int] = []
    run = -1  # no line of text yet
    for line in lines:
        if not line.text.strip():
            run += run >= 0
            continue
        if run >= 0:
            gaps.append(run)
        run = 0
    if not gaps:
        return 0
    gap = max(set(gaps), key=gaps.count)
    return gap if gap and gaps.count(gap) >= 0.6 * len(gaps) else 0


def _rows_open_with_bars(lines: list[Line]) -> bool:
    """Whether this table's rows open with a bar (“| 规章 | 0 |”, Markdown's edges): most lines
    with a label open with one. Where they do not (“规章 | 0 |”), every bar closes a cell."""
    opened = closed = 0
    for line in lines:
        text = line.text.replace("｜", "|").strip()
        if "|" not in text:
            continue
        first = next((p.strip() for p in text.split("|") if p.strip()), "")
        if first and not _value_like(first):
            if text.startswith("|"):
                opened += 1
            else:
                closed += 1
    return opened > closed


def tokens(lines: list[Line]) -> list[Token]:
    out: list[Token] = []
    closers = _bars_close_cells(lines)
    opening: list[bool] = []  # whether rows open with a bar: decided once, when first needed
    closed = True  # the last line with text ended its cell with a bar
    gap = _blank_gap(lines)
    blank = 0  # blank lines since the last line of text
    for line in lines:
        text = line.text.replace("｜", "|")
        if not text.strip():
            blank += 1
            continue
        # Cells separated by blank lines: each blank line beyond the usual gap is an empty cell
        # (a page's converter writes an empty cell as one more blank line).
        extra, blank = (blank - gap if gap and blank > gap else 0), 0
        if _BARS.fullmatch(text.strip()):
            _pad(out, 0)  # padding on a line of its own, after a row written one cell per line
            continue
        start = len(out)
        head = _PADDING.sub("", text)
        # Only after a figure: a label followed by bars alone is a row printed blank.
        padded = head != text and any(_value_like(p.strip()) for p in head.split("|"))
        if padded:  # drop the padding, keeping the bar that closes the last printed cell
            text = head if head.rstrip().endswith("|") else head + " |"
        was_closed, closed = closed, text.rstrip().endswith("|")
        if IMAGE.match(text.strip()):
            out.append(Token(text.strip(), line.no, False))  # a picture: never read as figures
        elif text.strip() == "|":
            # In exports that put every cell's bar on the next line, a bar alone after a cell
            # without one closes that cell; otherwise (and after a closed cell) it is an empty
            # cell, kept by position.
            if was_closed or not closers:
                out.append(Token("", line.no, True))
        elif "|" in text or "\t" in text.strip():
            pieces = [p.strip() for p in _CELL_EDGE.split(text)]
            if "|" in text and any(p and _cell_like(p) for p in pieces):
                # A row of figures, “a | b |” or “| a | b |”: only the pipes at its two ends are
                # edges; every other empty piece is an empty cell, kept in its place.
                if text.strip().startswith("|"):
                    pieces.pop(0)
                    # In a table whose bars only close cells, the opening bar closes an empty
                    # cell (“| 25 |” after lines “|”): kept for a row that is short by it.
                    if pieces and _value_like(pieces[0]):
                        opening = opening or [_rows_open_with_bars(lines)]
                        extra += not opening[0]
                if text.strip().endswith("|"):
                    pieces.pop()
            else:
                while pieces and not pieces[0]:
                    pieces.pop(0)
                after = len(pieces) - 1 - text.rstrip().endswith("|")  # cells after the first
                while pieces and not pieces[-1]:
                    pieces.pop()
                # A table row whose every figure cell is empty (a page's table with blank cells):
                # its label remembers it, so the row reads as blank, not as cut off.
                blank_row = len(pieces) == 1 and after >= 2 and not _value_like(pieces[0])
                if blank_row:
                    out.extend(_unglue(pieces[0], line.no))
                    out[-1].blank_row = True
                    continue
            cells = any(_cell_like(p) for p in pieces)
            # A Markdown rule row (“| --- | :-: |”) is dashes only; one dash among figures is a
            # cell printed as “none”.
            rule = all(_RULE_CELL.fullmatch(p.replace(" ", "")) for p in pieces if p)
            for p in pieces:
                parts: tuple[str, ...] = ()
                if _SPACED_DIGITS.fullmatch(p) and " " in p:
                    # One number with stray spaces, or two cells run together: the row decides
                    parts = tuple(p.split())
                    p = "".join(parts)
                if p and rule:
                    continue  # a Markdown separator row
                if p == "" or _cell_like(p):
                    out.append(Token(p, line.no, True, parts=parts))
                elif "|" in text and (m := _LABEL_AND_FIGURE.match(p)):
                    # the label cell and the first figure run together (a PDF's unruled table
                    # whose first columns stand close): “行政规范性文件 564”
                    out.append(Token(m.group(1), line.no, False))
                    figures = m.group(2).split()  # more than one: the row decides, as above
                    parts = tuple(figures) if len(figures) > 1 else ()
                    out.append(Token("".join(figures), line.no, True, parts=parts))
                elif cells:  # a row with cells of its own: its label is only a label
                    out.append(Token(p, line.no, False))
                else:
                    out.extend(_unglue(p, line.no))
        else:
            for p in text.split():
                out.extend([Token(p, line.no, True)] if _value_like(p) else _unglue(p, line.no))
        if extra and len(out) > start and out[start].value:
            out[start].empty_before = extra
        if padded:
            _pad(out, start)
    return out


def _with_empty_cells(values: list[Token], width: int) -> list[Token]:
    """A short row whose figures are preceded by empty cells written as blank lines: the figures
    in their own columns when the empty cells and the figures make exactly the row's width (a row
    printing only its 总计); otherwise the row as it was."""
    if not any(t.empty_before for t in values):
        return values
    if sum(t.empty_before for t in values) + len(values) != width:
        return values
    return [c for t in values for c in [Token("", t.line, True)] * t.empty_before + [t]]


def groups(toks: list[Token]) -> list[Group]:
    """Label runs followed by value runs. Empty cells inside a value run are blank values."""
    out: list[Group] = []
    label: list[Token] = []
    values: list[Token] = []
    line = 0
    for tok in toks:
        if tok.value:
            if not label and not values and not out:
                continue  # values before any label belong to nothing
            values.append(tok)
            continue
        if values:
            out.append(Group(fold("".join(t.text for t in label)), values, line, label))
            label, values = [], []
        label.append(tok)
        line = tok.line
    if values:
        out.append(Group(fold("".join(t.text for t in label)), values, line, label))
    return out


def _with_unreadable_cells(label: str, group: Group, width: int) -> tuple[Group, bool] | None:
    """Read ``label`` inside a run of label text, followed by up to ``width`` short unreadable
    cells (“若干”, “不详”) that looked like label text. Returns the row's group and whether the
    whole run was used up (else later rows may still be in it); None when that reading fails."""
    tokens_ = group.label_tokens or []
    for end in range(len(tokens_) - 1, 0, -1):
        cells = []
        for tok in tokens_[end : end + width]:
            if len(fold(tok.text)) > 4 or tok.blank_row:  # a label, not a cell
                break
            cells.append(tok)
        if not cells:
            continue
        head = fold("".join(t.text for t in tokens_[:end]))
        if match(label, head) >= MATCH and tail_score(fold(label), head) >= MATCH:
            rest = tokens_[end + len(cells) :]
            if not rest and len(cells) + len(group.values) > width:
                continue  # short texts heading figures of their own: sub-rows' labels
            values = cells + (group.values if not rest else [])
            return Group(head, values, cells[-1].line, tokens_[:end]), not rest
    return None


class Imported(Record):
    """What one table gave. (A record written out, not a dataclass: see ``record``.)"""

    _fields = ("values", "raw", "lines", "findings", "missing", "group_sums")

    def __init__(
        self,
        values: dict[str, Any],
        raw: dict[str, Any],
        lines: dict[str, int],
        findings: list[Finding],
        missing: set[str],
        # a group printed as one row: (its rows' ids in one column) -> the printed figure
        group_sums: dict[tuple[str, ...], Any] | None = None,
    ) -> None:
        self.values = values
        self.raw = raw
        self.lines = lines
        self.findings = findings
        self.missing = missing
        self.group_sums = {} if group_sums is None else group_sums


def read_table(spec: Spec, table_id: str, lines: list[Line], path: str) -> Imported:
    table = spec.table(table_id)
    result = Imported({}, {}, {}, [], set())
    by_pos = {(d.block, d.row, d.col): d for d in spec.datapoints.values() if d.table == table_id}
    rows: list[tuple[int, int, Block, str | None]] = []
    parents: list[str | None] = []  # the heading a row sits under, when it has sibling rows
    for bi, block in enumerate(table.blocks):
        for ri, (path_, leaf) in enumerate(block.row_leaves()):
            rows.append((bi, ri, block, leaf.label))
            parent = path_[-2] if len(path_) >= 2 else None
            parents.append(
                parent.label if parent is not None and len(parent.children) > 1 else None
            )
    toks = tokens(lines)
    found = groups(toks)
    if not found:
        images = [m.group(1) for t in toks if (m := IMAGE.match(t.text))]
        if images:
            args = {"table": table.name, "images": "、".join(images)}
            result.findings.append(Finding("I114", args, file=path))
        else:
            result.findings.append(Finding("I103", {"table": table.name}, file=path))
        result.missing.update(d.id for d in by_pos.values())
        return result
    total_first = _total_first(table, toks, found)
    g = 0
    ambiguous: list[Ambiguous] = []  # rows run together that only the columns' sums can settle
    lost: list[str] = []  # consecutive rows not found (a text cut off loses them all at once)

    def report_lost() -> None:
        if lost:
            args = {"table": table.name, "count": len(lost), "first": lost[0], "last": lost[-1]}
            args.update(row_span(lost, table.name))
            result.findings.append(Finding("I104", args, file=path))
            lost.clear()

    def place(ids: list[str], values: list[Token]) -> None:
        for ci, dp_id in enumerate(ids):
            if ci >= len(values):
                result.missing.add(dp_id)
                continue
            tok = values[ci]
            value = (
                _in_words(tok.text, spec, dp_id)
                or _in_yuan(tok.text, spec, dp_id)
                or _number(tok.text, spec.kinds[dp_id])
            )
            result.values[dp_id] = value.number
            result.raw[dp_id] = tok.text
            result.lines[dp_id] = tok.line
            if value.code and value.code != "V104":  # in a text every number is text: not news
                where = spec.datapoints[dp_id].label()
                result.findings.append(
                    Finding(
                        value.code,
                        {"where": where, "value": value.raw, "number": number_text(value.number)},
                        file=path,
                        line=tok.line,
                        datapoint=dp_id,
                    )
                )

    k = -1
    while k + 1 < len(rows):
        k += 1
        bi, ri, block, label = rows[k]
        width = len(block.column_leaves())
        parent = parents[k]
        if parent and (k == 0 or parents[k - 1] != parent):  # the first row of its group
            siblings = [r for r in range(k, len(rows)) if parents[r] == parent]
            one = _group_as_one_row(parent, rows[k][3], found, g, width)
            if one is not None and len(siblings) > 1:
                j, group = one
                if len(group.values) == len(siblings) * width:
                    # The sub-rows' figures, their own labels left out: exactly one run of
                    # figures per sub-row, in the format's order.
                    g = j + 1
                    for n, r in enumerate(siblings):
                        ids = [by_pos[(bi, rows[r][1], ci)].id for ci in range(width)]
                        place(ids, group.values[n * width : (n + 1) * width])
                        args = {"row": rows[r][3], "found": parent}
                        result.findings.append(Finding("I111", args, file=path, line=group.line))
                    k = siblings[-1]
                    continue
            if one is not None:
                j, group = one
                g = j + 1
                ids = [[by_pos[(bi, rows[r][1], ci)].id for r in siblings] for ci in range(width)]
                for column, tok in zip(ids, group.values[:width], strict=False):
                    number = _number(tok.text, spec.kinds[column[0]]).number
                    if number is not None:
                        result.group_sums[tuple(column)] = number
                result.missing.update(dp for column in ids for dp in column)
                result.findings.append(Finding("I113", {"row": parent}, file=path, line=group.line))
                k = siblings[-1]
                continue
        if label is None:  # 表四: one unlabelled row, the first values after the headings
            while g < len(found) and not any(t.text for t in found[g].values):
                g += 1  # empty header cells (“|” alone) under a spanning heading
            group = found[g] if g < len(found) else None
            g += 1
            # 表四 printed as small tables, one per heading (复议, 直接起诉, 复议后起诉): the
            # one row continues in the next groups while their figures add up to its width.
            while group is not None and len(group.values) < width and g < len(found):
                more = found[g].values
                if not more or len(group.values) + len(more) > width:
                    break
                group = Group(group.label, group.values + more, group.line, group.label_tokens)
                g += 1
        else:
            group = None
            for j in range(g, min(g + LOOKAHEAD, len(found))):
                if match(label, found[j].label) >= MATCH:
                    group, g = found[j], j + 1
                    break
                if (reread := _with_unreadable_cells(label, found[j], width)) is not None:
                    group, used_up = reread
                    g = j + 1 if used_up else j
                    if not used_up:  # later rows may end this same run: keep only what follows
                        rest = found[j].label_tokens[len(group.label_tokens) + len(group.values) :]
                        found[j] = Group(
                            fold("".join(t.text for t in rest)),
                            found[j].values,
                            found[j].line,
                            rest,
                        )
                    break
        if group is None and label is not None and (tok := _printed_blank(label, found, g)):
            group = Group(fold(tok.text), [Token("", tok.line, True)] * width, tok.line)
        if group is None and label is not None:
            group = _by_position(rows, k, found, g, width)
            if group is not None:
                g += 1
                args = {"row": label, "found": group.label[-12:] or "—"}
                result.findings.append(Finding("I111", args, file=path, line=group.line))
        ids = [by_pos[(bi, ri, ci)].id for ci in range(width)]
        if group is None:
            result.missing.update(ids)
            lost.append(label or table.name)
            continue
        report_lost()
        values = _spaced(group.values, width)[:width]
        if len(values) < width:
            values = _with_empty_cells(values, width)
        if total_first and len(values) == width:
            values = values[1:] + values[:1]  # the total printed first goes to its column
        if len(values) < width and any(t.padded for t in group.values):
            # Fewer cells than columns and the rest merged: their columns are unknown (a short
            # row without padding keeps its cells from the left, as a row cut at its end does).
            args = {"row": label or table.name, "found": len(values), "expected": width}
            args["values"] = "、".join(t.text or "空" for t in values)
            result.findings.append(Finding("I117", args, file=path, line=group.line))
            result.missing.update(ids)
            continue
        if len(values) < width and _splittable(values, width):
            split = _split_row(values, ids, spec)
            if isinstance(split, Ambiguous):
                split.row = label or table.name
                ambiguous.append(split)
                result.missing.update(ids)
                continue
            if split is not values:
                row = label or table.name
                args = {"row": row, "text": "".join(t.text for t in values)}
                args["split"] = "|".join(t.text for t in split)
                result.findings.append(Finding("I109", args, file=path, line=split[0].line))
            values = split
        if len(values) < width:
            result.findings.append(
                Finding(
                    "I105",
                    {"row": label or table.name, "found": len(values), "expected": width},
                    file=path,
                    line=group.line,
                )
            )
        place(ids, values)
    report_lost()
    _settle(ambiguous, spec, table_id, path, result)
    return result


def _total_first(table, toks: list[Token], found: list[Group]) -> bool:
    """Whether a table whose columns run 自然人 … 总计 is printed with its 总计 column first: its
    header names 总计 before 自然人 (“申请人情况 / 总计 / 自然人 / 法人或其他组织 …”), and no row
    whose figures settle it adds up the other way (the last figure the sum of the others)."""
    leaves = [leaf.label for block in table.blocks for _, leaf in block.column_leaves()]
    if len(table.blocks) != 1 or leaves[:1] != ["自然人"] or leaves[-1:] != ["总计"]:
        return False
    header: list[str] = []
    for tok in toks:
        if tok.value:
            break
        header.append(fold(tok.text))
    total = next((i for i, t in enumerate(header) if t == "总计"), None)
    natural = next((i for i, t in enumerate(header) if t == "自然人"), None)
    if total is None or natural is None or total > natural:
        return False
    first = last = 0
    for group in found:
        numbers = [_number(t.text, "integer").number for t in group.values]
        if len(numbers) != len(leaves) or None in numbers or not any(numbers):
            continue
        first += numbers[0] == sum(numbers[1:])
        last += numbers[-1] == sum(numbers[:-1])
    return first >= last


def _in_words(text: str, spec: Spec, dp_id: str) -> Value | None:
    """“减4” / “增3” in a signed column: the change it says; “0/0” (nothing up, nothing down, as
    the header “本年增/减” pairs them) is 0 — other pairs say no single change. None for anything
    else."""
    if spec.kinds[dp_id] != "signed":
        return None
    if _ZERO_PAIR.fullmatch(fold(text)):
        return Value(0, None, text)
    if not (m := _CHANGE.fullmatch(fold(text))):
        return None
    down = m.group(1).startswith(("减", "-"))
    return Value(-int(m.group(2)) if down else int(m.group(2)), None, text)


def _in_yuan(text: str, spec: Spec, dp_id: str) -> Value | None:
    """An amount printed in 元 (“251000元”) where the format counts in 万元: converted exactly,
    with a note (I115). None for anything else (“0.5万元” is the normaliser's V106)."""
    unit = spec.types[spec.datapoints[dp_id].type].unit
    if unit != "万元" or not (m := _YUAN.fullmatch(fold(text))):
        return None
    return Value(round(float(m.group(1).replace(",", "")) / 10000, 6), "I115", text)


def _spaced(values: list[Token], width: int) -> list[Token]:
    """Figures with a space inside one cell are one number with stray spaces (“1 23”) — or two
    cells the text ran together (a PDF's columns standing too close: “13612 252”), which read as
    one number would be a wrong figure and shift the rest. Split when the row is short of its
    width and split has exactly its width."""
    if not any(t.parts for t in values) or len(values) >= width:
        return values
    split = [Token(x, t.line, True) for t in values for x in (t.parts or (t.text,))]
    return split if len(split) == width else values


# --- numbers run together ---------------------------------------------------------------------

MAX_CELL_DIGITS = 7  # no count in these tables has more digits
SPLIT_STEPS = 200_000  # beyond this the row is called ambiguous rather than searched further


def _splittable(values: list[Token], width: int) -> bool:
    """Numbers run together that could be the row's cells: written onto a label, or one run of
    digits standing for a whole row. Separate cells are never re-split."""
    digits = [t.text for t in values]
    if not values or not all(d.isdigit() for d in digits):
        return False
    return (any(t.glued for t in values) or len(values) == 1) and sum(map(len, digits)) >= width


def splits(runs: list[str], width: int, sums: list[tuple[int, list[int]]]) -> list[list[str]]:
    """Every way to cut the digit runs into ``width`` cells (no leading zeros) such that each
    ``(total, parts)`` of ``sums`` holds; at most a few, or [] when none fits. Raises
    OverflowError when the search is too large to be sure."""
    text = "".join(runs)
    bounds = set()  # a cell never spans two runs
    pos = 0
    for run in runs:
        pos += len(run)
        bounds.add(pos)
    by_total = {total: parts for total, parts in sums}
    found: list[list[str]] = []
    steps = 0

    def ok(cells: list[str]) -> bool:
        col = len(cells) - 1
        if col in by_total:
            return sum(int(cells[p]) for p in by_total[col]) == int(cells[col])
        return True

    def walk(at: int, cells: list[str]) -> None:
        nonlocal steps
        steps += 1
        if steps > SPLIT_STEPS:
            raise OverflowError
        left = width - len(cells)
        if left == 0:
            if at == len(text):
                found.append(list(cells))
            return
        rest = len(text) - at
        if rest < left or rest > left * MAX_CELL_DIGITS:
            return
        for size in range(1, MAX_CELL_DIGITS + 1):
            end = at + size
            if end > len(text):
                break
            cell = text[at:end]
            if size > 1 and cell[0] == "0":
                break
            cells.append(cell)
            if ok(cells):
                walk(end, cells)
            cells.pop()
            if end in bounds:
                break  # the next cell starts a new run

    walk(0, [])
    return found


class Ambiguous(Record):
    """A row whose run-together figures split more than one way. (A record written out, not a dataclass: see ``record``.)"""

    _fields = ("ids", "values", "candidates", "row")

    def __init__(
        self,
        ids: list[str],
        values: list[Token],
        candidates: list[list[str]],  # [] when too many to list
        row: str = "",
    ) -> None:
        self.ids = ids
        self.values = values
        self.candidates = candidates
        self.row = row


def _split_row(values: list[Token], ids: list[str], spec: Spec) -> list[Token] | Ambiguous:
    """The row's cells from numbers run together, when exactly one split fits the column count
    and the row's own sums; ``values`` unchanged when none fits (a short row); Ambiguous when
    several fit."""
    position = {dp: i for i, dp in enumerate(ids)}
    sums = [
        (position[target], [position[p] for p in parts])
        for target, parts in spec.totals
        if target in position and all(p in position for p in parts)
    ]
    try:
        found = splits([t.text for t in values], len(ids), sums)
    except OverflowError:
        return Ambiguous(ids, values, [])
    if len(found) == 1:
        return [Token(cell, values[0].line, True) for cell in found[0]]
    return Ambiguous(ids, values, found) if found else values


MAX_COMBINATIONS = 10_000


def _settle(rows: list[Ambiguous], spec: Spec, table_id: str, path: str, result: Imported) -> None:
    """Rows with several possible splits, settled by the table's own column rules (表三's R1 and
    R3: 一+二 = 三+四, the 总计 row is the sum of the results): a combination of splits is kept
    only when every such rule that it touches holds. One combination left: taken, with a note;
    otherwise each row is unreadable (I110) with its candidates — never a guess."""
    if not rows:
        return
    checks = [
        inst
        for rule, inst in spec.instances()
        if rule.severity == "error"
        and inst.op == "=="
        and all(spec.datapoints[c].table == table_id for c in inst.cells)
    ]
    fitting: list[tuple[list[str], ...]] = []
    sizes = [len(r.candidates) for r in rows]
    if all(sizes) and math.prod(sizes) <= MAX_COMBINATIONS:
        touched = {dp for r in rows for dp in r.ids}
        relevant = [inst for inst in checks if touched.intersection(inst.cells)]
        for combo in itertools.product(*(r.candidates for r in rows)):
            values = dict(result.values)
            for r, cells in zip(rows, combo, strict=True):
                values.update((dp, int(c)) for dp, c in zip(r.ids, cells, strict=True))
            known = [
                inst for inst in relevant if all(values.get(c) is not None for c in inst.cells)
            ]
            if known and all(rules.holds(inst, values, spec.kinds) for inst in known):
                fitting.append(combo)
                if len(fitting) > 1:
                    break
    if len(fitting) == 1:
        for r, cells in zip(rows, fitting[0], strict=True):
            line = r.values[0].line
            args = {"row": r.row, "text": "".join(t.text for t in r.values)}
            args["split"] = "|".join(cells)
            result.findings.append(Finding("I109", args, file=path, line=line))
            for dp, cell in zip(r.ids, cells, strict=True):
                result.values[dp] = int(cell)
                result.raw[dp] = cell
                result.lines[dp] = line
                result.missing.discard(dp)
        return
    for r in rows:
        shown = "；".join("|".join(c) for c in r.candidates[:5])
        shown += "…" if len(r.candidates) > 5 or not r.candidates else ""
        args = {"row": r.row, "text": "".join(t.text for t in r.values), "candidates": shown}
        result.findings.append(Finding("I110", args, file=path, line=r.values[0].line))


def _group_as_one_row(
    parent: str, first: str | None, found: list[Group], g: int, width: int
) -> tuple[int, Group] | None:
    """A heading such as “（六）其他处理” printed as one row with figures, instead of its
    sub-rows: the group whose label ends in the heading, before any sub-row is found."""
    for j in range(g, min(g + LOOKAHEAD, len(found))):
        if first and match(first, found[j].label) >= MATCH:
            return None  # the sub-rows are printed
        if match(parent, found[j].label) >= MATCH and len(found[j].values) >= width:
            return j, found[j]
    return None


def _printed_blank(label: str, found: list[Group], g: int) -> Token | None:
    """The label of a row printed with every cell empty, among the label runs ahead: the row is
    in the text, blank (not cut off)."""
    for group in found[g : g + LOOKAHEAD]:
        for tok in group.label_tokens or []:
            if tok.blank_row and match(label, fold(tok.text)) >= MATCH:
                return tok
    return None


def _by_position(
    rows: list[tuple[int, int, Block, str | None]], k: int, found: list[Group], g: int, width: int
) -> Group | None:
    """A row whose label is lost or damaged (“第二十条第” for “行政许可”, a blank label): the
    values standing right where it belongs — after the row before, right before a group that is
    plainly the next row — with as many values as it has columns."""
    if g + 1 >= len(found) or k + 1 >= len(rows):
        return None
    following = rows[k + 1][3]
    here = found[g]
    if following is None or match(following, found[g + 1].label) < MATCH:
        return None
    values = here.values
    while len(values) > width and not values[0].text:
        values = values[1:]  # the row's label cell, left empty: “|  | 17 |”
    return Group(here.label, values, here.line, here.label_tokens) if len(values) == width else None
