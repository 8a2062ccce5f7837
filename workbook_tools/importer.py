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

import difflib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import spec as spec_module
from .filing import Filing, Source
from .findings import Finding
from .normalise import NONE_MARKS, normalise
from .spec import Block, Spec

IMPORTABLE = (".txt", ".text", ".md", ".html", ".htm", ".docx")
NUMERALS = "一二三四五六"
SECTION_WORDS = {  # besides its numeral, a heading has one of these words
    "s1": ("总体情况",),
    "s2": ("主动公开",),
    "s3": ("申请",),
    "s4": ("复议", "诉讼"),
    "s5": ("问题",),
    "s6": ("其他",),
}
LABEL_VARIANTS = {  # known variants in published reports (FORMAT.md §7)
    "行政规范性文件": ("规范性文件",),
    "现行有效件数": ("现行有效件",),
}
MATCH = 0.85  # similarity a label must reach to count as the official one (typos pass)
LOOKAHEAD = 8  # a row may be missing: look this many rows ahead for the next label

# Traditional characters that occur in the official labels and headings, folded to simplified.
_TRADITIONAL = str.maketrans(
    "開請處數結轉審機關體會護權類務資複議訴訟維糾計總規範廢現發許強製國險穩過執檔詢項題況報訪舉購採額費單內資訊條屬與讓這據應辦理劃經濟統歸亂聯營業構組織產業專門義權屆閱覽響儘點億隻",
    "开请处数结转审机关体会护权类务资复议诉讼维纠计总规范废现发许强制国险稳过执档询项题况报访举购采额费单内资讯条属与让这据应办理划经济统归乱联营业构组织产业专门义权届阅览响尽点亿只",
)


def fold(text: str) -> str:
    """How labels are compared: NFKC, traditional to simplified, no whitespace."""
    return "".join(unicodedata.normalize("NFKC", text).translate(_TRADITIONAL).split())


@dataclass
class Line:
    no: int
    text: str


# --- inputs --------------------------------------------------------------------------------


def load_lines(path: Path) -> list[Line]:
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        texts = _html_lines(path.read_bytes())
    elif suffix == ".docx":
        texts = _docx_lines(path)
    else:
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("gb18030", errors="replace")
        texts = text.splitlines()
        if suffix == ".md":  # headings and emphasis markers are not part of the text
            texts = [re.sub(r"^\s*#{1,6}\s*|^\s*\*\*(.*)\*\*\s*$", r"\1", t) for t in texts]
    return _split_long([Line(i, t) for i, t in enumerate(texts, start=1)])


def _html_lines(data: bytes) -> list[str]:
    import html5lib

    tree = html5lib.parse(data, namespaceHTMLElements=False)
    out: list[str] = []
    blocks = {
        "p",
        "div",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "title",
        "br",
        "section",
        "article",
    }

    def text_of(el) -> str:
        return "".join(el.itertext()).strip()

    def walk(el) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in ("script", "style", "head"):
            return
        if tag == "table":
            for tr in el.iter("tr"):
                cells = [text_of(c) for c in tr if c.tag in ("td", "th")]
                out.append(" | ".join(c.replace("|", " ") for c in cells) + " |")
            return
        if tag in blocks and not any(child.tag in blocks or child.tag == "table" for child in el):
            text = text_of(el)
            if text:
                out.append(text)
            return
        if el.text and el.text.strip() and tag not in blocks:
            out.append(el.text.strip())
        for child in el:
            walk(child)
            if child.tail and child.tail.strip():
                out.append(child.tail.strip())

    body = tree.find("body")
    walk(body if body is not None else tree)
    return out


def _docx_lines(path: Path) -> list[str]:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(str(path))
    out: list[str] = []
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            text = Paragraph(child, document).text.strip()
            if text:
                out.append(text)
        elif tag == "tbl":
            for row in Table(child, document).rows:
                cells, last = [], None
                for cell in row.cells:
                    if last is not None and cell._tc is last:
                        continue  # a horizontally merged cell repeats in row.cells
                    last = cell._tc
                    cells.append(cell.text.strip().replace("|", " "))
                out.append(" | ".join(cells) + " |")
    return out


HEADING_FORMS = (  # the official headings and the variants seen in published reports
    "一、总体情况",
    "二、主动公开政府信息情况",
    "三、收到和处理政府信息公开申请情况",
    "四、政府信息公开行政复议、行政诉讼情况",
    "四、政府信息公开行政复议和行政诉讼情况",
    "四、因政府信息公开工作被申请行政复议提起行政诉讼情况",
    "五、存在的主要问题及改进情况",
    "五、存在问题及改进情况",
    "五、政府信息公开工作存在的主要问题及改进情况",
    "六、其他需要报告的事项",
)
_HEADING_IN_LINE = re.compile("(" + "|".join(re.escape(h) for h in HEADING_FORMS) + ")")
_SUB_IN_LINE = re.compile(r"(?<=[。；])\s*(?=[（(][一二三四五][）)])")


def _split_long(lines: list[Line]) -> list[Line]:
    """A report flattened onto one line: cut out each section heading as a line of its own and
    break before the sub-headings of the narrative."""
    out: list[Line] = []
    for line in lines:
        if len(line.text) < 300:
            out.append(line)
            continue
        for part in _HEADING_IN_LINE.split(line.text):
            for piece in _SUB_IN_LINE.split(part):
                if piece.strip():
                    out.append(Line(line.no, piece.strip()))
    return out


# --- structure -----------------------------------------------------------------------------

_TITLE = re.compile(
    r"^(?:Page\s*\d+\s*-\s*)?(.+?)(\d{4})\s*年\s*度?\s*政府信息公开(?:工作)?年度报告"
)
_PERIOD = re.compile(r"统计期限(?:为|是)?(?:自)?(\d{4})年1月1日")


def _title(lines: list[Line]) -> tuple[str, int | None, int | None]:
    for line in lines[:40]:
        m = _TITLE.search(fold(line.text))
        if m and len(m.group(1)) <= 30:
            return m.group(1).strip("#《》 "), int(m.group(2)), line.no
    for line in lines:
        if m := _PERIOD.search(fold(line.text)):
            return "", int(m.group(1)), None
    return "", None, None


def _sections(lines: list[Line]) -> dict[str, tuple[int, int]]:
    """Section id -> (first, last) index into lines, found in order."""
    found: dict[str, int] = {}
    start = 0
    for n, sid in enumerate(SECTION_WORDS):
        for i in range(start, len(lines)):
            text = fold(lines[i].text)
            if (
                len(text) <= 40
                and text.startswith(NUMERALS[n] + "、")
                and any(w in text for w in SECTION_WORDS[sid])
            ):
                found[sid] = i
                start = i + 1
                break
    bounds: dict[str, tuple[int, int]] = {}
    ordered = sorted(found.items(), key=lambda kv: kv[1])
    for k, (sid, i) in enumerate(ordered):
        end = ordered[k + 1][1] if k + 1 < len(ordered) else len(lines)
        bounds[sid] = (i + 1, end)
    return bounds


def _is_2019(lines: list[Line]) -> bool:
    text = fold("".join(line.text for line in lines))
    return any(
        w in text
        for w in ("本年新制作数量", "对外公开总数量", "其他对外管理服务事项", "政府集中采购")
    )


# --- tables --------------------------------------------------------------------------------


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
        if _match(label, head) >= MATCH and _tail_score(fold(label), head) >= MATCH:
            rest = tokens_[end + len(cells) :]
            values = cells + (group.values if not rest else [])
            return Group(head, values, cells[-1].line, tokens_[:end]), not rest
    return None


def _tail_score(label: str, text: str) -> float:
    if text.endswith(label):
        return 1.0
    best = 0.0
    for size in range(max(1, len(label) - 2), len(label) + 3):
        best = max(best, difflib.SequenceMatcher(None, label, text[-size:]).ratio())
    return best


def _match(label: str, text: str) -> float:
    names = (label, *LABEL_VARIANTS.get(label, ()))
    return max(_tail_score(fold(n), text) for n in names)


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
                if _match(label, found[j].label) >= MATCH:
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


# --- narrative -----------------------------------------------------------------------------

_SUB = re.compile(r"^[（(]([一二三四五六七八九])[）)]")
_PLACEHOLDER = re.compile(r"^(【待填写：.*】|\[To be written: .*\])$")


def _narrative(spec: Spec, section_id: str, lines: list[Line]) -> dict[str, str]:
    section = next(s for s in spec.sections if s.id == section_id)
    official = [f for f in section.fields if f.label.startswith("（")]
    plain = [f for f in section.fields if not f.label.startswith("（")]
    texts: dict[str, list[str]] = {f.id: [] for f in section.fields}
    current = plain[0].id if plain else (official[0].id if official else None)
    for line in lines:
        text = line.text.strip()
        if not text or text.startswith("#") or _PLACEHOLDER.match(text):
            continue  # blank, a comment line, or a report's placeholder for an empty part
        m = _SUB.match(unicodedata.normalize("NFKC", text).replace("(", "（").replace(")", "）"))
        if m and official:
            index = "一二三四五六七八九".index(m.group(1))
            if index < len(official):
                current = official[index].id
                text = _after_subheading(text)
                if not text:
                    continue
        if current is None:
            continue
        texts[current].append(text)
    if section_id == "s6" and len(plain) >= 2:  # 信息处理费 statement first, the rest after
        fees, other = plain[0].id, plain[1].id
        everything = texts[fees] + texts[other]
        texts[fees] = [t for t in everything if "费" in t]
        texts[other] = [t for t in everything if "费" not in t]
    return {k: "\n".join(v) for k, v in texts.items() if v}


def _after_subheading(text: str) -> str:
    """The text after a sub-heading such as “（一）主动公开情况。”; empty when the line is only that."""
    stop = re.search(r"[。：:]", text)
    if stop and stop.start() <= 16:
        return text[stop.end() :].strip()
    return "" if len(text) <= 16 else text


# --- the filing -------------------------------------------------------------------------------


def guess_kind(unit: str) -> str:
    if unit.endswith(("镇", "乡", "镇人民政府", "乡人民政府")):
        return "乡镇"
    if unit.endswith(("街道", "街道办事处")):
        return "街道"
    if unit.endswith(("局", "委", "办", "办公室", "委员会", "中心", "院", "所", "队")):
        return "部门"
    return ""


def read(path: Path | str, spec: Spec | None = None) -> Filing:
    """Import a published report. ``spec`` is the format to import into; by default the 2021
    format, or the 2019 trial format when table 二 carries its labels."""
    path = Path(path)
    filing = Filing(str(path))
    try:
        lines = load_lines(path)
    except FileNotFoundError:
        filing.findings.append(Finding("F101", {}, file=str(path)))
        return filing
    except Exception as exc:  # a broken .docx or undecodable HTML
        filing.findings.append(
            Finding("F110", {"detail": f"{type(exc).__name__}: {str(exc)[:200]}"}, file=str(path))
        )
        return filing
    bounds = _sections(lines)
    s2 = lines[slice(*bounds["s2"])] if "s2" in bounds else []
    if _is_2019(s2):
        spec = spec_module.load("gov_disclosure_2019")
        filing.findings.append(Finding("I107", {}, file=str(path)))
    spec = spec or spec_module.load()
    filing.spec = spec
    unit, year, title_line = _title(lines)
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
            filing.texts.update(_narrative(spec, section.id, part))
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
