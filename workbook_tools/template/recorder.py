"""The stand-in for xlsxwriter's workbook that ``template.prepared`` writes a workbook to: it keeps
the cells as xlsxwriter keeps them (the last write wins, a blank without a format is no cell),
the shared strings in the order xlsxwriter numbers them, and every other call as made.
Anything it does not model raises ``Unsupported``: that workbook is written by xlsxwriter."""

from __future__ import annotations

from .. import patterns

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any

_STRING_MAX = 32767  # xlsxwriter's xls_strmax, in UTF-16 units
_ERRORS = ("#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!")
# xlsxwriter's escapes of shared strings (xmlwriter._escape_control_characters, _escape_data;
# utility._preserve_whitespace).
_ESCAPED_ESCAPE = patterns.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = patterns.compile(r"([\x00-\x08\x0b-\x1f])")


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


def escape(text: str) -> str:
    if "&" in text or "<" in text or ">" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def shared_strings(recorded: Recorder) -> str:
    """xl/sharedStrings.xml as xlsxwriter's SharedStrings writes it."""
    out = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
        f' count="{recorded.string_count}" uniqueCount="{len(recorded.strings)}">'
    ]
    # What needs escaping is looked for once in all the strings (most workbooks have none).
    joined = "".join(recorded.strings)
    plain = not ("_x" in joined or "\ufffe" in joined or "\uffff" in joined)
    plain = plain and not _CONTROL.search(joined)
    for string in recorded.strings:
        if not plain:
            if "_x" in string:
                string = _ESCAPED_ESCAPE.sub(r"_x005F\1", string)
            if _CONTROL.search(string):
                string = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", string)
            string = string.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
        if string.startswith("<r>") and string.endswith("</r>"):
            raise Unsupported("rich text")
        # (xlsxwriter's ^\s and \s$: re's \s is str.isspace, and $ before a last newline
        # follows a space too)
        space = ' xml:space="preserve"' if string[:1].isspace() or string[-1:].isspace() else ""
        out.append(f"<si><t{space}>{escape(string)}</t></si>")
    out.append("</sst>")
    return "".join(out)
