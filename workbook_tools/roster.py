"""The county's list of units (名册): read it, validate it completely, name each unit's file.

A roster is a CSV (UTF-8 or the GBK that Chinese Excel saves) or a workbook (.xlsx/.xls/.ods)
with a header row: unit name, optional code, optional kind, in Chinese or English. Every problem
in it is collected before anything is written, so a bad roster writes nothing.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import unicodedata
from collections import namedtuple
from pathlib import Path

from . import intake, patterns
from .findings import Failure, Finding
from .safe_text import FORMULA_START
from .spec import UNIT_KINDS

HEADERS = {
    "name": ("单位名称", "单位全称", "名称", "单位", "name", "unit", "unitname"),
    "code": ("单位代码", "代码", "编码", "单位编码", "code", "unitcode", "id"),
    "kind": ("单位类型", "类型", "类别", "kind", "type", "unitkind"),
}

# What clerks write in a kind column, mapped to the spec's unit kinds.
KIND_ALIASES = {
    "乡镇": ("乡镇", "乡", "镇", "乡镇人民政府", "乡镇政府", "township", "town"),
    "街道": ("街道", "街道办", "街道办事处", "subdistrict", "street"),
    "部门": ("部门", "县直部门", "县级部门", "政府部门", "department", "dept", "agency"),
    "政府": ("政府", "县政府", "本级", "县人民政府", "区政府", "government"),
    "其他": ("其他", "other"),
}
_KIND_LOOKUP = {alias.lower(): kind for kind, aliases in KIND_ALIASES.items() for alias in aliases}

_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(1, 10)),
    *(f"lpt{i}" for i in range(1, 10)),
}
MAX_NAME = 100


# Compiled on first use: a check imports this module for ``identity`` and needs neither.
@functools.cache
def _bad_chars() -> re.Pattern:
    return patterns.compile(r'[/\\<>:"|?*\x00-\x1f\x7f]')


@functools.cache
def _invisible() -> re.Pattern:
    """Zero-width characters, soft hyphen, and direction marks, embeddings, overrides and
    isolates."""
    return patterns.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


MAX_ROSTER_BYTES = 20 * 1024 * 1024  # a county's roster is a few KB; 100,000 units fit in 20 MB
# A roster has a name column and a few more, one row per unit: beyond these it is not a roster,
# and reading it cell by cell would cost minutes (one line of "a,a,a…" in 2 MB: 21 s).
MAX_ROSTER_ROWS = 100_000
MAX_ROSTER_COLUMNS = 100
_SPACES = patterns.compile(r"\s+")


class Unit(
    namedtuple(
        "Unit",
        (
            "name",  # str
            "code",  # str
            "kind",  # str: one of spec.UNIT_KINDS, or "" when the roster does not say
            "row",  # int: the roster row it came from (1 = header), 0 when given on the command line
        ),
        defaults=("", "", 0),
    )
):
    """A reporting unit: its name, code and kind, and the roster row it came from."""

    __slots__ = ()


def clean(text: object) -> str:
    """A cell as text: NFC, trimmed, inner runs of whitespace folded (Excel pads names)."""
    if text is None:
        return ""
    if isinstance(text, float) and text.is_integer():
        text = int(text)  # a numeric code read from a workbook: 101.0 -> "101"
    return _SPACES.sub(" ", unicodedata.normalize("NFC", str(text))).strip()


def identity(name: str) -> str:
    """What makes two names the same unit: NFKC (full-width = half-width), no whitespace, no
    case (two such names would also collide as file names on Windows and macOS)."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", name)).casefold()


def unsafe_part(name: str) -> str | None:
    """The part of ``name`` that makes it unusable as a file name, or None when it is safe."""
    if m := _bad_chars().search(name):
        return repr(m.group())[1:-1] if m.group().isprintable() else f"U+{ord(m.group()):04X}"
    if ".." in name:
        return ".."
    if name.startswith(".") or name.endswith("."):
        return "."
    if name.split(".")[0].lower() in _RESERVED:
        return name.split(".")[0]
    if len(name) > MAX_NAME:
        return f"> {MAX_NAME}"
    return None


def normalise_kind(kind: str) -> str | None:
    """The spec kind for what a roster says, '' for blank, None when it is not recognised."""
    if not kind:
        return ""
    return _KIND_LOOKUP.get(kind.lower().replace(" ", ""))


def file_name(unit: Unit, year: int) -> str:
    stem = f"{unit.code}_{unit.name}" if unit.code else unit.name
    from .files import fit_name

    return fit_name(f"{stem}_{year}.xlsx")


def make_unit(name: str, code: str = "", kind: str = "") -> Unit:
    """A single unit from the command line, validated like a roster row."""
    unit, problems = _validate(clean(name), clean(code), clean(kind), 0, None)
    if problems:
        raise Failure(problems)
    return unit


def _validate(
    name: str, code: str, kind: str, row: int, source: str | None
) -> tuple[Unit, list[Finding]]:
    at = {"file": source, "line": row or None}
    problems = []
    if not name:
        problems.append(Finding("U103", {}, **at))
    for text in (name, code):
        if text and (bad := unsafe_part(text)):
            problems.append(Finding("U105", {"name": text, "bad": bad}, **at))
    for text in (name, code):
        if text.startswith(FORMULA_START):
            # Opened in Excel (the county workbook, the long CSV) it would be a formula.
            problems.append(Finding("U110", {"name": text}, **at))
        if m := _invisible().search(text):
            # Two names that look the same would be two units (or one unit, two names).
            problems.append(
                Finding("U111", {"name": text, "char": f"U+{ord(m.group()):04X}"}, **at)
            )
    canonical = normalise_kind(kind)
    if canonical is None:
        accepted = "、".join(UNIT_KINDS)
        problems.append(Finding("U106", {"kind": kind, "accepted": accepted}, **at))
    return Unit(name, code, canonical or "", row), problems


def read(path: Path) -> list[Unit]:
    """Read and validate a roster; raise Failure listing every problem found."""
    rows = _read_rows(path)
    if not rows:
        raise Failure([Finding("U107", file=str(path))])
    header = [identity(clean(h)) for h in rows[0]]
    columns = {}
    for field, names in HEADERS.items():
        for i, h in enumerate(header):
            if h in names and field not in columns:
                columns[field] = i
    if "name" not in columns:
        shown = "、".join(clean(h) for h in rows[0] if clean(h)) or "（无）"
        raise Failure([Finding("U102", {"headers": shown}, file=str(path))])

    def cell(values: list, field: str) -> str:
        i = columns.get(field)
        return clean(values[i]) if i is not None and i < len(values) else ""

    units: list[Unit] = []
    problems: list[Finding] = []
    for number, values in enumerate(rows[1:], start=2):
        if not any(clean(v) for v in values):
            continue  # a blank line is not a unit
        unit, found = _validate(
            cell(values, "name"), cell(values, "code"), cell(values, "kind"), number, str(path)
        )
        problems += found
        units.append(unit)
    if not units and not problems:
        raise Failure([Finding("U107", file=str(path))])
    problems += _duplicates(units, lambda u: identity(u.name), "U104", "name", path)
    problems += _duplicates(
        units, lambda u: identity(u.code) if u.code else None, "U108", "code", path
    )
    if problems:
        raise Failure(problems)
    return units


def _duplicates(units: list[Unit], key, code: str, arg: str, path: Path) -> list[Finding]:
    seen: dict[str, list[Unit]] = {}
    for u in units:
        k = key(u)
        if k:
            seen.setdefault(k, []).append(u)
    return [
        Finding(
            code,
            {arg: getattr(group[0], arg), "rows": "、".join(str(u.row) for u in group)},
            file=str(path),
        )
        for group in seen.values()
        if len(group) > 1
    ]


def _workbook_rows(path: Path) -> list[list]:
    """The first sheet of a roster workbook, through the same intake as returned workbooks (a
    zip bomb or one far cell must not take the process down)."""
    pkg = intake.open_package(path)
    try:
        if pkg.ok:
            book = intake.calamine_book(path, pkg.data)
            first = book.sheet_names[0] if book.sheet_names else None
            if first is not None:
                pkg.sheet(first)  # bounds the sheet before calamine allocates it
                with intake.rust_reader():
                    return book.get_sheet_by_name(first).to_python(skip_empty_area=False)
            return []
    except intake.Refused:
        pass
    finally:
        pkg.close()
    bad = next(f for f in pkg.findings if f.code.startswith("F"))
    raise Failure([Finding("U101", {"detail": f"{path}: {bad.code} {bad.message()}"})])


def _bounded(path: Path, rows: list[list], line: int | None = None) -> list[list]:
    """``rows`` when they fit a roster's bounds, else U101 saying which is exceeded."""
    wide = next((i for i, r in enumerate(rows, start=1) if len(r) > MAX_ROSTER_COLUMNS), None)
    if wide is not None:
        at = line or wide
        detail = f"{path}: line {at}: {len(rows[wide - 1])} columns > {MAX_ROSTER_COLUMNS}"
        raise Failure([Finding("U101", {"detail": detail}, file=str(path), line=at)])
    if len(rows) > MAX_ROSTER_ROWS:
        detail = f"{path}: more than {MAX_ROSTER_ROWS} rows"
        raise Failure([Finding("U101", {"detail": detail}, file=str(path))])
    return rows


def _read_rows(path: Path) -> list[list]:
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"):
            return _bounded(path, _workbook_rows(path))
        raw = intake.read_input(path, MAX_ROSTER_BYTES)
    except Failure:
        raise
    except intake.InputRefused as refused:
        raise Failure([Finding("U101", {"detail": f"{path}: {refused}"})]) from None
    except OSError as exc:
        raise Failure([Finding("U101", {"detail": f"{path}: {exc.strerror or exc}"})]) from None
    except Exception as exc:  # calamine raises its own error types for unreadable workbooks
        raise Failure([Finding("U101", {"detail": f"{path}: {exc}"})]) from None
    try:  # UTF-8, UTF-16 (Excel's “Unicode text”, Notepad's “Unicode”) or GBK
        text = intake.decode_text(raw, strict=True)
    except UnicodeDecodeError:
        raise Failure(
            [Finding("U101", {"detail": f"{path}: not UTF-8, UTF-16 or GBK text"})]
        ) from None
    import csv  # (only for a roster: a check imports this module too)

    dialect: type[csv.Dialect] = csv.excel
    with contextlib.suppress(csv.Error):  # one column, or too little text to tell: plain CSV
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    if "，" in header and not any(c in header for c in ",\t;"):
        # typed with a Chinese input method on: full-width commas between the columns (the
        # sniffer only knows ASCII separators)
        dialect = type("FullWidth", (csv.excel,), {"delimiter": "，"})
    # newline="": the csv module sees a lone \r itself (else "new-line character seen in
    # unquoted field"); anything it still cannot parse is a finding, not a traceback
    rows, spans, reader = [], [], csv.reader(io.StringIO(text, newline=""), dialect)
    line = 0
    try:
        for row in reader:
            if len(row) > MAX_ROSTER_COLUMNS or len(rows) >= MAX_ROSTER_ROWS:
                _bounded(path, [*rows, row], reader.line_num)
            if reader.line_num - line > 1 and any("\n" in c or "\r" in c for c in row):
                spans.append(line + 1)  # a stray quote: the record ran over the next lines
            line = reader.line_num
            rows.append(row)
    except csv.Error as exc:
        raise Failure(
            [Finding("U101", {"detail": f"{path}: line {reader.line_num}: {exc}"})]
        ) from None
    if spans:
        raise Failure([Finding("U112", {"line": n}, file=str(path), line=n) for n in spans])
    return rows
