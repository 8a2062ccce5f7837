"""The report as a Word document (python-docx), in the customary layout of Chinese official
documents (GB/T 9704): A4, margins 37/35/28/26 mm, title in 方正小标宋 二号, level-1 headings in
黑体 三号, level-2 in 楷体 三号, body in 仿宋 三号 with a 28-point line and a two-character indent.

Chinese fonts are set on the East-Asian slot of every style and run (``w:eastAsia``): Word and
WPS pick the CJK font from there, not from the Latin font name. Tables 三 and 四 go in a landscape
section in a smaller size, with their header rows repeated on every page.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from docx import Document as new_document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Pt, RGBColor

from . import patterns
from .document import Document, Grid, title_lines

TITLE_FONT = "方正小标宋简体"
HEADING1_FONT = "黑体"
HEADING2_FONT = "楷体_GB2312"
BODY_FONT = "仿宋_GB2312"
KAITI_FONT = HEADING2_FONT  # the coverage note, set apart from the body
LATIN_FONT = "Times New Roman"
PAGE_NUMBER_FONT = "宋体"
SIZE_2, SIZE_3, SIZE_4 = Pt(22), Pt(16), Pt(14)
SIZE_5, SIZE_SMALL_5 = Pt(10.5), Pt(9)


def set_fonts(element, east_asian: str, latin: str = LATIN_FONT) -> None:
    """Set the Latin and East-Asian fonts of a style's or run's properties."""
    rpr = element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr, name in (
        ("w:ascii", latin),
        ("w:hAnsi", latin),
        ("w:eastAsia", east_asian),
        ("w:cs", latin),
    ):
        fonts.set(qn(attr), name)


def _run(
    paragraph,
    text: str,
    font: str,
    size,
    bold: bool = False,
    color: RGBColor | None = None,
    latin: str = LATIN_FONT,
):
    """A run with its properties built in schema order in one go (rFonts, b, color, sz): the
    same XML python-docx's setters write, without their search for each child's place."""
    run = paragraph.add_run(text)
    rpr = OxmlElement("w:rPr")
    fonts = OxmlElement("w:rFonts")
    for attr, name in (
        ("w:ascii", latin),
        ("w:hAnsi", latin),
        ("w:eastAsia", font),
        ("w:cs", latin),
    ):
        fonts.set(qn(attr), name)
    rpr.append(fonts)
    b = OxmlElement("w:b")
    if not bold:
        b.set(qn("w:val"), "0")
    rpr.append(b)
    if color is not None:
        c = OxmlElement("w:color")
        c.set(qn("w:val"), str(color))
        rpr.append(c)
    sz = OxmlElement("w:sz")
    sz.set(qn("w:val"), str(round(size.pt * 2)))
    rpr.append(sz)
    run._element.insert(0, rpr)
    return run


def _paragraph(
    doc,
    text: str,
    font: str = BODY_FONT,
    size=SIZE_3,
    indent: bool = True,
    align=None,
    color=None,
    bold=False,
):
    p = doc.add_paragraph()
    fmt = p.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(28)
    fmt.space_before = fmt.space_after = Pt(0)
    if indent:
        fmt.first_line_indent = Pt(size.pt * 2)
    if align is not None:
        p.alignment = align
    _run(p, text, font, size, bold=bold, color=color)
    return p


def _page(section, landscape: bool) -> None:
    section.page_width, section.page_height = (
        (Mm(297), Mm(210)) if landscape else (Mm(210), Mm(297))
    )
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    # The page number's line sits 7 mm below the type area (GB/T 9704): its baseline about
    # 7 mm + one 4号 line below the bottom margin's edge.
    section.footer_distance = Mm(35 - 7 - 5)
    if landscape:
        section.top_margin = section.bottom_margin = Mm(20)
        section.left_margin = section.right_margin = Mm(20)
        section.footer_distance = Mm(20 - 7 - 5)


def _styles(doc) -> None:
    normal = doc.styles["Normal"]
    normal.font.size = SIZE_3
    set_fonts(normal.element, BODY_FONT)
    for name, font in (
        ("Heading 1", HEADING1_FONT),
        ("Heading 2", HEADING2_FONT),
        ("Title", TITLE_FONT),
    ):
        style = doc.styles[name]
        style.font.size = SIZE_2 if name == "Title" else SIZE_3
        style.font.bold = False
        style.font.color.rgb = RGBColor(0, 0, 0)
        set_fonts(style.element, font)


def _heading(doc, text: str, level: int, styles: dict) -> None:
    # the style's id, looked up once: python-docx looks a style up by scanning every style
    p = doc.add_paragraph()
    p._p.style = styles[level]
    fmt = p.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(28)
    fmt.space_before = fmt.space_after = Pt(0)
    if level == 2:
        fmt.first_line_indent = Pt(32)
    _run(p, text, HEADING1_FONT if level == 1 else HEADING2_FONT, SIZE_3)


def _run_xml(text: str, font: str, size, bold: bool) -> str:
    """A table cell's run as XML, exactly as ``_run`` and python-docx's text setter build it: a
    tab becomes ``w:tab``, a line break ``w:br``, the rest ``w:t`` (kept as is when it starts or
    ends with white space)."""
    weight = "<w:b/>" if bold else '<w:b w:val="0"/>'
    props = (
        f'<w:rPr><w:rFonts w:ascii="{LATIN_FONT}" w:hAnsi="{LATIN_FONT}" w:eastAsia="{font}"'
        f' w:cs="{LATIN_FONT}"/>{weight}'
        f'<w:sz w:val="{round(size.pt * 2)}"/></w:rPr>'
    )
    content = []
    for piece in _BREAKS.split(text):
        if piece == "\t":
            content.append("<w:tab/>")
        elif piece in ("\r", "\n"):
            content.append("<w:br/>")
        elif piece:
            keep = ' xml:space="preserve"' if len(piece.strip()) < len(piece) else ""
            content.append(f"<w:t{keep}>{escape(piece)}</w:t>")
    return f"<w:r>{props}{''.join(content)}</w:r>"


_BREAKS = patterns.compile(r"([\t\r\n])")


def _rows_xml(grid: Grid, twips: list[int]) -> str:
    """The table's rows as WordprocessingML, built in one string and parsed once (as python-docx
    builds a new table): the same XML its cell API writes after merging (a horizontal span is one
    ``w:tc`` with ``w:gridSpan`` and the columns' widths summed, a vertical one a ``restart`` cell
    and empty continuation cells below), at a fraction of the cost of ~400 setter calls each
    searching for its element's place."""
    size = SIZE_SMALL_5 if grid.landscape else SIZE_5
    height, width = len(grid.rows), grid.width
    # what covers each position: (top row, left column) of the cell spanning it
    owner: dict[tuple[int, int], tuple[int, int]] = {}
    for r, row in enumerate(grid.rows):
        for c, cell in enumerate(row):
            if cell is not None:
                for i in range(r, min(r + cell.rowspan, height)):
                    for j in range(c, min(c + cell.colspan, width)):
                        owner.setdefault((i, j), (r, c))
    out = []
    for r, row in enumerate(grid.rows):
        out.append("<w:tr>")
        if r < grid.header_rows:
            out.append('<w:trPr><w:tblHeader w:val="true"/></w:trPr>')
        for c in range(width):
            top, left = owner.get((r, c), (r, c))
            if left != c:
                continue  # swallowed by a span to its left
            spanning = grid.rows[top][left]
            rowspan, colspan = (spanning.rowspan, spanning.colspan) if spanning else (1, 1)
            colspan = min(colspan, width - c)
            props = f'<w:tcW w:type="dxa" w:w="{sum(twips[c : c + colspan])}"/>'
            if colspan > 1:
                props += f'<w:gridSpan w:val="{colspan}"/>'
            if rowspan > 1:
                props += '<w:vMerge w:val="restart"/>' if top == r else "<w:vMerge/>"
            cell = row[c]
            if cell is None:  # a continuation below a vertical span, or an empty position
                out.append(f"<w:tc><w:tcPr>{props}</w:tcPr><w:p/></w:tc>")
                continue
            left_aligned = cell.role in ("stub", "caption") or (
                cell.kind == "label" and len(cell.text) > 30
            )
            run = _run_xml(cell.text, BODY_FONT, size, cell.role in ("header", "caption"))
            out.append(
                f'<w:tc><w:tcPr>{props}<w:vAlign w:val="center"/></w:tcPr><w:p><w:pPr>'
                f'<w:spacing w:line="240" w:lineRule="auto"/>'
                f'<w:jc w:val="{"left" if left_aligned else "center"}"/></w:pPr>{run}</w:p></w:tc>'
            )
        out.append("</w:tr>")
    return "".join(out)


def _table(doc, grid: Grid, usable_mm: float, style_id: str) -> None:
    table = doc.add_table(rows=0, cols=grid.width)
    table._tbl.tblStyle_val = style_id  # looked up once: by name python-docx scans every style
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    scale = usable_mm / sum(grid.widths)
    widths = [Mm(width * scale) for width in grid.widths]  # the layout's proportions
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width  # the grid, which LibreOffice and WPS follow
    # and each cell's width, which Word follows (the rows' XML)
    rows = parse_xml(f"<w:tbl {nsdecls('w')}>{_rows_xml(grid, [w.twips for w in widths])}</w:tbl>")
    for tr in list(rows):
        table._tbl.append(tr)


def _page_number(paragraph) -> None:
    """“— 1 —”: the page number as a PAGE field between two 一字线, in 4号 半角 宋体 (GB/T 9704):
    the digits are Latin text, so 宋体 is their Latin font as well."""
    song = {"latin": PAGE_NUMBER_FONT}
    _run(paragraph, "— ", PAGE_NUMBER_FONT, SIZE_4, **song)
    run = _run(paragraph, "", PAGE_NUMBER_FONT, SIZE_4, **song)
    for kind, text in (("begin", None), ("instr", " PAGE "), ("separate", None), ("end", None)):
        if kind == "instr":
            node = OxmlElement("w:instrText")
            node.set(qn("xml:space"), "preserve")
            node.text = text
        else:
            node = OxmlElement("w:fldChar")
            node.set(qn("w:fldCharType"), kind)
        run._element.append(node)
        if kind == "separate":  # the value shown until a reader updates fields
            shown = OxmlElement("w:t")
            shown.text = "1"
            run._element.append(shown)
    _run(paragraph, " —", PAGE_NUMBER_FONT, SIZE_4, **song)


def _footers(doc) -> None:
    """Page numbers on the outside edge, one character in: odd pages right, even pages left.
    Later sections inherit the first section's footers (linked), so numbering runs on."""
    doc.settings.odd_and_even_pages_header_footer = True
    first = doc.sections[0]
    for footer, align in (
        (first.footer, WD_ALIGN_PARAGRAPH.RIGHT),
        (first.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        footer.is_linked_to_previous = False
        p = footer.paragraphs[0]
        p.alignment = align
        fmt = p.paragraph_format
        fmt.space_before = fmt.space_after = Pt(0)
        if align == WD_ALIGN_PARAGRAPH.RIGHT:
            fmt.right_indent = SIZE_4
        else:
            fmt.left_indent = SIZE_4
        _page_number(p)


def _properties(doc, document: Document) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    props = doc.core_properties
    props.title = document.title
    props.author = props.last_modified_by = document.unit or "wbtools"
    props.created = props.modified = now
    props.revision = 1
    props.comments = ""
    props.keywords = "政府信息公开工作年度报告" if document.lang == "zh" else ""
    props.subject = ""
    props.category = ""


def render(document: Document) -> bytes:
    doc = new_document()
    _styles(doc)
    _page(doc.sections[0], landscape=False)
    _footers(doc)
    _properties(doc, document)
    title = doc.add_paragraph()  # not the "Title" style: Word's draws a rule under it
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_after = Pt(12)
    title.paragraph_format.line_spacing = Pt(36)
    # Long titles break at a meaningful place into balanced lines (GB/T 9704: 梯形或菱形),
    # never by the word processor leaving “报告” alone on a line.
    lines = title_lines(document)
    for i, line in enumerate(lines):
        run = _run(title, line, TITLE_FONT, SIZE_2)
        if i < len(lines) - 1:
            run.add_break()
    if document.notice:
        _paragraph(
            doc,
            document.notice,
            indent=False,
            align=WD_ALIGN_PARAGRAPH.CENTER,
            color=RGBColor(0xC0, 0, 0),
            bold=True,
        )
    for line in document.coverage:  # a county total says whom it covers, before anything else
        _paragraph(doc, line, font=KAITI_FONT)
    for line in document.preamble:
        _paragraph(doc, line)
    landscape = False
    # style ids taken once (none of these is a default style, whose id python-docx leaves out)
    headings = {level: doc.styles[f"Heading {level}"].style_id for level in (1, 2)}
    table_style = doc.styles["Table Grid"].style_id
    for section in document.sections:
        wants = any(p.kind == "table" and p.grid.landscape for p in section.parts)
        if wants != landscape:
            new = doc.add_section(WD_SECTION.NEW_PAGE)
            _page(new, landscape=wants)
            landscape = wants
        _heading(doc, section.heading, 1, headings)
        for part in section.parts:
            if part.kind == "subheading":
                _heading(doc, part.text, 2, headings)
            elif part.kind == "paragraph":
                _paragraph(doc, part.text)
            elif part.kind == "placeholder":
                _paragraph(doc, part.text, color=RGBColor(0xC0, 0, 0))
            elif part.kind == "table":
                usable = 297 - 40 if landscape else 210 - 28 - 26
                _table(doc, part.grid, usable, table_style)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
