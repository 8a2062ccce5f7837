"""What intake remembers between files (the parts of one template are packed alike in every
file): the packed beginnings of parts whose prolog was found plain (``_PLAIN_STARTS``) and the
sheet map read from workbook.xml and its rels (``_SHEET_MAPS``). Whatever was opened before, a
file must be judged exactly as it is judged with nothing remembered."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import workbooks as wb
from workbook_tools import intake

TABLE_2 = "表二 主动公开".encode()
TABLE_3 = "表三 依申请公开".encode()


def _forget() -> None:
    intake._PLAIN_STARTS.clear()
    intake._SHEET_MAPS.clear()
    intake._sheet_map.cache_clear()


def _opened(path) -> tuple:
    pkg = intake.open_package(path)
    try:
        return (
            [(f.code, f.args) for f in pkg.findings],
            pkg.kind,
            pkg.structure_locked,
            dict(pkg.sheet_parts),
            pkg.saved_at,
        )
    finally:
        pkg.close()


def _stored(data: bytes) -> bytes:
    """Every part stored, not deflated."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info), zipfile.ZIP_STORED)
    return out.getvalue()


def _swap_targets(rels: bytes) -> bytes:
    """表二's and 表三's parts swapped in the rels (workbook.xml unchanged)."""
    a, b = re.findall(rb'Target="(worksheets/sheet\d+\.xml)"', rels)[2:4]
    return rels.replace(a, b"@").replace(b, a).replace(b"@", b)


def _variants(data: bytes) -> dict[str, bytes]:
    doctype = b'<!DOCTYPE x [<!ENTITY a "b">]>'
    return {
        "clean": data,
        "stored": _stored(data),
        "dtd-in-styles": wb.edit_part(
            data, "xl/styles.xml", lambda x: x.replace(b"?>", b"?>" + doctype, 1)
        ),
        "dtd-in-rels": wb.edit_part(
            data, "xl/_rels/workbook.xml.rels", lambda x: x.replace(b"?>", b"?>" + doctype, 1)
        ),
        "dtd-in-workbook": wb.edit_part(
            data, "xl/workbook.xml", lambda x: x.replace(b"?>", b"?>" + doctype, 1)
        ),
        "styles-changed-late": wb.edit_part(
            data, "xl/styles.xml", lambda x: x.replace(b"</styleSheet>", b"<x/></styleSheet>")
        ),
        "comment-in-workbook": wb.edit_part(
            data, "xl/workbook.xml", lambda x: x.replace(b"</sheets>", b"</sheets><!-- x -->")
        ),
        "targets-through-dot": wb.edit_part(
            data,
            "xl/_rels/workbook.xml.rels",
            lambda x: x.replace(b'"worksheets/', b'"./worksheets/'),
        ),
        "targets-swapped": wb.edit_part(data, "xl/_rels/workbook.xml.rels", _swap_targets),
        "structure-open": wb.edit_part(
            data, "xl/workbook.xml", lambda x: re.sub(rb"<workbookProtection[^>]*/>", b"", x)
        ),
        "no-rels": _without(data, "xl/_rels/workbook.xml.rels"),
        "sheet-renamed": wb.edit_part(
            data, "xl/workbook.xml", lambda x: x.replace(TABLE_2, TABLE_2 + b"x")
        ),
    }


def _without(data: bytes, part: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename != part:
                dst.writestr(info, src.read(info), info.compress_type)
    return out.getvalue()


@pytest.fixture(scope="module")
def variants(tmp_path_factory, spec21) -> dict:
    folder = tmp_path_factory.mktemp("memo")
    return {
        name: wb.write(folder, data, f"{name}.xlsx")
        for name, data in _variants(wb.render(spec21)).items()
    }


def test_files_are_judged_alike_whatever_was_opened_before(variants):
    """Each variant (a DTD or a sheet map written unusually in one part, the map changed only
    in the rels, every part stored, ...) opened after all the others, the clean template first,
    gives exactly what it gives with nothing remembered: findings, sheet map, protection."""
    cold = {}
    for name, path in variants.items():
        _forget()
        cold[name] = _opened(path)
    assert cold["clean"][0] == [] and cold["stored"][0] == []
    assert [c for c, _ in cold["dtd-in-styles"][0]] == ["F107"]
    assert [c for c, _ in cold["dtd-in-workbook"][0]] == ["F107"]
    assert [c for c, _ in cold["comment-in-workbook"][0]] == ["F103"]
    assert [c for c, _ in cold["targets-through-dot"][0]] == ["F103"]
    swapped, clean = cold["targets-swapped"][3], cold["clean"][3]
    assert swapped[TABLE_2.decode()] == clean[TABLE_3.decode()] != clean[TABLE_2.decode()]
    assert cold["clean"][2] and not cold["structure-open"][2]
    _forget()
    for _ in range(2):  # each remembered by then, the others too
        for name, path in variants.items():
            _opened(variants["clean"])
            assert _opened(path) == cold[name], name
    assert intake._SHEET_MAPS and intake._PLAIN_STARTS  # (something was remembered)


def test_what_is_remembered_stays_bounded(tmp_path, spec21):
    """Files of many templates: the sheet maps kept stay within their bound, and so do the
    packed beginnings kept."""
    _forget()
    data = wb.render(spec21)
    for i in range(intake._SHEET_MAPS_MOST + 4):
        path = wb.write(
            tmp_path,
            wb.edit_part(
                data,
                "xl/workbook.xml",
                lambda x, i=i: x.replace(b"</sheets>", f"</sheets><x{i}/>".encode()),
            ),
            f"t{i}.xlsx",
        )
        assert _opened(path)[0] == []
        assert len(intake._SHEET_MAPS) <= intake._SHEET_MAPS_MOST
    kept = sum(map(len, intake._PLAIN_STARTS.values()))
    assert 0 < kept <= intake._PLAIN_STARTS_MOST


@given(
    st.lists(
        st.sampled_from([b"<", b"!", b"-", b"?", b"[", b"<!--", b"<![CDATA[", b"<?", b"x", b"--"]),
        max_size=60,
    ),
    st.sampled_from([1, 16, 1000]),
)
@settings(max_examples=300, deadline=None)
def test_markup_is_counted_as_bytes_count_counts_it(pieces, most):
    """The sheet map's check counts comments, CDATA and processing instructions through a rare
    byte of each (memchr) instead of a search stopping at every "<": the same counts."""
    xml = b"".join(pieces)
    for needle, at in ((b"<!--", 2), (b"<![CDATA[", 2), (b"<?", 1)):
        assert intake._occurrences(xml, needle, at, most) == xml.count(needle)
