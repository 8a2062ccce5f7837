"""A one-file ``wbtools import`` without xlsxwriter: the workbook prepared once, filled per import.

Importing xlsxwriter and writing a whole templated workbook with it cost more than the rest of an
import (reading the report, the rules, the check). Almost none of that workbook depends on the
imported figures: styles, formulas, merges, validations, conditional formats, protection, the 294
defined names are the same for every report of one spec, language and year. So the workbook is
written once by xlsxwriter as usual, except that every cell is left as a marker (the
*prototype*, kept in the user's cache folder like the compiled spec), and each import

1. runs the very same sheet-writing code (``writer._write``) against a recording workbook
   (``Recorder``) that keeps the cells written and every other call made, nothing else;
2. takes the prototype only if every call other than a cell's content is the one the prototype
   was written with (same formats, merges, validations, rows, names; the same cells in the same
   places with the same formats; the same formula texts) -- otherwise, or for anything the
   recorder does not model (a comment on a missing cell, a date, rich text, a cell over
   xlsxwriter's string limit), the workbook is written by xlsxwriter as before;
3. writes each cell as xlsxwriter writes it, the shared strings in the order xlsxwriter numbers
   them (the order of the calls), the unit's name into the document properties, and zips the
   parts as xlsxwriter does (``zipped``; the parts no import changes are kept deflated).

The result is the workbook ``writer.render`` writes, part for part: every part's XML byte for
byte xlsxwriter's, in the same zip entries (tests/test_prepared.py holds that over the published
reports and the import corpora); only the deflated bytes differ, on purpose (ISA-L: ``zipped``).
A missing, stale, corrupt or unwritable cache only means xlsxwriter writes the workbook.
"""

from __future__ import annotations

import io
import os
import re
from collections import namedtuple
from collections.abc import Iterable, Mapping
from pathlib import Path

import isal
from isal import isal_zlib

from .. import __version__, patterns
from ..roster import Unit
from ..spec import Spec
from . import writer
from .book import Book
from .recorder import Recorder, Unsupported, escape, shared_strings
from .zipped import archive, deflated

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any

# The unit's name in the prototype: private-use characters, escaped as themselves.
UNIT = "\ue000wbtools-unit\ue001"
_DOC_PROPS = ("docProps/core.xml", "docProps/app.xml")
_SHARED = "xl/sharedStrings.xml"
_CELL_START = patterns.compile(r'<c r="[A-Z]+[0-9]+"(?: s="[0-9]+")?')
_FORMULA = patterns.compile(r"<f>.*</f>", re.S)
_HERE = Path(__file__).parent


class SheetPart(
    namedtuple(
        "SheetPart",
        (
            "name",  # str
            "calls",  # list[tuple]: every call but a cell's content, as the recorder kept them
            "places",  # list[tuple]: (row, col, format index or None) of each cell, in the file's order
            "chunks",  # list[str]: the XML around the cells: len(places) + 1 pieces
            "starts",  # list[str]: each cell's '<c r=".." s=".."' as xlsxwriter wrote it
            "formulas",  # list[tuple[int, str] | None]: a formula cell's text (checksum), its <f> element
        ),
    )
):
    """One worksheet of the prototype: its XML cut at every cell, and what each cell was."""

    __slots__ = ()


class Prototype(
    namedtuple(
        "Prototype",
        (
            "formats",  # list[dict]
            "calls",  # list[tuple]
            "properties",  # dict[str, Any]
            "structure_password",  # str
            # list[tuple[str, bytes | tuple]]: every part in xlsxwriter's order: those filled per
            # workbook as XML (the sheets and shared strings empty), the others deflated once
            # (``deflated``: CRC-32, size, raw deflate)
            "parts",
            "sheets",  # dict[str, SheetPart]: part name -> its sheet
        ),
    )
):
    __slots__ = ()


def render(spec: Spec, unit: Unit, year: int, **options: Any) -> bytes:
    """What ``writer.render`` returns for the same arguments (an import's workbook: no feedback,
    no password; ``prepared``'s keywords): from the prepared workbook when it fits, else from
    xlsxwriter."""
    options["missing"] = set(options.get("missing", ()))  # (read by both)
    data = prepared(spec, unit, year, **options)
    return data if data is not None else writer.render(spec, unit, year, **options)


def prepared(
    spec: Spec,
    unit: Unit,
    year: int,
    *,
    lang: str = "zh",
    values: Mapping[str, Any] | None = None,
    texts: Mapping[str, str] | None = None,
    info: Mapping[str, Any] | None = None,
    printed: Mapping[str, Any] | None = None,
    missing: Iterable[str] = (),
) -> bytes | None:
    """``render``'s workbook from the prepared one, or None when it does not fit (or there is
    no cache folder to keep it in: building it costs more than writing the workbook)."""
    from .. import spec as spec_module

    if spec_module.cache_dir() is None or missing:
        # A missing cell is marked with a comment and a format of its own: xlsxwriter writes
        # it (said before recording, so that such an import costs what it did before).
        return None
    options = dict(lang=lang, values=values, texts=texts, info=info)
    try:
        recorder = Recorder()
        book = Book(spec, unit, year, lang, "", values, texts, info, None, printed, missing,
                    workbook=recorder)  # fmt: skip
        writer._write(book)
        return fill(_prototype(spec, unit, year, options), recorder, unit)
    except Unsupported:
        return None


def _prototype(spec: Spec, unit: Unit, year: int, options: dict) -> Prototype:
    """The prepared workbook for ``spec``, language and year, built (from this import's own
    figures: any would do) on the first import that needs it."""
    from .. import spec as spec_module
    from .formulas import xlsxwriter_version

    names = sorted(n for n in os.listdir(_HERE) if n.endswith(".py"))  # (glob compiles a regex)
    parts = [b"prepared", spec.hash.encode(), options["lang"].encode(), str(year).encode()]
    parts += [__version__.encode(), xlsxwriter_version(), isal.__version__.encode()]
    parts += spec_module.code_parts(
        *(f"template/{n}" for n in names),
        "layout.py",
        "rules.py",
        "normalise.py",
        "spec.py",
        "findings.py",
        "safe_text.py",
        "files.py",
        "roster.py",
    )
    return spec_module.cached(
        "prepared",
        parts,
        lambda: build(spec, Unit(UNIT, unit.code, unit.kind), year, options),
        lambda p: isinstance(p, Prototype),
    )


def build(spec: Spec, unit: Unit, year: int, options: dict) -> Prototype:
    """Write the workbook with xlsxwriter, every cell left as a marker, and record the same
    workbook's calls; ``unit`` is named ``UNIT``. Totals stay formulas and nothing is missing
    (a printed total or a missing cell is a different cell or an added format and comment)."""
    from .formulas import worksheet_class

    base = worksheet_class()

    class Marked(base):
        """Writes NUL where a cell goes and keeps the cell's XML aside."""

        def __init__(self) -> None:
            super().__init__()
            self.written: list[str] = []

        def _write_cell(self, row: int, col: int, cell: Any) -> None:
            fh, self.fh = self.fh, io.StringIO()
            try:
                super()._write_cell(row, col, cell)
                self.written.append(self.fh.getvalue())
            finally:
                self.fh = fh
            fh.write("\0")

    args = (spec, unit, year, options["lang"], "", options["values"], options["texts"])
    book = Book(*args, options["info"], None, {}, ())
    book.worksheet_class = Marked
    data = writer._write(book)
    recorder = Recorder()
    writer._write(Book(*args, options["info"], None, {}, (), workbook=recorder))
    written = [ws.written for ws in book.wb.worksheets()]

    import zipfile  # (only here: a prototype is built once)

    sheets: dict[str, SheetPart] = {}
    parts = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            raw = z.read(info)
            parts.append((info.filename, raw))
            if UNIT.encode() in raw and info.filename not in (*_DOC_PROPS, _SHARED):
                raise Unsupported(f"the unit's name in {info.filename}")
    for i, sheet in enumerate(recorder.sheets):
        name = f"xl/worksheets/sheet{i + 1}.xml"
        xml = dict(parts)[name].decode()
        chunks = xml.split("\0")
        cells = sorted(sheet.cells.items())
        if len(chunks) != len(cells) + 1 or len(written[i]) != len(cells):
            raise Unsupported("cells the recorder did not see")
        places, starts, formulas = [], [], []
        for ((row, col), (fmt, kind, value)), cell_xml in zip(cells, written[i], strict=True):
            places.append((row, col, fmt))
            starts.append(_CELL_START.match(cell_xml).group())
            formula = _FORMULA.search(cell_xml).group() if kind == "f" else None
            formulas.append((_checksum(value[0]), formula) if kind == "f" else None)
        sheets[name] = SheetPart(sheet.name, sheet.calls, places, chunks, starts, formulas)
    # The sheets and shared strings are written anew (only their names are kept), the document
    # properties filled; every other part is the same in every workbook: deflated here, once.
    parts = [
        (n, b"" if n in sheets or n == _SHARED else raw if n in _DOC_PROPS else deflated(raw))
        for n, raw in parts
    ]
    return Prototype(
        recorder.formats,
        recorder.calls,
        recorder.properties,
        recorder.structure_password,
        parts,
        sheets,
    )


def fill(prototype: Prototype, recorded: Recorder, unit: Unit) -> bytes | None:
    """The workbook ``recorded`` describes, from ``prototype``; None when it does not fit."""
    name = unit.name
    expected = {
        k: v.replace(UNIT, name) if isinstance(v, str) else v
        for k, v in prototype.properties.items()
    }
    if (
        recorded.formats != prototype.formats
        or recorded.calls != prototype.calls
        or recorded.properties != expected
        or recorded.structure_password != prototype.structure_password
        or len(recorded.sheets) != len(prototype.sheets)
        or not recorded.strings
    ):
        return None
    filled: dict[str, bytes] = {}
    for i, sheet in enumerate(recorded.sheets):
        part = prototype.sheets.get(f"xl/worksheets/sheet{i + 1}.xml")
        if part is None or sheet.name != part.name or sheet.calls != part.calls:
            return None
        cells = sorted(sheet.cells.items())
        if [(r, c, cell[0]) for (r, c), cell in cells] != part.places:
            return None
        out = [part.chunks[0]]
        for k, (_, (_, kind, value)) in enumerate(cells):
            start = part.starts[k]
            if kind == "s":
                out.append(f'{start} t="s"><v>{value}</v></c>')
            elif kind == "n":
                out.append(f"{start}><v>{value:.16G}</v></c>")
            elif kind == "b":
                out.append(f"{start}/>")
            else:
                formula, result = value
                known = part.formulas[k]
                if known is None or known[0] != _checksum(formula):
                    return None
                if isinstance(result, str):
                    kind_attr = ' t="str"' if result else ""
                    result = escape(result)
                else:
                    kind_attr = ""
                out.append(f"{start}{kind_attr}>{known[1]}<v>{result}</v></c>")
            out.append(part.chunks[k + 1])
        filled[f"xl/worksheets/sheet{i + 1}.xml"] = "".join(out).encode()
    filled[_SHARED] = shared_strings(recorded).encode()
    escaped = escape(name).encode()
    for doc in _DOC_PROPS:
        filled[doc] = dict(prototype.parts)[doc].replace(UNIT.encode(), escaped)
    return archive(
        [(n, deflated(filled[n]) if n in filled else packed) for n, packed in prototype.parts]
    )


def _checksum(text: str) -> int:
    """A formula's text as the prototype keeps it (half the size of the prototype otherwise):
    its length and two checksums, which another text of the same cell would have to match."""
    data = text.encode()
    return (len(data) << 64) | (isal_zlib.crc32(data) << 32) | isal_zlib.adler32(data)
