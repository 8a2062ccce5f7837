"""The package python-calamine reads (``Package.calamine_bytes``): the sheets a report is read from
are inflated once by intake, vetted, and handed to calamine stored as vetted (formula text
emptied), workbook.xml stored without its defined names when they are written plainly; every
other part is handed over as packed. Calamine must read exactly the vetted bytes
and the same values as from the file itself; a damaged part keeps the finding it had."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from tests import workbooks as wb
from workbook_tools import intake, layout, reader

ROOT = Path(__file__).resolve().parent.parent


def _wanted(spec) -> list[str]:
    return [layout.META_SHEET, layout.INFO_SHEET, layout.NARRATIVE_SHEET] + [
        t.sheet for t in spec.tables
    ]


def _raw(data: bytes, info: zipfile.ZipInfo) -> bytes:
    off = info.header_offset
    name_len, extra_len = struct.unpack_from("<HH", data, off + 26)
    start = off + 30 + name_len + extra_len
    return data[start : start + info.compress_size]


def _book(data: bytes):
    return CalamineWorkbook.from_filelike(io.BytesIO(data))


def _grids(data: bytes) -> dict[str, list]:
    book = _book(data)
    return {n: book.get_sheet_by_name(n).to_python(skip_empty_area=False) for n in book.sheet_names}


@pytest.fixture(scope="module")
def filled(spec21, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("view")
    return wb.write(folder, wb.render(spec21, wb.base_values(spec21)))


def test_calamine_is_handed_the_vetted_sheets_and_the_rest_as_packed(filled, spec21):
    original = filled.read_bytes()
    pkg = intake.open_package(filled)
    try:
        view = pkg.calamine_bytes(_wanted(spec21))
        with zipfile.ZipFile(io.BytesIO(view)) as zv, zipfile.ZipFile(filled) as zo:
            assert zv.testzip() is None  # every CRC and size right
            assert [i.filename for i in zv.infolist()] == [i.filename for i in zo.infolist()]
            prepared = {pkg.sheet_parts[n] for n in _wanted(spec21) if n in pkg.sheet_parts}
            assert len(prepared) == 6
            for name, part in pkg.sheet_parts.items():
                info = zv.getinfo(part)
                if part in prepared:
                    facts = pkg.sheet(name)
                    assert info.compress_type == zipfile.ZIP_STORED
                    assert zv.read(part) == facts.xml  # calamine parses what intake vetted
                    assert b"<f>" not in facts.xml and zo.read(part).count(b"<f>") == (
                        facts.xml.count(b"<f/>") - zo.read(part).count(b"<f/>")
                    )
            for info in zo.infolist():
                if info.filename == "xl/workbook.xml":  # stored, without its defined names
                    assert zv.getinfo(info.filename).compress_type == zipfile.ZIP_STORED
                    assert b"<definedName" in zo.read(info) and b"<definedName" not in zv.read(
                        info.filename
                    )
                elif info.filename not in prepared:
                    assert _raw(view, zv.getinfo(info.filename)) == _raw(original, info)
        assert _grids(view) == _grids(original)
        assert _book(view).sheet_names == _book(original).sheet_names
    finally:
        pkg.close()


def test_the_reader_hands_calamine_the_view(filled, spec21, monkeypatch):
    handed = []
    real = intake.calamine_book

    def spy(path, data=b""):
        handed.append(data)
        return real(path, data)

    monkeypatch.setattr(intake, "calamine_book", spy)
    filing = reader.read(filled, spec21)
    assert filing.readable
    (data,) = handed
    assert data != filled.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zv:
        stored = {i.filename for i in zv.infolist() if i.compress_type == zipfile.ZIP_STORED}
    assert {f"xl/worksheets/sheet{i}.xml" for i in (2, 3, 4, 5, 6, 8)} <= stored


def _formula_facts(path: Path, spec, prepare: bool) -> tuple:
    pkg = intake.open_package(path)
    try:
        if prepare:
            pkg.calamine_bytes(_wanted(spec))
        out = []
        for name in sorted(pkg.sheet_parts):
            facts = pkg.sheet(name)
            if facts is None:
                continue
            cells = [f"{c}{r}" for r in range(1, 60) for c in "ABCDEFGHIJKLMN"]
            out.append((name, facts.rows, facts.cols, facts.protected, pkg.formulas(name, cells)))
        return tuple(out)
    finally:
        pkg.close()


def test_the_vetted_facts_are_those_of_the_file(filled, spec21):
    """Extent, protection and which cells hold formulas are the same whether the sheet was
    prepared for calamine (formula text emptied) or read from the package as it is."""
    prepared = _formula_facts(filled, spec21, True)
    assert prepared == _formula_facts(filled, spec21, False)
    assert any(v for *_, formulas in prepared for v in formulas.values())


@pytest.mark.parametrize(
    "sample", sorted(p.name for p in (ROOT / "samples").rglob("*.xlsx")) or ["(none)"]
)
def test_samples_read_the_same_through_the_view(sample, spec21):
    if sample == "(none)":
        pytest.skip("no sample workbooks")
    path = next((ROOT / "samples").rglob(sample))
    pkg = intake.open_package(path)
    try:
        if not pkg.ok or pkg.kind != "xlsx":
            pytest.skip("not a readable xlsx")
        assert _grids(pkg.calamine_bytes(_wanted(spec21))) == _grids(path.read_bytes())
    finally:
        pkg.close()


@pytest.mark.parametrize(
    "xml",
    [
        b'<c r="A1"><f>SUM(A2:A3)</f><v>3</v></c>',
        b'<c r="A1" t="str"><f>IF(A2&lt;1,"a","b")</f><v>a</v></c><c r="B1"><f>1+1</f></c>',
        # Attributes kept: Excel's shared formulas, LibreOffice's aca="false".
        b'<c r="A1"><f t="shared" ref="A1:A3" si="0">B1</f><v>1</v></c><c r="A2"><f t="shared"'
        b' si="0"/><v>2</v></c>',
        b'<c r="A1"><f aca="false">IF(B1&gt;0,"&gt;","")</f><v>1</v></c>',
    ],
)
def test_formula_text_is_emptied(xml):
    out = intake._empty_formulas(b'<?xml version="1.0"?><sheetData>' + xml + b"</sheetData>")
    assert b"</f>" not in out
    assert out.count(b"<f") == xml.count(b"<f") and out.count(b"/>") == (
        xml.count(b"/>") + xml.count(b"</f>")
    )
    emptied = intake._ANY_FORMULA_TEXT.sub(rb"<f\1/>", xml)
    assert out == b'<?xml version="1.0"?><sheetData>' + emptied + b"</sheetData>"


def test_a_part_with_plain_formulas_has_those_emptied():
    """A part written with ``<f>`` (and a shared formula or two, as Excel writes) has its plain
    formulas emptied; the others keep their text (calamine reads them alike either way)."""
    xml = (
        b'<?xml version="1.0"?><sheetData><c r="A1"><f>SUM(B1:B2)</f><v>3</v></c>'
        b'<c r="A2"><f t="shared" ref="A2:A3" si="0">B2</f><v>1</v></c></sheetData>'
    )
    assert intake._empty_formulas(xml) == xml.replace(b"<f>SUM(B1:B2)</f>", b"<f/>")


@pytest.mark.parametrize(
    "xml",
    [
        # Inside CDATA, a comment or a processing instruction "<f>" is text, not an element.
        b'<c r="A1" t="inlineStr"><is><t><![CDATA[a<f>b</f>c]]></t></is></c>',
        b'<c r="A1"><f>A<!-- <f> -->B</f><v>1</v></c>',
        b'<c r="A1"><f>A<?pi <f>?>B</f><v>1</v></c>',
        # Prefixed elements and attributes not written plainly are left as they are.
        b'<x:c r="A1"><x:f>B1</x:f><x:v>1</x:v></x:c>',
        b"<c r=\"A1\"><f t='shared'>B1</f><v>1</v></c>",
        b'<c r="A1"><f t="a>b">B1</f><v>1</v></c>',
        b'<c r="A1"><f t="shared" >B1</f><v>1</v></c>',
    ],
)
def test_formula_text_is_kept_where_it_might_not_be_a_formula(xml):
    whole = b'<?xml version="1.0"?><sheetData>' + xml + b"</sheetData>"
    kept = intake._empty_formulas(whole)
    assert kept == whole


def _patch_crc(data: bytes, part: str, crc: int) -> bytes:
    """``data`` with ``part``'s CRC changed in its local header and in the central directory."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(part)
    struct.pack_into("<I", out, info.header_offset + 14, crc)
    name = part.encode()
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_len] == name:
            struct.pack_into("<I", out, at + 16, crc)
        at = data.find(b"PK\x01\x02", at + 4)
    return bytes(out)


def test_a_part_whose_crc_is_wrong_is_still_f103(filled, spec21, tmp_path):
    data = filled.read_bytes()
    with zipfile.ZipFile(filled) as zf:
        real = zf.getinfo("xl/worksheets/sheet3.xml").CRC
    bad = tmp_path / "bad-crc.xlsx"
    bad.write_bytes(_patch_crc(data, "xl/worksheets/sheet3.xml", real ^ 0xFFFF))
    filing = reader.read(bad, spec21)
    assert not filing.readable
    codes = [(f.code, str(f.args.get("detail", ""))) for f in filing.findings]
    assert any(c == "F103" and "Bad CRC-32" in d for c, d in codes), codes


def test_a_local_header_that_disagrees_leaves_the_package_as_it_is(filled, spec21, tmp_path):
    """An entry whose local header is not where the directory says: calamine gets the file's
    own bytes (and finds what it finds), intake reads the parts through zipfile."""
    data = bytearray(filled.read_bytes())
    with zipfile.ZipFile(filled) as zf:
        info = zf.getinfo("docProps/app.xml")
    data[info.header_offset : info.header_offset + 4] = b"PK\x00\x00"
    path = tmp_path / "odd-header.xlsx"
    path.write_bytes(bytes(data))
    pkg = intake.open_package(path)
    try:
        if pkg.ok:
            assert pkg.calamine_bytes(_wanted(spec21)) == pkg.data
    finally:
        pkg.close()
    assert zlib.crc32(path.read_bytes()) == zlib.crc32(bytes(data))  # input not modified


def test_a_file_is_read_up_to_its_size_and_on_if_it_grew():
    """intake reads the size the file had (plus one byte), not its 50 MB limit; a file that grew
    since is read on, never beyond the limit."""
    data = bytes(range(256)) * 4
    assert intake._read_up_to(io.BytesIO(data), len(data), 10_000) == data
    assert intake._read_up_to(io.BytesIO(data), 100, 10_000) == data  # grew from 100 bytes
    assert intake._read_up_to(io.BytesIO(data), 100, 501) == data[:501]
    assert intake._read_up_to(io.BytesIO(data), 5000, 501) == data[:501]


_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_SHEETS = b'<sheets><sheet name="A" sheetId="1" r:id="rId1"/></sheets>'
_NAMES = b'<definedNames><definedName name="x" localSheetId="0">A!$B$2</definedName></definedNames>'
_ROOT = (
    b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
)


@pytest.mark.parametrize(
    "name, workbook",
    [
        ("an unknown entity", _NAMES.replace(b"A!$B$2", b"&x;")),
        ("a character reference", _NAMES.replace(b"A!$B$2", b"&#39;A&#39;!$B$2")),
        ("a bare ampersand", _NAMES.replace(b"A!$B$2", b"A&B")),
        ("an entity unclosed", _NAMES.replace(b"A!$B$2", b"&apos")),
        ("an entity in a value", _NAMES.replace(b'name="x"', b'name="&x;"')),
        ("markup inside", _NAMES.replace(b"A!$B$2", b'<sheet name="B" sheetId="2" r:id="rId1"/>')),
        ("not UTF-8", _NAMES.replace(b"A!$B$2", b"\xff")),
        ("an empty one", _NAMES.replace(b'">A!$B$2</definedName>', b'"/>')),
        ("written with spaces", _NAMES.replace(b"</definedName>", b"</definedName>\n")),
        ("single quotes", _NAMES.replace(b'name="x"', b"name='x'")),
        ("a > in a value before", b"*"),
        ("another encoding", b"GBK"),
    ],
)
def test_defined_names_are_cut_only_when_written_plainly(name, workbook):
    """workbook.xml is handed to calamine without its defined names (most of the part, and
    nothing the readers ask for) only when calamine could read nothing else differently: plain
    text and values (no entity, no markup inside), valid UTF-8, after markup an XML reader ends
    where these patterns end it, UTF-8 declared. Anything else is handed over as it is."""
    sheets, declaration = _SHEETS, _DECLARATION
    names = workbook
    if workbook == b"*":
        sheets, names = _SHEETS.replace(b'sheetId="1"', b'sheetId="1" x="a>b"'), _NAMES
    if workbook == b"GBK":
        declaration, names = _DECLARATION.replace(b"UTF-8", b"GBK"), _NAMES
    plain = _DECLARATION + _ROOT + _SHEETS + _NAMES + b"</workbook>"
    assert intake._without_defined_names(plain) == _DECLARATION + _ROOT + _SHEETS + b"</workbook>"
    assert (
        intake._without_defined_names(declaration + _ROOT + sheets + names + b"</workbook>") is None
    )


@pytest.mark.parametrize(
    "names",
    [
        _NAMES.replace(b"A!$B$2", b"&apos;A B&apos;!$B$2"),  # as LibreOffice writes them
        _NAMES.replace(b"A!$B$2", b"A!$B$2&amp;&lt;&gt;&quot;\"'"),
        _NAMES.replace(b'name="x"', b'name="x&amp;&quot;y" comment="&lt;&gt;&apos;"'),
    ],
)
def test_defined_names_with_predefined_entities_are_cut(names):
    """The five entities XML predefines are unescaped without fail: names holding them (as
    LibreOffice writes a quoted sheet name) are cut like plain ones."""
    whole = _DECLARATION + _ROOT + _SHEETS + names + b"</workbook>"
    assert intake._without_defined_names(whole) == _DECLARATION + _ROOT + _SHEETS + b"</workbook>"


def _with_workbook(path: Path, target: Path, edit) -> Path:
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            out.writestr(info, edit(data) if info.filename == "xl/workbook.xml" else data)
    return target


def test_a_workbook_whose_names_hold_entities_reads_alike(filled, tmp_path, spec21):
    """Defined names quoted as LibreOffice quotes them (``&apos;sheet&apos;!$A$1``): the file
    handed to calamine without them reads the same sheets and values as the file itself."""

    def quoted(workbook: bytes) -> bytes:
        start, end = workbook.index(b"<definedNames>"), workbook.index(b"</definedNames>")
        names = (
            workbook[start:end]
            .replace(b"'", b"&apos;")
            .replace(b"<definedName ", b'<definedName function="false" ')
        )
        assert b"&apos;" in names
        return workbook[:start] + names + workbook[end:]

    path = _with_workbook(filled, tmp_path / "quoted.xlsx", quoted)
    pkg = intake.open_package(path)
    try:
        assert pkg.ok and pkg._calamine_workbook is not None
        view = pkg.calamine_bytes(_wanted(spec21))
    finally:
        pkg.close()
    mine, theirs = _book(view), _book(path.read_bytes())
    assert mine.sheet_names == theirs.sheet_names
    assert [(s.name, s.visible, s.typ) for s in mine.sheets_metadata] == [
        (s.name, s.visible, s.typ) for s in theirs.sheets_metadata
    ]
    assert _grids(view) == _grids(path.read_bytes())
    assert reader.read(path, spec21).values == reader.read(filled, spec21).values


def test_a_workbook_without_its_defined_names_reads_alike(filled, tmp_path, spec21):
    """The file handed to calamine with workbook.xml cut reads the same sheets, in the same
    order and visibility, with the same values as the file itself, which keeps its names."""
    original = filled.read_bytes()
    pkg = intake.open_package(filled)
    try:
        assert pkg._calamine_workbook is not None
        view = pkg.calamine_bytes(_wanted(spec21))
    finally:
        pkg.close()
    mine, theirs = _book(view), _book(original)
    with zipfile.ZipFile(io.BytesIO(view)) as zv:  # (python-calamine does not show names)
        assert b"<definedName" not in zv.read("xl/workbook.xml")
    assert mine.sheet_names == theirs.sheet_names
    assert [(s.name, s.visible, s.typ) for s in mine.sheets_metadata] == [
        (s.name, s.visible, s.typ) for s in theirs.sheets_metadata
    ]
    assert _grids(view) == _grids(original)


@given(
    st.lists(
        st.sampled_from(
            [
                b"<f>",
                b"</f>",
                b"<f/>",
                b'<f t="shared" si="0">',
                b'<f aca="false">',
                b'<f t="shared"/>',
                b"<f x='1'>",
                b"<f ",
                b'"',
                b"=",
                b"<",
                b">",
                b"f",
                b"/",
                b"SUM(A1)",
                b"<v>1</v>",
                b"<c>",
                b" ",
            ]
        ),
        max_size=40,
    )
)
@settings(max_examples=400, deadline=None)
def test_formula_text_is_emptied_as_the_pattern_empties_it(pieces):
    """The search that skips formula text empties exactly what ``_FORMULA_TEXT`` matches, or
    in a part with no match, what ``_ANY_FORMULA_TEXT`` (attributes too) matches."""
    xml = b"".join(pieces)
    if intake._FORMULA_TEXT.search(xml):
        assert intake._empty_formulas(xml) == intake._FORMULA_TEXT.sub(b"<f/>", xml)
    else:
        assert intake._empty_formulas(xml) == intake._ANY_FORMULA_TEXT.sub(rb"<f\1/>", xml)
