"""An input file becomes numbered lines of text, the one form every later stage reads.

HTML and Word tables become rows of cells joined by ``|`` (``a | b | c |``), one row per line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .. import intake

IMPORTABLE = (".txt", ".text", ".md", ".html", ".htm", ".docx", ".pdf")


@dataclass
class Line:
    no: int
    text: str


# --- inputs --------------------------------------------------------------------------------


def load_lines(path: Path) -> list[Line]:
    """Every input goes through intake's bounds first (size, unpacked size, not a pipe); raises
    intake.InputRefused for one beyond them."""
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        texts = _html_lines(intake.read_input(path, intake.MAX_REPORT_BYTES))
    elif suffix == ".docx":
        intake.vet_docx(path)
        texts = _docx_lines(path)
    elif suffix == ".pdf":
        from .pdf import pdf_lines  # PyMuPDF loads only for PDFs

        intake.vet_size(path, intake.MAX_DOCX_BYTES)
        texts = pdf_lines(path)
    else:
        raw = intake.read_input(path, intake.MAX_REPORT_BYTES)
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

    depth = _nesting(data)
    if depth > intake.MAX_DEPTH:  # html5lib's tree building is quadratic in the nesting depth
        raise intake.InputRefused(
            f"elements nested over {intake.MAX_DEPTH} deep",
            f"元素嵌套超过 {intake.MAX_DEPTH} 层",
        )
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


_TAG = re.compile(rb"<(/?)([A-Za-z][A-Za-z0-9:-]*)[^>]*?(/?)>")
# Elements that never nest (void) or that the next sibling closes (so pages leave them open).
_FLAT = frozenset(
    b"area base br col embed hr img input link meta source track wbr p li dt dd tr td th "
    b"option optgroup thead tbody tfoot colgroup rp rt".split()
)


def _nesting(data: bytes) -> int:
    """How deep the page's elements nest, from its tags, before html5lib builds the tree (the
    walk below recurses too). Stops counting past the bound."""
    depth = deepest = 0
    for m in _TAG.finditer(data):
        if m.group(2).lower() in _FLAT or m.group(3):
            continue
        depth = max(depth - 1, 0) if m.group(1) else depth + 1
        if depth > deepest:
            deepest = depth
            if deepest > intake.MAX_DEPTH:
                break
    return deepest


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
