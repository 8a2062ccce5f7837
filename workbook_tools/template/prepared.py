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
   parts as xlsxwriter does.

The result is byte for byte the workbook ``writer.render`` writes (tests/test_prepared.py holds
that over the published reports and the import corpora). A missing, stale, corrupt or unwritable
cache only means xlsxwriter writes the workbook (``spec.cached``).
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from .. import __version__
from ..roster import Unit
from ..spec import Spec
from . import writer
from .book import Book

# The unit's name in the prototype: private-use characters, escaped as themselves.
UNIT = "\ue000wbtools-unit\ue001"
_DOC_PROPS = ("docProps/core.xml", "docProps/app.xml")
_SHARED = "xl/sharedStrings.xml"
_CELL_START = re.compile(r'<c r="[A-Z]+[0-9]+"(?: s="[0-9]+")?')
_FORMULA = re.compile(r"<f>.*</f>", re.S)
# xlsxwriter's escapes of shared strings (xmlwriter._escape_control_characters, _escape_data;
# utility._preserve_whitespace).
_ESCAPED_ESCAPE = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_LEADING, _TRAILING = re.compile(r"^\s"), re.compile(r"\s$")
_HERE = Path(__file__).parent
_STRING_MAX = 32767  # xlsxwriter's xls_strmax, in UTF-16 units
_ERRORS = ("#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!")


class Unsupported(Exception):
    """A write the recorder does not model: the workbook is written by xlsxwriter."""


class Fmt:
    """A cell format as the recorder hands it out: its place in the order formats were made."""

    __slots__ = ("i",)

    def __init__(self, i: int):
        self.i = i

    def __eq__(self, other: object) -> bool:
        return type(other) is Fmt and other.i == self.i

    def __hash__(self) -> int:
        return self.i

    def __reduce__(self):
        return Fmt, (self.i,)

    def __repr__(self) -> str:
        return f"Fmt({self.i})"


class Sheet:
    """Records what is written to one worksheet: its cells as xlsxwriter keeps them (the last
    write wins, a blank without a format is no cell), every other call as made."""

    def __init__(self, book: Recorder, name: str):
        self.book, self.name = book, name
        self.calls: list[tuple] = []
        self.cells: dict[tuple[int, int], tuple] = {}

    def __getattr__(self, method: str):
        if method.startswith("_"):
            raise AttributeError(method)

        def call(*args: Any, **kwargs: Any) -> None:
            self.calls.append((method, args, tuple(sorted(kwargs.items()))))

        return call

    # -- the cell writes, as xlsxwriter's (worksheet._write_string, _write_number, ...) ----------
    def write_string(self, row: int, col: int, string: str, fmt: Fmt | None = None) -> None:
        if type(string) is not str:
            raise Unsupported("not text")
        if len(string) >= 7 and string.startswith("<r>") and string.endswith("</r>"):
            raise Unsupported("rich text")  # (safe_text.LiteralStrings writes it in runs)
        if len(string) > _STRING_MAX // 2:
            raise Unsupported("long text")  # xlsxwriter may cut it (UTF-16 units)
        self.cells[row, col] = (fmt, "s", self.book.shared(string))

    def write_number(self, row: int, col: int, number: Any, fmt: Fmt | None = None) -> None:
        if type(number) not in (int, float) or number != number or number in (_INF, -_INF):
            raise Unsupported("not a finite number")
        self.cells[row, col] = (fmt, "n", number)

    def write_blank(self, row: int, col: int, blank: Any, fmt: Fmt | None = None) -> None:
        if fmt is not None:
            self.cells[row, col] = (fmt, "b", None)

    def write_formula(
        self, row: int, col: int, formula: str, fmt: Fmt | None = None, value: Any = 0
    ) -> None:
        if isinstance(value, bool) or (isinstance(value, str) and value in _ERRORS):
            raise Unsupported("a formula's value")
        if not formula:
            raise Unsupported("no formula")
        self.cells[row, col] = (fmt, "f", (formula, value))

    def write_url(
        self,
        row: int,
        col: int,
        url: str,
        fmt: Fmt | None = None,
        string: str | None = None,
        tip: str | None = None,
    ) -> None:
        if fmt is None or string is None:
            raise Unsupported("a link's default format or text")
        self.calls.append(("write_url", (row, col, url, string, tip), ()))
        self.write_string(row, col, string, fmt)

    def merge_range(
        self, first_row: int, first_col: int, last_row: int, last_col: int, data: Any, fmt=None
    ) -> None:
        self.calls.append(("merge_range", (first_row, first_col, last_row, last_col, fmt), ()))
        if first_row == last_row and first_col == last_col:
            return  # xlsxwriter warns and writes nothing
        if first_row > last_row or first_col > last_col:
            raise Unsupported("a reversed range")
        # xlsxwriter's write(): the first cell by the data's type, the rest blank
        if data is None or data == "":
            self.write_blank(first_row, first_col, None, fmt)
        elif type(data) is str:
            self.write_string(first_row, first_col, data, fmt)
        elif type(data) in (int, float):
            self.write_number(first_row, first_col, data, fmt)
        else:
            raise Unsupported("merged data")
        for row in range(first_row, last_row + 1):
            for col in range(first_col, last_col + 1):
                if (row, col) != (first_row, first_col):
                    self.write_blank(row, col, "", fmt)

    def _unsupported(self, *args: Any, **kwargs: Any) -> None:
        raise Unsupported("a write the recorder does not model")

    write = write_datetime = write_rich_string = write_boolean = write_array_formula = (
        write_dynamic_array_formula
    ) = insert_image = insert_chart = insert_textbox = add_table = _unsupported


_INF = float("inf")


class Recorder:
    """Stands for the xlsxwriter workbook ``writer._write`` writes to: records the formats made,
    the sheets, the shared strings in xlsxwriter's order, and the workbook's calls."""

    def __init__(self) -> None:
        self.formats: list[Any] = []
        self.sheets: list[Sheet] = []
        self.calls: list[tuple] = []
        self.strings: dict[str, int] = {}  # shared string -> index, in the order of the calls
        self.string_count = 0
        self.properties: dict[str, Any] = {}
        self.structure_password = ""

    def shared(self, string: str) -> int:
        self.string_count += 1
        return self.strings.setdefault(string, len(self.strings))

    def add_format(self, properties: dict | None = None) -> Fmt:
        self.formats.append(dict(properties or {}))
        return Fmt(len(self.formats) - 1)

    def add_worksheet(self, name: str, worksheet_class: Any = None) -> Sheet:
        sheet = Sheet(self, name)
        self.sheets.append(sheet)
        return sheet

    def worksheets(self) -> list[Sheet]:
        return list(self.sheets)

    def set_properties(self, properties: dict) -> None:
        self.properties = dict(properties)

    def define_name(self, name: str, ref: str) -> None:
        self.calls.append(("define_name", name, ref))

    def close(self) -> None:
        pass


class SheetPart(NamedTuple):
    """One worksheet of the prototype: its XML cut at every cell, and what each cell was."""

    name: str
    calls: list[tuple]  # every call but a cell's content, as the recorder kept them
    places: list[tuple]  # (row, col, format index or None) of each cell, in the file's order
    chunks: list[str]  # the XML around the cells: len(places) + 1 pieces
    starts: list[str]  # each cell's '<c r=".." s=".."' as xlsxwriter wrote it
    formulas: list[tuple[int, str] | None]  # a formula cell's text (checksum), its <f> element


class Prototype(NamedTuple):
    formats: list[dict]
    calls: list[tuple]
    properties: dict[str, Any]
    structure_password: str
    parts: list[tuple[str, bytes]]  # every part in xlsxwriter's order
    sheets: dict[str, SheetPart]  # part name -> its sheet


def render(
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
) -> bytes:
    """What ``writer.render`` returns for the same arguments (an import's workbook: no feedback,
    no password): from the prepared workbook when it fits, else from xlsxwriter."""
    options = dict(lang=lang, values=values, texts=texts, info=info, printed=printed)
    missing = set(missing)
    data = prepared(spec, unit, year, missing=missing, **options)
    if data is None:
        data = writer.render(spec, unit, year, missing=missing, **options)
    return data


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

    names = sorted(p.name for p in _HERE.glob("*.py"))
    parts = [b"prepared", spec.hash.encode(), options["lang"].encode(), str(year).encode()]
    parts += [__version__.encode(), xlsxwriter_version()]
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
    # (the sheets and shared strings are written anew: only their names are kept)
    parts = [(n, b"" if n in sheets or n == _SHARED else raw) for n, raw in parts]
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
                    result = _escape(result)
                else:
                    kind_attr = ""
                out.append(f"{start}{kind_attr}>{known[1]}<v>{result}</v></c>")
            out.append(part.chunks[k + 1])
        filled[f"xl/worksheets/sheet{i + 1}.xml"] = "".join(out).encode()
    filled[_SHARED] = _shared_strings(recorded).encode()
    escaped = _escape(name).encode()
    for doc in _DOC_PROPS:
        filled[doc] = dict(prototype.parts)[doc].replace(UNIT.encode(), escaped)
    out_buffer = io.BytesIO()
    # As xlsxwriter's Workbook._store_workbook zips an in-memory workbook.
    archive = zipfile.ZipFile(out_buffer, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=False)
    for part_name, raw in prototype.parts:
        info = zipfile.ZipInfo(part_name, (1980, 1, 1, 0, 0, 0))
        info.compress_type = archive.compression
        archive.writestr(info, filled.get(part_name, raw))
    archive.close()
    return out_buffer.getvalue()


def _checksum(text: str) -> int:
    """A formula's text as the prototype keeps it (half the size of the prototype otherwise):
    its length and two checksums, which another text of the same cell would have to match."""
    data = text.encode()
    return (len(data) << 64) | (zlib.crc32(data) << 32) | zlib.adler32(data)


def _escape(text: str) -> str:
    if "&" in text or "<" in text or ">" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def _shared_strings(recorded: Recorder) -> str:
    """xl/sharedStrings.xml as xlsxwriter's SharedStrings writes it."""
    out = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
        f' count="{recorded.string_count}" uniqueCount="{len(recorded.strings)}">'
    ]
    for string in recorded.strings:
        if "_x" in string:
            string = _ESCAPED_ESCAPE.sub(r"_x005F\1", string)
        if _CONTROL.search(string):
            string = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", string)
        string = string.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
        if string.startswith("<r>") and string.endswith("</r>"):
            raise Unsupported("rich text")
        space = (
            ' xml:space="preserve"' if _LEADING.search(string) or _TRAILING.search(string) else ""
        )
        out.append(f"<si><t{space}>{_escape(string)}</t></si>")
    out.append("</sst>")
    return "".join(out)
