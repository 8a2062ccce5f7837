"""A table section's lines become table values.

The lines are cut into tokens (cells) and grouped into *label runs* followed by *value runs* —
which is what every flattening of a table has in common, whether one cell per line,
pipe-separated, blank-line separated, or a PDF text layer with space-separated cells and header
words broken over lines. Each group is matched to the next expected row by the tail of its label
text, and takes as many values as the row has columns. A row or table that is not in the text is
reported as missing, never filled with zeros; every value remembers its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..findings import Finding
from ..normalise import NONE_MARKS, normalise
from ..spec import Block, Spec
from .labels import MATCH, fold, match, tail_score
from .sources import Line

LOOKAHEAD = 8  # a row may be missing: look this many rows ahead for the next label


@dataclass
class Token:
    text: str
    line: int
    value: bool


@dataclass
class Group:
    label: str  # label tokens joined, folded
    values: list[Token]
    line: int  # where the label ends
    label_tokens: list[Token] | None = None


def _value_like(text: str) -> bool:
    t = fold(text)
    return bool(re.fullmatch(r"[+-]?\d[\d,]*(\.\d+)?", t)) or t in NONE_MARKS


def tokens(lines: list[Line]) -> list[Token]:
    out: list[Token] = []
    for line in lines:
        text = line.text.replace("｜", "|")
        if "|" in text or "\t" in text.strip():
            pieces = [p.strip() for p in re.split(r"[|\t]", text)]
            if "|" in text and any(p and _value_like(p) for p in pieces):
                # A row of figures, “a | b |” or “| a | b |”: only the pipes at its two ends are
                # edges; every other empty piece is an empty cell, kept in its place.
                if text.strip().startswith("|"):
                    pieces.pop(0)
                if text.strip().endswith("|"):
                    pieces.pop()
            else:
                while pieces and not pieces[0]:
                    pieces.pop(0)
                while pieces and not pieces[-1]:
                    pieces.pop()
            for p in pieces:
                if re.fullmatch(r"\d[\d ]*\d", p):
                    p = p.replace(" ", "")  # a number with stray spaces inside one cell
                if p and set(p) <= set("-: "):
                    continue  # a Markdown separator row
                out.append(Token(p, line.no, p == "" or _value_like(p)))
        else:
            for p in text.split():
                out.append(Token(p, line.no, _value_like(p)))
    return out


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
            if len(fold(tok.text)) > 4:  # longer text is a label, not a cell
                break
            cells.append(tok)
        if not cells:
            continue
        head = fold("".join(t.text for t in tokens_[:end]))
        if match(label, head) >= MATCH and tail_score(fold(label), head) >= MATCH:
            rest = tokens_[end + len(cells) :]
            values = cells + (group.values if not rest else [])
            return Group(head, values, cells[-1].line, tokens_[:end]), not rest
    return None


@dataclass
class Imported:
    values: dict[str, Any]
    raw: dict[str, Any]
    lines: dict[str, int]
    findings: list[Finding]
    missing: set[str]


def read_table(spec: Spec, table_id: str, lines: list[Line], path: str) -> Imported:
    table = spec.table(table_id)
    result = Imported({}, {}, {}, [], set())
    by_pos = {(d.block, d.row, d.col): d for d in spec.datapoints.values() if d.table == table_id}
    rows: list[tuple[int, int, Block, str | None]] = []
    for bi, block in enumerate(table.blocks):
        for ri, (_, leaf) in enumerate(block.row_leaves()):
            rows.append((bi, ri, block, leaf.label))
    found = groups(tokens(lines))
    if not found:
        result.findings.append(Finding("I103", {"table": table.name}, file=path))
        result.missing.update(d.id for d in by_pos.values())
        return result
    g = 0
    lost: list[str] = []  # consecutive rows not found (a text cut off loses them all at once)

    def report_lost() -> None:
        if lost:
            args = {"table": table.name, "count": len(lost), "first": lost[0], "last": lost[-1]}
            result.findings.append(Finding("I104", args, file=path))
            lost.clear()

    for bi, ri, block, label in rows:
        width = len(block.column_leaves())
        if label is None:  # 表四: one unlabelled row, the first values after the headings
            group = found[g] if g < len(found) else None
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
        ids = [by_pos[(bi, ri, ci)].id for ci in range(width)]
        if group is None:
            result.missing.update(ids)
            lost.append(label or table.name)
            continue
        report_lost()
        values = group.values[:width]
        if len(values) < width:
            result.findings.append(
                Finding(
                    "I105",
                    {"row": label or table.name, "found": len(values), "expected": width},
                    file=path,
                    line=group.line,
                )
            )
        for ci, dp_id in enumerate(ids):
            if ci >= len(values):
                result.missing.add(dp_id)
                continue
            tok = values[ci]
            value = normalise(tok.text, spec.kinds[dp_id])
            result.values[dp_id] = value.number
            result.raw[dp_id] = tok.text
            result.lines[dp_id] = tok.line
            if value.code and value.code != "V104":  # in a text every number is text: not news
                where = spec.datapoints[dp_id].label()
                result.findings.append(
                    Finding(
                        value.code,
                        {"where": where, "value": value.raw},
                        file=path,
                        line=tok.line,
                        datapoint=dp_id,
                    )
                )
    report_lost()
    return result
