"""The sheet extent intake works out before python-calamine allocates a sheet's grid densely
(``_xlsx_extent``, ``_plain_bound``). It is checked against calamine itself: on generated sheets
(places named or not, quoted either way, in either case, zero-padded, spaces around "=", a ">"
inside another attribute, several r=, prefixes, comments and CDATA holding fake cells, tags out
of place) the extent must never be smaller than the range calamine really reads, and must equal
it when the sheet is well formed. Each way a scan can miss a far cell is also a real workbook
checked end to end: refused (F108), never an abort."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from tests import hostile
from tests import workbooks as wb
from workbook_tools import intake


def _letters(col: int) -> str:
    out = ""
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


def _book(sheet_xml: bytes) -> bytes:
    """A minimal workbook of one sheet (whose sheetData is ``sheet_xml``), stored."""
    parts = {
        "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": b'<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="s" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + sheet_xml
        + b"</worksheet>",
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return out.getvalue()


def calamine_extent(sheet_xml: bytes) -> tuple[int, int] | None:
    """The last row and column (1-based) of the range calamine reads, or None when it refuses
    the sheet (then it allocates nothing). Only small places are generated: this is safe."""
    try:
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(_book(sheet_xml))).get_sheet_by_name("s")
    except Exception:
        return None
    rows = sheet.to_python(skip_empty_area=False)
    if not rows or not any(v != "" for row in rows for v in row):
        return 0, 0
    end = sheet.end
    return end[0] + 1, end[1] + 1


def _ref(row: int, col: int, style: int) -> bytes:
    letters = _letters(col)
    text = [
        f"{letters}{row}",
        f"{letters.lower()}{row}",
        f"{letters}{row:05d}",
        f"{letters}{row:012d}",
    ][style]
    return text.encode()


@st.composite
def _cell(draw, row: int, col: int) -> bytes:
    """A cell tag that names its place or not, with a value or none."""
    named = draw(st.booleans())
    attrs = []
    if draw(st.booleans()):
        attrs.append(
            draw(st.sampled_from([b's="1"', b'foo="a>b"', b"t='n'", b'x:r="A1"', b'xr="Q9"']))
        )
    if named:
        ref = _ref(row, col, draw(st.integers(0, 3)))
        quote = draw(st.sampled_from([b'"', b"'"]))
        eq = draw(st.sampled_from([b"=", b" = ", b"\t=\n"]))
        attrs.insert(draw(st.integers(0, len(attrs))), b"r" + eq + quote + ref + quote)
    name = draw(st.sampled_from([b"c", b"x:c"]))
    sep = draw(st.sampled_from([b" ", b"\n", b"\t"]))
    tag = b"<" + name + b"".join(sep + a for a in attrs)
    if draw(st.integers(0, 4)) == 0:
        return tag + b"/>"
    return tag + b"><v>1</v></" + name + b">"


@st.composite
def _sheet_data(draw) -> bytes:
    """Well-formed sheet data: rows that name their number or not, cells as above, and comments,
    CDATA or processing instructions holding fake far cells between them."""
    out = [b"<sheetData>"]
    row = 0
    junk = [
        b"<!-- <c r='XFD1048576'><v>1</v></c> -->",
        b'<?pi <c r="ZZ9999"> ?>',
    ]
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.booleans()):
            row = draw(st.integers(1, 40))
            out.append(b'<row r="%d">' % row)
        else:
            row += 1
            out.append(b"<row>")
        col = 0
        for _ in range(draw(st.integers(0, 5))):
            col = draw(st.integers(col + 1, col + 4))
            out.append(draw(_cell(row, col)))
            if draw(st.integers(0, 6)) == 0:
                out.append(draw(st.sampled_from(junk)))
        out.append(b"</row>")
    out.append(b"</sheetData>")
    return b"".join(out)


@settings(max_examples=150, deadline=None)
@given(_sheet_data())
def test_well_formed_sheets_give_what_calamine_reads(xml):
    real = calamine_extent(xml)
    if real is None:
        return
    assert intake._xlsx_extent(xml) == real
    bound = intake._plain_bound(xml)
    if bound is not None:
        assert real[0] <= bound[0] and real[1] <= bound[1]


_PIECES = st.sampled_from(
    [
        b'<row r="1">',
        b'<row r="40">',
        b"<row r='3'>",
        b"<row>",
        b"<row/>",
        b"</row>",
        b'<c r="A1">',
        b'<c r="C40" t="s">',
        b"<c s='1' r='AA7'>",
        b'<c r="B2" r="AD30">',
        b'<c foo="x>y" r="K12">',
        b'<c r = "d9">',
        b'<c r="E0007">',
        b"<c>",
        b"<c/>",
        b'<c r="H3"/>',
        b'<x:c r="D12">',
        b"<x:c>",
        b"</x:c>",
        b"<v>1</v>",
        b"<v>",
        b"</v>",
        b"</c>",
        b"<is><t>x</t></is>",
        b"<!-- <c r='AH50'> -->",
        b"<![CDATA[<c r='AH50'>]]>",
        b'<col min="1"/>',
        b"<f>A1</f>",
        b'"',
        b"'",
        b" ",
        b">",
        b"<",
        b"</sheetData>",
        b"<sheetData>",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=30))
def test_any_sheet_is_bounded_above_what_calamine_reads(pieces):
    """Tags out of place, unclosed, inside a cell: whatever calamine makes of it, the extent is
    never smaller."""
    xml = b"<sheetData>" + b"".join(pieces) + b"</sheetData>"
    real = calamine_extent(xml)
    if real is None:
        return
    rows, cols = intake._xlsx_extent(xml)
    assert rows >= real[0] and cols >= real[1], (rows, cols, real)
    bound = intake._plain_bound(xml)
    if bound is not None:
        assert real[0] <= bound[0] and real[1] <= bound[1]


def test_rows_out_of_order_keep_the_far_row():
    xml = (
        b'<sheetData><row r="90"><c r="C90"><v>1</v></c></row>'
        b'<row r="2"><c r="A2"><v>2</v></c><c r="AB2" s="1"/></row></sheetData>'
    )
    assert intake._xlsx_extent(xml) == (90, 3)


def test_plain_cells_as_writers_write_them():
    plain = (
        b'<sheetData><row r="1"><c r="A1" s="1" t="s"><v>0</v></c><c r="B1" cm="1"><f/><v>1</v>'
        b'</c><c r="C1" s="2"/><c r="Z9999" vm="1" ph="1"><v>1</v></c></row></sheetData>'
    )
    assert intake._plain_bound(plain) == intake._PLAIN_BOUND
    for odd in (b'<c r="AA1">', b'<c r="A10000">', b'<c r="A1" rr="1" r="B2">', b'<c r="A01">'):
        assert intake._plain_bound(plain.replace(b'<c r="C1" s="2"/>', odd + b"</c>")) is None


def test_cells_without_r_follow_the_row_and_the_cell_before():
    xml = (
        b'<sheetData><row r="7"><c r="A7"><v>1</v></c><c t="s"><v>0</v></c><c\n><v>2</v></c>'
        b"</row><row><c><v>3</v></c></row></sheetData>"
    )
    assert intake._xlsx_extent(xml) == (8, 3)
    assert intake._plain_bound(xml) is None


def test_filled_template_sheets_are_plain_and_within_the_bound(spec21):
    with zipfile.ZipFile(io.BytesIO(wb.render(spec21))) as zf:
        parts = [n for n in zf.namelist() if n.startswith("xl/worksheets/sheet")]
        assert parts
        for part in parts:
            xml = zf.read(part)
            assert intake._plain_bound(xml) == intake._PLAIN_BOUND
            rows, cols = intake._xlsx_extent(xml)
            assert 0 < rows <= intake._PLAIN_BOUND[0] and 0 < cols <= intake._PLAIN_BOUND[1]
            prefixed = re.sub(rb"<(/?)(\w+)([\s>/])", rb"<\1x:\2\3", xml)
            assert b"<x:c " in prefixed
            assert intake._plain_bound(prefixed) is None
            assert intake._xlsx_extent(prefixed) == (rows, cols)


# Each way a scan of the XML could miss a cell calamine places at XFD1048576 (512 GiB).
FAR_CELLS = {
    "single-quoted": b"<c r='XFD1048576'><v>1</v></c>",
    "gt-in-attribute": b'<c foo="a>b" r="XFD1048576"><v>1</v></c>',
    "lowercase": b'<c r="xfd1048576"><v>1</v></c>',
    "zero-padded": b'<c r="XFD000001048576"><v>1</v></c>',
    "spaces-around-eq": b'<c r = "XFD1048576"><v>1</v></c>',
    "second-r": b'<c r="A2" r="XFD1048576"><v>1</v></c>',
    "prefixed": b'<x:c r="XFD1048576"><v>1</v></x:c>',
    "row-then-unnamed": b'</row><row r="1048576"><c r="A3"><v>1</v></c><c><v>1</v></c>',
    "row-inside-a-value": (
        b'</row><row r="1048576"><c r="A3"><v>1<row r="1"/></v></c><c><v>1</v></c>'
    ),
}


@pytest.mark.parametrize("how", sorted(FAR_CELLS))
def test_a_far_cell_however_written_is_refused(tmp_path, spec21, how):
    """Each of these made python-calamine allocate 512 GiB (or a row's worth of a million rows)
    and abort the process: now refused from the XML."""
    data = wb.render(spec21)
    part = wb.sheet_part(data, spec21.tables[0].sheet)

    def change(xml: bytes) -> bytes:
        xml = re.sub(rb"<dimension[^>]*/>", b"", xml)
        at = xml.index(b"</row>", xml.index(b"<sheetData>"))
        return xml[:at] + FAR_CELLS[how] + xml[at:]

    path = wb.write(tmp_path, wb.edit_part(data, part, change), "far.xlsx")
    result = hostile.wbtools("check", path)
    hostile.assert_clean(result, (2,), "F108")


def test_protection_is_still_seen(tmp_path, spec21):
    path = wb.write(tmp_path, wb.render(spec21))
    pkg = intake.open_package(path)
    try:
        seen = {name: pkg.protected(name) for name in pkg.sheet_parts}
    finally:
        pkg.close()
    with zipfile.ZipFile(path) as zf:
        truth = {
            name: bool(re.search(rb'<sheetProtection\b[^>]*\bsheet="(1|true)"', zf.read(part)))
            for name, part in pkg.sheet_parts.items()
        }
    assert seen == truth
    assert any(truth.values())  # the template locks sheets: a real protection is seen


_PROTECTION_PIECES = st.sampled_from(
    [
        b"<sheetProtection",
        b"<x:sheetProtection",
        b"<ab_1:sheetProtection",
        b' sheet="1"',
        b' sheet="true"',
        b' sheet="0"',
        b' objects="1"',
        b"sheetProtection",
        b"/>",
        b">",
        b"<",
        b'<c r="A1">',
        b":",
        b" ",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PROTECTION_PIECES, max_size=20))
def test_protection_search_from_the_name_equals_the_full_search(pieces):
    xml = b"".join(pieces)
    assert intake._protected(xml) == bool(intake._SHEET_PROTECTION.search(xml))


_WORKBOOK_PIECES = st.sampled_from(
    [
        b"<workbookProtection",
        b"<x:workbookProtection",
        b"workbookProtection",
        b' lockStructure="1"',
        b"<sheets>",
        b'<sheet name="a" r:id="rId1"/>',
        b'<x:sheet name="b" r:id="rId2">',
        b"<sheet",
        b"<sheetView/>",
        b"<sheets/>",
        b":sheet",
        b"/>",
        b">",
        b"<",
        b":",
        b" ",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_WORKBOOK_PIECES, max_size=20))
def test_workbook_protection_and_sheet_tags_as_the_full_patterns_find_them(pieces):
    xml = b"".join(pieces)
    assert intake._found_from_name(xml, b"workbookProtection", intake._WORKBOOK_PROTECTION) == bool(
        intake._WORKBOOK_PROTECTION.search(xml)
    )
    if b":sheet" not in xml:
        assert intake._PLAIN_SHEET_ENTRY.findall(xml) == intake._SHEET_ENTRY.findall(xml)


_ODD_CELL_BACKTRACKING = re.compile(  # _ODD_CELL as first written, without possessive parts
    rb'<c(?:[\t\n\r/>]| (?!r="[A-Z][1-9][0-9]{0,3}"(?: (?:[a-qs-z]|[a-z]{2,3})="[^"]*")*/?>))'
)
_CELL_BITS = st.sampled_from(
    [
        *(b"<c", b" ", b"\t", b'r="', b"A", b"Z", b"a", b"1", b"0", b"9", b'"', b"'", b"=", b">"),
        *(b"/>", b"/", b" s=", b" t=", b" r=", b" cm=", b" rs=", b" abcd=", b" ph=", b"<c r="),
        *(b'<c r="A1"', b'<c r="B12345"', b' s="1"', b' t="s"', b' vm=""', b"<v>1</v></c>"),
    ]
)


@settings(max_examples=600, deadline=None)
@given(st.lists(_CELL_BITS, max_size=24))
def test_possessive_odd_cell_pattern_finds_what_the_backtracking_one_finds(bits):
    xml = b"".join(bits)
    old, new = _ODD_CELL_BACKTRACKING.search(xml), intake._ODD_CELL.search(xml)
    assert (old and old.span()) == (new and new.span())
