"""Text taken from inputs, made safe for the place it is written to.

Cell values, unit names, file names and narrative come from files anyone can make. Each writer
passes them through the one function here that fits its output, at the point of writing:
- a terminal: no control characters (an escape sequence in a cell must not drive the terminal),
  no bidirectional overrides (they reorder what is shown);
- Word and other XML: no characters XML 1.0 forbids (python-docx refuses them outright);
- a CSV meant for Excel: a text cell starting with a formula character is neutralised with a
  leading apostrophe (OWASP's rule for CSV injection);
- Markdown: characters with a meaning in Markdown or HTML are escaped, so a narrative cannot
  inject markup, links or structure.
"""

from __future__ import annotations

import functools
import re
import sys

from . import patterns

TYPE_CHECKING = False  # (typing is not imported at run time: see record.py)
if TYPE_CHECKING:
    from typing import Any

# C0 (but tab and newline, which terminal() escapes), DEL, C1; bidirectional embeddings, overrides and isolates.
_TERMINAL = patterns.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_BREAKS = {0x0A: "\\n", 0x2028: "\\u2028", 0x2029: "\\u2029"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


# Compiled on first use (a check needs only _TERMINAL; compiling these costs start-up time).
@functools.cache
def _not_xml() -> re.Pattern:
    """What XML 1.0 does not allow in character data (tab, newline and carriage return it does),
    and the direction overrides that make a document show text in another order than it holds."""
    return patterns.compile(
        "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff\u202a-\u202e\u2066-\u2069]"
    )


@functools.cache
def _markdown() -> tuple[re.Pattern, re.Pattern, re.Pattern]:
    """Markdown's inline syntax; what makes a line structure (a heading, a quote, a list item, a
    setext underline: a number such as 195.24 or -5 is not, list markers need a space after
    them); an ordered list item."""
    return (
        patterns.compile(r"([\\`*_\[\]{}|~!])"),
        patterns.compile(r"^(\s*)(#{1,6}(?=\s|$)|>|[-+](?=\s|$)|=+(?=\s*$)|-+(?=\s*$))", re.M),
        patterns.compile(r"^(\s*\d{1,9})([.)])(?=\s|$)", re.M),
    )


_SURROGATE = patterns.compile("[\udc80-\udcff]")


def undecoded(text: str) -> str:
    """A file name that is not UTF-8 arrives as surrogates (Python's surrogateescape: GBK bytes
    from a zip made on Chinese Windows); no UTF-8 writer can hold them. Shown as the name it is:
    its bytes read as GB18030, else with the undecodable bytes replaced."""
    if not _SURROGATE.search(text):
        return text
    raw = text.encode("utf-8", "surrogateescape")
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")


def terminal(text: Any) -> str:
    """For a terminal: control characters and direction overrides dropped, a line break written
    as ``\\n`` (as ``ls -b`` does): a file name or a cell holding one must not start a line of
    its own, which could pass for a verdict (``x.xlsx\\n✓ 某镇 通过``)."""
    return _TERMINAL.sub("", str(text).translate(_BREAKS))


def xml(text: str) -> str:
    """For documents (Word, HTML, Markdown): characters XML cannot hold and direction overrides
    dropped."""
    return _not_xml().sub("", text)


def csv_cell(value: Any) -> Any:
    """For a CSV cell Excel may open: text starting like a formula gets a leading apostrophe
    (shown by Excel as the text itself). Numbers are left as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def markdown(text: Any) -> str:
    """For Markdown: HTML and Markdown syntax in the text shown literally."""
    s = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    inline, line_start, ordered = _markdown()
    s = inline.sub(r"\\\1", s)
    s = line_start.sub(lambda m: m.group(1) + "\\" + m.group(2), s)
    return ordered.sub(r"\1\\\2", s)


def scrub(obj: Any, clean=xml) -> Any:
    """A copy of ``obj`` (dataclasses, lists, tuples, dicts of them) with ``clean`` applied to
    every string in it."""
    if isinstance(obj, str):
        return clean(obj)
    dataclasses = sys.modules.get("dataclasses")  # (not imported here: a dataclass's is)
    if dataclasses is not None and dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {f.name: scrub(getattr(obj, f.name), clean) for f in dataclasses.fields(obj)}
        return dataclasses.replace(obj, **changes)
    if isinstance(obj, list):
        return [scrub(x, clean) for x in obj]
    if isinstance(obj, tuple):
        return tuple(scrub(x, clean) for x in obj)
    if isinstance(obj, dict):
        return {k: scrub(v, clean) for k, v in obj.items()}
    return obj


class LiteralStrings:
    """Mixin for xlsxwriter worksheets: text stays text. xlsxwriter writes any string that starts
    with “<r>” and ends with “</r>” into the sheet's XML as it is (that is how it stores its own
    rich strings), so such a text -- a unit's narrative or name, a file name -- read back empty and
    put its markup into the workbook unescaped. Written as two plain runs of a rich string, it is
    escaped like any text and reads back whole (plain runs: no formatting of their own)."""

    def _write_string(self, row: int, col: int, string: str, cell_format: Any = None) -> int:
        if len(string) >= 7 and string.startswith("<r>") and string.endswith("</r>"):
            # three runs: xlsxwriter takes a rich string of no fewer
            runs = ["<", string[1:-4], "</r>"] + ([cell_format] if cell_format else [])
            return self.write_rich_string(row, col, *runs)
        return super()._write_string(row, col, string, cell_format)
