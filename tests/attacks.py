"""The attack files of the hostile-input battery (tests/test_battery.py): small on disk, made at
test time from a real file of each kind, each with the finding codes that may answer it.

Kinds: workbooks (returned unit workbooks and county workbooks are both made from a real base
with the same edits), published reports (text, Markdown, HTML, Word, PDF) and rosters (CSV, XLSX).
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

BOMB_MB = 4  # unpacked size of a bombed part: far over the compression-ratio bound, cheap to make


@dataclass(frozen=True)
class Attack:
    name: str  # the file name in the battery's folder (its suffix matters)
    data: bytes
    codes: tuple[str, ...]  # a finding with one of these codes must answer the file


# --- zip surgery ------------------------------------------------------------------------------


def entries(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def build(items: list[tuple[str, bytes]], stored: bool = False) -> bytes:
    out = io.BytesIO()
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are the point of one attack
        with zipfile.ZipFile(out, "w", method) as z:
            for name, body in items:
                z.writestr(name, body)
    return out.getvalue()


def edit(data: bytes, part: str, change: Callable[[bytes], bytes]) -> bytes:
    return build([(n, change(b) if n == part else b) for n, b in entries(data)])


def add(data: bytes, part: str, body: bytes) -> bytes:
    return build([*[(n, b) for n, b in entries(data) if n != part], (part, body)])


def padded(xml: bytes, mb: int = BOMB_MB) -> bytes:
    """The part with ``mb`` MB of whitespace before its root element closes: a zip bomb that is
    still well-formed XML (whitespace is legal between elements)."""
    end = xml.rstrip().rfind(b"</")
    return xml[:end] + b" " * (mb << 20) + xml[end:]


def with_doctype(xml: bytes, after: int = 0) -> bytes:
    """The part with an entity-expansion DTD (billion laughs, ten levels) declared after the XML
    declaration, ``after`` bytes of comment in between (a scan of the head alone misses it)."""
    laughs = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    )
    dtd = f"<!DOCTYPE r [{laughs}]>".encode()
    pad = b"<!--" + b"x" * after + b"-->" if after else b""
    decl = re.match(rb"<\?xml[^>]*\?>", xml)
    at = decl.end() if decl else 0
    return xml[:at] + pad + dtd + xml[at:]


def far_cell_xml(xml: bytes, ref: str = "XFD1048576") -> bytes:
    row = re.match(r"[A-Z]+(\d+)", ref).group(1)
    xml = re.sub(rb"<dimension[^>]*/>", b"", xml)
    cell = f'<row r="{row}"><c r="{ref}"><v>1</v></c></row></sheetData>'.encode()
    return xml.replace(b"</sheetData>", cell, 1)


def first_sheet(data: bytes) -> str:
    names = [n for n, _ in entries(data) if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)]
    return sorted(names, key=lambda n: int(re.search(r"\d+", n).group()))[0]


# --- workbooks ----------------------------------------------------------------------------------


def encrypted(data: bytes) -> bytes:
    """A genuinely password-encrypted workbook (OLE compound file), as Excel writes one."""
    import msoffcrypto
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt("secret", out)
    assert msoffcrypto  # the package, not only its format module, is what the dev extra installs
    return out.getvalue()


def workbook_attacks(base: bytes, sheet: str, only: tuple[str, ...] = ()) -> list[Attack]:
    """Every attack on a workbook package, made from ``base`` (a real workbook) and its table
    sheet part ``sheet`` (or those named in ``only``, without suffix)."""
    parts = dict(entries(base))
    xml_parts = [n for n in parts if n.endswith((".xml", ".rels"))]
    out = [
        Attack("far-cell.xlsx", edit(base, sheet, far_cell_xml), ("F108",)),
        Attack("empty.xlsx", b"", ("F109",)),
        Attack("nul-bytes.xlsx", b"\0" * 4096, ("F102",)),
        Attack("csv-as-xlsx.xlsx", "单位,数量\n徐营镇,1\n".encode(), ("F102",)),
        Attack(
            "html-as.xls",
            "<html><head><meta charset=gbk></head><body><table><tr><td>徐营镇</td></tr></table>"
            "</body></html>".encode("gbk"),
            ("F102",),
        ),
        Attack("zip-not-xlsx.xlsx", build([("readme.txt", b"hello")]), ("F114",)),  # an archive
        Attack("docx-as-xlsx.xlsx", build([("word/document.xml", b"<w/>")]), ("F105",)),
        Attack("truncated-central-directory.xlsx", base[:-40], ("F103",)),
        Attack("truncated-half.xlsx", base[: len(base) // 2], ("F103",)),
        Attack("encrypted.xlsx", encrypted(base), ("F104",)),
        Attack(
            "cfb-junk.xls", bytes.fromhex("d0cf11e0a1b11ae1") + b"\x07" * 4000, ("F102", "F103")
        ),
        Attack(
            "duplicate-sheet-names.xlsx",
            build([*entries(base), (sheet, far_cell_xml(parts[sheet]))]),
            ("F103",),
        ),
        Attack(
            "duplicate-first.xlsx",
            build([(sheet, far_cell_xml(parts[sheet])), *entries(base)]),
            ("F103",),
        ),
        Attack(
            "dot-dot-names.xlsx",
            build([*entries(base), ("../../evil.txt", b"x"), ("/etc/evil", b"x")]),
            ("F103",),
        ),
        Attack(
            "utf16-sheet.xlsx",
            edit(
                base,
                sheet,
                lambda x: (
                    b"\xff\xfe"
                    + far_cell_xml(x).replace(b'"UTF-8"', b'"UTF-16"').decode().encode("utf-16-le")
                ),
            ),
            ("F103", "F108", "F110"),
        ),
        Attack(  # python-calamine reserved room for 4 billion strings and aborted the process
            "sst-unique-count.xlsx",
            edit(
                base,
                "xl/sharedStrings.xml",
                lambda x: re.sub(rb'uniqueCount="\d+"', b'uniqueCount="4000000000"', x),
            ),
            ("F103",),
        ),
        Attack(
            "doctype-after-comment.xlsx",
            edit(base, sheet, lambda x: with_doctype(x, after=8192)),
            ("F107",),
        ),
        Attack(
            "nested-sheet-xml.xlsx",
            edit(
                base,
                sheet,
                lambda x: x.replace(b"<sheetData>", b"<sheetData>" + b"<x>" * 200_000, 1).replace(
                    b"</sheetData>", b"</x>" * 200_000 + b"</sheetData>", 1
                ),
            ),
            ("F103", "F106", "F110", "T112", "T113"),
        ),
    ]
    for name in xml_parts:  # a DTD in every XML part, and a bomb in every part
        slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")
        if only and f"dtd-{slug}" not in only and f"bomb-{slug}" not in only:
            continue
        out.append(Attack(f"dtd-{slug}.xlsx", edit(base, name, with_doctype), ("F107",)))
        out.append(Attack(f"bomb-{slug}.xlsx", edit(base, name, padded), ("F106",)))
    styles = "xl/styles.xml"
    if (
        styles in parts and not only
    ):  # millions of cell formats: the styles part calamine reads in full
        xfs = (
            b'<cellXfs count="2000000">'
            + b'<xf numFmtId="0" fontId="0"/>' * 2_000_000
            + b"</cellXfs>"
        )
        out.append(
            Attack(
                "styles-millions-of-xfs.xlsx",
                edit(base, styles, lambda x: x.replace(b"<cellXfs", xfs + b"<cellXfs", 1)),
                ("F106",),
            )
        )
    for name, body in (
        (
            "xl/calcChain.xml",
            b'<?xml version="1.0"?><calcChain>' + b" " * (BOMB_MB << 20) + b"</calcChain>",
        ),
        ("xl/drawings/vmlDrawing9.vml", b"<xml>" + b" " * (BOMB_MB << 20) + b"</xml>"),
        ("xl/media/image9.png", b"\0" * (BOMB_MB << 20)),
    ):
        slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")
        if not only:
            out.append(Attack(f"bomb-{slug}.xlsx", add(base, name, body), ("F106",)))
    if "xl/sharedStrings.xml" not in parts:  # written with inline strings: nothing to lie about
        out = [a for a in out if a.name != "sst-unique-count.xlsx"]
    return [a for a in out if not only or a.name.rsplit(".", 1)[0] in only]


# --- published reports --------------------------------------------------------------------------


def docx(document: bytes, extra: list[tuple[str, bytes]] = ()) -> bytes:
    ct = (
        b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        b'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
        b'package.relationships+xml"/><Default Extension="png" ContentType="image/png"/>'
        b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    rels = (
        b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        b'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
        b"</Relationships>"
    )
    return build(
        [
            ("[Content_Types].xml", ct),
            ("_rels/.rels", rels),
            ("word/document.xml", document),
            *extra,
        ]
    )


W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def word_document(body: bytes) -> bytes:
    return (
        b'<?xml version="1.0"?><w:document ' + W + b"><w:body>" + body + b"</w:body></w:document>"
    )


def para(text: str) -> bytes:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>".encode()


def pdf(
    objects: list[bytes], root: int = 1, trailer_extra: bytes = b"", xref: bool = True
) -> bytes:
    """A PDF from numbered object bodies (1-based), with a correct cross-reference table unless
    ``xref`` is False (then every offset points nowhere)."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    start = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off if xref else 999_999_999:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root {root} 0 R ".encode() + trailer_extra
    out += f">>\nstartxref\n{start if xref else 12345}\n%%EOF\n".encode()
    return bytes(out)


def _page(contents: int | None = None, parent: int = 2) -> bytes:
    c = f" /Contents {contents} 0 R" if contents else ""
    return f"<< /Type /Page /Parent {parent} 0 R /MediaBox [0 0 595 842]{c} >>".encode()


def _stream(data: bytes, flate: bool = True) -> bytes:
    body = zlib.compress(data, 9) if flate else data
    filt = b" /Filter /FlateDecode" if flate else b""
    return b"<< /Length %d%s >>\nstream\n" % (len(body), filt) + body + b"\nendstream"


def _bomb_stream(mb: int) -> bytes:
    """A FlateDecode stream of ``mb`` MB of spaces, compressed a MB at a time."""
    z = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    body = b"".join(z.compress(chunk) for _ in range(mb)) + z.flush()
    return b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(body) + body + b"\nendstream"


def pdf_attacks() -> list[Attack]:
    catalog = b"<< /Type /Catalog /Pages 2 0 R >>"
    text = b"BT /F1 12 Tf 72 720 Td (2024) Tj ET"
    out = [
        # a page tree whose node is its own child
        Attack(
            "recursive-pages.pdf",
            pdf([catalog, b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>", _page()]),
            ("I120", "F103", "F110", "I101"),
        ),
        # ten levels of ten shared children: 10^9 pages in a few hundred bytes
        Attack(
            "billion-pages.pdf",
            pdf(
                [catalog]
                + [
                    f"<< /Type /Pages /Kids [{' '.join([f'{i + 3} 0 R'] * 10)}] /Count "
                    f"{10 ** (10 - i)} >>".encode()
                    for i in range(9)
                ]
                + [f"<< /Type /Pages /Kids [{' '.join(['12 0 R'] * 10)}] /Count 10 >>".encode()]
                + [_page(parent=11)]
            ),
            ("I120", "F106", "F103", "F110", "I101"),
        ),
        # one page whose content stream inflates to 400 MB
        Attack(
            "deflate-bomb.pdf",
            pdf(
                [catalog, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", _page(4), _bomb_stream(200)]
            ),
            ("I120", "F106", "F103", "F110", "I101"),
        ),
        Attack(
            "broken-xref.pdf",
            pdf(
                [catalog, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", _page(4), _stream(text)],
                xref=False,
            ),
            ("I120", "I101", "F103", "F110"),
        ),
        Attack(
            "truncated.pdf",
            b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog",
            ("F103", "F110", "I120", "I101"),
        ),
        Attack("empty.pdf", b"", ("F109", "F103", "F110", "I101")),
        Attack("html-as.pdf", b"<html><body>2024</body></html>", ("F103", "F110", "F102", "I101")),
    ]
    import fitz  # PyMuPDF: a genuinely encrypted PDF and a scan (an image, no text layer)

    doc = fitz.open()
    page = doc.new_page()
    page.insert_text((72, 72), "2024")
    out.append(
        Attack(
            "encrypted.pdf",
            doc.tobytes(encryption=fitz.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="o"),
            ("F104",),
        )
    )
    scan = fitz.open()
    page = scan.new_page()
    pix = fitz.Pixmap(fitz.csGRAY, fitz.IRect(0, 0, 200, 200), False)
    pix.clear_with(200)
    page.insert_image(page.rect, pixmap=pix)
    out.append(Attack("scan.pdf", scan.tobytes(), ("I120",)))
    return out


def report_attacks(report_text: str) -> list[Attack]:
    """Attacks on published reports; ``report_text`` is a real one (for the ones that must stay
    readable in odd encodings, see ``odd_encodings``)."""
    laughs = "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    nested_table = b"<w:tbl><w:tr><w:tc>" * 5000 + para("x") + b"</w:tc></w:tr></w:tbl>" * 5000
    junk = bytes(range(256)) * 64
    out = [
        Attack("empty.txt", b"", ("F109", "I101", "F106")),
        Attack("empty.html", b"", ("F109", "I101", "F106")),
        Attack("nul-bytes.txt", b"\0" * 100_000, ("I101", "F102", "F106")),
        Attack("binary.md", junk, ("I101", "F102")),
        Attack("one-huge-line.txt", ("表三" + "一" * 1_000_000).encode(), ("I101", "F106")),
        Attack(
            "one-huge-line.html", b"<p>" + "本年度".encode() * 300_000 + b"</p>", ("I101", "F106")
        ),
        Attack(
            "entities.html",
            f'<!DOCTYPE html [<!ENTITY a0 "lol">{laughs}]><html><body><p>&a9;</p></body></html>'.encode(),
            ("I101", "F107"),
        ),
        Attack("nested.html", b"<div>" * 100_000 + b"x", ("F106",)),
        Attack("nested-tables.html", b"<table><tr><td>" * 20_000 + b"x", ("F106",)),
        Attack("utf16-junk.html", "\ufeff<html>".encode("utf-16-le") + junk, ("I101",)),
        # a tag never closed by ">" and its like: a scan of the page retried from each "<"
        Attack("tags-never-closed.html", b"<html><body>" + b"<a " * 300_000, ("I101",)),
        # one text in many pieces (entities, "<" in a script, comments): each piece was
        # appended to the text so far
        Attack(
            "text-in-pieces.html",
            b"<html><head><script>"
            + b'a = "<b>";\n' * 200_000
            + b"</script></head><body><p>"
            + b"&amp; x<!---->" * 200_000
            + b"</p></body></html>",
            ("I101",),
        ),
        Attack("many-elements.html", b"<table><tr>" + b"<td>1" * 400_000, ("F106",)),
        Attack("zip-as.docx", build([("readme.txt", b"x")]), ("F103", "F102", "F105", "I101")),
        Attack("text-as.docx", report_text.encode()[:2000], ("F103", "F102")),
        Attack("truncated.docx", docx(word_document(para(report_text[:200])))[:-30], ("F103",)),
        Attack(
            "dtd.docx",
            docx(
                b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a0 "lol">'
                + laughs.encode()
                + b"]><w:document "
                + W
                + b"><w:body>"
                + para("&a9;")
                + b"</w:body></w:document>"
            ),
            ("F107", "F103"),
        ),
        Attack("nested-tables.docx", docx(word_document(nested_table)), ("F106", "F103")),
        Attack("bomb.docx", docx(padded(word_document(para("x")))), ("F106",)),
        Attack(
            "bomb-image.docx",
            docx(word_document(para("x")), [("word/media/image1.png", b"\0" * (BOMB_MB << 20))]),
            ("F106",),
        ),
        Attack(
            "duplicate-names.docx",
            build(
                [
                    *entries(docx(word_document(para("x")))),
                    ("word/document.xml", word_document(para(report_text[:100]))),
                ]
            ),
            ("F103",),
        ),
        Attack("junk.doc", junk, ("F102", "F103", "I112", "I101")),
        Attack(
            "junk.wps", bytes.fromhex("d0cf11e0a1b11ae1") + junk, ("F102", "F103", "I112", "I101")
        ),
    ]
    return out + pdf_attacks()


def odd_encodings(report_text: str, suffix: str = ".txt") -> list[tuple[str, bytes]]:
    """A real report in the encodings Windows tools save text in: each must be read as the
    UTF-8 original is (same values), not refused or garbled."""
    return [
        (f"utf16le-bom{suffix}", b"\xff\xfe" + report_text.encode("utf-16-le")),
        (f"utf16be-bom{suffix}", b"\xfe\xff" + report_text.encode("utf-16-be")),
        (f"utf16le-nobom{suffix}", report_text.encode("utf-16-le")),
        (f"utf8-bom{suffix}", b"\xef\xbb\xbf" + report_text.encode()),
        (f"gb18030{suffix}", report_text.encode("gb18030")),
    ]


# --- rosters --------------------------------------------------------------------------------------

ROSTER = "单位名称,单位代码,单位类型\n徐营镇,101,乡镇\n城关镇,102,乡镇\n县教育局,201,部门\n"


def roster_attacks(roster_xlsx: bytes) -> list[Attack]:
    junk = bytes(range(256)) * 64
    sheet = first_sheet(roster_xlsx)
    return [
        Attack("empty.csv", b"", ("U101", "U107")),
        Attack("nul-bytes.csv", b"\0" * 10_000, ("U101", "U102", "U107")),
        Attack("binary.csv", junk, ("U101", "U102")),
        Attack("one-huge-line.csv", b"a," * 4_000_000, ("U101", "U102")),
        Attack("zip-as.csv", build([("a.txt", b"x")]), ("U101", "U102")),
        Attack("empty.xlsx", b"", ("U101",)),
        Attack("csv-as.xlsx", ROSTER.encode(), ("U101",)),
        Attack("far-cell.xlsx", edit(roster_xlsx, sheet, far_cell_xml), ("U101",)),
        Attack("bomb.xlsx", edit(roster_xlsx, sheet, padded), ("U101",)),
        Attack("dtd.xlsx", edit(roster_xlsx, sheet, with_doctype), ("U101",)),
        Attack(
            "duplicate-names.xlsx",
            build(
                [(sheet, far_cell_xml(dict(entries(roster_xlsx))[sheet])), *entries(roster_xlsx)]
            ),
            ("U101",),
        ),
        Attack("encrypted.xlsx", encrypted(roster_xlsx), ("U101",)),
        Attack("truncated.xlsx", roster_xlsx[:-40], ("U101",)),
    ]


def roster_encodings() -> list[tuple[str, bytes]]:
    """The roster as Excel and Notepad save it: each must be read as the UTF-8 one is."""
    tabbed = ROSTER.replace(",", "\t")
    return [
        ("utf8-bom.csv", b"\xef\xbb\xbf" + ROSTER.encode()),
        ("gbk.csv", ROSTER.encode("gbk")),
        ("utf16le-bom.csv", b"\xff\xfe" + ROSTER.encode("utf-16-le")),
        (
            "utf16-unicode-text.txt.csv",
            b"\xff\xfe" + tabbed.encode("utf-16-le"),
        ),  # Excel "Unicode text"
        ("utf16le-nobom.csv", ROSTER.encode("utf-16-le")),
        ("utf16be-bom.csv", b"\xfe\xff" + ROSTER.encode("utf-16-be")),
    ]
