"""An input file becomes numbered lines of text, the one form every later stage reads.

The contract every reader of an input kind meets (and ``pdf.pdf_lines`` too):

* one list of ``str``, in reading order; narrative paragraphs are lines of their own;
* a table row is one line of cells, each followed by ``|``: ``规章 | 0 | 0 | 3 |``; an empty cell
  is kept by its position (``行政许可 |  | 5 |``), never dropped, so later numbers do not shift;
* page headers and footers, menus and site furniture are not part of the lines;
* a picture standing where text should be is a line ``[[image:<name>]]`` (a table published as
  an image is then reported with the picture's name, not silently missed).

Formats that need an outside program (.doc and .wps through LibreOffice) raise ``NeedsProgram``
when it is not installed; everything else that cannot be read raises and becomes F110.
"""

from __future__ import annotations

import io
import re
import zlib
from pathlib import Path

from .. import intake, patterns
from ..record import Record
from .radicals import unify

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:  # (loaded by _parse_html: a Markdown or text report does not need it)
    from xml.etree import ElementTree

# Web pages as browsers and download tools save them: .html/.htm, the server's own .shtml/.xhtml,
# and one-file archives (.mht/.mhtml: IE, 360, Edge and Chromium "save as a single file").
PAGES = (".html", ".htm", ".shtml", ".xhtml")
ARCHIVED_PAGES = (".mht", ".mhtml")
# Word processors' files LibreOffice converts: old Word, WPS, OpenDocument text, RTF.
OFFICE = (".doc", ".wps", ".odt", ".rtf")
IMPORTABLE = (".txt", ".text", ".md", *PAGES, *ARCHIVED_PAGES, ".docx", *OFFICE, ".pdf")
# Where a portal page's own text ends and the site's footer begins.
FOOTER = patterns.compile(
    r"^(主办单位|承办单位|主办：|版权所有|网站标识码|技术支持|联系我们|打印本页|关闭窗口|【打印】|ICP备)"
)
# What a folder given to check or merge contributes besides workbooks: published reports in the
# forms they are published in. Loose .txt/.md files in a folder are notes, not reports (a report
# in plain text is still read when it is named).
FOLDER_REPORTS = tuple(s for s in IMPORTABLE if s not in (".txt", ".text", ".md"))
IMAGE = patterns.compile(r"^\[\[image:(.*)\]\]$")
# A saved page's own <title>: where the unit is named when the report has no title line.
PAGE_TITLE = patterns.compile(r"^\[\[title:(.*)\]\]$")
# A pinyin gloss after a character, as some mirrors print them: 規(guī)章 → 規章.
_GLOSS = patterns.compile(r"[(（]\s*[a-zA-Zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹ]+\s*[)）]")
_MARKDOWN_MARKS = patterns.compile(r"^\s*#{1,6}\s*|^\s*\*\*(.*)\*\*\s*$")  # heading, emphasis
_MARKDOWN_IMAGE = patterns.compile(r"!\[[^\]]*\]\(([^)]*)\)")


# Characters that print as nothing (zero-width spaces and joiners, a stray BOM, soft hyphens) or
# as a plain space (no-break spaces): pages and Word files carry them inside labels and figures,
# where they would cut a number in two or hide a label.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None) | dict.fromkeys(
    map(ord, "\u00a0\u2007\u202f"), " "
)
_ANY_INVISIBLE = patterns.compile("[" + "".join(map(chr, _INVISIBLE)) + "]")

_CJK_GAP = patterns.compile(r"(?<=[^\x00-\xff]) (?=[^\x00-\xff])")


class NeedsProgram(RuntimeError):
    """The input kind needs a program that is not installed (its name is the message)."""


class Line(Record):
    """One numbered line of a report's text. (A record written out, not a dataclass: see ``record``.)"""

    _fields = ("no", "text")

    def __init__(self, no: int, text: str) -> None:
        self.no = no
        self.text = text


# --- inputs --------------------------------------------------------------------------------


def load_lines(path: Path) -> list[Line]:
    """The file's lines. Every input passes the shared intake bounds first (a regular file, its
    kind's size bound, a .docx's zip bounds, HTML nesting): ``intake.InputRefused`` says why not."""
    suffix = path.suffix.lower()
    # What the bytes are comes before the name: a PDF named .txt, a .docx saved as .pdf, a page
    # saved as .txt are read as what they are; a workbook is not a published report.
    kind = intake.sniff(path)
    if kind == "workbook":
        raise intake.InputRefused(
            "a spreadsheet workbook, not a published report",
            "是工作簿（电子表格），不是已公开的年报",
            "F115",
        )
    if kind == "html" or (not kind and suffix in PAGES):
        raw = intake.read_input(path, intake.MAX_REPORT_BYTES)
        # (a text or Markdown report saved under a web page's name has no markup at all)
        texts = _html_lines(raw) if kind or _MARKUP.search(raw) else _text_lines(raw, ".md")
    elif not kind and suffix in ARCHIVED_PAGES:
        texts = _html_lines(_archived_page(intake.read_input(path, intake.MAX_REPORT_BYTES)))
    elif kind == "docx" or (not kind and suffix == ".docx"):
        texts = _docx_lines(intake.vet_docx(path))
    elif kind == "doc" or (not kind and suffix in OFFICE):
        texts = _office_lines(path)
    elif kind == "pdf" or (not kind and suffix == ".pdf"):
        from .pdf import pdf_lines  # PyMuPDF loads only for PDFs

        intake.vet_size(path, intake.MAX_DOCX_BYTES)
        texts = pdf_lines(path)
    else:
        texts = _text_lines(intake.read_input(path, intake.MAX_REPORT_BYTES), suffix)
    _vet_lines(texts)
    texts = [
        _GLOSS.sub("", unify(t.translate(_INVISIBLE) if _ANY_INVISIBLE.search(t) else t))
        for t in texts
    ]
    return _split_long([Line(i, t) for i, t in enumerate(texts, start=1)])


def _vet_lines(texts: list[str]) -> None:
    if len(texts) > intake.MAX_LINES:
        raise intake.InputRefused(
            f"over {intake.MAX_LINES:,} lines ({len(texts):,})",
            f"超过 {intake.MAX_LINES:,} 行（{len(texts):,} 行）",
        )


def _text_lines(raw: bytes, suffix: str) -> list[str]:
    texts = intake.decode_text(raw).splitlines()
    _vet_lines(texts)  # before the per-line work below
    if suffix == ".md":  # headings and emphasis markers are not part of the text
        texts = [_MARKDOWN_MARKS.sub(r"\1", t) for t in texts]
        texts = [_MARKDOWN_IMAGE.sub(r"[[image:\1]]", t) for t in texts]
    return texts


def _archived_page(raw: bytes) -> bytes:
    """The page inside a one-file web archive (MHTML: a MIME message whose first text/html part is
    the page, quoted-printable or base64, in the page's charset), as bytes html5lib reads: UTF-8
    with a byte order mark when the part names its charset (a mark outranks the page's meta)."""
    import email
    import email.policy

    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in message.walk():
        if part.get_content_type() != "text/html":
            continue
        body = part.get_payload(decode=True) or b""
        charset = part.get_content_charset()
        if charset:
            try:
                return b"\xef\xbb\xbf" + body.decode(charset, errors="replace").encode("utf-8")
            except LookupError:  # a charset Python does not know: let the page's meta say
                pass
        return body
    raise intake.InputRefused(
        "not a saved web page: no text/html part in the MHTML archive",
        "不是保存的网页：MHTML 文件中没有网页（text/html）部分",
        "F103",
    )


def _office_lines(path: Path) -> list[str]:
    """Old Word (.doc), WPS (.wps), OpenDocument text (.odt) and RTF documents, converted to .docx
    by LibreOffice headless."""
    from .. import office

    intake.vet_size(path, intake.MAX_DOCX_BYTES)
    with open(path, "rb") as fh:
        head = fh.read(4096)
    odf = head.startswith(intake.ZIP_MAGIC) and b"application/vnd.oasis.opendocument" in head[:200]
    if head.startswith(intake.ZIP_MAGIC) and not odf:  # a .docx under another name: read as is
        return _docx_lines(intake.vet_docx(path))
    if office.find_soffice() is None:
        raise NeedsProgram("LibreOffice (soffice)")
    if odf:
        _vet_odt(path)
    else:
        _vet_old_word(path, head)
    import tempfile  # (only for what LibreOffice converts first)

    with tempfile.TemporaryDirectory(prefix="wbtools-import-") as tmp:
        # LibreOffice names its output after the input; a copy keeps odd names and the input safe.
        suffix = path.suffix.lower()  # (an old Word file under another name: as a .doc)
        src = Path(tmp) / ("input" + (suffix if suffix in OFFICE else ".doc"))
        src.write_bytes(path.read_bytes())
        out = office.convert(src, "docx", Path(tmp) / "out")
        return _docx_lines(intake.vet_docx(out))  # bounded like any .docx


def _vet_odt(path: Path) -> None:
    """An OpenDocument text is a zip package: bounded as a .docx is (entries, unpacked size,
    ratio, names, DOCTYPE) before LibreOffice unpacks it, and it must say it is a text."""
    import zipfile  # (a text or a page is no package: loaded for this one)

    try:
        with zipfile.ZipFile(io.BytesIO(intake.read_input(path, intake.MAX_DOCX_BYTES))) as zf:
            problem = (
                intake.zip_bounds(zf, intake.MAX_UNPACKED_BYTES // 2)
                or intake.zip_names(zf)
                or intake.zip_dtd(zf)
            )
            if (
                problem is None
                and "mimetype" in zf.NameToInfo
                and zf.getinfo("mimetype").file_size < 100
            ):
                kind = zf.read("mimetype")
            else:
                kind = b""
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as exc:
        raise intake.InputRefused(f"not a document: {exc}", f"不是文档：{exc}", "F103") from None
    except (RuntimeError, NotImplementedError) as exc:  # zip-level encryption, odd compression
        raise intake.InputRefused(str(exc), str(exc), "F104") from None
    if problem is not None:
        raise problem
    if not kind.startswith(b"application/vnd.oasis.opendocument.text"):
        found = kind.decode("ascii", "replace")[:80] or "(none)"
        raise intake.InputRefused(
            f"not an OpenDocument text (mimetype {found})",
            f"不是 OpenDocument 文字文档（mimetype 为 {found}）",
            "F103",
        )


def _vet_old_word(path: Path, head: bytes) -> None:
    """What LibreOffice is to read as an old Word (.doc) or WPS (.wps) document must look like
    one of their forms first (a compound file that opens, or RTF, HTML or XML text): junk is
    refused here as damaged (F103) rather than costing a LibreOffice start and ending as its
    cryptic error."""
    import olefile

    if head.startswith(intake.CFB_MAGIC):
        try:
            with olefile.OleFileIO(str(path)):
                return
        except Exception as exc:  # olefile raises its own and OSError for a broken compound file
            detail = f"compound file: {type(exc).__name__}: {str(exc)[:200]}"
            raise intake.InputRefused(detail, detail, "F103") from None
    text = head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n")
    if text.startswith((b"{\\rtf", b"<")) or head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return  # RTF, or a web page / Word XML saved as .doc (LibreOffice reads them)
    detail = "not a Word document (neither a compound file, a .docx, RTF nor HTML)"
    raise intake.InputRefused(
        detail, "不是 Word 文档（既非复合文档、.docx，也非 RTF 或 HTML）", "F103"
    )


_MARKUP = patterns.compile(rb"<[A-Za-z!/?]")
_SITE_PARTS = patterns.compile(
    r"foot|menu|\bnav|header|copyright|bottom|crumb|share|sidebar|banner"
)
_FURNITURE = ("nav", "header", "footer", "script", "style", "head", "noscript", "iframe", "form")


_WESTERN = frozenset(("cp1252", "iso8859-1", "latin-1", "iso8859-15"))


def _page_text(data: bytes) -> str:
    """The page as text, its encoding found as browsers find it: a byte order mark, then the
    page's own meta charset (html5lib's pre-scan; browsers look at the first 1,024 bytes, then
    switch when the parser meets the meta later, so the first 64 KB are scanned here), else as
    Chinese offices save it (UTF-8 or GB18030, where browsers would guess windows-1252). A page
    whose bytes break the encoding it declares, or that declares a Western one, but that reads
    cleanly as UTF-8 or GB18030 (saved again by a clerk's editor) is read so. UTF-16 without a
    byte order mark is found by its NUL bytes."""
    if intake.text_encoding(data) is not None:  # a byte order mark, or UTF-16 without one
        return intake.decode_text(data).lstrip("\ufeff")
    from html5lib._inputstream import EncodingParser

    declared = EncodingParser(data[:65536]).getEncoding()
    if declared is None:
        return intake.decode_text(data)
    name = declared.codec_info.name
    text = data.decode("gb18030" if name == "gbk" else name, errors="replace")
    if "\ufffd" in text or (name in _WESTERN and not data.isascii()):
        try:
            return intake.decode_text(data, strict=True)
        except UnicodeDecodeError:
            pass
    return text


def _parse_html(data: bytes) -> ElementTree.Element:
    """The page's tree as the HTML standard builds it (Lexbor, through selectolax), in
    ElementTree's shape (text and tails), comments left out. Lexbor builds it in time linear
    in the page: html5lib's Python tree builder appended every text token to the text so far,
    and its tokenizer splits a text at every "<" and entity, so a saved page with a 3 MB inline
    script or a long run of entities ran for over twenty minutes."""
    from xml.etree import ElementTree

    from selectolax.lexbor import LexborHTMLParser

    root = LexborHTMLParser(_page_text(data)).root
    tree = ElementTree.Element(root.tag if root is not None else "html")
    if root is None:
        return tree
    # Iterative, with each run of text joined once: a text node becomes the element's text
    # (before any child) or the tail of the child before it (runs split by comments too).
    stack = [(root.child, tree, [])]
    while stack:
        node, parent, run = stack.pop()
        while node is not None:
            if node.is_element_node:
                _settle(parent, run)
                el = ElementTree.SubElement(parent, node.tag, _attributes(node))
                stack.append((node.next, parent, []))
                node, parent, run = node.child, el, []
                if len(stack) > 2 * intake.MAX_DEPTH:  # formatting elements remade in each other
                    raise intake.InputRefused(
                        f"elements nested over {2 * intake.MAX_DEPTH} deep",
                        f"元素嵌套超过 {2 * intake.MAX_DEPTH} 层",
                    )
                continue
            if node.is_text_node:
                run.append(node.text_content or "")
            node = node.next
        _settle(parent, run)
    return tree


def _settle(parent: ElementTree.Element, run: list[str]) -> None:
    if run:
        if len(parent):
            parent[-1].tail = "".join(run)
        else:
            parent.text = "".join(run)
        run.clear()


def _attributes(node) -> dict[str, str]:
    return {k: v or "" for k, v in node.attributes.items()}


def _html_lines(data: bytes) -> list[str]:
    """A fragment, a saved portal page or a Word-exported page. html5lib reads the page's own
    meta charset (GBK/GB2312 pages); site menus and footers are dropped where the page marks them
    as such, the rest is left to the section finder, which looks for the report's headings."""
    _vet_markup(data)
    tree = _parse_html(data)
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
        # Word-exported pages wrap text inside elements: a line break between two Chinese
        # characters is not a space.
        text = " ".join("".join(el.itertext()).split())
        return _CJK_GAP.sub("", text)

    def images(el) -> list[str]:
        return [
            "[[image:" + (img.get("src") or img.get("alt") or "?").rsplit("/", 1)[-1] + "]]"
            for img in el.iter("img")
        ]

    def walk(el) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in _FURNITURE or not isinstance(el.tag, str):
            return
        marks = f"{el.get('class', '')} {el.get('id', '')}".lower()
        if _SITE_PARTS.search(marks):
            return  # the site's menus, footers and share bars
        if tag == "img":
            out.extend(images(el))
            return
        if tag == "table":
            for tr in el.iter("tr"):
                cells = [text_of(c) for c in tr if c.tag in ("td", "th")]
                if any(cells):
                    out.append(" | ".join(c.replace("|", " ") for c in cells) + " |")
            return
        if tag in blocks and not any(
            child.tag in blocks or child.tag in ("table", "img") for child in el
        ):
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
    head_title = tree.find("head/title")
    if head_title is not None and (title := text_of(head_title)):
        out.insert(0, f"[[title:{title}]]")
    return out


# The start of a comment or of a tag; where the tag ends is found with one search for ">", so
# the scan is linear (a pattern spanning the whole tag retried from every "<" of a page with no
# ">": 120 KB of "<a " took 76 s).
_TAG = patterns.compile(rb"<(?:(!--)|(/?)([A-Za-z][A-Za-z0-9:-]*))")
# Elements that never nest (void) or that the next sibling closes (so pages leave them open).
_FLAT = frozenset(
    b"area base br col embed hr img input link meta source track wbr p li dt dd tr td th "
    b"option optgroup thead tbody tfoot colgroup rp rt".split()
)
# Elements whose content is text up to their end tag: tags written inside a script are not tags.
_RAW_TEXT = frozenset(b"script style textarea title xmp iframe noembed noframes plaintext".split())


def _vet_markup(data: bytes) -> None:
    """Bounds a page before its tree is built: building costs time in proportion to the depth
    of the open elements for each tag (and the walk below recurses), and Python time for each
    element. Counted from its tags, comments and the text of scripts and styles skipped."""
    depth = deepest = elements = pos = 0
    lower = None
    while (m := _TAG.search(data, pos)) is not None:
        if m.group(1):  # a comment, to its end
            end = data.find(b"-->", m.end())
            if end < 0:
                break
            pos = end + 3
            continue
        end = data.find(b">", m.end())
        if end < 0:
            break  # a tag left open at the end of the page: nothing after it is a tag
        if not m.group(2) and (
            end - m.end() > 2 * intake.MAX_ATTRIBUTES
            or data.find(b'"', m.end(), end) >= 0
            or data.find(b"'", m.end(), end) >= 0
        ):
            end = _start_tag_end(data, m.end(), end)
        pos = end + 1
        name = m.group(3).lower()
        if m.group(2):
            depth = max(depth - 1, 0)
            continue
        elements += 1
        if name in _RAW_TEXT:
            lower = data.lower() if lower is None else lower
            close = lower.find(b"</" + name, pos)
            if close < 0:
                break
            pos = close
        elif not (name in _FLAT or data[end - 1 : end] == b"/"):
            depth += 1
            deepest = max(deepest, depth)
        if deepest > intake.MAX_DEPTH:
            raise intake.InputRefused(
                f"elements nested over {intake.MAX_DEPTH} deep",
                f"元素嵌套超过 {intake.MAX_DEPTH} 层",
            )
        if elements > intake.MAX_ELEMENTS:
            raise intake.InputRefused(
                f"over {intake.MAX_ELEMENTS:,} elements in the page",
                f"网页元素超过 {intake.MAX_ELEMENTS:,} 个",
            )


# One attribute of a start tag as the HTML tokenizer reads it: separators, a name (its first
# character may be "="), then optionally "=" and a value, quoted (">" inside does not end the
# tag) or not.
_ATTRIBUTE = patterns.compile(
    rb"""[\t\n\f\r /]*+[^\t\n\f\r />][^\t\n\f\r />=]*+"""
    rb"""(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:"[^"]*+"|'[^']*+'|[^\t\n\f\r >]*+))?"""
)
_ATTRIBUTES = patterns.compile(rb"(?:" + _ATTRIBUTE.pattern + rb""")*+[\t\n\f\r /]*+""")


def _start_tag_end(data: bytes, start: int, first: int) -> int:
    """Where the start tag whose attributes begin at ``start`` ends (its ">"), ``first`` (the
    first ">" after it) when its attributes do not run to a ">" (a quote left open); refused when
    it has over ``intake.MAX_ATTRIBUTES`` attributes. Only tags with quotes or long ones come
    here: in others the first ">" ends the tag and each attribute takes two bytes at least."""
    end = _ATTRIBUTES.match(data, start).end()
    if data[end : end + 1] != b">":
        end = first
    if end - start > 2 * intake.MAX_ATTRIBUTES:
        # Counted up to the last attribute: the separators after it ("<br/////>") match no
        # attribute, and a search retried from each of them would scan the rest again.
        stop = start + len(data[start:end].rstrip(b"\t\n\f\r /"))
        for count, _ in enumerate(_ATTRIBUTE.finditer(data, start, stop), start=1):
            if count > intake.MAX_ATTRIBUTES:
                raise intake.InputRefused(
                    f"an element with over {intake.MAX_ATTRIBUTES:,} attributes",
                    f"有元素的属性超过 {intake.MAX_ATTRIBUTES:,} 个",
                )
    return end


def _open_docx(data: bytes):
    """python-docx's document, or InputRefused: a package without a Word document in it, or XML
    that lxml refuses (nested deeper than it allows, malformed) is a damaged file (F103), not a
    crash of the reader."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from lxml import etree

    try:
        return docx.Document(io.BytesIO(data))
    except etree.XMLSyntaxError as exc:
        detail = f"XML: {str(exc)[:200]}"
        raise intake.InputRefused(detail, detail, "F103") from None
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        detail = f"not a Word document: {type(exc).__name__}: {str(exc)[:200]}"
        raise intake.InputRefused(detail, detail, "F103") from None


# A paragraph's runs wherever Word puts them (tracked insertions, smart tags, fields, content
# controls, hyperlinks), but not deleted or moved-away text, the fallback copy of alternate
# content, or a text box's own paragraphs.
_RUNS = (
    ".//w:r[not(ancestor::w:del or ancestor::w:moveFrom or ancestor::w:txbxContent"
    " or ancestor::*[local-name()='Fallback'])]"
)
# Blocks and rows that content controls (w:sdt) or custom XML wrap, as if they were not wrapped.
_BLOCKS = "./w:p | ./w:tbl | ./w:sdt/w:sdtContent | ./w:customXml"
_ROWS = "./w:tr | ./w:sdtContent/w:tr"


def _docx_lines(data: bytes) -> list[str]:
    """The paragraphs and table rows of a Word file, from the bytes intake vetted."""
    from docx.oxml.ns import nsmap, qn
    from docx.oxml.simpletypes import ST_Merge
    from docx.text.run import Run
    from lxml import etree

    document = _open_docx(data)
    out: list[str] = []
    runs, block_xpath, row_xpath, row_wrappers, cell_paras, tcs, inner, images = (
        etree.XPath(x, namespaces={"w": nsmap["w"]})
        for x in (
            _RUNS,
            _BLOCKS,
            _ROWS,
            "./w:sdt[w:sdtContent/w:tr] | ./w:customXml[w:tr]",
            "./w:p | ./w:sdt/w:sdtContent/w:p",
            "./w:tr/w:tc",
            "./w:tbl",
            ".//*[local-name()='blip' or local-name()='imagedata']",
        )
    )

    def text(el) -> str:
        return "".join(Run(r, document).text for r in runs(el))

    def cell_text(tc) -> str:
        return "\n".join(text(p) for p in cell_paras(tc))

    def blocks(parent) -> None:
        for child in block_xpath(parent):
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "p":
                line = text(child).strip()
                if line:
                    out.append(line)
                elif images(child):
                    out.append("[[image:Word 文档中的图片]]")
            elif tag == "tbl":
                table(child)
            else:  # a content control's or custom XML's content
                blocks(child)

    def table(tbl) -> None:
        cells_of = tcs(tbl)
        if len(cells_of) == 1 and inner(cells_of[0]):
            blocks(cells_of[0])  # a one-cell layout table around the content: read the content
            return
        for wrapper in row_wrappers(tbl):  # rows in content controls: unwrapped in place, so
            at = tbl.index(wrapper)  # merged cells find the rows above them
            for tr in row_xpath(wrapper):
                tbl.insert(at, tr)
                at += 1
            tbl.remove(wrapper)
        # A cell merged down from the row above (vMerge "continue") shows the text of the cell
        # that starts the merge: the start of each column's merge is kept while going down the
        # rows (python-docx looks up through every row above for each such cell, and recurses:
        # a table of a thousand merged rows took minutes or ended in RecursionError).
        starts: dict[int, object] = {}
        for tr in row_xpath(tbl):
            cells, last, offset = [], None, tr.grid_before
            for tc in tr.tc_lst:
                span = tc.grid_span
                start = starts.get(offset, tc) if tc.vMerge == ST_Merge.CONTINUE else tc
                for column in range(offset, offset + span):
                    starts[column] = start
                offset += span
                if start is last:
                    continue  # one cell merged across, once
                last = start
                cells.append(cell_text(start).strip().replace("|", " "))
            out.append(" | ".join(cells) + " |")

    body = document.element.body
    count = sum(1 for _ in body.iter(qn("w:p"), qn("w:tc")))
    if count > intake.MAX_BLOCKS:  # each costs tens of microseconds of python-docx
        raise intake.InputRefused(
            f"over {intake.MAX_BLOCKS:,} paragraphs and table cells ({count:,})",
            f"段落和表格单元格超过 {intake.MAX_BLOCKS:,} 个（{count:,} 个）",
        )
    blocks(body)
    if title := _saved_title(document):
        out.insert(0, f"[[title:{title}]]")  # a saved page's title, kept by Word/LibreOffice
    return out


def _saved_title(document) -> str:
    """The title in the file's properties; none when it has no properties part (python-docx
    then makes up “Word Document”, which would be taken for the unit's name)."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT

    try:
        document.part.package.part_related_by(RT.CORE_PROPERTIES)
    except KeyError:
        return ""
    return (document.core_properties.title or "").strip()


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
_HEADING_IN_LINE = patterns.compile("(" + "|".join(re.escape(h) for h in HEADING_FORMS) + ")")
_SUB_IN_LINE = patterns.compile(r"(?<=[。；])\s*(?=[（(][一二三四五][）)])")
# A section heading standing after a gap or a full stop inside a shorter line: a saved page whose
# paragraphs were joined with spaces (“…止。 一、总体情况 2021年，… 二、主动公开政府信息情况”), or
# at the start of a line that goes on with its paragraph (“一、总体情况 2020年，全局…”).
_HEADING_AFTER_GAP = patterns.compile(
    r"(?:^|(?<=\s)|(?<=[。；]))(" + "|".join(re.escape(h) for h in HEADING_FORMS) + ")"
)
# What stands between a heading and the paragraph run into it (“一、总体情况：2020年，…”).
_AFTER_HEADING = "。：:，,；; \u3000"


def _cut(pattern: re.Pattern, text: str) -> list[str]:
    """``pattern.split(text)`` (headings kept), the headings found in traditional characters too
    (“一、總體情況”, a traditional mirror flattened onto one line): they are found in the line's
    simplified view and the line is cut at the same places."""
    if "、" not in text:  # every heading has its “、”
        return [text]
    # (the pattern finds a heading only where one is written: a search tries it at every place)
    parts = pattern.split(text) if any(h in text for h in HEADING_FORMS) else [text]
    if len(parts) > 1:
        return parts
    from .labels import simplified

    view = simplified(text)
    if view == text:
        return parts
    if len(view) != len(text):  # a phrase converted to one of another length: read the view
        return pattern.split(view)
    out, at = [], 0
    for m in pattern.finditer(view):
        out += [text[at : m.start()], text[m.start() : m.end()]]
        at = m.end()
    return [*out, text[at:]]


def _split_long(lines: list[Line]) -> list[Line]:
    """A report flattened onto one line: cut out each section heading as a line of its own and
    break before the sub-headings of the narrative."""
    out: list[Line] = []
    for line in lines:
        if len(line.text) < 300:
            parts = _cut(_HEADING_AFTER_GAP, line.text)
            if len(parts) > 1:
                out.extend(Line(line.no, p) for p in _after_headings(parts) if p)
            else:
                out.append(line)
            continue
        for part in _after_headings(_cut(_HEADING_IN_LINE, line.text)):
            for piece in _SUB_IN_LINE.split(part):
                if piece.strip():
                    out.append(Line(line.no, piece.strip()))
    return out


def _after_headings(parts: list[str]) -> list[str]:
    """The pieces of a cut line (headings at odd places), stripped, each paragraph that follows
    a heading without the punctuation that joined it to the heading."""
    return [
        p.strip().lstrip(_AFTER_HEADING) if k and not k % 2 else p.strip()
        for k, p in enumerate(parts)
    ]
