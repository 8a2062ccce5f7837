"""The sheet extent pass of intake (``_xlsx_extent``): its fast path (unprefixed cells, one
literal-prefixed pattern) must give exactly what the general scan gives, and fall back to that scan
for prefixed elements, cells without ``r=`` and rows out of order."""

from __future__ import annotations

import io
import re
import zipfile

from hypothesis import given, settings
from hypothesis import strategies as st

from tests import workbooks as wb
from workbook_tools import intake

# The general scan, as intake had it before the fast path: prefixed patterns for every cell.
_OPEN = re.compile(rb"<(?:\w+:)?c\b[^>]*(?<!/)>")
_REF = re.compile(rb"<(?:\w+:)?c\b[^>]*?\sr=\"([A-Z]{1,4})([0-9]{1,9})\"[^>]*(?<!/)>")


def general_extent(xml: bytes) -> tuple[int, int]:
    refs = _REF.findall(xml)
    if len(refs) == len(_OPEN.findall(xml)):
        if not refs:
            return 0, 0
        letters = max((c for c, _ in refs), key=lambda c: (len(c), c))
        return max(int(r) for _, r in refs), intake._col_number(letters)
    rows = cols = row = col = 0
    for m in intake._ROW_OR_CELL.finditer(xml):
        ref = intake._R_ATTR.search(m.group(2))
        if m.group(1) == b"row":
            row, col = (int(ref.group(2)) if ref else row + 1), 0
            continue
        if ref and ref.group(1):
            col, row = intake._col_number(ref.group(1)), int(ref.group(2))
        else:
            col += 1
        if not m.group(3):
            rows, cols = max(rows, max(row, 1)), max(cols, col)
    return rows, cols


def test_rows_out_of_order_keep_the_far_row():
    xml = (
        b'<sheetData><row r="90"><c r="C90"><v>1</v></c></row>'
        b'<row r="2"><c r="A2"><v>2</v></c><c r="AB2" s="1"/></row></sheetData>'
    )
    assert intake._xlsx_extent(xml) == (90, 3)


def test_prefixed_cells_are_counted():
    xml = (
        b'<x:worksheet xmlns:x="urn:x"><x:sheetData><x:row r="1"><x:c r="A1"><x:v>1</x:v></x:c>'
        b'</x:row><x:row r="200000"><x:c r="ZZ200000" t="s"><x:v>0</x:v></x:c></x:row>'
        b"</x:sheetData></x:worksheet>"
    )
    assert intake._xlsx_extent(xml) == (200000, 702)
    # Prefixed and plain cells mixed, one without r=: the walk places it after its neighbour.
    mixed = b'<row r="4"><c r="B4"><v>1</v></c><x:c><v>2</v></x:c><c r="A5" s="1"/></row>'
    assert intake._xlsx_extent(mixed) == (4, 3)


def test_cells_without_r_fall_back_to_the_walk():
    xml = b'<row r="7"><c r="A7"><v>1</v></c><c t="s"><v>0</v></c><c\n><v>2</v></c></row>'
    assert intake._xlsx_extent(xml) == (7, 3)
    # An invalid r= (lowercase) counts as none, as before.
    assert intake._xlsx_extent(b'<row r="2"><c r="b2"><v>1</v></c></row>') == (2, 1)


def test_r_not_first_and_self_closing_blanks():
    xml = (
        b'<row r="3"><c s="1" r="D3" t="n"><v>1</v></c><c r="XFD3" s="2"/><c r="E3" s="1" />'
        b'<cols/><col min="1"/><c r="B9" r="Z9"><v>1</v></c></row>'
    )
    assert intake._xlsx_extent(xml) == (9, 4)


def test_filled_template_sheets_give_the_general_extent(spec21):
    with zipfile.ZipFile(io.BytesIO(wb.render(spec21))) as zf:
        parts = [n for n in zf.namelist() if n.startswith("xl/worksheets/sheet")]
        assert parts
        for part in parts:
            xml = zf.read(part)
            assert intake._xlsx_extent(xml) == general_extent(xml)
            prefixed = re.sub(rb"<(/?)(\w+)([\s>/])", rb"<\1x:\2\3", xml)
            assert b"<x:c " in prefixed
            assert intake._xlsx_extent(prefixed) == general_extent(xml)


_PIECES = st.sampled_from(
    [
        b'<row r="1">',
        b'<row r="40">',
        b'<row r="3" spans="1:4">',
        b"<row>",
        b"</row>",
        b'<c r="A1">',
        b'<c r="C40" t="s">',
        b'<c s="1" r="AA7">',
        b'<c r="XFD2" s="3"/>',
        b"<c>",
        b"<c/>",
        b'<c r="b9">',
        b'<x:c r="D12">',
        b"<x:c>",
        b'<x:c r="E5"/>',
        b'<c\tr="F6">',
        b'<c r="G7" r="H8">',
        b'<col min="1"/>',
        b'<c r="B12" s="1" t="n">',
        b'<c r="Z003"/>',
        b'<c r="Q00017">',
        b'<c r=""/>',
        b'<c.x r="A9">',
        b'<c-y r="K99"/>',
        b'"',
        b"<cols>",
        b"<v>1</v>",
        b"</c>",
        b"</x:c>",
        b"a:c",
        b" ",
        b"/",
        b">",
        b"<",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=30))
def test_fast_path_equals_the_general_scan(pieces):
    xml = b"".join(pieces)
    assert intake._xlsx_extent(xml) == general_extent(xml)


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
